"""Figure 2's drawing, settings and layout (the pipeline test runs it on the default's data)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure
from pydantic import ValidationError

from diffusion_link.reporting.umap_figure import (
    UmapSettings,
    exact_neighbours,
    umap_figure,
    umap_layout,
)


def test_three_groups_joined_to_their_captions():
    rng = np.random.default_rng(0)
    xy_audio, xy_text, xy_like = (rng.normal(size=(7, 2)) for _ in range(3))
    figure = umap_figure(xy_audio, xy_text, xy_like, "UMAP of 7 test clips")
    assert isinstance(figure, Figure)
    (axis,) = figure.axes
    assert axis.get_title() == "UMAP of 7 test clips"
    assert len(axis.collections) == 5  # two sets of pair lines, three point clouds
    audio_lines, like_lines = axis.collections[:2]
    assert len(audio_lines.get_segments()) == len(like_lines.get_segments()) == 7
    np.testing.assert_allclose(audio_lines.get_segments()[3], [xy_audio[3], xy_text[3]])
    np.testing.assert_allclose(axis.collections[3].get_offsets(), xy_text)
    labels = [text.get_text() for text in axis.get_legend().get_texts()]
    assert "text-like (Diffusion-Link, from audio)" in labels


def test_settings_are_strict_and_checked():
    assert UmapSettings().max_clips == 300 and UmapSettings().metric == "cosine"
    with pytest.raises(ValidationError):
        UmapSettings(n_neighbours=10)
    with pytest.raises(ValidationError):
        UmapSettings(min_dist=-0.1)


def _three_blobs(per_blob: int = 30, dim: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = 5.0 * np.eye(dim)[:3]
    return np.concatenate([c + rng.normal(size=(per_blob, dim)) for c in centres])


def test_exact_neighbours_are_the_nearest_by_cosine_distance_self_first():
    points = _three_blobs()
    nearest, distances = exact_neighbours(points, 5, "cosine")
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    cosine_distance = 1.0 - unit @ unit.T
    assert nearest.shape == distances.shape == (len(points), 5)
    np.testing.assert_array_equal(nearest[:, 0], np.arange(len(points)))
    np.testing.assert_allclose(distances[:, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(
        distances, np.take_along_axis(cosine_distance, nearest, axis=1), atol=1e-6
    )
    assert np.all(np.diff(distances, axis=1) >= 0)
    assert np.all(distances[:, -1] <= np.sort(cosine_distance, axis=1)[:, 5] + 1e-6)


def test_layout_keeps_clusters_apart_is_seeded_and_warns_of_nothing():
    points = _three_blobs()
    settings = UmapSettings(n_neighbors=10)
    import umap  # noqa: F401  (its import warns that TensorFlow is missing: not this test's)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning from UMAP's use of the given neighbours
        layout = umap_layout(points, settings)
    assert layout.shape == (90, 2) and np.isfinite(layout).all()
    np.testing.assert_array_equal(layout, umap_layout(points, settings))
    gaps = np.linalg.norm(layout[:, None] - layout[None], axis=-1)
    np.fill_diagonal(gaps, np.inf)
    blob = np.repeat(np.arange(3), 30)
    assert np.array_equal(blob[gaps.argmin(axis=1)], blob)
