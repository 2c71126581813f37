"""MlflowMetricsBatchDataset on a real local MLflow store: batches, names, switch, no run."""

from __future__ import annotations

import mlflow
import pytest
from kedro.io import DatasetError
from mlflow.tracking import MlflowClient

from diffusion_link.datasets import MlflowMetricsBatchDataset


@pytest.fixture
def store(tmp_path):
    """A fresh SQLite tracking store with one experiment; the previous URI restored after."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("test", artifact_location=str(tmp_path / "artifacts"))
    yield experiment
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)


def test_more_values_than_one_batch_are_all_logged_in_order(store):
    curve = [{"step": step, "value": 1.0 / (step + 1)} for step in range(2_500)]
    dataset = MlflowMetricsBatchDataset(prefix="bridge_training")
    with mlflow.start_run(experiment_id=store) as run:
        dataset.save({"diffusion_link.loss": curve, "c3.x": {"step": 0, "value": 2.0}})
    history = MlflowClient().get_metric_history(
        run.info.run_id, "bridge_training.diffusion_link.loss"
    )
    assert [(m.step, m.value) for m in history] == [(p["step"], p["value"]) for p in curve]
    assert MlflowClient().get_run(run.info.run_id).data.metrics["bridge_training.c3.x"] == 2.0
    loaded = MlflowMetricsBatchDataset(prefix="bridge_training", run_id=run.info.run_id).load()
    assert loaded["bridge_training.c3.x"] == {"step": 0, "value": 2.0}


def test_switched_off_it_logs_nothing_and_needs_no_run(store):
    dataset = MlflowMetricsBatchDataset(prefix="evaluation")
    dataset._logging_activated = False  # as the tracking hook does for an untracked run
    dataset.save({"x": {"step": 0, "value": 1.0}})
    assert mlflow.active_run() is None
    assert MlflowClient().search_runs([store]) == []


def test_without_a_run_it_says_so(store):
    with pytest.raises(DatasetError, match="no MLflow run"):
        MlflowMetricsBatchDataset(prefix="evaluation").save({"x": {"step": 0, "value": 1.0}})
