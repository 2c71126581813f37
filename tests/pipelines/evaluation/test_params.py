"""``params:evaluation``: the YAML and the models agree, and every default is the YAML's."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from pathlib import Path

import yaml

from diffusion_link.pipelines.evaluation.params import EvaluationParams

PROJECT = Path(__file__).resolve().parents[3]


def _plain(value):
    return asdict(value) if is_dataclass(value) else value


def test_yaml_values_equal_the_models_defaults():
    raw = yaml.safe_load((PROJECT / "conf/base/parameters_evaluation.yml").read_text())
    evaluation = raw["evaluation"]
    params = EvaluationParams.model_validate(evaluation)
    for name, field in EvaluationParams.model_fields.items():
        if field.is_required():
            continue
        assert _plain(field.get_default(call_default_factory=True)) == evaluation[name], name
    assert params.model_dump(mode="json")["paper"]["table_2"]["100"] == 0.688
