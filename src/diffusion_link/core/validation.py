"""Validation of a bridge while it trains, and the rule that says when it has converged.

Every ``eval_every`` steps the trainer bridges a held-out split with the EMA weights (one
batched pass per modality) and scores it as the paper's Table 1 does: each text-like output
against the text embeddings in the space the bridge was trained to reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from diffusion_link.metrics.modality_gap import (
    matched_cosine,
    nonmatched_cosine,
    retrieval_recall,
)

VALIDATION_METRICS: tuple[str, ...] = (
    "val_matched_audio_text",
    "val_matched_text_text",
    "val_nonmatched_audio_text",
    "val_recall_at_1",
)
"""The columns every evaluation adds to a bridge's training history."""


@dataclass(frozen=True)
class ValidationSet:
    """A held-out split: one raw audio row per clip, raw caption rows, and their pairing.

    ``pair_index[i]`` is the row in ``audio`` of caption ``i``'s clip. ``seed`` fixes the
    inference noise, so the same weights always get the same figures.
    """

    audio: torch.Tensor
    text: torch.Tensor
    pair_index: np.ndarray
    seed: int = 0

    def __post_init__(self) -> None:
        pair_index = np.asarray(self.pair_index)
        if len(pair_index) != len(self.text):
            raise ValueError(
                f"validation: {len(self.text)} captions but {len(pair_index)} pair indices"
            )
        if len(self.audio) == 0 or len(self.text) == 0:
            raise ValueError("validation: the split has no audio or no captions")
        if pair_index.min() < 0 or pair_index.max() >= len(self.audio):
            raise ValueError("validation: a pair index points outside the audio rows")


@torch.no_grad()
def validate(bridge: torch.nn.Module, data: ValidationSet) -> dict[str, float]:
    """Table 1's matched/non-matched cosines and audio->text recall@1 of ``bridge`` on ``data``."""
    device = bridge.alpha_bar.device if isinstance(bridge, torch.nn.Module) else "cpu"
    outputs = {}
    for offset, modality in enumerate(("audio", "text")):
        generator = torch.Generator(device=device).manual_seed(data.seed + offset)
        raw = getattr(data, modality).to(device)
        outputs[modality] = bridge.bridge(raw, modality=modality, generator=generator).cpu()
    reference = bridge.target_text(data.text.to(device)).cpu().numpy()
    from_audio, from_text = outputs["audio"].numpy(), outputs["text"].numpy()
    recall = retrieval_recall(from_audio, reference, data.pair_index, ks=(1,))
    return {
        "val_matched_audio_text": matched_cosine(from_audio, reference, data.pair_index),
        "val_matched_text_text": matched_cosine(from_text, reference, np.arange(len(reference))),
        "val_nonmatched_audio_text": nonmatched_cosine(from_audio, reference, data.pair_index),
        "val_recall_at_1": recall["audio_to_text"][1],
    }


def converged(
    steps: Sequence[int],
    values: Sequence[float],
    last_fraction: float = 0.2,
    tolerance: float = 0.01,
) -> bool:
    """The convergence rule: over the evaluations in the last ``last_fraction`` of training
    (steps >= (1 - last_fraction) x the last step), the metric moves by less than
    ``tolerance`` (max - min). Fewer than two such evaluations cannot show a plateau: False.
    """
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if len(steps) == 0:
        return False
    window = values[steps >= (1.0 - last_fraction) * steps.max()]
    if len(window) < 2 or not np.isfinite(window).all():
        return False
    return bool(window.max() - window.min() < tolerance)


@torch.no_grad()
def draw_agreement(
    bridge: torch.nn.Module, embeddings: torch.Tensor, seeds: tuple[int, int] = (0, 1)
) -> float:
    """Mean cosine between two draws of ``bridge`` for the same audio with different noise.

    1 for a deterministic map (identity, C3, Diffusion-Bridge's noiseless injection) and for a
    sampler that collapses onto E[text | audio]; clearly below 1 for a generator whose draws
    differ."""
    device = bridge.alpha_bar.device if isinstance(bridge, torch.nn.Module) else "cpu"
    draws = [
        bridge.bridge(
            embeddings.to(device),
            modality="audio",
            generator=torch.Generator(device=device).manual_seed(seed),
        )
        for seed in seeds
    ]
    return float((draws[0] * draws[1]).sum(dim=-1).mean())
