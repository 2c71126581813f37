"""Nodes of the ``evaluation`` pipeline: the paper's Tables 1-4, Figure 2 and the report.

Every bridge is judged on the evaluation split against the text embeddings in the space it was
trained to reach: ``identity`` in the raw encoder space (the paper's CLAP column), C3 after its
collapse, the diffusion bridges after their own (Diffusion-Bridge) normalisation. The tables are
computed in :mod:`diffusion_link.metrics` (``gap_tables``, ``caption_tables``); the figure,
the report and its provenance are drawn and written in :mod:`diffusion_link.reporting`.
"""

from __future__ import annotations

import logging
from typing import Any, get_args

import pandas as pd
import torch
from matplotlib.figure import Figure
from pydantic_core import to_jsonable_python

from diffusion_link.core.bridges import Bridge
from diffusion_link.core.validation import draw_agreement
from diffusion_link.data.embeddings import embedding_matrix
from diffusion_link.decoder.config import Mode
from diffusion_link.metrics.caption_java import java_version, package_dir
from diffusion_link.metrics.caption_tables import (
    caption_references,
    caption_variants,
    captioning_table,
)
from diffusion_link.metrics.gap_tables import s_star_cosines, split_gap_metrics
from diffusion_link.pipelines.decoder_training.params import BRIDGE_ROWS
from diffusion_link.pipelines.evaluation.params import EvaluationParams
from diffusion_link.reporting.provenance import jar_digests, provenance
from diffusion_link.reporting.report import EmbeddingTables, report_json
from diffusion_link.reporting.report_markdown import ReportContext, report_markdown
from diffusion_link.reporting.training_report import training_summary
from diffusion_link.reporting.umap_figure import plot_umap_groups, umap_groups

logger = logging.getLogger(__name__)

CAPTIONING_MODES: tuple[str, ...] = get_args(Mode)
"""The decoder's modes: the allowed ``mode`` values of ``generated_captions``."""

CAPTIONING_BRIDGES: tuple[str, ...] = tuple(BRIDGE_ROWS)
"""The decoder variants' bridges: the allowed ``bridge`` values of ``generated_captions``."""

PROVENANCE_TABLES: tuple[str, ...] = (
    "clips",
    "captions",
    "text_embeddings",
    "audio_embeddings",
    "bridged_embeddings",
    "generated_captions",
)
"""The input tables whose content digests report.json's ``provenance`` records."""

PROVENANCE_PARAMETERS: tuple[str, ...] = (
    "embedding",
    "bridge_training",
    "decoder_training.settings",
    "evaluation",
)
"""The parameter (sub)groups whose seeds the provenance records: every group with a seed, and
of ``decoder_training`` only its settings (its variants have none, and reading them here would
hide a variant given only by ``--params`` from the parameter check)."""


def modality_gap_metrics(
    text_embeddings: pd.DataFrame,
    bridged_embeddings: pd.DataFrame,
    evaluation: EvaluationParams,
    *models: Bridge,
) -> dict[str, dict[str, float]]:
    """Table 1 and the extra gap measures for every bridge, on ``evaluation.split``."""
    metrics = {}
    for model in models:
        metrics[model.method] = split_gap_metrics(
            model,
            text_embeddings,
            bridged_embeddings,
            evaluation.split,
            evaluation.recall_at,
            evaluation.linear_separability,
        )
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
    return s_star_cosines(text_embeddings, s_star_sweep, diffusion_link)


def captioning_metrics(
    generated_captions: pd.DataFrame, captions: pd.DataFrame, evaluation: EvaluationParams
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Tables 3-4 (METEOR, CIDEr-D, SPICE, SPIDEr, BLEU-4, ROUGE-L, x100), diversity, baseline;
    ``caption_results``, each clip's caption, references and CIDEr-D.

    Each (mode, bridge) variant of ``generated_captions`` is scored on ``evaluation.split``
    against all reference captions of each clip, with PTB tokenisation, and gets its share of
    distinct captions and its Vocab; ``constant_caption`` is the best single caption for every
    clip among the ``constant_caption_candidates`` most central training captions
    (:func:`diffusion_link.metrics.caption_metrics.caption_report`). Returns ``({"captioning":
    {mode: {bridge: {metric: score}}, "constant_caption": {...}}, "unavailable": {metric:
    reason}, "jars": [...]}, caption_results)``
    (:func:`~diffusion_link.metrics.caption_tables.captioning_table`).
    """
    references = caption_references(
        generated_captions, captions, evaluation.split, CAPTIONING_MODES, CAPTIONING_BRIDGES
    )
    training = captions.loc[captions["split"] == evaluation.train_split, "caption"].dropna()
    return captioning_table(
        caption_variants(generated_captions),
        references,
        training.astype(str).tolist(),
        evaluation.constant_caption_candidates,
    )


def plot_umap(
    audio_embeddings: pd.DataFrame,
    text_embeddings: pd.DataFrame,
    bridged_embeddings: pd.DataFrame,
    evaluation: EvaluationParams,
    diffusion_link: Bridge,
) -> Figure:
    """Figure 2: UMAP of audio, text and Diffusion-Link's text-like (from audio) embeddings.

    A seeded subset of the split's clips, one caption each, all in the raw encoder space
    (:func:`diffusion_link.reporting.umap_figure.umap_groups`).
    """
    groups = umap_groups(
        audio_embeddings,
        text_embeddings,
        bridged_embeddings,
        diffusion_link,
        evaluation.split,
        evaluation.umap,
    )
    return plot_umap_groups(groups, evaluation.umap, evaluation.split)


def draw_agreements(
    audio_embeddings: pd.DataFrame, evaluation: EvaluationParams, *models: Bridge
) -> dict[str, float]:
    """Each bridge's agreement between two draws for the evaluation split's audio."""
    split = audio_embeddings[audio_embeddings["split"] == evaluation.split]
    audio = torch.from_numpy(embedding_matrix(split))
    return {model.method: draw_agreement(model, audio) for model in models}


def summarise_training(
    bridge_training_history: pd.DataFrame, evaluation: EvaluationParams
) -> dict[str, dict[str, Any]]:
    """Each trained bridge's steps, kept weights, validation figures and convergence."""
    return training_summary(bridge_training_history, evaluation.convergence)


def run_provenance(
    run_context: dict[str, Any], captioning: dict[str, Any], *inputs: Any
) -> dict[str, Any]:
    """report.json's ``provenance`` (:func:`diffusion_link.reporting.provenance.provenance`).

    ``run_context`` comes from the tracking hook; ``captioning`` (:func:`captioning_metrics`)
    names the jars that ran; ``inputs`` are the tables of :data:`PROVENANCE_TABLES`, then the
    parameter groups of :data:`PROVENANCE_PARAMETERS`, in those orders.
    """
    n_tables = len(PROVENANCE_TABLES)
    tables = dict(zip(PROVENANCE_TABLES, inputs[:n_tables], strict=True))
    groups = dict(zip(PROVENANCE_PARAMETERS, inputs[n_tables:], strict=True))
    java = {"version": java_version(), "jars": jar_digests(captioning["jars"], package_dir())}
    return provenance(run_context, java, tables, to_jsonable_python(groups))


def build_report(
    modality_gap: dict[str, dict[str, float]],
    s_star: dict[str, float],
    text_embeddings: pd.DataFrame,
    audio_embeddings: pd.DataFrame,
    evaluation: EvaluationParams,
    captioning: dict[str, Any],
    training: dict[str, dict[str, Any]],
    agreement: dict[str, float],
    caption_results: pd.DataFrame,
    provenance: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    """``report.md`` and ``report.json``: this run's numbers, the paper's beside them, and the
    run's provenance (:func:`run_provenance`); ``captioning`` and ``caption_results`` are
    :func:`captioning_metrics`' outputs."""
    split, train = evaluation.split, evaluation.train_split
    tables = EmbeddingTables.read(text_embeddings, audio_embeddings, split, train)
    header = tables.header(evaluation.dataset_name)
    report = report_json(header, modality_gap, s_star, captioning, training, agreement, provenance)
    context = ReportContext(
        split=split,
        train_split=train,
        recall_at=evaluation.recall_at,
        convergence=evaluation.convergence,
        paper=evaluation.paper,
        tables=tables,
        caption_results=caption_results,
    )
    return report_markdown(report, context), report
