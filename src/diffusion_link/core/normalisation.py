"""Diffusion-Bridge's embedding normalisation, shared by training and inference.

x -> scale * l2(l2(x) - mean_m), with mean_m the mean of the L2-normalised *training*
embeddings of modality m. Statistics come from the train split only.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch.nn import functional as F

Modality = Literal["audio", "text"]
MODALITIES: tuple[Modality, ...] = ("audio", "text")
BRIDGE_INPUT = "bridge input `embeddings`"  # how bridges name their input in errors


def modality_means(audio: torch.Tensor, text: torch.Tensor) -> dict[str, torch.Tensor]:
    """The mean of the L2-normalised training embeddings of each modality."""
    return {
        "audio": F.normalize(audio.float(), dim=-1).mean(0),
        "text": F.normalize(text.float(), dim=-1).mean(0),
    }


def normalise(x: torch.Tensor, mean: torch.Tensor, scale: float) -> torch.Tensor:
    """Centre the unit embeddings on the modality mean, re-normalise and scale."""
    centred = F.normalize(x, dim=-1) - mean.to(device=x.device, dtype=x.dtype)
    return scale * F.normalize(centred, dim=-1)


def check_embeddings(x: torch.Tensor, dim: int, what: str) -> None:
    """Raise a clear error for a wrongly shaped, empty or non-finite embedding matrix."""
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{what}: expected shape (n, {dim}), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{what}: no embeddings (empty split?)")
    finite = torch.isfinite(x).all(dim=1)
    if not bool(finite.all()):
        bad = (~finite).nonzero().flatten()[:5].tolist()
        raise ValueError(f"{what}: rows {bad} contain NaN or inf")


def check_modality(modality: str) -> None:
    """Raise a ``ValueError`` naming ``modality`` unless it is one of :data:`MODALITIES`."""
    if modality not in MODALITIES:
        raise ValueError(
            f"modality must be one of {', '.join(map(repr, MODALITIES))}, got {modality!r}"
        )
