"""``python -m diffusion_link.sweep``: run a grid of parameter overrides (README, "Sweeps")."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from diffusion_link.project.parameters import ParameterError
from diffusion_link.sweep.grid import split_values
from diffusion_link.sweep.runner import SweepRequest, run_sweep


def parser() -> argparse.ArgumentParser:
    """The command line's options."""
    options = argparse.ArgumentParser(
        prog="python -m diffusion_link.sweep",
        description=(
            "Run every point of a parameter grid as its own tracked Kedro run, under one "
            "parent MLflow run; skip points already done with the same parameters and code; "
            "write a comparison table and a plot under data/08_reporting/sweeps/<name>/."
        ),
    )
    options.add_argument(
        "--pipeline", "--pipelines", required=True, help="pipelines to run, comma-separated"
    )
    options.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="KEY=V1,V2,...",
        help="a dotted parameter key and its values (repeat for a cartesian product)",
    )
    options.add_argument("--env", help="Kedro configuration environment (default: Kedro's)")
    options.add_argument(
        "--params", default="", metavar="K=V,...", help="fixed overrides for every point"
    )
    options.add_argument("--name", help="the sweep's name (default: the grid's key names)")
    options.add_argument("--metric", help="metric to plot: a table column or an MLflow name")
    options.add_argument("--against", help="swept key to plot it against (default: the first)")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep the command line asks for; 2 (with the problems) for a bad grid."""
    arguments = parser().parse_args(argv)
    request = SweepRequest(
        pipelines=split_values(arguments.pipeline),
        grid=arguments.grid,
        params=split_values(arguments.params),
        env=arguments.env,
        name=arguments.name,
        metric=arguments.metric,
        against=arguments.against,
    )
    try:
        outcome = run_sweep(request, Path.cwd())
    except ParameterError as error:
        sys.stderr.write(f"{error}\n")
        return 2
    sys.stdout.write(f"{outcome.folder / 'table.md'}:\n{(outcome.folder / 'table.md').read_text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
