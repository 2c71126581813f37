"""The sweep's comparison table and plot, from points and their runs' metrics."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from diffusion_link.sweep.table import (
    PointResult,
    comparison_table,
    headline_metrics,
    markdown_table,
    metric_column,
    metric_plot,
    swept_bridge,
)

S_STAR = "bridge_training.bridges.diffusion_link.model.s_star"
TOPOLOGY = "bridge_training.bridges.diffusion_link.loss.topology_weight"


def result(s_star, weight, matched, skipped=False):
    metrics = {"evaluation.modality_gap.diffusion_link.matched_audio_text": matched}
    return PointResult({S_STAR: s_star, TOPOLOGY: weight}, f"run{s_star}{weight}", skipped, metrics)


def test_the_swept_bridge_is_the_one_the_keys_name():
    assert swept_bridge(["bridge_training.bridges.diffgap.model.s_star"]) == "diffgap"
    assert swept_bridge(["evaluation.split"]) == "diffusion_link"
    columns = headline_metrics("diffgap", "bridge_training.diffgap.loss")
    assert columns["matched_audio_text"] == "evaluation.modality_gap.diffgap.matched_audio_text"
    assert columns["bridge_training.diffgap.loss"] == "bridge_training.diffgap.loss"
    assert metric_column("evaluation.s_star_sweep.100", columns) == "s_star_100"


def test_one_row_per_point_with_the_metrics_some_run_recorded():
    results = [result(100, 0, 0.5), result(100, 1, 0.6, skipped=True), result(200, 0, 0.7)]
    results[2].metrics.clear()
    frame = comparison_table(results, headline_metrics("diffusion_link"))
    assert list(frame.columns) == [
        "s_star",
        "topology_weight",
        "run_id",
        "status",
        "matched_audio_text",
    ]
    assert frame["status"].tolist() == ["ran", "skipped", "ran"]
    assert frame["matched_audio_text"].tolist()[:2] == [0.5, 0.6]
    assert math.isnan(frame["matched_audio_text"].iloc[2])
    markdown = markdown_table(frame)
    assert (
        markdown.splitlines()[0]
        == "| s_star | topology_weight | run_id | status | matched_audio_text |"
    )
    assert "| 100 | 1 | run1001 | skipped | 0.6000 |" in markdown
    assert "| 200 | 0 | run2000 | ran | - |" in markdown


@pytest.mark.parametrize("against", ["s_star", "topology_weight"])
def test_the_plot_has_one_line_per_other_swept_value(against):
    results = [result(s, w, s / 1000 + w) for s in (100, 200, 300) for w in (0, 1)]
    frame = comparison_table(results, headline_metrics("diffusion_link"))
    others = [c for c in ("s_star", "topology_weight") if c != against]
    axes = metric_plot(frame, "matched_audio_text", against, others).axes[0]
    assert len(axes.lines) == len(frame[others[0]].unique())
    assert axes.get_xlabel() == against


def test_non_numeric_values_are_categories():
    frame = pd.DataFrame({"source": ["audio", "text"], "m": [0.1, 0.2]})
    axes = metric_plot(frame, "m", "source", []).axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["audio", "text"]
