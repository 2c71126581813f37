"""In-process ``kedro run`` on a copy of the project's configuration, with a runner that runs
nothing: for tests of what is refused before any node runs (parameters, resources)."""

from __future__ import annotations

import shutil
from pathlib import Path

from kedro.framework.project import configure_project
from kedro.framework.session import KedroSession
from kedro.runner import SequentialRunner
from omegaconf import OmegaConf

PROJECT = Path(__file__).resolve().parents[1]


class RecordingRunner(SequentialRunner):
    """Runs nothing; records that Kedro got as far as running the pipeline."""

    def __init__(self) -> None:
        super().__init__()
        self.called = False

    def run(self, *args, **kwargs) -> dict:
        self.called = True
        return {}


def copy_configuration(root: Path, tracking: bool = False) -> Path:
    """The project's configuration and metadata in ``root``, with a conf/local that switches
    experiment tracking off unless ``tracking`` (these runs test what happens before any node;
    an MLflow store per run would only cost time)."""
    shutil.copytree(PROJECT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    if not tracking:
        (root / "conf" / "local" / "parameters_tracking.yml").write_text(
            "tracking:\n  enabled: false\n"
        )
    shutil.copy(PROJECT / "pyproject.toml", root)
    return root


def run(
    project: Path,
    pipeline: str,
    params: str | list[str] = (),
    env: str | None = None,
    node_names: list[str] | None = None,
) -> RecordingRunner:
    """``kedro run --pipeline <pipeline> --params <params>`` in-process, with a runner that
    runs nothing: ``key=value`` items parsed as the command line parses them (one string, or a
    list for values with commas). Returns the runner: ``called`` when the run was accepted."""
    items = [params] if isinstance(params, str) else list(params)
    runtime = OmegaConf.to_container(OmegaConf.from_dotlist(items))
    configure_project("diffusion_link")  # also drops pipelines built for another environment
    runner = RecordingRunner()
    with KedroSession.create(project_path=project, env=env, runtime_params=runtime) as session:
        session.run(pipeline_names=[pipeline], runner=runner, node_names=node_names)
    return runner
