"""What to read from an AudioCaps root and how strictly: the one definition of each setting.

The ``data_prep`` parameter group (``conf/*/parameters_data_prep.yml``) is exactly this config:
``pipelines/data_prep/params.py`` uses it as the group's model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import ConfigDict, Field, StrictBool

from diffusion_link.config import StrictModel

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = get_args(Split)


class AudioCapsConfig(StrictModel):
    """Where AudioCaps lies, which splits to read, and when a row or an audio file is unusable."""

    model_config = ConfigDict(frozen=True)

    audiocaps_root: Path
    require_audio: StrictBool
    min_duration_s: float = Field(ge=0)
    silence_peak: float = Field(ge=0, lt=1)
    truncation_tolerance_s: float = Field(ge=0)
    splits: list[Split] = Field(min_length=1)
    max_captions_per_clip: int = Field(ge=1)
    num_workers: int = Field(ge=1)
    aac_datasets_version: Literal["v1", "v2"]
    aac_datasets_sample_rate: int | None = Field(gt=0)
