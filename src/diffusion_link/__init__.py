"""Diffusion-Link: a diffusion model that bridges the audio-text modality gap.

The plug-in API (no Kedro)::

    from diffusion_link import DiffusionLink
    link = DiffusionLink.from_pretrained("path/to/diffusion_link")
    text_like = link.bridge(audio_embeddings, s_star=100, steps=5)

Names are imported lazily, so ``import diffusion_link`` (which Kedro does for the project
settings) does not load PyTorch.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "DiffusionLink": "diffusion_link.core.model",
    "DiffusionConfig": "diffusion_link.core.model",
    "cosine_alpha_bar": "diffusion_link.core.schedule",
    "ddim_timesteps": "diffusion_link.core.schedule",
    "topology_loss": "diffusion_link.core.losses",
    "TrainConfig": "diffusion_link.core.training",
    "BRIDGES": "diffusion_link.core.bridges",
    "fit_bridge": "diffusion_link.core.bridges",
    "load_bridge": "diffusion_link.core.bridges",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'diffusion_link' has no attribute {name!r}")
