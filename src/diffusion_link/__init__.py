"""Diffusion-Link: a diffusion model that bridges the audio-text modality gap.

The package root exposes the plug-in API and never imports Kedro.
"""

__version__ = "0.1.0"
