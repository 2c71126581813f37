"""decoder_training's parameters: one variant registry, the decoder's configs as field types."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from diffusion_link.decoder.config import LoraSettings, TrainSettings
from diffusion_link.pipelines.decoder_training.params import (
    VARIANTS,
    DecoderSettings,
    DecoderTrainingParams,
    VariantName,
    VariantParams,
)


def test_the_variant_names_are_mode_times_bridge_in_the_reports_order():
    assert list(VARIANTS) == [
        "zero_shot_none",
        "zero_shot_diffusion_bridge",
        "zero_shot_diffusion_link",
        "supervised_none",
        "supervised_diffusion_bridge",
        "supervised_diffusion_link",
    ]
    assert get_args(VariantName) == tuple(VARIANTS)
    assert VARIANTS["supervised_none"].rows == "identity"
    assert (
        VariantParams(mode="zero_shot", bridge="diffusion_link").name == "zero_shot_diffusion_link"
    )


def test_a_variant_whose_name_is_not_its_mode_and_bridge_is_refused():
    with pytest.raises(ValidationError, match="its name must be supervised_none"):
        DecoderTrainingParams.model_validate(
            {
                "settings": {"model": "m"},
                "variants": {"zero_shot_none": {"mode": "supervised", "bridge": "none"}},
            }
        )


def test_the_settings_nest_the_decoders_own_configs():
    settings = DecoderSettings.model_validate(
        {
            "model": "m",
            "lora": {"r": 4},
            "optimiser": {"lr": 1e-3, "epochs": 2},
            "zero_shot": {"prefix_length": 4, "noise_std": 0.1},
            "num_processes": 2,
        }
    )
    assert settings.lora == LoraSettings(r=4)
    zero, supervised = VARIANTS["zero_shot_none"], VARIANTS["supervised_diffusion_link"]
    assert settings.train_settings(zero) == TrainSettings(lr=1e-3, epochs=2, noise_std=0.1)
    assert settings.train_settings(supervised).noise_std == 0.0
    config = settings.decoder_config(zero, 16)
    assert (config.num_prefix, config.instruction, config.lora.r) == (
        4,
        settings.zero_shot.prompt,
        4,
    )
    config = settings.decoder_config(supervised, 16)
    assert (config.num_prefix, config.instruction) == (10, None)
    assert settings.launch().num_processes == 2
    with pytest.raises(ValidationError, match="rank"):
        DecoderSettings.model_validate({"model": "m", "lora": {"rank": 4}})
