"""Frozen encoders that turn captions and audio into embeddings, registered by name.

Two back-ends share one interface (:class:`~diffusion_link.encoders.base.Encoder`):

- ``gap_simulator``: the embedded default. Text from a real sentence encoder
  (:class:`SentenceEncoder`); audio simulated from captions by a fitted modality transform
  (:mod:`diffusion_link.encoders.gap_simulator`), because no CLAP weights exist offline.
- ``laion_clap``: the paper's frozen LAION-CLAP (:mod:`diffusion_link.encoders.laion_clap`).

:data:`ENCODERS` is the one list of names: the ``embedding.encoder`` parameter's allowed values
derive from it, and a back-end's class answers how it is built and how it makes audio.
"""

from __future__ import annotations

from typing import Literal

from diffusion_link.encoders.base import Encoder, EncoderChoice
from diffusion_link.encoders.gap_simulator import (
    GapSimulator,
    GapSimulatorFit,
    GapSimulatorSettings,
    GapTargets,
    fit_gap_simulator,
)
from diffusion_link.encoders.gap_simulator.encoder import GapSimulatorEncoder
from diffusion_link.encoders.laion_clap import LaionClapEncoder, LaionClapSettings
from diffusion_link.encoders.sentence import SentenceEncoder

# Name -> back-end class; the first is the embedded default.
ENCODERS: dict[str, type[Encoder]] = {
    backend.name: backend for backend in (GapSimulatorEncoder, LaionClapEncoder)
}
EncoderName = Literal[tuple(ENCODERS)]  # type: ignore[valid-type]

__all__ = [
    "ENCODERS",
    "Encoder",
    "EncoderChoice",
    "EncoderName",
    "GapSimulator",
    "GapSimulatorEncoder",
    "GapSimulatorFit",
    "GapSimulatorSettings",
    "GapTargets",
    "LaionClapEncoder",
    "LaionClapSettings",
    "SentenceEncoder",
    "fit_gap_simulator",
]
