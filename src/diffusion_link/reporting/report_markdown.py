"""report.md: this run's numbers laid out as the paper's tables, the paper's own beside them.

The numbers come from report.json (:func:`diffusion_link.reporting.report.report_json`); the
paper's are :class:`~diffusion_link.reporting.paper.PaperReference`, shown in parentheses. The
best and worst clip of each captioning variant come from ``caption_results``; the last section
is report.json's ``provenance``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from diffusion_link.core.bridges import BRIDGES, bridge_labels
from diffusion_link.metrics.caption_metrics import CONSTANT_CAPTION, METRICS
from diffusion_link.metrics.gap_tables import TABLE_1_ROWS
from diffusion_link.reporting.paper import PaperReference
from diffusion_link.reporting.report import EmbeddingTables
from diffusion_link.reporting.training_report import ConvergenceRule, training_markdown


@dataclass(frozen=True)
class ReportContext:
    """What the markdown states besides report.json's numbers: the evaluation's settings, the
    embedding tables (their counts and attributes) and the per-clip caption results."""

    split: str
    train_split: str
    recall_at: Sequence[int]
    convergence: ConvergenceRule
    paper: PaperReference
    tables: EmbeddingTables
    caption_results: pd.DataFrame  # caption_metrics' per-clip table (caption_tables)


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


def report_markdown(report: dict[str, Any], context: ReportContext) -> str:
    """report.md: the run's header, Tables 1-2, training, gap measures and captioning."""
    paper, attrs = context.paper, context.tables.attrs
    gap = report["modality_gap"]
    bridges = [b for b in BRIDGES if b in gap] + [b for b in gap if b not in BRIDGES]
    labels = bridge_labels()
    lines = ["# Diffusion-Link evaluation report", ""]
    if report["simulated_audio"]:
        lines += [
            f"> **Warning: the audio embeddings of this run are simulated** (encoder "
            f"`{report['encoder']}`): each clip's audio embedding is made from its captions' "
            "embeddings by a fitted modality transform, not from audio. The numbers test the "
            "pipeline and the bridges' behaviour on a synthetic gap; they say nothing about "
            "real audio." + _simulator_note(attrs, context.split),
            "",
        ]
    lines += _markdown_table(
        ["", "this run"],
        [
            ["dataset", report["dataset"]["name"]],
            [
                f"{context.split} clips (captions)",
                f"{report['dataset']['n_test_clips']} ({context.tables.n_captions})",
            ],
            [f"{context.train_split} captions", str(report["dataset"]["n_train_captions"])],
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
        f"## Table 1: cosine similarity on {context.split} - this run (paper)",
        "",
    ]
    lines += _markdown_table(
        ["pair", *(labels.get(b, b) for b in bridges)],
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
    lines += [""] + training_markdown(
        report["training"],
        labels,
        context.convergence.describe(),
        report["simulated_audio"],
    )
    ks = context.recall_at
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
                labels.get(b, b),
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
        f"x100, PTB tokenisation, all references of each {context.split} clip; n/a = unavailable "
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
    lines += _extreme_clip_lines(context.caption_results)
    lines += _provenance_lines(report["provenance"])
    return "\n".join(lines)


def _extreme_clip_lines(results: pd.DataFrame) -> list[str]:
    """Each variant's best and worst clip by CIDEr-D (ties: the first clip id), with one of
    its references."""
    if results.empty:
        return []
    lines = [
        "Best and worst clip of each variant by CIDEr-D (every clip: catalog entry "
        "`caption_results`):",
        "",
    ]
    for (mode, bridge), rows in results.groupby(["mode", "bridge"], sort=True):
        best = rows.sort_values(["cider_d", "clip_id"], ascending=[False, True]).iloc[0]
        worst = rows.sort_values(["cider_d", "clip_id"]).iloc[0]
        lines.append(f"- {mode} / {bridge}: best {_clip(best)}; worst {_clip(worst)}")
    return [*lines, ""]


def _clip(row: pd.Series) -> str:
    return (
        f'`{row["clip_id"]}` ({row["cider_d"]:.1f}) "{row["caption"]}" '
        f'(a reference: "{row["references"][0]}")'
    )


def _provenance_lines(provenance: dict[str, Any]) -> list[str]:
    """report.json's ``provenance`` in short: hashes cut to 12 hex digits."""
    commit = provenance["git_commit"]
    dirty = " (with uncommitted changes)" if provenance["git_dirty"] else ""
    versions = ", ".join(
        f"{name} {v or 'not installed'}" for name, v in provenance["versions"].items()
    )
    java = provenance["java"]
    jars = ", ".join(f"{Path(jar).name} `{digest[:12]}`" for jar, digest in java["jars"].items())
    tables = ", ".join(f"{name} `{digest[:12]}`" for name, digest in provenance["tables"].items())
    seeds = ", ".join(f"{key}={value}" for key, value in provenance["seeds"].items())
    rows = [
        ["git commit", f"`{commit}`{dirty}" if commit else "unknown (not a git checkout)"],
        ["Kedro environment", f"`{provenance['kedro_env']}`"],
        ["save version", f"`{provenance['save_version']}`"],
        ["MLflow run", f"`{run}`" if (run := provenance["mlflow_run_id"]) else "not tracked"],
        ["versions", versions],
        ["Java (caption metrics)", f"{java['version']}; jars: {jars}"],
        ["input tables", tables],
        ["seeds", seeds],
    ]
    return [
        "## Provenance",
        "",
        *_markdown_table(["", "this run"], rows),
        "",
        "sha256 digests, cut to 12 hex digits (whole in report.json's `provenance`); a table's "
        "is a digest of its content (README, `provenance`).",
        "",
    ]


def _captioning_lines(captioning: dict[str, Any], paper: PaperReference) -> list[str]:
    """The captioning table (every variant, then the constant-caption baseline) and its note."""
    rows = []
    for mode, by_bridge in captioning.items():
        for bridge, scores in by_bridge.items() if mode != CONSTANT_CAPTION else ():
            paper_scores = paper.table_4.get(mode, {}).get(bridge, {})
            rows.append(
                [
                    mode,
                    bridge,
                    *(_caption_cell(scores.get(m), paper_scores.get(m)) for m in METRICS),
                    *_diversity_cells(scores),
                ]
            )
    constant = captioning.get(CONSTANT_CAPTION)
    if constant is not None:
        cells = [_caption_cell(constant.get(m), None) for m in METRICS]
        rows.append(["baseline", "constant caption", *cells, *_diversity_cells(constant)])
    lines = _markdown_table(["mode", "bridge", *METRICS, "distinct", "Vocab"], rows)
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


def _cell(value: float | None, paper: float | None) -> str:
    ours = "n/a" if value is None else f"{round(value, 3) + 0.0:.3f}"  # + 0.0: no "-0.000"
    return ours if paper is None else f"{ours} ({paper:.3f})"


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
