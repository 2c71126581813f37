"""The method: Diffusion-Link and the baseline bridges in plain PyTorch (no Kedro import).

Schedule, denoiser, losses, normalisation, the bridges, their trainer and validation.
"""
