"""Device names: ``auto`` means CUDA when available, else the CPU."""

from __future__ import annotations

from typing import Literal

import torch

DeviceName = Literal["auto", "cpu", "cuda"] | str


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The :class:`torch.device` for ``name``: ``auto`` -> ``cuda`` when available, else ``cpu``."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
