"""The ``data_prep`` parameter group is the AudioCaps reader's config: each setting defined once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from diffusion_link.data.audiocaps import AudioCapsConfig
from diffusion_link.pipelines.data_prep.params import DataPrepParams

PROJECT = Path(__file__).resolve().parents[3]


def test_the_group_model_is_the_readers_config() -> None:
    """No mirror: the node's type and the reader's config are the same class."""
    assert DataPrepParams is AudioCapsConfig


def test_the_base_yaml_sets_every_key_of_the_model() -> None:
    """conf/base is where a user reads the settings: it names each one, and they validate."""
    text = (PROJECT / "conf/base/parameters_data_prep.yml").read_text()
    group = yaml.safe_load(text)["data_prep"]
    assert set(group) == set(DataPrepParams.model_fields)
    assert DataPrepParams.model_validate(group).model_dump(mode="json") == group


def test_the_reader_does_not_import_kedro() -> None:
    """The data readers are plain Python: importing them loads no Kedro module."""
    code = (
        "import sys, diffusion_link.data.audiocaps; "
        "print(any(m.startswith('kedro') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
