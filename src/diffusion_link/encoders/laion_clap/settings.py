"""The settings of the LAION-CLAP encoder: one definition, read by the encoder and the parameters."""

from __future__ import annotations

from pathlib import Path

from pydantic import NonNegativeInt, PositiveInt
from pydantic.dataclasses import dataclass

from diffusion_link.config import STRICT


@dataclass(frozen=True, config=STRICT)
class LaionClapSettings:
    """How the frozen LAION-CLAP encoder is built and run (``embedding.laion_clap``).

    Args:
        checkpoint: a local ``.pt`` (laion-clap's format) or ``.safetensors`` state dict, or an
            official checkpoint name such as ``630k-audioset-best.pt`` (downloaded when online).
        tokenizer: a hub name (``roberta-base``) or a local folder with vocab.json + merges.txt
            or tokenizer.json, loaded with transformers' ``RobertaTokenizer``; ``None`` builds
            an audio-only encoder (captioning audio needs no text branch).
        audio_model: laion-clap's audio model config; must match the checkpoint (the official
            630k checkpoints are HTSAT-tiny, the music ones HTSAT-base).
        enable_fusion: only ``False`` (the paper's setting) is implemented.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1`` ...
        batch_size: clips or texts per forward pass.
        num_workers: DataLoader workers decoding audio; 0 decodes in this process.
        amp: bfloat16 autocast on CUDA (ignored on CPU).
    """

    checkpoint: str | Path = "630k-audioset-best.pt"
    tokenizer: str | Path | None = "roberta-base"
    audio_model: str = "HTSAT-tiny"
    enable_fusion: bool = False
    device: str = "auto"
    batch_size: PositiveInt = 32
    num_workers: NonNegativeInt = 2
    amp: bool = True
