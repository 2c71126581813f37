"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

from diffusion_link.project.hooks import (
    DecoderVariantsHook,
    ParameterCheckHook,
    ResourceCheckHook,
    RunLockHook,
)

HOOKS = (DecoderVariantsHook(), ParameterCheckHook(), RunLockHook(), ResourceCheckHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/paper and conf/local override single keys of conf/base, not whole groups.
    "merge_strategy": {"parameters": "soft"},
}
