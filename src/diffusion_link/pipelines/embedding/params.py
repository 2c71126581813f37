"""The ``embedding`` parameter group (conf/*/parameters_embedding.yml), typed.

The encoders' own settings (:class:`LaionClapSettings`, :class:`GapSimulatorSettings`) are used
as they are: each setting and its default is defined once, in the encoder that reads it.
"""

from __future__ import annotations

from pydantic import Field, PositiveInt, model_validator

from diffusion_link.config import StrictModel
from diffusion_link.encoders import EncoderName, GapSimulatorSettings, LaionClapSettings


class EmbeddingParams(StrictModel):
    """Which encoder embeds the captions and audio, over how many shards, with what settings."""

    encoder: EncoderName
    num_shards: PositiveInt = 1
    shard: int | None = Field(None, ge=0)
    sentence_model: str | None = None
    text_batch_size: PositiveInt = 64
    laion_clap: LaionClapSettings = Field(default_factory=LaionClapSettings)
    gap_simulator: GapSimulatorSettings = Field(default_factory=GapSimulatorSettings)

    @model_validator(mode="after")
    def _shard_in_range(self) -> EmbeddingParams:
        if self.shard is not None and self.shard >= self.num_shards:
            raise ValueError(f"embedding.shard={self.shard} must be < num_shards={self.num_shards}")
        return self
