"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

from diffusion_link.project.hooks import (
    DecoderVariantsHook,
    ParameterCheckHook,
    ResourceCheckHook,
    RunLockHook,
)
from diffusion_link.project.tracking import TrackingHook

HOOKS = (
    DecoderVariantsHook(),
    ParameterCheckHook(),
    RunLockHook(),
    ResourceCheckHook(),
    TrackingHook(),
)
# kedro-mlflow's own hook would open its default store as soon as a context exists: the
# project registers TrackingHook (the same hook, opened lazily and switchable off) instead.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/paper and conf/local override single keys of conf/base, not whole groups.
    "merge_strategy": {"parameters": "soft"},
}
