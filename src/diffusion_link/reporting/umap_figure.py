"""Figure 2: a UMAP of audio, text and a bridge's text-like embeddings, with pair lines.

All three groups are shown in the raw encoder space; UMAP (umap-learn, slow to import) is only
imported when a layout is computed.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass as plain_dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from pydantic import Field, PositiveInt
from pydantic.dataclasses import dataclass

from diffusion_link.config import STRICT
from diffusion_link.core.bridges import Bridge
from diffusion_link.core.pairs import split_pairs
from diffusion_link.data.embeddings import embedding_matrix
from diffusion_link.metrics.gap_tables import embedding_rows
from diffusion_link.metrics.modality_gap import l2_normalise, uncollapse

matplotlib.use("Agg")


@dataclass(frozen=True, config=STRICT)
class UmapSettings:
    """Which clips are shown and how UMAP lays them out."""

    max_clips: PositiveInt = 300  # points per group (audio, text, text-like)
    seed: int = 0
    n_neighbors: PositiveInt = 15
    min_dist: float = Field(0.1, ge=0.0)
    metric: str = "cosine"


@plain_dataclass(frozen=True)
class UmapGroups:
    """One row per shown clip in each group, all in the raw encoder space."""

    audio: np.ndarray
    text: np.ndarray  # the clip's first caption
    text_like: np.ndarray  # the bridge's output from the clip's audio


def umap_groups(
    audio_embeddings: pd.DataFrame,
    text_embeddings: pd.DataFrame,
    bridged_embeddings: pd.DataFrame,
    model: Bridge,
    split: str,
    settings: UmapSettings,
) -> UmapGroups:
    """A seeded subset of ``split``'s clips, one caption each, and ``model``'s text-like output.

    The text-like outputs (unit vectors in the model's normalised text space) are mapped back
    through the exact inverse of that normalisation.
    """
    split_audio = audio_embeddings[audio_embeddings["split"] == split]
    pairs = split_pairs(split_audio["clip_id"], text_embeddings, split)
    rng = np.random.default_rng(settings.seed)
    n = min(settings.max_clips, len(pairs.clip_ids))
    clip_ids = pairs.clip_ids[np.sort(rng.choice(len(pairs.clip_ids), n, replace=False))]
    first_captions = pairs.captions.drop_duplicates("clip_id").set_index("clip_id")
    outputs = bridged_embeddings[
        (bridged_embeddings["bridge"] == model.method)
        & (bridged_embeddings["split"] == split)
        & (bridged_embeddings["source"] == "audio")
    ]
    return UmapGroups(
        audio=l2_normalise(embedding_rows(split_audio, "clip_id", clip_ids, "audio")),
        text=l2_normalise(embedding_matrix(first_captions.loc[clip_ids])),
        text_like=uncollapse(
            embedding_rows(outputs, "clip_id", clip_ids, "Diffusion-Link t<-a"),
            model.text_mean.cpu().numpy(),
        ),
    )


UMAP_EXACT_LIMIT = 4096  # umap-learn computes exact neighbours below this many points


def exact_neighbours(
    points: np.ndarray, n_neighbors: int, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Each point's ``n_neighbors`` nearest points under ``metric`` (itself among them) and
    their distances, from the full distance matrix, as UMAP computes them below 4,096 points."""
    from sklearn.metrics import pairwise_distances

    distances = pairwise_distances(points, metric=metric)
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :n_neighbors]
    return nearest, np.take_along_axis(distances, nearest, axis=1)


def umap_layout(points: np.ndarray, settings: UmapSettings) -> np.ndarray:
    """UMAP's seeded 2-D layout of ``points`` (one thread, reproducible).

    Below :data:`UMAP_EXACT_LIMIT` points the exact neighbours are handed to UMAP
    (:func:`exact_neighbours`): the same graph as its own small-data path, without compiling
    its neighbour search (~9 s of numba per process). Above, UMAP searches them itself.
    """
    # numba compiles UMAP's kernels on first import (~15 s); cache them where the Makefile does.
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.cwd() / ".cache" / "numba"))
    import umap  # slow import (numba): only this figure needs it

    n_neighbors = min(settings.n_neighbors, len(points) - 1)
    exact = len(points) < UMAP_EXACT_LIMIT
    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        min_dist=settings.min_dist,
        metric=settings.metric,
        random_state=settings.seed,
        n_jobs=1,
        precomputed_knn=(
            exact_neighbours(points, n_neighbors, settings.metric) if exact else (None, None)
        ),
    )
    with warnings.catch_warnings():
        # Without a search index, UMAP warns that it cannot place new points: none are placed.
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        return reducer.fit_transform(points)


def umap_figure(
    xy_audio: np.ndarray, xy_text: np.ndarray, xy_like: np.ndarray, title: str
) -> Figure:
    """The three 2-D point clouds, each audio and text-like point joined to its caption's point."""
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
    axis.set(title=title, xticks=[], yticks=[])
    axis.legend(fontsize="small", markerscale=2)
    return figure


def plot_umap_groups(groups: UmapGroups, settings: UmapSettings, split: str) -> Figure:
    """Figure 2 of ``groups``: one UMAP layout of all three, drawn by :func:`umap_figure`."""
    points = umap_layout(np.concatenate([groups.audio, groups.text, groups.text_like]), settings)
    xy_audio, xy_text, xy_like = np.split(points, 3)
    title = f"UMAP of {len(groups.audio)} {split} clips (raw encoder space)"
    return umap_figure(xy_audio, xy_text, xy_like, title)
