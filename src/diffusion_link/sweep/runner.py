"""Running a sweep: one in-process ``KedroSession`` per grid point, under one parent MLflow run.

:func:`run_sweep` checks every point's parameters before anything runs, opens the project's
MLflow store as the runs do (``mlflow.yml`` through :func:`~diffusion_link.project.tracking.mlflow_config`),
creates (or, for the same sweep run again, reuses) the parent run, runs each point not already
done (a FINISHED run tagged with the point's digest) with ``tracking.parent_run_id`` set, tags
its run, then writes the comparison table and plot under ``data/08_reporting/sweeps/<name>/``
(atomically) and logs them as the parent run's artefacts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.context import KedroContext
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro_mlflow.config.kedro_mlflow_config import KedroMlflowConfig
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from diffusion_link.atomic import atomic_directory
from diffusion_link.project.parameters import HOOK_GROUPS, parameter_problems, read_parameters
from diffusion_link.project.tracking import mlflow_config, project_parameters
from diffusion_link.sweep import grid as grids
from diffusion_link.sweep import table as tables

logger = logging.getLogger(__name__)

SWEEPS_FOLDER = Path("data") / "08_reporting" / "sweeps"
DIGEST_TAG = "sweep.digest"  # on a point's run: grid.point_digest
DEFINITION_TAG = "sweep.definition"  # on a parent run: what identifies the sweep
_NAME = re.compile(r"^[\w.+-]+$")


@dataclass(frozen=True)
class SweepRequest:
    """A sweep as the command line gives it (``python -m diffusion_link.sweep --help``)."""

    pipelines: list[str]
    grid: list[str]  # "key=v1,v2,..." items
    params: list[str] = field(default_factory=list)  # "key=value" items, fixed for every point
    env: str | None = None
    name: str | None = None  # default: grid.default_name of the grid's keys
    metric: str | None = None  # plotted: a table column or an MLflow metric name
    against: str | None = None  # plotted against: a grid key or its short name


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep did: its parent run, its points' results and the folder it wrote."""

    parent_run_id: str
    results: list[tables.PointResult]
    folder: Path


@dataclass(frozen=True)
class Plan:
    """A checked sweep: its context, grid, fixed params (dotted), name, plotted-against key,
    points, the configured parameters (with the fixed params) and the Kedro environment."""

    context: KedroContext
    grid: grids.Grid
    params: dict[str, Any]
    name: str
    against: str | None
    points: list[grids.Point]
    parameters: dict[str, Any]
    env: str


def _context(project_path: Path, env: str | None, params: dict[str, Any]) -> KedroContext:
    """The project's context with the sweep's fixed params (the project's parameter check
    runs here, on the configuration and those params)."""
    bootstrap_project(project_path)
    session = KedroSession.create(project_path=project_path, env=env, runtime_params=params)
    try:
        return session.load_context()
    finally:
        session.close()


def _plan(request: SweepRequest, project_path: Path) -> Plan:
    """Parse and check the whole sweep, raising ``ParameterError`` naming every bad key."""
    grid, problems = grids.parse_items(request.grid, "--grid")
    fixed, params_problems = grids.parse_items(request.params, "--params")
    params = {key: values[0] for key, values in fixed.items()}
    problems += params_problems + grids.overlapping_keys(grid, params)
    problems += [
        f"{k}: --params takes one value (got {len(v)})" for k, v in fixed.items() if len(v) > 1
    ]
    name = request.name or grids.default_name(list(grid))
    if (request.name or grid) and not _NAME.match(name):  # no valid key: no default name
        problems.append(f"--name {name!r}: letters, digits and _ . + - only")
    against = _against(request.against, list(grid), problems)
    if not request.grid:
        problems.append("--grid: at least one key=values item is needed")
    if not request.pipelines:
        problems.append("--pipeline: at least one pipeline is needed")
    grids.check_grid(problems)
    context = _context(project_path, request.env, grids.nested(params))
    from kedro.framework.project import pipelines  # the run's, once the context exists

    unknown = [p for p in request.pipelines if p not in pipelines]
    problems += [
        f"--pipeline {p}: no such pipeline (known: {', '.join(pipelines)})" for p in unknown
    ]
    grids.check_grid(problems)
    read = read_parameters(pipelines[p] for p in request.pipelines) | HOOK_GROUPS
    problems += grids.unread_keys([*grid, *params], read)
    parameters = project_parameters(context)
    points = grids.grid_points(grid)
    checked = read_parameters(pipelines.values()) | HOOK_GROUPS  # as each point's run checks
    for point in points:
        problems += parameter_problems(grids.merged(parameters, point), checked)
    grids.check_grid(problems)
    loader = context.config_loader
    env = loader.env or loader.default_run_env
    return Plan(context, grid, params, name, against, points, parameters, env)


def _against(against: str | None, keys: list[str], problems: list[str]) -> str | None:
    """The grid key ``--against`` names (itself or its short name; default: the first)."""
    if against is None:
        return keys[0] if keys else None
    short = {v: k for k, v in grids.short_names(keys).items()}
    if against in keys or against in short:
        return short.get(against, against)
    problems.append(f"--against {against}: not a swept key (swept: {', '.join(keys)})")
    return None


def _parent_run(
    client: mlflow.MlflowClient, experiment_id: str, plan: Plan, request: SweepRequest
) -> str:
    """The sweep's parent run: the last one of the same sweep (name, pipelines, environment,
    grid, params), set running again, or a new one tagged with the sweep."""
    definition = {
        "name": plan.name,
        "pipelines": sorted(request.pipelines),
        "env": plan.env,
        "grid": plan.grid,
        "params": plan.params,
    }
    digest = hashlib.sha256(
        json.dumps(definition, sort_keys=True, default=str).encode()
    ).hexdigest()
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{DEFINITION_TAG}` = '{digest}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if found:
        client.update_run(found[0].info.run_id, status="RUNNING")
        return found[0].info.run_id
    tags = {
        DEFINITION_TAG: digest,
        "sweep.name": plan.name,
        "sweep.pipelines": ",".join(request.pipelines),
        "sweep.env": plan.env,
        "sweep.grid": json.dumps(plan.grid, default=str),
        "sweep.params": json.dumps(plan.params, default=str),
    }
    return client.create_run(experiment_id, run_name=f"sweep {plan.name}", tags=tags).info.run_id


def _finished_run(client: mlflow.MlflowClient, experiment_id: str, digest: str) -> str | None:
    """The last FINISHED run of a point with ``digest``, if any."""
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{DIGEST_TAG}` = '{digest}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return found[0].info.run_id if found else None


def _children(client: mlflow.MlflowClient, experiment_id: str, parent: str) -> set[str]:
    """The ids of the runs nested under ``parent``."""
    found = client.search_runs(
        [experiment_id], filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent}'"
    )
    return {run.info.run_id for run in found}


def _run_point(
    client: mlflow.MlflowClient,
    experiment_id: str,
    project_path: Path,
    request: SweepRequest,
    runtime: dict[str, Any],
    parent: str,
) -> str:
    """Run one point's Kedro session; the id of the MLflow run it recorded under ``parent``
    (found in the store, not in this process's MLflow state, which other runs may have set)."""
    before = _children(client, experiment_id, parent)
    with KedroSession.create(
        project_path=project_path, env=request.env, runtime_params=runtime
    ) as session:
        session.run(pipeline_names=list(request.pipelines))
    new = _children(client, experiment_id, parent) - before
    if len(new) != 1:
        raise RuntimeError(
            f"the point's kedro run recorded {len(new)} MLflow runs under the sweep's run "
            f"{parent}, not one (is its pipeline in mlflow.yml's "
            "tracking.disable_tracking.pipelines?)"
        )
    return new.pop()


def _label(point: dict[str, Any]) -> str:
    names = grids.short_names(list(point))
    return ", ".join(f"{names[k]}={v}" for k, v in point.items())


def _run_points(
    client: mlflow.MlflowClient,
    experiment_id: str,
    parent: str,
    plan: Plan,
    request: SweepRequest,
    project_path: Path,
) -> list[tables.PointResult]:
    """Run (or skip) every point in order, each run tagged with its digest and overrides."""
    code = grids.code_version(project_path)
    results = []
    for index, point in enumerate(plan.points, start=1):
        prefix = f"point {index}/{len(plan.points)} ({_label(point)})"
        merged = grids.merged(plan.parameters, point)
        digest = grids.point_digest(request.pipelines, plan.env, point, plan.params, merged, code)
        run_id = _finished_run(client, experiment_id, digest)
        skipped = run_id is not None
        if skipped:
            logger.info(
                "%s: skipped, already done with the same parameters and code (run %s)",
                prefix,
                run_id,
            )
        else:
            logger.info("%s: running %s", prefix, "+".join(request.pipelines))
            started = time.perf_counter()
            overrides = {
                **plan.params,
                **point,
                "tracking.enabled": True,
                "tracking.parent_run_id": parent,
            }
            runtime = grids.nested(overrides)
            run_id = _run_point(client, experiment_id, project_path, request, runtime, parent)
            for key, value in {
                DIGEST_TAG: digest,
                "sweep.name": plan.name,
                "sweep.code": code,
                "sweep.point": json.dumps(point, default=str),
            }.items():
                client.set_tag(run_id, key, value)
            client.update_run(run_id, name=_label(point))
            logger.info("%s: done in %.0fs (run %s)", prefix, time.perf_counter() - started, run_id)
        metrics = client.get_run(run_id).data.metrics
        results.append(tables.PointResult(point, run_id, skipped, metrics))
    return results


def _write_outputs(
    results: list[tables.PointResult], plan: Plan, request: SweepRequest, folder: Path
) -> None:
    """The table (CSV, markdown) and the plot of the chosen metric, all in ``folder`` at once."""
    keys = list(plan.grid)
    columns = tables.headline_metrics(tables.swept_bridge(keys), request.metric)
    frame = tables.comparison_table(results, columns)
    shown = [c for c in columns if c in frame.columns]
    if request.metric is not None and tables.metric_column(request.metric, columns) not in shown:
        recorded = sorted({name for result in results for name in result.metrics})
        raise ValueError(
            f"--metric {request.metric}: no run of the sweep recorded it (recorded: "
            f"{', '.join(recorded) or 'none'})"
        )
    metric = tables.metric_column(request.metric, columns) if request.metric else None
    metric = metric or next(iter(shown), None)
    names = grids.short_names(keys)
    with atomic_directory(folder) as partial:
        frame.to_csv(partial / "table.csv", index=False)
        (partial / "table.md").write_text(tables.markdown_table(frame))
        if metric is None:
            logger.warning("no headline metric was recorded by the sweep's runs: no plot")
            return
        against = names[plan.against]
        others = [names[k] for k in keys if k != plan.against]
        figure = tables.metric_plot(frame, metric, against, others)
        figure.savefig(partial / f"{metric}_vs_{against}.png", dpi=120)


def run_sweep(request: SweepRequest, project_path: Path) -> SweepOutcome:
    """Run the sweep ``request`` in the Kedro project at ``project_path`` (module doc), from
    that folder as ``kedro run`` runs (relative paths in parameters are read from the cwd).

    Every point is checked before any run (``ParameterError`` naming each bad key); a point
    whose digest (:func:`~diffusion_link.sweep.grid.point_digest`) has a FINISHED run is
    skipped, and its row reads that run. A failing point fails the sweep (its parent run is
    marked FAILED; the points done so far are kept and skipped by the next run).
    """
    project_path = Path(project_path).resolve()
    plan = _plan(request, project_path)
    config = KedroMlflowConfig.model_validate(mlflow_config(plan.context))
    config.setup(plan.context)  # the store and experiment, as kedro-mlflow opens them
    client = mlflow.MlflowClient(config.server.mlflow_tracking_uri)
    experiment_id = client.get_experiment_by_name(config.tracking.experiment.name).experiment_id
    parent = _parent_run(client, experiment_id, plan, request)
    logger.info(
        "sweep %s: %d points of %s, parent run %s",
        plan.name,
        len(plan.points),
        "+".join(request.pipelines),
        parent,
    )
    folder = project_path / SWEEPS_FOLDER / plan.name
    try:
        results = _run_points(client, experiment_id, parent, plan, request, project_path)
        _write_outputs(results, plan, request, folder)
        client.log_artifacts(parent, str(folder), "sweep")
    except BaseException:
        client.set_terminated(parent, "FAILED")
        raise
    client.set_terminated(parent, "FINISHED")
    skipped = sum(result.skipped for result in results)
    logger.info(
        "sweep %s: %d ran, %d skipped; table and plot in %s",
        plan.name,
        len(results) - skipped,
        skipped,
        folder,
    )
    return SweepOutcome(parent, results, folder)
