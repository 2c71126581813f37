"""The ``captioning`` pipeline: caption a folder of audio with a trained bridge and decoder."""

from diffusion_link.pipelines.captioning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
