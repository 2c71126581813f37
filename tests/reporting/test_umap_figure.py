"""Figure 2's drawing and settings, without UMAP itself (the pipeline test runs the layout)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from pydantic import ValidationError

from diffusion_link.reporting.umap_figure import UmapSettings, umap_figure


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
