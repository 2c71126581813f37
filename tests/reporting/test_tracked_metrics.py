"""Training histories and report.json as MLflow metric histories (names, steps, values)."""

from __future__ import annotations

import math

import pandas as pd

from diffusion_link.reporting.tracked_metrics import history_metrics, metric_name, report_metrics


def test_history_metrics_are_step_indexed_per_key_and_skip_empty_cells():
    history = pd.DataFrame(
        {
            "step": [25, 50, 50, 25],
            "loss": [1.0, 0.5, math.nan, 2.0],
            "val_matched_audio_text": [math.nan, math.nan, 0.6, math.nan],
            "bridge": ["diffusion_link", "diffusion_link", "diffusion_link", "diffgap"],
        }
    )
    assert history_metrics(history, "bridge") == {
        "diffusion_link.loss": [{"step": 25, "value": 1.0}, {"step": 50, "value": 0.5}],
        "diffusion_link.val_matched_audio_text": [{"step": 50, "value": 0.6}],
        "diffgap.loss": [{"step": 25, "value": 2.0}],
    }


def test_report_metrics_take_every_finite_number_of_the_result_sections_only():
    report = {
        "dataset": "audiocaps_default",
        "simulated_audio": True,
        "modality_gap": {"c3": {"matched_audio_text": 0.54, "recall_at_1": None}},
        "s_star_sweep": {"100": 0.72, "200": float("nan")},
        "captioning": {"zero_shot": {"none": {"CIDEr": 0.37, "Vocab": 306}}},
        "training": {"diffgap": {"steps": 1300, "converged": True}},
        "unavailable": {"x": "why"},
    }
    assert report_metrics(report) == {
        "modality_gap.c3.matched_audio_text": [{"step": 0, "value": 0.54}],
        "s_star_sweep.100": [{"step": 0, "value": 0.72}],
        "captioning.zero_shot.none.CIDEr": [{"step": 0, "value": 0.37}],
        "captioning.zero_shot.none.Vocab": [{"step": 0, "value": 306.0}],
        "training.diffgap.steps": [{"step": 0, "value": 1300.0}],
    }


def test_metric_names_replace_what_mlflow_refuses():
    assert metric_name("s*", "recall@1", "a b/c-d") == "s_.recall_1.a b/c-d"
