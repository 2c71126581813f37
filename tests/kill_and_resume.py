"""Kill a training process once its resumable state has reached a step (SIGKILL, no warning)."""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from diffusion_link.core.training import TrainingStateStore

logger = logging.getLogger(__name__)


def saved_step(path: Path) -> int | None:
    """The step of the training state at ``path``; None while there is none (or mid-replace)."""
    try:
        state = TrainingStateStore(path).load()
    except Exception:  # replaced between two reads: try again at the next poll
        return None
    return None if state is None else state["meta"]["step"]


def kill_once_saved(
    process: subprocess.Popen,
    state: Path,
    min_step: int,
    deadline: float,
    output: Callable[[], str],
) -> int | None:
    """SIGKILL ``process`` once ``state`` holds a step >= ``min_step``; that state's step.

    None when the process finished first (too late to kill: nothing to resume). ``output``
    gives the process's output for the failure messages. ``deadline`` (``time.monotonic()``)
    is a hang guard: callers size it >= 5x the time to reach ``min_step`` on a quiet machine.
    """
    try:
        while (step := saved_step(state)) is None or step < min_step:
            if process.poll() is not None:
                assert process.returncode == 0, output()
                return None
            if time.monotonic() > deadline:
                pytest.fail(f"training never reached step {min_step}: {output()}")
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=120)  # hang guard: reaped at once after SIGKILL (0.01 s, measured)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    return saved_step(state)


def first_kill_mid_training(attempt: Callable[[int], int | None], attempts: int = 3) -> int:
    """Call ``attempt(i)`` (a kill; None when it came after training ended) until one lands."""
    for i in range(attempts):
        step = attempt(i)
        if step is not None:
            return step
        logger.warning("attempt %d: the kill came after training ended; retrying", i)
    pytest.fail(f"{attempts} kills in a row came after training ended: nothing was resumed")
