"""Experiment tracking: each ``kedro run`` is one MLflow run in the project's local store.

In-process Kedro sessions on a copy of the configuration (the runner runs nothing, or fails)
check the store, the run's name, status and tags, the switch and the parent link; the tiny
default run (``tiny_run``) is read back through ``mlflow.MlflowClient`` and compared with its
report, histories and files; the MLflow UI started on that store is drawn by headless Chromium.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.project import configure_project
from kedro.framework.session import KedroSession
from kedro.runner import SequentialRunner
from mlflow.tracking import MlflowClient

from diffusion_link.project.parameters import ParameterError
from diffusion_link.project.tracking import git_state, project_store_uri, runner_name
from diffusion_link.reporting.tracked_metrics import history_metrics, report_metrics
from session_fixtures import copy_configuration, run
from tiny_run_fixtures import LOCAL_PARAMETERS, PIPELINES, environment

STORE = Path("data") / "09_tracking" / "mlflow.db"
EXPERIMENT = "diffusion_link"


def store(project: Path) -> MlflowClient:
    """A client of the project's tracking store (which must exist)."""
    assert (project / STORE).is_file(), f"no tracking store at {project / STORE}"
    return MlflowClient(f"sqlite:///{project / STORE}")


def runs(project: Path) -> list:
    """The project's MLflow runs, oldest first."""
    client = store(project)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """The project's configuration with tracking on, as a user's project has it."""
    monkeypatch.setattr("diffusion_link.project.resources.check_resources", lambda *args: None)
    return copy_configuration(tmp_path, tracking=True)


def test_a_relative_sqlite_store_lies_under_the_project_and_others_are_kept(tmp_path):
    uri = project_store_uri("sqlite:///data/09_tracking/mlflow.db", tmp_path)
    assert uri == f"sqlite:///{tmp_path}/data/09_tracking/mlflow.db"
    for kept in ("sqlite:////srv/mlflow.db", "http://127.0.0.1:5000", "databricks", None):
        assert project_store_uri(kept, tmp_path) == kept


def test_the_runner_tag_is_the_runners_class_name():
    repr_ = "<kedro.runner.sequential_runner.SequentialRunner object at 0x7fed5a9f6a50>"
    assert runner_name(repr_) == "SequentialRunner"
    assert runner_name("ParallelRunner") == "ParallelRunner"  # a name is kept as it is


def test_git_state_names_the_commit_and_whether_tracked_files_changed(tmp_path):
    assert git_state(tmp_path) == {"git_commit": None, "git_dirty": None}  # no checkout
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.txt").write_text("a")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    (tmp_path / "untracked.txt").write_text("not part of the code")
    assert git_state(tmp_path) == {"git_commit": head.strip(), "git_dirty": False}
    (tmp_path / "a.txt").write_text("b")
    assert git_state(tmp_path)["git_dirty"] is True


def test_a_context_knows_the_store_without_opening_it(project):
    """As ``kedro mlflow ui`` and notebooks read it (``context.mlflow``); nothing is written."""
    configure_project("diffusion_link")
    with KedroSession.create(project_path=project) as session:
        config = session.load_context().mlflow
    assert config.server.mlflow_tracking_uri == f"sqlite:///{project / STORE}"
    assert config.tracking.experiment.name == EXPERIMENT
    assert not (project / "data").exists()


def test_a_run_is_recorded_named_and_tagged_in_the_projects_store(project):
    run(project, "data_prep")
    (recorded,) = runs(project)
    assert recorded.info.status == "FINISHED"
    assert recorded.info.run_name == "data_prep (local)"
    tags = recorded.data.tags
    assert tags["kedro_env"] == "local"
    assert tags["encoder"] == "gap_simulator" and tags["simulated_audio"] == "True"
    assert tags["git_commit"] == "None"  # the copy is no git checkout
    assert tags["runner"] == "RecordingRunner"  # the class, not the object's repr
    assert "mlflow.parentRunId" not in tags
    run(project, "data_prep", env="paper")
    assert [r.info.run_name for r in runs(project)] == ["data_prep (local)", "data_prep (paper)"]
    assert runs(project)[1].data.tags["encoder"] == "laion_clap"
    assert runs(project)[1].data.tags["simulated_audio"] == "False"


def test_tracking_switched_off_by_one_parameter_opens_no_store(project):
    assert run(project, "data_prep", "tracking.enabled=false").called
    assert not (project / "data" / "09_tracking").exists()


def test_a_run_given_a_parent_nests_under_it(project):
    run(project, "data_prep")
    parent = runs(project)[0].info.run_id
    run(project, "data_prep", f"tracking.parent_run_id={parent}")
    assert runs(project)[1].data.tags["mlflow.parentRunId"] == parent


def test_a_failed_run_is_marked_failed_and_ended(project):
    class Failing(SequentialRunner):
        def run(self, *args, **kwargs) -> dict:
            raise RuntimeError("a node failed")

    configure_project("diffusion_link")
    with KedroSession.create(project_path=project) as session:
        with pytest.raises(RuntimeError, match="a node failed"):
            session.run(pipeline_names=["data_prep"], runner=Failing())
    (recorded,) = runs(project)
    assert recorded.info.status == "FAILED"
    run(project, "data_prep")  # the next run starts a run of its own
    assert [r.info.status for r in runs(project)] == ["FAILED", "FINISHED"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("tracking.enabld=false", "tracking.enabld: unknown key (did you mean enabled?)"),
        ("tracking.enabled=sometimes", "tracking.enabled: Input should be a valid boolean"),
    ],
)
def test_a_bad_tracking_parameter_is_refused_before_anything_runs(project, params, message):
    with pytest.raises(ParameterError, match=re.escape(message)):
        run(project, "data_prep", params)
    assert not (project / "data" / "09_tracking").exists()


def _flat(value: object, prefix: str) -> dict[str, object]:
    if isinstance(value, dict):
        return {
            k: v for key, child in value.items() for k, v in _flat(child, f"{prefix}.{key}").items()
        }
    return {prefix: value}


@pytest.mark.slow
def test_the_tiny_default_run_is_one_mlflow_run_holding_its_parameters_metrics_and_files(
    tiny_run,
):
    recorded = runs(tiny_run)[0]  # the default run (the notebooks' sweeps may follow it)
    client, run_id = store(tiny_run), recorded.info.run_id
    assert recorded.info.status == "FINISHED"
    names, env = recorded.info.run_name.split(" ")
    assert set(names.split("+")) == set(PIPELINES) and env == "(local)"
    # parameters: every one the run's configuration gives, under its dotted Kedro name
    params = recorded.data.params
    for key, value in _flat(LOCAL_PARAMETERS, "").items():
        assert params[key.lstrip(".")] == str(value)
    assert params["bridge_training.bridges.diffusion_link.model.s_star"] == "100"
    assert params["evaluation.split"] == "test" and params["data_prep.max_captions_per_clip"]
    # Compared with the run's own outputs: the version of report.json it saved (its
    # catalog.report_json tag), and the files it logged (the notebooks' sweeps, which may run
    # after it in this project, rewrite the unversioned histories and report.md).
    tags = recorded.data.tags
    report_path = Path(tags["catalog.report_json"]) / "report.json"
    report = json.loads(report_path.read_text())
    with tempfile.TemporaryDirectory() as folder:
        downloaded = Path(client.download_artifacts(run_id, "", folder))
        files = {str(p.relative_to(downloaded)) for p in downloaded.rglob("*") if p.is_file()}
        assert files == {
            "report/report.json",
            "report/report.md",
            "figures/umap_figure.png",
            "figures/bridge_training_curves.png",
            "figures/decoder_training_curves.png",
            "training/bridge_training_history.csv",
            "training/decoder_training_history.csv",
            "data_prep/data_quality.csv",
            "captions/generated_captions.parquet",
            "captions/caption_results.parquet",
        }
        assert (downloaded / "report" / "report.json").read_bytes() == report_path.read_bytes()
        assert run_id[:12] in (downloaded / "report" / "report.md").read_text()  # provenance
        histories = {
            pipeline: pd.read_csv(downloaded / "training" / f"{pipeline}_history.csv")
            for pipeline in ("bridge_training", "decoder_training")
        }
    # metrics: the report's numbers, and the training curves step by step
    metrics = recorded.data.metrics
    expected = report_metrics(report)
    assert "modality_gap.diffusion_link.matched_audio_text" in expected
    assert "s_star_sweep.100" in expected
    assert any(name.startswith("captioning.") for name in expected)
    for name, points in expected.items():
        assert math.isclose(metrics[f"evaluation.{name}"], points[0]["value"], rel_tol=1e-9)
    for (pipeline, history), key in zip(histories.items(), ("bridge", "variant"), strict=True):
        curves = history_metrics(history, key)
        assert curves
        for name, points in curves.items():
            logged = client.get_metric_history(run_id, f"{pipeline}.{name}")
            assert [(m.step, m.value) for m in logged] == [(p["step"], p["value"]) for p in points]
    # the report names the run that holds it
    assert report["provenance"]["mlflow_run_id"] == run_id
    assert report["provenance"]["kedro_env"] == "local"
    # tags: what produced the run, and where its large outputs are
    assert tags["kedro_env"] == "local" and tags["simulated_audio"] == "True"
    assert tags["runner"] == "SequentialRunner"
    for name in ("diffusion_link.model", "zero_shot_diffusion_link.decoder", "text_embeddings"):
        assert Path(tags[f"catalog.{name}"]).is_dir()


@pytest.mark.slow
@pytest.mark.skipif(
    not (Path("/usr/bin/chromium").exists()),
    reason="chromium is not installed (.ci/run installs it)",
)
def test_the_mlflow_ui_on_the_projects_store_shows_the_run(tiny_run):
    from test_lineage import chromium, free_port  # the lineage test's headless Chromium

    recorded = runs(tiny_run)[0]
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "ui",
            "--backend-store-uri",
            f"sqlite:///{tiny_run / STORE}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=tiny_run,
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300  # hang guard: the server answered in 18 s (quiet)
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                assert server.poll() is None, "mlflow ui exited"
                assert time.monotonic() < deadline, "mlflow ui never answered"
                time.sleep(1)
        page = f"{url}/#/experiments/{recorded.info.experiment_id}/runs/{recorded.info.run_id}"
        dom = chromium(page, "--dump-dom")
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert recorded.info.run_name in dom.stdout
        artifacts = Path(__file__).resolve().parents[1] / "artifacts"
        artifacts.mkdir(exist_ok=True)
        shot = chromium(page, f"--screenshot={artifacts / 'mlflow_ui.png'}")
        assert shot.returncode == 0 and (artifacts / "mlflow_ui.png").stat().st_size > 10_000
    finally:
        server.terminate()  # stopped by its PID
        server.wait(timeout=60)  # hang guard: exits 7.8 s after SIGTERM (measured, quiet)
