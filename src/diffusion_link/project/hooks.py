"""Project hooks."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

from kedro.config import AbstractConfigLoader, MissingConfigException
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol
from kedro.pipeline import Pipeline

from diffusion_link.project.run_lock import OPT_OUT, RunLock, acquire_run_lock, run_lock_enabled

logger = logging.getLogger(__name__)


def configured_variants(config_loader: AbstractConfigLoader) -> list[str]:
    """The decoder variants of ``decoder_training.variants`` in the loader's environment.

    Read from the configuration files alone (no ``--params``), in the report's order; names
    that are no variant are left to :class:`ParameterCheckHook`, which refuses them by their
    dotted key.
    """
    from diffusion_link.pipelines.decoder_training.params import VARIANTS

    files_only = copy.copy(config_loader)
    files_only.runtime_params = {}  # without --params: a variant named only there is refused
    try:
        parameters = files_only["parameters"]
    except MissingConfigException:
        parameters = {}
    variants = (parameters.get("decoder_training") or {}).get("variants") or {}
    return [name for name in VARIANTS if name in variants]


class DecoderVariantsHook:
    """Register the ``decoder_training`` variants that the run's configuration names.

    Kedro builds pipelines after the context exists but tells them nothing of it: here the
    variants of ``decoder_training.variants`` in the run's environment (``conf/base``: two,
    ``kedro run --env paper``: six) become the registered ``decoder_training`` sub-pipeline
    (:func:`diffusion_link.pipeline_registry.use_decoder_variants`), before any pipeline is
    built. A variant named only by ``--params`` is not one of them: :class:`ParameterCheckHook`
    refuses it.
    """

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Pass the configured variants to the pipeline registry."""
        from diffusion_link.pipeline_registry import use_decoder_variants

        use_decoder_variants(configured_variants(context.config_loader))


class ParameterCheckHook:
    """Refuse a run whose parameters have an unknown key or a bad value, before any node runs.

    It runs as soon as the context exists, before Kedro builds the catalog (where Kedro checks
    the typed node inputs on its own), so that every problem is reported the same way: by its
    dotted key (:func:`diffusion_link.project.parameters.check_parameters`). The pipelines are the ones
    the run requested (all of them for ``__default__``); it runs after
    :class:`DecoderVariantsHook`, which decides ``decoder_training``'s variants.
    """

    @hook_impl(trylast=True)
    def after_context_created(self, context: KedroContext) -> None:
        """Check the run's parameters (configuration and ``--params``) against every group."""
        # Imported here: settings (and so this module) load for every `kedro` command, and the
        # parameter models import the pipelines (torch, ...), whose wiring imports settings.
        from kedro.framework.project import pipelines  # the run's, once the session set them

        from diffusion_link.project.parameters import check_parameters

        try:
            parameters = context.config_loader["parameters"]  # raw: with the runtime params
        except MissingConfigException:
            parameters = {}
        check_parameters(parameters, pipelines.values())


class ResourceCheckHook:
    """Refuse a run whose checkpoints, tokenizers or LLM are missing or broken, before any node.

    It runs just before the runner, on the pipeline actually run (after ``--pipeline``,
    ``--nodes``, ``--from-nodes``... filtering), so only the resources of nodes that will run
    are checked (:func:`diffusion_link.project.resources.check_resources`): cheap checks of files and
    tokenizers, in seconds, instead of an error from inside a node minutes into the run.
    """

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict, pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        """Check the resources the nodes of ``pipeline`` load."""
        # Imported here: the checks import the encoders and the decoder (torch, transformers).
        from diffusion_link.project.resources import check_resources

        check_resources((node.name for node in pipeline.nodes), catalog.load)


class RunLockHook:
    """One run at a time per project folder: hold ``data/.kedro-run.lock`` for the whole run.

    Taken before any node runs (first of the ``before_pipeline_run`` hooks) and released when
    the run ends or fails; a second run in the same folder fails at once naming the holder
    (:func:`diffusion_link.project.run_lock.acquire_run_lock`). Commands that run no pipeline
    (``kedro catalog``, ``kedro viz``) never take it; ``DIFFUSION_LINK_RUN_LOCK=0`` turns it off
    for runs that share a folder on purpose (embedding shards).
    """

    def __init__(self) -> None:
        self._lock: RunLock | None = None

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Take the lock of the run's project folder, or refuse the run."""
        self._release()  # one left by an earlier run in this process that ended without hooks
        if not run_lock_enabled():
            logger.warning("%s=0: this run takes no run lock", OPT_OUT)
            return
        self._lock = acquire_run_lock(Path(run_params["project_path"]))

    @hook_impl(trylast=True)
    def after_pipeline_run(self) -> None:
        """Release the lock once the run has finished."""
        self._release()

    @hook_impl(trylast=True)
    def on_pipeline_error(self) -> None:
        """Release the lock when the run failed."""
        self._release()

    def _release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()
