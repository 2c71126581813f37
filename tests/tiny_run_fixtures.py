"""One tiny ``kedro run`` of the five default pipelines, shared by the tests that read its
outputs (the notebooks, the MLflow store): tiny bridges and decoders, tracking on as default.

The run, and then the ablation notebooks' sweeps in its project, start in the background when the
session starts, if a collected test needs them (:func:`tiny_run_jobs`). They are single-threaded
subprocesses, so they use the core the rest of the suite leaves idle; the fixtures that need
them (``tiny_run``, and ``ran_project`` in ``test_notebooks``) wait for them.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from subprocess import PIPE, STDOUT, Popen, TimeoutExpired

import pytest
import yaml

logger = logging.getLogger(__name__)
PROJECT = Path(__file__).resolve().parents[1]
PIPELINES = ("data_prep", "embedding", "bridge_training", "decoder_training", "evaluation")
SMOLLM2 = PROJECT / "data" / "06_models" / "smollm2-135m-instruct"  # made by `make setup`
# The ablation notebooks' sweeps (name -> grid), two points each of bridge_training and
# evaluation, run in the tiny run's project: the notebooks read their tables and runs.
SWEEPS = {
    "s_star": "bridge_training.bridges.diffusion_link.model.s_star=100,300",
    "topology": "bridge_training.bridges.diffusion_link.loss.topology_weight=0,1",
}
# Hang guard of each background command: the tiny run of the five pipelines took 5 min 18 s on
# the 2-core machine beside other jobs (tracking on), and both sweeps together 286 s under make
# test-busy, 2026-12-03; 1800 s is > 5x.
COMMAND_GUARD_S = 1800
TINY = {"model": {"width": 32}, "training": {"steps": 20, "checkpoint_every": 10, "eval_every": 10}}
LOCAL_PARAMETERS = {
    "bridge_training": {
        "settings": {"device": "cpu"},
        "bridges": {
            "diffusion_link": TINY,
            "diffusion_bridge": TINY,
            "diffgap": {**TINY, "model": {"width": 32, "ddim_steps": 10}},
        },
    },
    "decoder_training": {
        "settings": {
            "model": str(SMOLLM2),
            "train_subset": 16,
            "generation": {"max_new_tokens": 4},
        }
    },
}


def environment() -> dict[str, str]:
    """The environment of a ``kedro`` subprocess: offline, no telemetry, one thread."""
    bin_dir = Path(sys.executable).parent
    return {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        "MPLBACKEND": "Agg",
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(PROJECT / ".cache" / "numba")),
        "OMP_NUM_THREADS": "1",  # small models on a shared 2-core machine
        "MKL_NUM_THREADS": "1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def copy_project(root: Path) -> Path:
    """The project's code, configuration, notebooks and raw data in ``root``, with the tiny
    parameters as its conf/local."""
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "local")
    for folder in ("conf", "src", "notebooks"):
        shutil.copytree(PROJECT / folder, root / folder, ignore=ignore)
    shutil.copytree(PROJECT / "data" / "01_raw", root / "data" / "01_raw")
    shutil.copy(PROJECT / "pyproject.toml", root)
    (root / "conf" / "local").mkdir()
    (root / "conf" / "local" / "parameters.yml").write_text(yaml.safe_dump(LOCAL_PARAMETERS))
    return root


class BackgroundCommands:
    """Commands run one after another in a worker thread, each a subprocess with ``env``;
    :meth:`stop` kills the one running and drops those not started.

    ``env`` is taken when the session starts and ``Popen`` when this module is imported, so
    what a test monkeypatches meanwhile (an environment variable, ``subprocess.Popen``) cannot
    reach these commands, nor they the test.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiny-run")
        self.running: list[Popen] = []
        self.stopped = False

    def submit(self, commands: list[list[str]], cwd: Path, after: Future | None = None) -> Future:
        """A future of ``cwd`` once every command has succeeded in it (and ``after`` before)."""
        return self.executor.submit(self._run_all, commands, cwd, after)

    def _run_all(self, commands: list[list[str]], cwd: Path, after: Future | None) -> Path:
        if after is not None:
            after.result()  # its failure is this job's too
        for command in commands:
            assert not self.stopped, "the test session ended before this command started"
            started = time.perf_counter()
            with Popen(
                command, cwd=cwd, env=self.env, stdout=PIPE, stderr=STDOUT, text=True
            ) as process:
                self.running.append(process)
                try:
                    output, _ = process.communicate(timeout=COMMAND_GUARD_S)
                except TimeoutExpired:
                    process.kill()
                    output, _ = process.communicate()
                    raise AssertionError(
                        f"{command} hung ({COMMAND_GUARD_S} s):\n{output[-5000:]}"
                    ) from None
                finally:
                    self.running.remove(process)
            assert process.returncode == 0, f"{command} failed:\n{output[-5000:]}"
            logger.info("%s took %.0fs", " ".join(command[-4:]), time.perf_counter() - started)
        return cwd

    def stop(self) -> None:
        """Kill the running command and cancel the rest (the session is over)."""
        self.stopped = True
        self.executor.shutdown(wait=False, cancel_futures=True)
        for process in list(self.running):
            process.kill()
        self.executor.shutdown(wait=True)


def sweep_commands() -> list[list[str]]:
    """The ``python -m diffusion_link.sweep`` command of every sweep in :data:`SWEEPS`."""
    return [
        [sys.executable, "-m", "diffusion_link.sweep", "--name", name, "--grid", grid]
        + ["--pipeline", "bridge_training,evaluation"]
        for name, grid in SWEEPS.items()
    ]


@pytest.fixture(scope="session", autouse=True)
def tiny_run_jobs(request, tmp_path_factory) -> Iterator[dict[str, Future]]:
    """At the session's start, the tiny run (``"tiny_run"``) and then the sweeps
    (``"sweeps"``) in its project, each only when a collected test uses it."""
    needed = {name for item in request.session.items for name in item.fixturenames}
    if not {"tiny_run", "ran_project"} & needed:  # the sweeps need the run too
        yield {}
        return
    background = BackgroundCommands(environment())
    root = copy_project(tmp_path_factory.mktemp("project"))
    kedro = [str(Path(sys.executable).parent / "kedro"), "run", "--pipelines", ",".join(PIPELINES)]
    jobs = {"tiny_run": background.submit([kedro], root)}
    if "ran_project" in needed:
        jobs["sweeps"] = background.submit(sweep_commands(), root, after=jobs["tiny_run"])
    yield jobs
    background.stop()


@pytest.fixture(scope="session")
def tiny_run(tiny_run_jobs) -> Path:
    """A copy of the project in which the default pipelines have run (tiny bridges, decoders).

    When the sweeps are scheduled, it is handed over once they have run too, so no test reads
    the project (its MLflow store, its versions) while a sweep writes to it.
    """
    root = tiny_run_jobs.get("sweeps", tiny_run_jobs["tiny_run"]).result()
    assert list((root / "data" / "08_reporting").glob("report.json/*/report.json"))
    return root
