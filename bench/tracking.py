"""What experiment tracking costs a run: the same ``kedro run`` with tracking on and off.

Each run is a real ``kedro run`` in its own fresh copy of the project (code, configuration, raw
data; the tiny bridges and decoders of the tests' tiny run unless ``--default``), alternating
off/on for ``--repeats`` pairs so that load on a shared machine falls on both. Printed side by
side: each run's wall time, the medians, and on/off as a ratio and in seconds. The last line is
one JSON object. Offline. Usage:

    python bench/tracking.py [--pipelines data_prep,embedding,...] [--repeats 1] [--default]
                             [--project DIR]

``--default`` runs the embedded default's own configuration (about 30 min a run on 2 cores), and,
like ``--project``, with the threads ``make run`` has (the tiny runs are capped at one thread, as
in the tests).
``--project DIR`` runs in that project folder instead of fresh copies, with its own configuration,
and keeps every run's outputs there (to measure disk use after several runs, or to read back the
tracked runs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests"))

from tiny_run_fixtures import PIPELINES, copy_project, environment  # noqa: E402


def timed_run(pipelines: str, tracking: bool, default: bool) -> float:
    """Wall seconds of one ``kedro run`` in a fresh project copy."""
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as folder:
        root = copy_project(Path(folder))
        if default:
            (root / "conf" / "local" / "parameters.yml").unlink()
            link_llm(root)
        return run_in(root, pipelines, tracking, threads_capped=not default)


def link_llm(root: Path) -> None:
    """Link the default's caption LLM folder (``make setup`` converts it; the tiny runs build
    their own) from this project into the copy ``root``."""
    parameters = yaml.safe_load((root / "conf/base/parameters_decoder_training.yml").read_text())
    folder = Path(parameters["decoder_training"]["settings"]["model"])
    if not (PROJECT / folder).is_dir():
        raise SystemExit(f"{PROJECT / folder} is missing: run `make setup` first")
    (root / folder).parent.mkdir(parents=True, exist_ok=True)
    (root / folder).symlink_to(PROJECT / folder, target_is_directory=True)


def run_environment(threads_capped: bool) -> dict[str, str]:
    """The tests' ``kedro`` environment (offline, no telemetry); with ``threads_capped`` false,
    without its one-thread cap (the caller's own thread settings, if any), as ``make run`` runs
    (the default's decoder uses both cores)."""
    env = environment()
    if not threads_capped:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            if name in os.environ:
                env[name] = os.environ[name]
            else:
                env.pop(name)
    return env


def run_in(root: Path, pipelines: str, tracking: bool, threads_capped: bool = True) -> float:
    """Wall seconds of one ``kedro run`` in the project folder ``root``, which keeps its outputs;
    checks that the tracking store was written exactly when tracking was on."""
    store = root / "data" / "09_tracking" / "mlflow.db"
    before = store.stat().st_mtime_ns if store.exists() else None
    started = time.perf_counter()
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "kedro"),
            "run",
            "--pipelines",
            pipelines,
            "--params",
            f"tracking.enabled={str(tracking).lower()}",
        ],
        cwd=root,
        env=run_environment(threads_capped),
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError((result.stdout + result.stderr)[-3000:])
    after = store.stat().st_mtime_ns if store.exists() else None
    assert (after != before) == tracking, f"tracking {tracking}, but the store {store} " + (
        "was written" if after != before else "was not written"
    )
    return elapsed


def main() -> None:
    """Run the pairs and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--default", action="store_true", help="the default's configuration")
    parser.add_argument("--project", type=Path, help="run in this project folder, keeping outputs")
    args = parser.parse_args()
    times: dict[bool, list[float]] = {False: [], True: []}
    for repeat in range(args.repeats):
        for tracking in (False, True):
            times[tracking].append(
                run_in(args.project.resolve(), args.pipelines, tracking, threads_capped=False)
                if args.project
                else timed_run(args.pipelines, tracking, args.default)
            )
            print(
                f"repeat {repeat}: tracking {'on ' if tracking else 'off'} {times[tracking][-1]:8.1f} s"
            )
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"{'tracking off':>14} {'tracking on':>12} {'on/off':>8} {'added':>9}")
    print(f"{off:12.1f} s {on:10.1f} s {on / off:8.3f} {on - off:+8.1f} s")
    print(
        json.dumps(
            {
                "bench": "tracking",
                "pipelines": args.pipelines,
                "configuration": str(args.project)
                if args.project
                else "default"
                if args.default
                else "tiny",
                "off_s": times[False],
                "on_s": times[True],
                "ratio": round(on / off, 4),
                "added_s": round(on - off, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
