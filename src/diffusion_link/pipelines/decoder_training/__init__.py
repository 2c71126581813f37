"""The ``decoder_training`` pipeline: soft-prefix + LoRA caption decoders, one per variant."""

from diffusion_link.pipelines.decoder_training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
