"""Two runs in one project folder: the second fails at once, before any node, naming the first.

The lock is ``data/.kedro-run.lock`` (:mod:`diffusion_link.project.run_lock`), taken by
:class:`diffusion_link.project.hooks.RunLockHook`. The command-line tests are real processes on a copy
of the project (conf, pyproject.toml, src, data/01_raw) running the small ``data_prep``
pipeline; the holder is a child Python process holding the lock through the same function.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kedro.framework.project import configure_project
from kedro.framework.session import KedroSession
from kedro.runner import SequentialRunner

from diffusion_link.project.run_lock import (
    LOCK_FILE,
    RunLockedError,
    acquire_run_lock,
    lock_path,
)

logger = logging.getLogger(__name__)
PROJECT = Path(__file__).resolve().parents[2]
SRC = PROJECT / "src"
# Hang guards only, >= 5x the time measured on a 2-core machine running another CPU job (nice 19):
# a whole `kedro run --pipeline data_prep` took 9-15 s (0.4 s of it the nodes), a refused one
# 8-11 s, a failing one 9 s. A guard's expiry is a hang, never a "too slow" verdict.
RUN_GUARD_S = 600
HOLDER_GUARD_S = 120  # the holder takes its lock in < 1 s (measured; its exit after SIGKILL too)


def environment() -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "COLUMNS": "250",  # keep rich from wrapping the message searched below
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("KEDRO_ENV", None)
    return env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project with its raw data and no conf/local."""
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "local")
    shutil.copytree(PROJECT / "conf", root / "conf", ignore=ignore)
    (root / "conf" / "local").mkdir()
    shutil.copytree(SRC, root / "src", ignore=ignore)
    shutil.copytree(PROJECT / "data" / "01_raw", root / "data" / "01_raw")
    shutil.copy(PROJECT / "pyproject.toml", root)
    return root


def kedro_run(project: Path, *params: str) -> subprocess.CompletedProcess[str]:
    """``kedro run --pipeline data_prep [--params ...]`` in ``project``; logs its duration."""
    command = [str(Path(sys.executable).parent / "kedro"), "run", "--pipeline", "data_prep"]
    if params:
        command += ["--params", ",".join(params)]
    started = time.perf_counter()
    result = subprocess.run(
        command,
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=RUN_GUARD_S,
        check=False,
    )
    logger.info("%s took %.1fs", " ".join(command[1:]), time.perf_counter() - started)
    return result


def hold_lock(project: Path) -> subprocess.Popen[str]:
    """A child process holding ``project``'s run lock (until killed); returns once it holds it."""
    code = (
        "import sys, time\n"
        "from diffusion_link.project.run_lock import acquire_run_lock\n"
        "lock = acquire_run_lock(sys.argv[1], command='the holder of this test')\n"
        "print('held', flush=True)\n"
        "time.sleep(3600)\n"
    )
    env = {**environment(), "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(project)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    ready, _, _ = select.select([holder.stdout], [], [], HOLDER_GUARD_S)
    line = holder.stdout.readline() if ready else "(nothing)"  # "" if the child died
    if line.strip() != "held":
        holder.kill()
        holder.wait()
        pytest.fail(f"the holder did not take the lock: {line!r}")
    return holder


def unwrapped(text: str) -> str:
    """``text`` without whitespace: rich wraps long lines of the traceback at any width."""
    return "".join(text.split())


def data_files(project: Path) -> dict[str, bytes]:
    """Every file under ``project/data`` and its content."""
    data = project / "data"
    return {str(p.relative_to(data)): p.read_bytes() for p in data.rglob("*") if p.is_file()}


def assert_released(project: Path) -> None:
    """The lock is free: this process can take it (and gives it back)."""
    acquire_run_lock(project, command="the test checking the lock is free").release()


def test_a_second_kedro_run_fails_at_once_naming_the_holder_and_writes_nothing(project):
    holder = hold_lock(project)
    try:
        before = data_files(project)
        result = kedro_run(project)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-3000:]
        assert "RunLockedError" in output, output[-3000:]
        for part in (
            f"{project / LOCK_FILE} is locked by PID {holder.pid}",
            "command `the holder of this test`, started 20",
            "Wait for that run to finish",
            "another copy of the project",
        ):
            assert unwrapped(part) in unwrapped(output), output[-3000:]
        # Before any node, and nothing written: not even the lock file's record changed.
        assert "Running node" not in output and "Completed node" not in output, output[-3000:]
        assert data_files(project) == before
    finally:
        holder.send_signal(signal.SIGKILL)  # no clean-up: the kernel must release the lock
        holder.wait(timeout=HOLDER_GUARD_S)  # hang guard: exits in well under 1 s

    # Released after SIGKILL of the holder: the next run goes through, and itself releases it.
    result = kedro_run(project)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert (project / "data" / "02_intermediate").is_dir()
    record = (project / LOCK_FILE).read_text()
    assert '"command": ' in record and "run --pipeline data_prep" in record, record
    assert_released(project)


def test_a_failing_kedro_run_leaves_the_lock_free(project):
    result = kedro_run(project, "data_prep.audiocaps_root=data/01_raw/missing")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert unwrapped("audiocaps_root:") in unwrapped(output), output[-3000:]  # a node failed
    assert "Running node: read_captions" in output, output[-3000:]
    assert "RunLockedError" not in output
    assert_released(project)
    result = kedro_run(project)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


class ProbingRunner(SequentialRunner):
    """Runs nothing: checks, while the run is on, that the lock is held; may then fail."""

    def __init__(self, project: Path, fail: bool) -> None:
        super().__init__()
        self.project, self.fail, self.held = project, fail, False

    def run(self, *args, **kwargs) -> dict:
        with pytest.raises(RunLockedError, match=r"is locked by PID \d+"):
            acquire_run_lock(self.project)
        self.held = True
        if self.fail:
            raise RuntimeError("a node failed")
        return {}


def session_run(project: Path, runner: SequentialRunner) -> None:
    configure_project("diffusion_link")
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["data_prep"], runner=runner)


def test_the_hook_holds_the_lock_during_the_run_and_releases_it_after(project):
    # In-process, where only the hook (not the end of the process) can release it.
    runner = ProbingRunner(project, fail=False)
    session_run(project, runner)
    assert runner.held
    assert_released(project)


def test_the_hook_releases_the_lock_when_the_run_fails(project):
    runner = ProbingRunner(project, fail=True)
    with pytest.raises(RuntimeError, match="a node failed"):
        session_run(project, runner)
    assert runner.held
    assert_released(project)
    session_run(project, ProbingRunner(project, fail=False))  # the next run in this process


class QuietRunner(SequentialRunner):
    """Runs nothing, successfully."""

    def run(self, *args, **kwargs) -> dict:
        return {}


def test_runs_that_share_a_folder_on_purpose_can_opt_out(project, monkeypatch):
    with acquire_run_lock(project, command="an embedding shard"):
        with pytest.raises(RunLockedError, match="DIFFUSION_LINK_RUN_LOCK=0"):
            session_run(project, QuietRunner())
        monkeypatch.setenv("DIFFUSION_LINK_RUN_LOCK", "0")
        session_run(project, QuietRunner())  # another shard, same folder


def test_the_lock_is_exclusive_records_its_holder_and_is_released(tmp_path):
    lock = acquire_run_lock(tmp_path, command="kedro run --pipeline decoder_training")
    assert lock.path == lock_path(tmp_path) == tmp_path / "data" / ".kedro-run.lock"
    with pytest.raises(RunLockedError) as error:
        acquire_run_lock(tmp_path)
    message = str(error.value)
    assert f"{lock.path} is locked by PID {os.getpid()}" in message
    assert "command `kedro run --pipeline decoder_training`, started 20" in message
    lock.release()
    lock.release()  # idempotent
    assert not lock.held
    with acquire_run_lock(tmp_path) as again:  # released: a later run takes it
        assert again.held
    assert not again.held


def test_a_holder_that_has_not_written_its_record_yet_is_still_reported(tmp_path):
    lock = acquire_run_lock(tmp_path)
    os.truncate(lock.path, 0)  # as between the holder's flock and its write
    try:
        with pytest.raises(RunLockedError, match="PID, command and start time unknown"):
            acquire_run_lock(tmp_path)
    finally:
        lock.release()
