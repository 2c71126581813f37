"""Experiment tracking: each ``kedro run`` is one MLflow run, recorded through kedro-mlflow.

:class:`TrackingHook` is kedro-mlflow's own hook (which ``settings.py`` registers in place of
the plug-in's automatic one) with three changes:

- ``tracking.enabled`` (``conf/base/parameters_tracking.yml``, or ``--params
  tracking.enabled=false``) switches tracking off for a run: no store is opened, no run is
  started, and the catalog's MLflow datasets only save their files;
- the store is opened when a pipeline starts, not when the context is created, so ``kedro
  viz``, ``kedro catalog`` or a run refused by the parameter or resource checks write nothing;
- a relative ``sqlite:///`` store in ``mlflow.yml`` lies under the project folder, wherever
  Kedro was started from (kedro-mlflow makes only plain paths project-relative).

The run is named after its pipelines and environment and tagged with the git commit, the Kedro
environment, the encoder and ``simulated_audio``; each versioned catalog entry it saves is
tagged ``catalog.<entry>`` with the folder of that version (the link to large outputs such as
bridge and decoder folders), and the file of each entry whose catalog ``metadata`` has
``mlflow: {artifact_path: <folder>}`` is logged as an artefact in that folder. (kedro-mlflow's
``MlflowArtifactDataset`` cannot wrap a versioned entry under Kedro 1.x: the wrapped dataset
gets a save version of its own, which the catalog refuses.) Tracked or not, every run gets a ``run_context`` input (git commit and dirty flag, Kedro
environment, the catalog's save version, the MLflow run id or ``None``) for its report's
provenance. A sweep (``python -m diffusion_link.sweep``) sets
``tracking.parent_run_id`` so that its points' runs nest under one parent run.
"""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path
from typing import Any

import mlflow
from kedro.config import MissingConfigException
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, CatalogProtocol
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro_mlflow.config.kedro_mlflow_config import KedroMlflowConfig
from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook
from kedro_mlflow.io.catalog.switch_catalog_logging import switch_catalog_logging
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from pydantic_core import to_jsonable_python

from diffusion_link.config import StrictModel

logger = logging.getLogger(__name__)

SQLITE = "sqlite:///"
RUN_CONTEXT = "run_context"  # what only the session knows, given to the nodes as an input
MLFLOW_PATTERNS = ["mlflow*", "mlflow*/**", "**/mlflow*"]  # kedro-mlflow's, for ``mlflow.yml``


class TrackingParams(StrictModel):
    """``params:tracking``: read by :class:`TrackingHook`, not by a node."""

    enabled: bool = True
    parent_run_id: str | None = None  # set by a sweep: the run nests under this one


def project_store_uri(uri: str | None, project_path: Path) -> str | None:
    """``uri`` with a relative ``sqlite:///`` path made absolute under ``project_path``; any
    other URI as it is."""
    if uri is None or not uri.startswith(SQLITE) or uri.startswith(f"{SQLITE}/"):
        return uri
    return f"{SQLITE}{Path(project_path) / uri.removeprefix(SQLITE)}"


def git_state(project_path: Path) -> dict[str, Any]:
    """The git commit of ``project_path`` and whether its tracked files differ from it
    (``None`` for both outside a git checkout, or without git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_path, capture_output=True, text=True
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=project_path,
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:  # no git executable
        return {"git_commit": None, "git_dirty": None}
    if commit.returncode != 0 or status.returncode != 0:
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit.stdout.strip(), "git_dirty": bool(status.stdout.strip())}


def mlflow_config(context: KedroContext) -> dict[str, Any]:
    """The environment's ``mlflow.yml`` ({} without one), its SQLite store under the project."""
    loader = context.config_loader
    loader.config_patterns.setdefault("mlflow", MLFLOW_PATTERNS)
    try:
        config = dict(loader["mlflow"])
    except MissingConfigException:
        config = {}
    server = dict(config.get("server") or {})
    server["mlflow_tracking_uri"] = project_store_uri(
        server.get("mlflow_tracking_uri"), Path(context.project_path)
    )
    return {**config, "server": server}


def project_parameters(context: KedroContext) -> dict[str, Any]:
    """The run's parameters as configured (files and ``--params``; {} without any)."""
    try:
        return dict(context.config_loader["parameters"])
    except MissingConfigException:
        return {}


def runner_name(runner: str) -> str:
    """The runner's class name from the run parameter Kedro gives hooks (``str`` of the runner
    object, "<kedro.runner.sequential_runner.SequentialRunner object at 0x...>"), which
    kedro-mlflow would tag as it is; any other value is kept."""
    found = re.fullmatch(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-fA-F]+>", runner)
    return found.group(1) if found else runner


def run_tags(git: dict[str, Any], parameters: dict[str, Any], env: str) -> dict[str, str]:
    """The tags of a run: git commit and dirty flag (``git``: :func:`git_state`), Kedro
    environment, encoder and whether the audio embeddings are simulated (as the ``embedding``
    parameters set them)."""
    from diffusion_link.encoders import ENCODERS  # imported here: torch

    encoder = (parameters.get("embedding") or {}).get("encoder")
    return {
        "git_commit": str(git["git_commit"]),
        "git_dirty": str(git["git_dirty"]),
        "kedro_env": str(env),
        "encoder": str(encoder),
        "simulated_audio": str(encoder in ENCODERS and ENCODERS[encoder].simulated_audio),
    }


class TrackingHook(MlflowHook):
    """kedro-mlflow's hook, opened lazily, switchable off, with the project's tags (module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self._context: KedroContext | None = None
        self._settings = TrackingParams()
        self._catalog: CatalogProtocol | None = None

    @property
    def tracking(self) -> bool:
        """Whether the current run is tracked."""
        return self._settings.enabled

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Keep the context, and its ``mlflow`` configuration as ``context.mlflow`` (for
        ``kedro mlflow ui`` and notebooks); the store is opened only when a pipeline starts.

        No parameter is read here: this hook runs before :class:`DecoderVariantsHook`, and
        reading ``context.params`` would make Kedro build the pipelines before their variants
        are set.
        """
        self._context, self.run_id = context, None
        context.__setattr__("mlflow", KedroMlflowConfig.model_validate(mlflow_config(context)))

    @hook_impl(trylast=True)  # after the run lock and the resource checks
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        """Open the store and start the run (or switch the catalog's MLflow datasets off)."""
        context, self._catalog, self.run_id = self._context, catalog, None
        parameters = project_parameters(context)
        self._settings = TrackingParams.model_validate(parameters.get("tracking") or {})
        loader = context.config_loader
        env = run_params.get("env") or loader.env or loader.default_run_env
        git = git_state(Path(context.project_path))
        if self.tracking:
            self._start_run(context, run_tags(git, parameters, env), run_params, pipeline, catalog)
        else:
            logger.info("tracking.enabled is false: this run is not recorded in MLflow")
            self._is_mlflow_enabled = False
            switch_catalog_logging(catalog, False)
        catalog[RUN_CONTEXT] = {
            **git,
            "kedro_env": env,
            "save_version": run_params.get("run_id"),
            "mlflow_run_id": self.run_id,
        }

    def _start_run(
        self,
        context: KedroContext,
        tags: dict[str, str],
        run_params: dict[str, Any],
        pipeline: Pipeline,
        catalog: CatalogProtocol,
    ) -> None:
        """Open the store, start the run named after its pipelines and environment, tag it."""
        config = mlflow_config(context)
        uri = config["server"]["mlflow_tracking_uri"]
        if uri is not None and uri.startswith(SQLITE):  # SQLite does not create its folder
            Path(uri.removeprefix(SQLITE)).parent.mkdir(parents=True, exist_ok=True)
        context.config_loader["mlflow"] = config
        super().after_context_created(context)
        names = run_params.get("pipeline_names") or ["__default__"]
        self.mlflow_config.tracking.run.name = f"{'+'.join(names)} ({tags['kedro_env']})"
        super().before_pipeline_run(run_params, pipeline, catalog)
        if self._is_mlflow_enabled:
            tags["runner"] = runner_name(str(run_params.get("runner")))
            if self._settings.parent_run_id:
                tags[MLFLOW_PARENT_RUN_ID] = self._settings.parent_run_id
            mlflow.set_tags(tags)

    @hook_impl
    def before_node_run(
        self, node: Node, catalog: CatalogProtocol, inputs: dict[str, Any], is_async: bool
    ) -> None:
        """Log the node's parameters (tracked runs only), each under its dotted Kedro name: the
        typed ones Kedro has validated into models are logged as the values they hold."""
        if self.tracking and self.run_id is not None:
            plain = {
                name: to_jsonable_python(value) if name.startswith("params:") else value
                for name, value in inputs.items()
            }
            super().before_node_run(node, catalog, plain, is_async)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        """Tag the run with the folder of each catalog version it saved, and log the file of
        each entry whose catalog ``metadata`` names an ``mlflow: {artifact_path: ...}``."""
        if not (self.tracking and self.run_id is not None and self._catalog is not None):
            return
        dataset = self._catalog.get(dataset_name)
        if not isinstance(dataset, AbstractVersionedDataset):
            return
        versioned = dataset._version is not None
        path = Path(dataset._get_load_path() if versioned else dataset._filepath)
        client = mlflow.MlflowClient()
        if versioned:
            client.set_tag(self.run_id, f"catalog.{dataset_name}", str(path.parent))
        artifact_path = ((dataset.metadata or {}).get("mlflow") or {}).get("artifact_path")
        if artifact_path is not None and path.exists():
            client.log_artifact(self.run_id, str(path), artifact_path)

    @hook_impl
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        """End the run."""
        if self.tracking and self.run_id is not None:
            super().after_pipeline_run(run_params, pipeline, catalog)
        self.run_id = None

    @hook_impl
    def on_pipeline_error(
        self,
        error: Exception,
        run_params: dict[str, Any],
        pipeline: Pipeline,
        catalog: CatalogProtocol,
    ) -> None:
        """Mark the run failed."""
        if self.tracking and self.run_id is not None:
            super().on_pipeline_error(error, run_params, pipeline, catalog)
        self.run_id = None
