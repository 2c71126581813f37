"""Nodes of the ``bridge_training`` pipeline: fit each bridge, apply it, sweep s*.

One template (train -> apply) is instantiated per bridge under its own namespace, each reading
``params:bridge_training.bridges.<name>``; the shared ones are ``params:bridge_training.settings``.
"""

from __future__ import annotations

import logging
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from diffusion_link.core.bridges import Bridge, fit_bridge
from diffusion_link.core.model import check_inference_steps
from diffusion_link.core.pairs import validation_set
from diffusion_link.core.training import TrainingStateStore
from diffusion_link.data.embeddings import embedding_matrix, with_embeddings
from diffusion_link.device import resolve_device
from diffusion_link.pipelines.bridge_training.params import BridgeParams, BridgeSettings
from diffusion_link.reporting.figures import training_curves
from diffusion_link.reporting.tracked_metrics import MetricsHistory, history_metrics

matplotlib.use("Agg")
logger = logging.getLogger(__name__)


def paired_split(
    audio_embeddings: pd.DataFrame, text_embeddings: pd.DataFrame, split: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(audio, text) tensors of one split, one row per caption paired with its clip's audio."""
    text = text_embeddings[text_embeddings["split"] == split]
    clip_ids = pd.Index(audio_embeddings["clip_id"])
    index = clip_ids.get_indexer(text["clip_id"])
    paired = index >= 0
    if not paired.any():
        raise ValueError(f"no {split!r} captions have an audio embedding: nothing to train on")
    if not paired.all():
        logger.info("%d %s captions have no audio embedding; left out", (~paired).sum(), split)
    audio = torch.from_numpy(embedding_matrix(audio_embeddings)[index[paired]])
    return audio, torch.from_numpy(embedding_matrix(text)[paired])


def train_bridge(
    audio_embeddings: pd.DataFrame,
    text_embeddings: pd.DataFrame,
    training_state: TrainingStateStore,
    bridge: BridgeParams,
    settings: BridgeSettings,
) -> tuple[Bridge, pd.DataFrame]:
    """Fit one bridge on the training split; returns it and its loss history."""
    audio, text = paired_split(audio_embeddings, text_embeddings, settings.train_split)
    logger.info("Fitting %s on %d %s pairs", bridge.method, len(text), settings.train_split)
    validation = None
    if settings.validation_split is not None:
        validation = validation_set(
            audio_embeddings, text_embeddings, settings.validation_split, bridge.seed
        )
    model, history = fit_bridge(
        bridge.method,
        audio,
        text,
        model=bridge.model,
        training=bridge.training,
        loss=bridge.loss,
        store=training_state,
        device=str(resolve_device(settings.device)),
        validation=validation,
    )
    return model, pd.DataFrame(history).assign(bridge=bridge.method)


def _bridge_rows(
    model: Bridge, table: pd.DataFrame, modality: str, seed: int, device: torch.device
) -> np.ndarray:
    if table.empty:
        return np.zeros((0, int(table.attrs.get("dim", 0))), dtype=np.float32)
    generator = torch.Generator(device=device).manual_seed(seed)
    embeddings = torch.from_numpy(embedding_matrix(table)).to(device)
    return model.bridge(embeddings, modality=modality, generator=generator).cpu().numpy()


def _output_attrs(audio_embeddings: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    """The encoder's attributes of the input table (not its modality or split statistics)."""
    kept = {
        k: v for k, v in audio_embeddings.attrs.items() if k not in ("modality", "split_statistics")
    }
    return {**kept, **extra}


def apply_bridge(
    model: Bridge,
    audio_embeddings: pd.DataFrame,
    text_embeddings: pd.DataFrame,
    bridge: BridgeParams,
    settings: BridgeSettings,
) -> pd.DataFrame:
    """Text-like embeddings of every split, from audio (t<-a) and from text (t<-t)."""
    device = resolve_device(settings.device)
    model = model.to(device)
    audio = with_embeddings(
        audio_embeddings[["clip_id", "split"]].assign(caption_id=None, source="audio"),
        _bridge_rows(model, audio_embeddings, "audio", bridge.seed, device),
        {},
    )
    text = with_embeddings(
        text_embeddings[["clip_id", "caption_id", "split"]].assign(source="text"),
        _bridge_rows(model, text_embeddings, "text", bridge.seed + 1, device),
        {},
    )
    table = pd.concat([audio, text], ignore_index=True).assign(bridge=bridge.method)
    table = table[["bridge", "source", "split", "clip_id", "caption_id", "embedding"]]
    table.attrs = _output_attrs(audio_embeddings, bridge=bridge.method)
    return table


def collect_bridged_embeddings(*tables: pd.DataFrame) -> pd.DataFrame:
    """All bridges' text-like embeddings in one table (bridge, source, split, ids)."""
    combined = pd.concat(tables, ignore_index=True)
    combined.attrs = {k: v for k, v in tables[0].attrs.items() if k != "bridge"}
    combined.attrs["bridges"] = [t.attrs["bridge"] for t in tables]
    return combined


def sweep_s_star(
    model: Bridge, audio_embeddings: pd.DataFrame, settings: BridgeSettings
) -> pd.DataFrame:
    """Table 2: Diffusion-Link's text-like embeddings of one split's audio at each s*."""
    sweep = settings.s_star_sweep
    audio = audio_embeddings[audio_embeddings["split"] == sweep.split]
    if audio.empty:
        raise ValueError(f"s* sweep: no audio embeddings in split {sweep.split!r}")
    device = resolve_device(settings.device)
    model = model.to(device)
    tables = []
    for s_star in sweep.s_stars:
        check_inference_steps(s_star, sweep.steps, model.config.T)
        generator = torch.Generator(device=device).manual_seed(sweep.seed)
        embeddings = torch.from_numpy(embedding_matrix(audio)).to(device)
        out = model.bridge(embeddings, s_star=s_star, steps=sweep.steps, generator=generator)
        ids = audio[["clip_id", "split"]].assign(s_star=s_star)
        tables.append(with_embeddings(ids, out.cpu().numpy(), {}))
    table = pd.concat(tables, ignore_index=True)
    table.attrs = _output_attrs(audio_embeddings, bridge=model.method, ddim_steps=sweep.steps)
    return table


def plot_training_curves(*histories: pd.DataFrame) -> tuple[Figure, pd.DataFrame]:
    """Every trained bridge's loss terms and validation figures: one figure and one table."""
    trained = [h for h in histories if not h.empty]
    curves = pd.concat(trained, ignore_index=True) if trained else pd.DataFrame()
    return training_curves(trained), curves


def training_metrics(history: pd.DataFrame) -> MetricsHistory:
    """The bridges' training curves as step-indexed MLflow metrics (``<bridge>.<column>``)."""
    return history_metrics(history, "bridge")
