"""The YAML files and the parameter models agree: conf/<env> sets every setting that applies.

The models (and the method's configs they nest) define each setting once, with its type and
default; the YAML of ``conf/base`` is where a user reads the values that run. So every group
must validate against its model, and no setting that applies may be left to a default the
YAML does not show.
"""

from __future__ import annotations

import inspect
from typing import Any, get_args, get_origin

import pytest
from kedro.config import OmegaConfigLoader

from diffusion_link.core.bridges import BRIDGE_CLASSES
from diffusion_link.project.parameters import PARAMETER_GROUPS, _fields
from diffusion_link.settings import CONFIG_LOADER_ARGS
from session_fixtures import PROJECT


def _not_applicable(key: str, value: dict[str, Any]) -> set[str]:
    """Settings of a bridge that its method does not use (none for any other group)."""
    if key.rpartition(".")[0] != "bridge_training.bridges":
        return set()
    objective = BRIDGE_CLASSES[value["method"]].objective
    if objective is None:  # fitted from the training means: nothing to set but the method
        return {"model", "training", "loss", "seed"}
    return set() if inspect.signature(objective).parameters else {"loss"}


def unset_settings(model: Any, value: Any, key: str) -> list[str]:
    """The dotted keys of ``model``'s fields (nested) that ``value`` leaves to their default."""
    fields = _fields(model)
    if not fields or not isinstance(value, dict):
        return []
    unset = []
    for name, field in fields.items():
        if name in _not_applicable(key, value):
            continue
        if name not in value:
            unset.append(f"{key}.{name}")
        elif get_origin(field.annotation) is dict:
            for child, entry in value[name].items():
                unset += unset_settings(
                    get_args(field.annotation)[1], entry, f"{key}.{name}.{child}"
                )
        else:
            unset += unset_settings(field.annotation, value[name], f"{key}.{name}")
    return unset


@pytest.mark.parametrize("env", [None, "paper"])
def test_every_group_validates_and_sets_every_setting_that_applies(env):
    parameters = OmegaConfigLoader(str(PROJECT / "conf"), env=env, **CONFIG_LOADER_ARGS)[
        "parameters"
    ]
    assert set(parameters) == set(PARAMETER_GROUPS)
    for group, model in PARAMETER_GROUPS.items():
        model.model_validate(parameters[group])
        assert unset_settings(model, parameters[group], group) == []


def test_a_setting_left_out_of_the_yaml_is_found():
    """The check is not vacuous: a dropped key of a nested config is reported by its path."""
    bridges = {"method": "diffusion_link", "model": {"width": 8}}
    unset = unset_settings(
        PARAMETER_GROUPS["bridge_training"],
        {"bridges": {"diffusion_link": bridges}, "settings": {}},
        "bridge_training",
    )
    assert "bridge_training.bridges.diffusion_link.model.s_star" in unset
    assert "bridge_training.bridges.diffusion_link.training" in unset
    assert "bridge_training.settings.device" in unset
