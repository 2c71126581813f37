"""Nodes of ``captioning``: a folder of audio files in, one caption (or reason) per file out.

The work is :class:`diffusion_link.captioning.Captioner` (plain PyTorch); the node picks the
models (the catalog's latest trained versions, or explicit folders) and records their versions.
"""

from __future__ import annotations

import logging
import time

import pandas as pd

from diffusion_link.captioning import Captioner, audio_files
from diffusion_link.datasets.model_folders import ModelFolders
from diffusion_link.pipelines.captioning.params import CaptioningParams

logger = logging.getLogger(__name__)


def caption_audio_folder(
    bridges: ModelFolders, decoders: ModelFolders, params: CaptioningParams
) -> pd.DataFrame:
    """Caption every file of ``audio_dir``: file, caption, duration_s, reason, model versions."""
    if params.audio_dir is None:
        raise ValueError("captioning.audio_dir is not set: --params captioning.audio_dir=<folder>")
    files = audio_files([params.audio_dir])
    if not files:
        raise ValueError(f"captioning.audio_dir {params.audio_dir} holds no files")
    bridge = (
        (None, "") if params.bridge is None else bridges.choose(params.bridge, params.bridge_dir)
    )
    decoder = decoders.choose(params.variant, params.decoder_dir)
    started = time.perf_counter()
    captioner = Captioner.from_pretrained(
        params.encoder,
        bridge[0],
        decoder[0],
        device=params.device,
        base_model=params.base_model,
        generation=params.generation,
        checks=params.checks,
        seed=params.seed,
    )
    captions = captioner.caption(files, progress=True)
    captioned = sum(c.reason is None for c in captions)
    elapsed = time.perf_counter() - started
    logger.info("%d of %d files captioned in %.1f s", captioned, len(files), elapsed)
    return captioner.table(captions).assign(bridge_version=bridge[1], decoder_version=decoder[1])
