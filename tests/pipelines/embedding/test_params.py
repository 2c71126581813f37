"""The ``embedding`` parameters: the encoders' settings are used as they are, and the YAML in
conf/base states the same defaults the settings define."""

import pytest
import yaml
from pydantic import ValidationError

from diffusion_link.encoders import GapSimulatorSettings, GapTargets, LaionClapSettings
from diffusion_link.pipelines.embedding.params import EmbeddingParams


def _group(project_root, env: str) -> dict:
    path = project_root / "conf" / env / "parameters_embedding.yml"
    return yaml.safe_load(path.read_text())["embedding"]


def test_conf_base_states_the_defaults(project_root):
    base = _group(project_root, "base")
    assert EmbeddingParams.model_validate(base) == EmbeddingParams(encoder=base["encoder"])
    assert EmbeddingParams.model_validate(base).model_dump() == base


def test_nested_groups_are_the_encoders_own_settings(project_root):
    params = EmbeddingParams.model_validate(_group(project_root, "paper"))
    assert isinstance(params.laion_clap, LaionClapSettings)
    assert isinstance(params.gap_simulator, GapSimulatorSettings)
    assert isinstance(params.gap_simulator.targets, GapTargets)
    assert params.encoder == "laion_clap" and params.laion_clap.batch_size == 256


@pytest.mark.parametrize(
    "change, key",
    [
        ({"laion_clap": {"batch_size": 0}}, "batch_size"),
        ({"laion_clap": {"chekpoint": "x.pt"}}, "chekpoint"),
        ({"gap_simulator": {"start": [0.1, 0.2]}}, "start"),
        ({"gap_simulator": {"targets": {"recall_tolerance": 0}}}, "recall_tolerance"),
    ],
)
def test_bad_nested_settings_fail_naming_the_key(change, key):
    with pytest.raises(ValidationError, match=key):
        EmbeddingParams.model_validate({"encoder": "gap_simulator", **change})
