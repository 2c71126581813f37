"""The ``captioning`` parameter group (conf/*/parameters_captioning.yml), typed.

The encoder, generation and input-check settings are the classes that use them
(:class:`LaionClapSettings`, :class:`GenerationSettings`, :class:`InputChecks`).
"""

from __future__ import annotations

from pydantic import Field

from diffusion_link.captioning import InputChecks
from diffusion_link.config import StrictModel
from diffusion_link.core.bridges import BridgeName
from diffusion_link.decoder.config import GenerationSettings
from diffusion_link.encoders import LaionClapSettings
from diffusion_link.pipelines.decoder_training.params import VariantName


class CaptioningParams(StrictModel):
    """Which audio folder, encoder, bridge and decoder; how to generate.

    ``bridge`` null captions the raw encoder embeddings; ``bridge_dir`` / ``decoder_dir`` null
    take the latest trained ``<bridge>.model`` / ``<variant>.decoder`` of the catalog.
    """

    audio_dir: str | None = None  # required to run: the folder of audio files to caption
    bridge: BridgeName | None = "diffusion_link"
    variant: VariantName = "zero_shot_diffusion_link"
    bridge_dir: str | None = None
    decoder_dir: str | None = None
    base_model: str | None = None  # where the decoder's base LLM is, if it moved
    device: str = "auto"
    seed: int = 0  # the bridge's sampling noise
    encoder: LaionClapSettings = Field(default_factory=lambda: LaionClapSettings(tokenizer=None))
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    checks: InputChecks = Field(default_factory=InputChecks)
