"""Project hooks."""

from __future__ import annotations

import os

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl


class RunEnvironmentHook:
    """Expose the run's configuration environment to pipeline construction.

    ``decoder_training`` builds one namespace per configured variant, and Kedro builds
    pipelines after the context exists but without telling them the environment:
    ``kedro run --env paper`` therefore publishes ``paper`` as ``KEDRO_ENV`` here.
    """

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        if context.env:
            os.environ["KEDRO_ENV"] = context.env
