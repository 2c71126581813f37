"""One ``kedro run`` at a time per project folder: an exclusive lock on ``data/.kedro-run.lock``.

Two runs in one folder share every output path (``data/06_models/decoder_jobs/<variant>/``,
``data/06_models/training_state/<bridge>.safetensors``, ...) and overwrite each other's files.
:func:`acquire_run_lock` takes an exclusive, non-blocking ``fcntl.flock`` on the lock file and
writes the holder's PID, command and start time into it; a second run fails at once with
:class:`RunLockedError`, which names the lock file, the holder and what to do. The kernel drops
the lock when its file is closed or its process ends in any way (``SIGKILL`` included), so a
stale lock file never blocks a later run: only a live holder does.

Read-only commands (``kedro catalog``, ``kedro viz``, ``kedro registry``) run no pipeline and
never take the lock. The lock is advisory: it stops other runs, not other programs. Runs that
share a folder on purpose because they write disjoint outputs (the ``embedding`` shards of
several machines or GPUs) opt out with ``DIFFUSION_LINK_RUN_LOCK=0`` (:func:`run_lock_enabled`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = Path("data") / ".kedro-run.lock"
OPT_OUT = "DIFFUSION_LINK_RUN_LOCK"  # "0" (or off/false/no): runs take no lock


class RunLockedError(RuntimeError):
    """Another live process holds the project's run lock."""


@dataclass
class RunLock:
    """A held run lock: the lock file and its open descriptor (closing it releases the lock)."""

    path: Path
    fd: int | None

    @property
    def held(self) -> bool:
        """Whether this lock is still held (not yet released)."""
        return self.fd is not None

    def release(self) -> None:
        """Release the lock (idempotent). The file stays: its content is only informative."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def lock_path(project_path: Path | str) -> Path:
    """The run lock file of the project at ``project_path``: ``<project>/data/.kedro-run.lock``."""
    return Path(project_path) / LOCK_FILE


def run_lock_enabled() -> bool:
    """False when ``DIFFUSION_LINK_RUN_LOCK`` is ``0``, ``off``, ``false`` or ``no``."""
    return os.environ.get(OPT_OUT, "1").strip().lower() not in {"0", "off", "false", "no"}


def _holder_description(text: str) -> str:
    """``PID ..., command ..., started ...`` from the lock file's content, whatever it holds."""
    try:
        holder = json.loads(text)
    except ValueError:
        holder = None
    if not isinstance(holder, dict):
        return "PID, command and start time unknown (the lock file is empty or unreadable)"
    return (
        f"PID {holder.get('pid', '?')} on {holder.get('host', '?')}, "
        f"command `{holder.get('command', '?')}`, started {holder.get('started', '?')}"
    )


def acquire_run_lock(project_path: Path | str, command: str | None = None) -> RunLock:
    """Take the project's run lock at once, or raise :class:`RunLockedError` naming its holder.

    ``command`` is recorded in the lock file with this process's PID, host and start time (UTC);
    it defaults to this process's command line. Creates ``data/`` when missing. The lock lasts
    until :meth:`RunLock.release` or the end of this process, however it ends.
    """
    path = lock_path(project_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not inherited by child processes (PEP 446): only this process holds the lock.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        with os.fdopen(fd, encoding="utf-8", errors="replace") as held:
            holder = _holder_description(held.read())
        raise RunLockedError(
            f"Another kedro run is using this project folder: {path} is locked by {holder}. "
            "Two runs in one folder overwrite each other's files under data/. Wait for that run "
            "to finish (the lock is released when it ends, even if it is killed), or start this "
            "run in another copy of the project. (Runs that write disjoint outputs on purpose, "
            f"like embedding shards, may share a folder with {OPT_OUT}=0.)"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command if command is not None else shlex.join(sys.argv),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    return RunLock(path=path, fd=fd)
