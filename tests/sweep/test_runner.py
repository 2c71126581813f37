"""A real two-point sweep on a tiny copy of the project: one parent and two child MLflow runs
with the points' overrides as parameters, a table and plot; its rerun skips both points; a bad
grid fails before any run."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.framework.project import configure_project
from kedro.framework.session import KedroSession
from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from diffusion_link.project.parameters import ParameterError
from diffusion_link.sweep.runner import SweepRequest, run_sweep
from session_fixtures import PROJECT, copy_configuration
from tiny_run_fixtures import LOCAL_PARAMETERS as TINY_RUN_PARAMETERS

S_STAR = "bridge_training.bridges.diffusion_link.model.s_star"
LOCAL_PARAMETERS = {"bridge_training": TINY_RUN_PARAMETERS["bridge_training"]}  # tiny bridges


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A tracked copy of the project with tiny bridges, its embedding tables already made
    (``data_prep`` and ``embedding``, untracked)."""
    root = copy_configuration(tmp_path_factory.mktemp("sweep_project"), tracking=True)
    shutil.copytree(PROJECT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT / "data" / "01_raw", root / "data" / "01_raw")
    (root / "conf" / "local" / "parameters.yml").write_text(yaml.safe_dump(LOCAL_PARAMETERS))
    configure_project("diffusion_link")
    untracked = {"tracking": {"enabled": False}}
    with (
        contextlib.chdir(root),  # data_prep reads data/01_raw relative to the cwd
        KedroSession.create(project_path=root, runtime_params=untracked) as session,
    ):
        session.run(pipeline_names=["data_prep", "embedding"])
    return root


def client_of(project: Path) -> tuple[MlflowClient, str]:
    client = MlflowClient(f"sqlite:///{project / 'data' / '09_tracking' / 'mlflow.db'}")
    return client, client.get_experiment_by_name("diffusion_link").experiment_id


@pytest.mark.slow
def test_two_point_sweep_runs_and_its_rerun_skips_both(project, monkeypatch):
    monkeypatch.chdir(project)
    request = SweepRequest(pipelines=["bridge_training"], grid=[f"{S_STAR}=100,200"], name="two")
    first = run_sweep(request, project)
    assert [r.skipped for r in first.results] == [False, False]
    again = run_sweep(request, project)
    assert [r.skipped for r in again.results] == [True, True]
    assert [r.run_id for r in again.results] == [r.run_id for r in first.results]
    assert again.parent_run_id == first.parent_run_id

    client, experiment = client_of(project)
    runs = client.search_runs([experiment])
    assert len(runs) == 3
    parent = next(r for r in runs if r.info.run_id == first.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["sweep.name"] == "two"
    assert parent.data.tags["sweep.pipelines"] == "bridge_training"
    children = [r for r in runs if r.data.tags.get(MLFLOW_PARENT_RUN_ID) == parent.info.run_id]
    assert sorted(c.data.params[S_STAR] for c in children) == ["100", "200"]
    assert {c.info.status for c in children} == {"FINISHED"}
    assert {c.info.run_name for c in children} == {"s_star=100", "s_star=200"}
    assert all(
        "bridge_training.diffusion_link.val_matched_audio_text" in c.data.metrics for c in children
    )

    table = pd.read_csv(again.folder / "table.csv")
    assert table["s_star"].tolist() == [100, 200]
    assert table["status"].tolist() == ["skipped", "skipped"]
    assert table["run_id"].tolist() == [r.run_id for r in first.results]
    by_run = {c.info.run_id: c.data.metrics for c in children}
    assert table["val_matched_audio_text"].tolist() == [
        by_run[r]["bridge_training.diffusion_link.val_matched_audio_text"] for r in table["run_id"]
    ]
    written = {"table.csv", "table.md", "val_matched_audio_text_vs_s_star.png"}
    assert {p.name for p in again.folder.iterdir()} == written
    logged = {Path(a.path).name for a in client.list_artifacts(parent.info.run_id, "sweep")}
    assert logged == written


def run_count(project: Path) -> int:
    """The runs in the project's store (0 before any tracked run made it)."""
    if not (project / "data" / "09_tracking" / "mlflow.db").exists():
        return 0
    client, experiment = client_of(project)
    return len(client.search_runs([experiment]))


def test_a_bad_grid_fails_before_any_run_and_names_the_key(project, monkeypatch):
    monkeypatch.chdir(project)
    before = run_count(project)
    request = SweepRequest(
        pipelines=["bridge_training"],
        grid=[f"{S_STAR}=100,abc", "bridge_training.bridges.diffusion_link.model.widht=8"],
    )
    with pytest.raises(ParameterError) as error:
        run_sweep(request, project)
    assert f"{S_STAR}: Input should be a valid integer" in str(error.value)
    assert "model.widht: unknown key (did you mean width?)" in str(error.value)
    assert run_count(project) == before
