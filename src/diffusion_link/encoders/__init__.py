"""Frozen encoders that turn captions and audio into embeddings.

Two back-ends share one interface (``name``, ``checkpoint_id``, ``dim``, ``simulated_audio``,
``embed_text``; and ``embed_audio`` where the back-end reads audio files):

- ``laion_clap``: the paper's frozen LAION-CLAP (:class:`LaionClapEncoder`).
- ``gap_simulator``: the embedded default. Text from a real sentence encoder
  (:class:`SentenceEncoder`); audio simulated from captions by a fitted modality transform
  (:mod:`diffusion_link.encoders.gap_simulator`), because no CLAP weights exist offline.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from diffusion_link.encoders.gap_simulator import (
    GapSimulator,
    GapSimulatorFit,
    GapTargets,
    fit_gap_simulator,
)
from diffusion_link.encoders.sentence import SentenceEncoder


class Encoder(Protocol):
    """What the embedding pipeline needs of a back-end."""

    name: str
    checkpoint_id: str
    dim: int
    simulated_audio: bool

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """Unit-norm float32 embeddings, one row per text."""
        ...


class GapSimulatorEncoder(SentenceEncoder):
    """The ``gap_simulator`` back-end's text side; its audio comes from :class:`GapSimulator`."""

    name = "gap_simulator"
    simulated_audio = True


__all__ = [
    "Encoder",
    "GapSimulator",
    "GapSimulatorEncoder",
    "GapSimulatorFit",
    "GapTargets",
    "SentenceEncoder",
    "fit_gap_simulator",
]
