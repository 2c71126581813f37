"""What the embedding pipeline needs of an encoder back-end, and what one is built from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

if TYPE_CHECKING:
    from diffusion_link.encoders.laion_clap.settings import LaionClapSettings


class EncoderChoice(Protocol):
    """The settings a back-end is built from: the ``embedding`` parameter group."""

    sentence_model: str | None
    text_batch_size: int
    laion_clap: LaionClapSettings


class Encoder(Protocol):
    """A frozen encoder back-end.

    Every back-end embeds captions (``embed_text``). ``simulated_audio`` says how it produces
    audio embeddings: False, it reads audio files (``embed_audio``, run shard by shard); True,
    it simulates them from the captions (the gap simulator, fitted on the train split).
    """

    name: ClassVar[str]
    simulated_audio: ClassVar[bool]
    checkpoint_id: str
    dim: int
    untrained: bool  # its weights never saw a training batch: what it makes means nothing

    @classmethod
    def from_params(cls, params: EncoderChoice) -> Encoder:
        """The back-end the ``embedding`` parameters configure."""
        ...

    @classmethod
    def resource_checks(cls, params: EncoderChoice) -> dict[str, Callable[[], object]]:
        """Cheap checks (no weights read) of the files it would load, by their parameter key."""
        ...

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm float32 embeddings, one row per text."""
        ...

    def embed_audio(self, paths: Sequence[str]) -> np.ndarray:
        """Unit-norm float32 embeddings, one row per audio file (back-ends that read audio)."""
        ...
