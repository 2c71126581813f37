"""Nodes of the ``evaluation`` pipeline: the paper's Tables 1-2, Figure 2 and the report.

Every bridge is judged on the evaluation split against the text embeddings in the space it was
trained to reach: ``identity`` in the raw encoder space (the paper's CLAP column), C3 after its
collapse, the diffusion bridges after their own (Diffusion-Bridge) normalisation. The numbers
themselves come from :mod:`diffusion_link.metrics.modality_gap`.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any, Literal

import matplotlib
import numpy as np
import pandas as pd
import torch
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from diffusion_link.core.bridges import BRIDGES, Bridge
from diffusion_link.core.pairs import SplitPairs, split_pairs
from diffusion_link.core.validation import VALIDATION_METRICS, draw_agreement
from diffusion_link.data.embeddings import embedding_matrix
from diffusion_link.metrics.modality_gap import (
    centroid_distance,
    cross_group_cosine,
    l2_normalise,
    linear_separability,
    matched_cosine,
    nonmatched_cosine,
    relative_modality_gap,
    retrieval_recall,
    uncollapse,
)
from diffusion_link.reporting.training_report import training_markdown, training_summary

matplotlib.use("Agg")
logger = logging.getLogger(__name__)

BridgeName = Literal["identity", "c3", "diffusion_bridge", "diffgap", "diffusion_link"]
Table1Row = Literal[
    "matched_audio_text", "matched_text_text", "nonmatched_audio_text", "nonmatched_text_text"
]
TABLE_1_ROWS: dict[str, str] = {
    "matched_audio_text": "(a) e_t · ê_{t←a} (matched)",
    "matched_text_text": "(b) e_t · ê_{t←t} (matched)",
    "nonmatched_audio_text": "(c) e_t · ê_{t←a} (non-matched)",
    "nonmatched_text_text": "(d) e_t · ê_{t←t} (non-matched)",
}
BRIDGE_LABELS: dict[str, str] = {
    "identity": "CLAP (identity)",
    "c3": "C3",
    "diffusion_bridge": "DB",
    "diffgap": "DG",
    "diffusion_link": "DL",
}
CAPTION_METRICS = ("METEOR", "CIDEr", "SPICE", "SPIDEr", "BLEU_4", "ROUGE_L")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeparabilityParams(_Strict):
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 0
    l2_penalty: float = Field(1.0, gt=0.0)


class UmapParams(_Strict):
    max_clips: PositiveInt = 300  # points per group (audio, text, text-like)
    seed: int = 0
    n_neighbors: PositiveInt = 15
    min_dist: float = Field(0.1, ge=0.0)
    metric: str = "cosine"


class PaperReference(_Strict):
    """The paper's own numbers (AudioCaps test, LAION-CLAP): shown beside this run's only."""

    source: str
    n_test_clips: PositiveInt
    n_train_captions: PositiveInt
    table_1: dict[Table1Row, dict[BridgeName, float]]
    table_2: dict[int, float]
    table_4: dict[str, dict[str, dict[str, float]]] = {}  # mode -> bridge -> metric


class ConvergenceParams(_Strict):
    """The convergence rule: ``metric`` moves by less than ``tolerance`` (max - min) over the
    evaluations in the last ``last_fraction`` of a bridge's training."""

    metric: Literal[VALIDATION_METRICS] = "val_matched_audio_text"
    last_fraction: float = Field(0.2, gt=0.0, le=1.0)
    tolerance: float = Field(0.01, gt=0.0)


class EvaluationParams(_Strict):
    """``params:evaluation``."""

    dataset_name: str
    split: str = "test"
    train_split: str = "train"
    recall_at: list[PositiveInt] = [1, 5, 10]
    linear_separability: SeparabilityParams = SeparabilityParams()
    umap: UmapParams = UmapParams()
    convergence: ConvergenceParams = ConvergenceParams()
    constant_caption_candidates: PositiveInt = 200  # training captions searched (baseline)
    paper: PaperReference


def text_target_space(model: Bridge, text: np.ndarray) -> np.ndarray:
    """The text embeddings in the space ``model`` was trained to reach, L2-normalised."""
    with torch.no_grad():
        return model.target_text(torch.from_numpy(text).float()).cpu().numpy()


def _rows(table: pd.DataFrame, key: str, ids: pd.Index, what: str) -> np.ndarray:
    """The embeddings of ``table`` in the order of ``ids`` (values of column ``key``)."""
    position = pd.Index(table[key]).get_indexer(ids)
    if (position < 0).any():
        missing = list(ids[position < 0][:3])
        raise ValueError(
            f"{what} lacks {int((position < 0).sum())} rows (e.g. {missing}): "
            "re-run bridge_training on these embeddings"
        )
    return embedding_matrix(table)[position]


def bridge_gap_metrics(
    model: Bridge,
    pairs: SplitPairs,
    bridged: pd.DataFrame,
    params: EvaluationParams,
) -> dict[str, float]:
    """Table 1's four cosines and the gap measures of one bridge on one split."""
    from_audio = _rows(
        bridged[bridged["source"] == "audio"], "clip_id", pairs.clip_ids, f"{model.method} t<-a"
    )
    from_text = _rows(
        bridged[bridged["source"] == "text"],
        "caption_id",
        pd.Index(pairs.captions["caption_id"]),
        f"{model.method} t<-t",
    )
    reference = text_target_space(model, embedding_matrix(pairs.captions))
    clips = pairs.pair_index
    separability = params.linear_separability
    recall = retrieval_recall(from_audio, reference, clips, params.recall_at)
    return {
        "matched_audio_text": matched_cosine(from_audio, reference, clips),
        "matched_text_text": matched_cosine(from_text, reference, np.arange(len(reference))),
        "nonmatched_audio_text": nonmatched_cosine(from_audio, reference, clips),
        "nonmatched_text_text": cross_group_cosine(from_text, reference, clips, clips),
        "centroid_distance": centroid_distance(from_audio, reference),
        "relative_modality_gap": relative_modality_gap(from_audio, reference, clips),
        "linear_separability": linear_separability(
            from_audio,
            reference,
            clips,
            separability.test_fraction,
            separability.seed,
            separability.l2_penalty,
        ),
        **{f"recall_at_{k}": v for k, v in recall["audio_to_text"].items()},
        **{f"text_to_audio_recall_at_{k}": v for k, v in recall["text_to_audio"].items()},
    }


def _split_audio_ids(audio_embeddings: pd.DataFrame, split: str) -> pd.Series:
    return audio_embeddings.loc[audio_embeddings["split"] == split, "clip_id"]


def modality_gap_metrics(
    text_embeddings: pd.DataFrame,
    bridged_embeddings: pd.DataFrame,
    evaluation: EvaluationParams,
    *models: Bridge,
) -> dict[str, dict[str, float]]:
    """Table 1 and the extra gap measures for every bridge, on ``evaluation.split``."""
    params = EvaluationParams.model_validate(evaluation)
    bridged = bridged_embeddings[bridged_embeddings["split"] == params.split]
    metrics = {}
    for model in models:
        rows = bridged[bridged["bridge"] == model.method]
        if rows.empty:
            raise ValueError(f"bridged_embeddings has no {params.split!r} rows of {model.method}")
        audio_ids = rows.loc[rows["source"] == "audio", "clip_id"]
        pairs = split_pairs(audio_ids, text_embeddings, params.split)
        metrics[model.method] = bridge_gap_metrics(model, pairs, rows, params)
        logger.info(
            "%s: matched t<-a %.3f, t<-t %.3f; recall@1 %.3f",
            model.method,
            metrics[model.method]["matched_audio_text"],
            metrics[model.method]["matched_text_text"],
            metrics[model.method]["recall_at_1"],
        )
    return metrics


def s_star_table(
    text_embeddings: pd.DataFrame, s_star_sweep: pd.DataFrame, diffusion_link: Bridge
) -> dict[str, float]:
    """Table 2: Diffusion-Link's matched audio->text cosine at each swept s* (its split)."""
    splits = s_star_sweep["split"].unique()
    if len(splits) != 1:
        raise ValueError(f"s_star_sweep should hold one split, holds {sorted(splits)}")
    table = {}
    for s_star, rows in s_star_sweep.groupby("s_star", sort=True):
        pairs = split_pairs(rows["clip_id"], text_embeddings, splits[0])
        text_like = _rows(rows, "clip_id", pairs.clip_ids, f"s_star_sweep at s*={s_star}")
        reference = text_target_space(diffusion_link, embedding_matrix(pairs.captions))
        table[str(int(s_star))] = matched_cosine(text_like, reference, pairs.pair_index)
    return table


CAPTIONING_MODES = ("zero_shot", "supervised")
CAPTIONING_BRIDGES = ("none", "diffusion_bridge", "diffusion_link")


def _caption_references(
    generated_captions: pd.DataFrame, captions: pd.DataFrame, split: str
) -> dict[str, list[str]]:
    """Check ``generated_captions``; every reference caption of each ``split`` clip."""
    missing = {"clip_id", "mode", "bridge", "caption"} - set(generated_captions.columns)
    if missing:
        raise ValueError(f"generated_captions lacks columns {sorted(missing)}")
    for column, allowed in (("mode", CAPTIONING_MODES), ("bridge", CAPTIONING_BRIDGES)):
        unknown = sorted(set(generated_captions[column]) - set(allowed))
        if unknown:
            raise ValueError(f"generated_captions: unknown {column} {unknown}; allowed {allowed}")
    duplicated = generated_captions.duplicated(["clip_id", "mode", "bridge"])
    if duplicated.any():
        first = generated_captions[duplicated].iloc[0]
        raise ValueError(
            f"generated_captions: {int(duplicated.sum())} repeated (clip_id, mode, bridge), e.g. "
            f"({first['clip_id']}, {first['mode']}, {first['bridge']}): one caption each expected"
        )
    references = (
        captions[captions["split"] == split].groupby("clip_id", sort=False)["caption"].agg(list)
    ).to_dict()
    outside = sorted(set(generated_captions["clip_id"]) - set(references))
    if outside:
        raise ValueError(
            f"generated_captions has {len(outside)} clips with no {split!r} reference "
            f"captions (e.g. {outside[:3]}): captions must be generated for the {split!r} split"
        )
    return references


def captioning_metrics(
    generated_captions: pd.DataFrame, captions: pd.DataFrame, evaluation: EvaluationParams
) -> dict[str, dict[str, Any]]:
    """Tables 3-4 (METEOR, CIDEr-D, SPICE, SPIDEr, BLEU-4, ROUGE-L, x100), diversity, baseline.

    Each (mode, bridge) variant of ``generated_captions`` is scored on ``evaluation.split``
    against all reference captions of each clip, with PTB tokenisation, and gets its share of
    distinct captions and its Vocab; ``constant_caption`` is the best single caption for every
    clip among the ``constant_caption_candidates`` most central training captions
    (:func:`diffusion_link.metrics.caption_metrics.caption_report`). Returns ``{"captioning": {mode:
    {bridge: {metric: score}}, "constant_caption": {...}}, "unavailable": {metric: reason}}``.
    """
    from diffusion_link.metrics.caption_metrics import caption_report

    params = EvaluationParams.model_validate(evaluation)
    references = _caption_references(generated_captions, captions, params.split)
    variants = {
        (mode, bridge): dict(zip(rows["clip_id"], rows["caption"].astype(str), strict=True))
        for (mode, bridge), rows in generated_captions.groupby(["mode", "bridge"], sort=True)
    }
    training = captions.loc[captions["split"] == params.train_split, "caption"].dropna()
    result = caption_report(
        variants, references, training.astype(str).tolist(), params.constant_caption_candidates
    )
    table: dict[str, dict[str, Any]] = {}
    for (mode, bridge), values in result["scores"].items():
        table.setdefault(mode, {})[bridge] = values
        logger.info(
            "captioning %s/%s on %d clips: METEOR %.1f, CIDEr-D %.1f, %.0f%% distinct, Vocab %d",
            *(mode, bridge, len(variants[(mode, bridge)]), values["METEOR"], values["CIDEr"]),
            *(100 * values["distinct_share"], values["Vocab"]),
        )
    constant = result["constant_caption"]
    if constant is not None:
        table["constant_caption"] = constant
        logger.info("constant caption %r: CIDEr-D %.1f", constant["caption"], constant["CIDEr"])
    return {"captioning": table, "unavailable": result["unavailable"]}


def _umap_embedding(points: np.ndarray, params: UmapParams) -> np.ndarray:
    # numba compiles UMAP's kernels on first import (~15 s); cache them where the Makefile does.
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.cwd() / ".cache" / "numba"))
    import umap  # slow import (numba): only this node needs it

    reducer = umap.UMAP(
        n_neighbors=min(params.n_neighbors, len(points) - 1),
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.seed,
        n_jobs=1,
    )
    return reducer.fit_transform(points)


def plot_umap(
    audio_embeddings: pd.DataFrame,
    text_embeddings: pd.DataFrame,
    bridged_embeddings: pd.DataFrame,
    evaluation: EvaluationParams,
    diffusion_link: Bridge,
) -> Figure:
    """Figure 2: UMAP of audio, text and Diffusion-Link's text-like (from audio) embeddings.

    A seeded subset of the split's clips, one caption each. All three groups are shown in the
    raw encoder space: the text-like outputs (unit vectors in Diffusion-Link's normalised text
    space) are mapped back through the exact inverse of that normalisation.
    """
    params = EvaluationParams.model_validate(evaluation)
    pairs = split_pairs(
        _split_audio_ids(audio_embeddings, params.split), text_embeddings, params.split
    )
    rng = np.random.default_rng(params.umap.seed)
    n = min(params.umap.max_clips, len(pairs.clip_ids))
    clip_ids = pairs.clip_ids[np.sort(rng.choice(len(pairs.clip_ids), n, replace=False))]
    first_captions = pairs.captions.drop_duplicates("clip_id").set_index("clip_id")
    audio = _rows(
        audio_embeddings[audio_embeddings["split"] == params.split], "clip_id", clip_ids, "audio"
    )
    text = embedding_matrix(first_captions.loc[clip_ids])
    dl = bridged_embeddings[
        (bridged_embeddings["bridge"] == diffusion_link.method)
        & (bridged_embeddings["split"] == params.split)
        & (bridged_embeddings["source"] == "audio")
    ]
    text_like = uncollapse(
        _rows(dl, "clip_id", clip_ids, "Diffusion-Link t<-a"),
        diffusion_link.text_mean.cpu().numpy(),
    )
    points = _umap_embedding(
        np.concatenate([l2_normalise(audio), l2_normalise(text), text_like]), params.umap
    )
    xy_audio, xy_text, xy_like = np.split(points, 3)

    figure = Figure(figsize=(7, 6), layout="constrained")
    axis = figure.subplots()
    for start, colour, label in (
        (xy_audio, "red", "audio - text pair"),
        (xy_like, "green", "text-like - text pair"),
    ):
        segments = np.stack([start, xy_text], axis=1)
        axis.add_collection(
            LineCollection(segments, colors=colour, linewidths=0.4, alpha=0.35, label=label)
        )
    for xy, colour, label in (
        (xy_audio, "tab:blue", "audio"),
        (xy_text, "tab:orange", "text"),
        (xy_like, "tab:purple", "text-like (Diffusion-Link, from audio)"),
    ):
        axis.scatter(xy[:, 0], xy[:, 1], s=6, c=colour, label=label)
    axis.set(
        title=f"UMAP of {n} {params.split} clips (raw encoder space)",
        xticks=[],
        yticks=[],
    )
    axis.legend(fontsize="small", markerscale=2)
    return figure


def _number(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None


def _cell(value: float | None, paper: float | None) -> str:
    ours = "n/a" if value is None else f"{round(value, 3) + 0.0:.3f}"  # + 0.0: no "-0.000"
    return ours if paper is None else f"{ours} ({paper:.3f})"


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def draw_agreements(
    audio_embeddings: pd.DataFrame, evaluation: EvaluationParams, *models: Bridge
) -> dict[str, float]:
    """Each bridge's agreement between two draws for the evaluation split's audio."""
    params = EvaluationParams.model_validate(evaluation)
    split = audio_embeddings[audio_embeddings["split"] == params.split]
    audio = torch.from_numpy(embedding_matrix(split))
    return {model.method: draw_agreement(model, audio) for model in models}


def summarise_training(
    bridge_training_history: pd.DataFrame, evaluation: EvaluationParams
) -> dict[str, dict[str, Any]]:
    """Each trained bridge's steps, kept weights, validation figures and convergence."""
    rule = EvaluationParams.model_validate(evaluation).convergence
    return training_summary(
        bridge_training_history, rule.metric, rule.last_fraction, rule.tolerance
    )


def build_report(
    modality_gap: dict[str, dict[str, float]],
    s_star: dict[str, float],
    text_embeddings: pd.DataFrame,
    audio_embeddings: pd.DataFrame,
    evaluation: EvaluationParams,
    captioning: dict[str, dict[str, Any]],
    training: dict[str, dict[str, Any]],
    agreement: dict[str, float],
) -> tuple[str, dict[str, Any]]:
    """``report.md`` and ``report.json``: this run's numbers, the paper's beside them.

    ``captioning`` is :func:`captioning_metrics`' output (its unavailable metrics included).
    """
    params = EvaluationParams.model_validate(evaluation)
    pairs = split_pairs(
        _split_audio_ids(audio_embeddings, params.split), text_embeddings, params.split
    )
    attrs = {**text_embeddings.attrs, **audio_embeddings.attrs}
    simulated = bool(audio_embeddings.attrs.get("simulated_audio", False))
    n_train = int((text_embeddings["split"] == params.train_split).sum())
    report = {
        "dataset": {
            "name": params.dataset_name,
            "n_test_clips": len(pairs.clip_ids),
            "n_train_captions": n_train,
        },
        "encoder": str(attrs.get("encoder", "unknown")),
        "simulated_audio": simulated,
        "modality_gap": {
            bridge: {
                key: _number(value)
                for key, value in {**values, **_only(agreement, bridge, "draw_agreement")}.items()
            }
            for bridge, values in modality_gap.items()
        },
        "s_star_sweep": {key: _number(value) for key, value in s_star.items()},
        "captioning": captioning["captioning"],
        "unavailable": dict(captioning["unavailable"]),
        "training": training,
    }
    for bridge, values in report["modality_gap"].items():
        for key, value in values.items():
            if value is None:
                report["unavailable"][f"modality_gap.{bridge}.{key}"] = "not a finite number"
    for key, value in report["s_star_sweep"].items():
        if value is None:
            report["unavailable"][f"s_star_sweep.{key}"] = "not a finite number"
    markdown = _report_markdown(report, pairs, attrs, params)
    return markdown, report


def _only(values: dict[str, float], key: str, name: str) -> dict[str, float]:
    """``{name: values[key]}`` when ``values`` has ``key``, else nothing."""
    return {name: values[key]} if key in values else {}


def _simulator_note(attrs: dict[str, Any], split: str) -> str:
    """What the gap simulator was fitted to, and its oracle's matched cosine on ``split``."""
    targets = attrs.get("gap_simulator_targets") or {}
    achieved = attrs.get("gap_simulator_achieved") or {}
    if not targets:
        return ""
    fitted = ", ".join(
        f"{name} {target:.3f} (achieved {achieved.get(name, float('nan')):.3f})"
        for name, (target, _) in targets.items()
    )
    oracle = (attrs.get("split_statistics") or {}).get(split, {}).get("oracle_matched")
    ceiling = (
        f" The oracle bridge (the exact inverse of the simulator's learnable part) reaches a "
        f"matched audio->text cosine of {oracle:.3f} on {split}: the ceiling for a bridge "
        "that undoes the systematic gap (one that also shrinks the residual, as a conditional "
        "regressor does, can pass it)."
        if oracle is not None
        else ""
    )
    missed = ", ".join(attrs.get("gap_simulator_missed") or []) or "none"
    return (
        " The simulator was fitted on the train split to the paper's Table 1 (CLAP column), "
        "LAION-CLAP's published AudioCaps recall and an oracle matched cosine (README, "
        f"`gap_simulator`): {fitted}; missed: {missed}." + ceiling
    )


def _report_markdown(
    report: dict[str, Any], pairs: SplitPairs, attrs: dict[str, Any], params: EvaluationParams
) -> str:
    paper = params.paper
    gap = report["modality_gap"]
    bridges = [b for b in BRIDGES if b in gap] + [b for b in gap if b not in BRIDGES]
    lines = ["# Diffusion-Link evaluation report", ""]
    if report["simulated_audio"]:
        lines += [
            f"> **Warning: the audio embeddings of this run are simulated** (encoder "
            f"`{report['encoder']}`): each clip's audio embedding is made from its captions' "
            "embeddings by a fitted modality transform, not from audio. The numbers test the "
            "pipeline and the bridges' behaviour on a synthetic gap; they say nothing about "
            "real audio." + _simulator_note(attrs, params.split),
            "",
        ]
    lines += _markdown_table(
        ["", "this run"],
        [
            ["dataset", report["dataset"]["name"]],
            [
                f"{params.split} clips (captions)",
                f"{report['dataset']['n_test_clips']} ({len(pairs.captions)})",
            ],
            [f"{params.train_split} captions", str(report["dataset"]["n_train_captions"])],
            [
                "encoder",
                f"`{report['encoder']}` (checkpoint `{attrs.get('checkpoint', 'unknown')}`, "
                f"{attrs.get('dim', '?')}-d)",
            ],
            ["audio embeddings simulated", "**yes**" if report["simulated_audio"] else "no"],
        ],
    )
    lines += [
        "",
        f"Every number is an output of this run. Numbers in parentheses are **the paper's** "
        f"({paper.source}; {paper.n_test_clips} test clips, {paper.n_train_captions} training "
        "captions), for reference only.",
        "",
        "Comparison spaces: `identity` (the paper's CLAP column) is compared in the raw encoder "
        "space; every other bridge's text-like output is compared with the text embeddings in "
        "the space that bridge was trained to reach (C3: after its collapse; Diffusion-Bridge, "
        "DiffGap, Diffusion-Link: after their own normalisation with train-split means), "
        "L2-normalised.",
        "",
        f"## Table 1: cosine similarity on {params.split} - this run (paper)",
        "",
    ]
    lines += _markdown_table(
        ["pair", *(BRIDGE_LABELS.get(b, b) for b in bridges)],
        [
            [label, *(_cell(gap[b][key], paper.table_1.get(key, {}).get(b)) for b in bridges)]
            for key, label in TABLE_1_ROWS.items()
        ],
    )
    lines += [
        "",
        "Matched: each caption with its own clip's text-like embedding (a) or its own text-like "
        "embedding (b). Non-matched: every pair from two different clips (captions of the same "
        "clip are not counted as non-matched).",
        "",
        "## Table 2: Diffusion-Link's matched audio->text cosine at each s* - this run (paper)",
        "",
    ]
    sweep = report["s_star_sweep"]
    lines += _markdown_table(
        ["s*", *sweep],
        [
            ["this run", *(_cell(v, None) for v in sweep.values())],
            ["paper", *(_cell(paper.table_2.get(int(s)), None) for s in sweep)],
        ],
    )
    rule = params.convergence
    lines += [""] + training_markdown(
        report["training"],
        BRIDGE_LABELS,
        f"Converged: `{rule.metric}` moves by less than {rule.tolerance} (max - min) over the "
        f"evaluations in the last {rule.last_fraction:.0%} of the bridge's training. "
        "Validation figures are those of the kept EMA weights.",
        report["simulated_audio"],
    )
    ks = params.recall_at
    lines += [
        "## Modality-gap measures (this run only; the paper reports none of these)",
        "",
        "Audio side: each bridge's text-like embeddings from audio (t<-a); text side: the "
        "reference text embeddings above. Centroid distance: norm of the difference of the two "
        "means (Liang et al.); relative modality gap (Schrodi et al.): 0 = matched pairs "
        "coincide; linear separability: test accuracy of a logistic regression predicting the "
        "modality (0.5 = no gap); recall@k: audio->text (a hit when any of the clip's captions "
        "is in the top k) and text->audio; draw agreement: mean cosine between two outputs for "
        "the same audio with different noise (1 = a deterministic map; DiffGap's near-1 value "
        "shows it acts as a conditional regressor, E[text | audio], not a sampler).",
        "",
    ]
    lines += _markdown_table(
        [
            "bridge",
            "centroid distance",
            "relative gap",
            "linear separability",
            *(f"a->t R@{k}" for k in ks),
            *(f"t->a R@{k}" for k in ks),
            "draw agreement",
        ],
        [
            [
                BRIDGE_LABELS.get(b, b),
                *(
                    _cell(gap[b].get(key), None)
                    for key in (
                        "centroid_distance",
                        "relative_modality_gap",
                        "linear_separability",
                        *(f"recall_at_{k}" for k in ks),
                        *(f"text_to_audio_recall_at_{k}" for k in ks),
                        "draw_agreement",
                    )
                ),
            ]
            for b in bridges
        ],
    )
    lines += [
        "",
        "## Figure 2",
        "",
        "UMAP of audio, text and Diffusion-Link's text-like embeddings: catalog entry "
        "`umap_figure` (data/08_reporting/umap_figure.png/<version>/).",
        "",
        "## Captioning (Tables 3-4) - this run (paper)",
        "",
        f"x100, PTB tokenisation, all references of each {params.split} clip; n/a = unavailable "
        "(reason below). distinct: share of distinct captions over the clips; Vocab: distinct "
        "words of all the captions.",
        "",
    ]
    lines += _captioning_lines(report["captioning"], paper)
    lines += [
        "",
        *(
            f"- {metric}: unavailable ({reason})"
            for metric, reason in report["unavailable"].items()
        ),
        "",
    ]
    return "\n".join(lines)


def _captioning_lines(captioning: dict[str, Any], paper: PaperReference) -> list[str]:
    """The captioning table (every variant, then the constant-caption baseline) and its note."""
    rows = []
    for mode, by_bridge in captioning.items():
        for bridge, scores in by_bridge.items() if mode in CAPTIONING_MODES else ():
            paper_scores = paper.table_4.get(mode, {}).get(bridge, {})
            rows.append(
                [
                    mode,
                    bridge,
                    *(_caption_cell(scores.get(m), paper_scores.get(m)) for m in CAPTION_METRICS),
                    *_diversity_cells(scores),
                ]
            )
    constant = captioning.get("constant_caption")
    if constant is not None:
        cells = [_caption_cell(constant.get(m), None) for m in CAPTION_METRICS]
        rows.append(["baseline", "constant caption", *cells, *_diversity_cells(constant)])
    lines = _markdown_table(["mode", "bridge", *CAPTION_METRICS, "distinct", "Vocab"], rows)
    if constant is not None:
        lines += [
            "",
            f'Constant-caption baseline: "{constant["caption"]}" for every clip, the best '
            f"CIDEr-D of the {constant['candidates']} most central training captions (mean "
            "document frequency of their 1- to 4-grams in the training captions). A decoder "
            "that listens to its input should score well above it.",
        ]
    return lines


def _diversity_cells(scores: dict[str, Any]) -> list[str]:
    share, vocab = scores.get("distinct_share"), scores.get("Vocab")
    return [
        "n/a" if share is None else f"{100 * share:.1f}%",
        "n/a" if vocab is None else str(int(vocab)),
    ]


def _caption_cell(value: float | None, paper: float | None) -> str:
    shown = "n/a" if value is None else f"{value:.1f}"
    return shown if paper is None else f"{shown} ({paper:.1f})"
