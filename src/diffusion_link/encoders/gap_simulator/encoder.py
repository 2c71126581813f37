"""The ``gap_simulator`` back-end's text side: a real sentence encoder for the captions.

Its audio is not read but simulated from the captions by :class:`GapSimulator`, fitted on the
train split, because no CLAP weights exist offline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from diffusion_link.encoders.sentence import SentenceEncoder, sentence_model_folder

if TYPE_CHECKING:
    from diffusion_link.encoders.base import EncoderChoice


class GapSimulatorEncoder(SentenceEncoder):
    """Captions through all-MiniLM-L6-v2 (or ``embedding.sentence_model``); audio simulated."""

    name = "gap_simulator"
    simulated_audio = True

    @classmethod
    def from_params(cls, params: EncoderChoice) -> GapSimulatorEncoder:
        """The sentence encoder ``embedding.sentence_model`` names, batched by ``text_batch_size``."""
        return cls(params.sentence_model, batch_size=params.text_batch_size)

    @classmethod
    def resource_checks(cls, params: EncoderChoice) -> dict[str, Callable[[], object]]:
        """The sentence encoder's folder is complete (the simulator itself loads nothing)."""
        return {"embedding.sentence_model": lambda: sentence_model_folder(params.sentence_model)}

    def embed_audio(self, paths: Sequence[str]) -> np.ndarray:
        """Never called: this back-end simulates audio from captions instead of reading files."""
        raise NotImplementedError("the gap simulator simulates audio; it reads no audio file")
