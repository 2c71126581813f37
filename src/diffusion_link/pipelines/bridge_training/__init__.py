"""The ``bridge_training`` pipeline: fit and apply every bridge, and sweep Diffusion-Link's s*."""

from diffusion_link.pipelines.bridge_training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
