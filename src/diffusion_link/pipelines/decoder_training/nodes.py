"""Nodes of ``decoder_training``: train one caption decoder per variant and caption the test audio.

One template (train -> generate) is instantiated per variant under its own namespace, each reading
``params:decoder_training.variants.<name>`` (mode, bridge); the shared settings (LLM, LoRA,
optimiser, generation) are ``params:decoder_training.settings``. Kedro validates both against
:mod:`~diffusion_link.pipelines.decoder_training.params` before the run. The model work lives in
:mod:`diffusion_link.decoder`; the pairs in :mod:`~diffusion_link.pipelines.decoder_training.pairs`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
import torch
from matplotlib.figure import Figure

from diffusion_link.core.training import TrainingStateStore
from diffusion_link.data.embeddings import embedding_matrix
from diffusion_link.decoder.launch import Job, train_in_processes
from diffusion_link.decoder.model import CaptionDecoder
from diffusion_link.pipelines.decoder_training.pairs import (
    embeddings_and_captions,
    training_pairs,
    validation_pairs,
    variant_rows,
)
from diffusion_link.pipelines.decoder_training.params import DecoderSettings, VariantParams
from diffusion_link.reporting.decoder_curves import training_curves_figure
from diffusion_link.reporting.tracked_metrics import MetricsHistory, history_metrics

logger = logging.getLogger(__name__)


def _log_reports(name: str, reports: list[dict]) -> None:
    for report in reports:
        logger.info(
            "%s rank %d/%d on %s: steps %d (resumed from %d), %d rows, final loss %.4f",
            name,
            report["rank"],
            report["world_size"],
            report["device"],
            report["steps"],
            report["resumed_from"],
            report["rows_seen"],
            report["final_loss"],
        )


def train_decoder(
    bridged_embeddings: pd.DataFrame,
    captions: pd.DataFrame,
    variant: VariantParams,
    settings: DecoderSettings,
    training_state: TrainingStateStore,
) -> tuple[CaptionDecoder, pd.DataFrame]:
    """Fit head + LoRA of one variant under ``accelerate launch`` (1..N processes), resumably.

    Returns the decoder and its training history (step, loss, lr, val_loss, variant); the
    validation loss comes from ``val_split``'s pairs, built as the training pairs are.
    """
    pairs = training_pairs(bridged_embeddings, captions, variant, settings)
    val = validation_pairs(bridged_embeddings, captions, variant, settings)
    embeddings, texts = embeddings_and_captions(pairs)
    job = Job(
        config=settings.decoder_config(variant, embeddings.shape[1]),
        settings=settings.train_settings(variant),
        device=settings.device,
        state_path=str(training_state.path),
    )
    started = time.perf_counter()
    validation = None if val is None else embeddings_and_captions(val)
    decoder, reports = train_in_processes(
        job, embeddings, texts, Path(settings.job_dir) / variant.name, settings.launch(), validation
    )
    _log_reports(variant.name, reports)
    elapsed = time.perf_counter() - started
    logger.info("%s decoder trained on %d pairs in %.1f s", variant.name, len(pairs), elapsed)
    return _record_training_input(decoder, variant), history_table(decoder.history, variant.name)


def _record_training_input(decoder: CaptionDecoder, variant: VariantParams) -> CaptionDecoder:
    """Save with the decoder which bridge's outputs it read (checked when it captions)."""
    decoder.trained_on = {"variant": variant.name, "bridge": variant.rows}
    return decoder


def history_table(history: list[dict[str, float]], variant: str) -> pd.DataFrame:
    """One row per optimiser step: step, loss, lr, val_loss (NaN where not computed), variant."""
    table = pd.DataFrame(history, columns=["step", "loss", "lr", "val_loss"])
    return table.astype(float).astype({"step": int}).assign(variant=variant)


def plot_training_curves(*histories: pd.DataFrame) -> tuple[Figure, pd.DataFrame]:
    """Every variant's training and validation loss: the figure and the histories in one table."""
    return training_curves_figure(histories), pd.concat(histories, ignore_index=True)


def training_metrics(history: pd.DataFrame) -> MetricsHistory:
    """The variants' training curves as step-indexed MLflow metrics (``<variant>.<column>``)."""
    return history_metrics(history, "variant")


def generate_captions(
    decoder: CaptionDecoder,
    bridged_embeddings: pd.DataFrame,
    variant: VariantParams,
    settings: DecoderSettings,
) -> pd.DataFrame:
    """One caption per test clip, from the audio-driven text-like embedding of the variant."""
    rows = variant_rows(bridged_embeddings, variant, "audio", settings.test_split)
    started = time.perf_counter()
    captions = decoder.generate(torch.from_numpy(embedding_matrix(rows)), settings.generation)
    elapsed = time.perf_counter() - started
    logger.info(
        "%s/%s: %d %s captions in %.1f s (%.1f/s)",
        variant.mode,
        variant.bridge,
        len(captions),
        settings.test_split,
        elapsed,
        len(captions) / max(elapsed, 1e-9),
    )
    empty = sum(not c for c in captions)
    if empty:
        logger.warning(
            "%s/%s: %d generated captions are empty", variant.mode, variant.bridge, empty
        )
    table = {"clip_id": rows["clip_id"].to_numpy(), "mode": variant.mode, "bridge": variant.bridge}
    return pd.DataFrame({**table, "caption": captions})


def collect_generated_captions(*tables: pd.DataFrame) -> pd.DataFrame:
    """Every variant's captions in one table (clip_id, mode, bridge, caption)."""
    return pd.concat(tables, ignore_index=True)[["clip_id", "mode", "bridge", "caption"]]
