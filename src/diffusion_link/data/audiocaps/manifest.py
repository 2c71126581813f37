"""The manifest: ``clips``, ``captions`` and ``data_quality`` once ``require_audio`` is applied.

Nothing under the root is ever written; files are only opened for reading.
"""

from __future__ import annotations

import logging

import pandas as pd

from diffusion_link.data.audiocaps.captions import read_caption_rows
from diffusion_link.data.audiocaps.clip_audio import probe_clip_audio
from diffusion_link.data.audiocaps.config import AudioCapsConfig
from diffusion_link.data.audiocaps.csv_file import CaptionFileError
from diffusion_link.data.audiocaps.tables import (
    CAPTION_COLUMNS,
    CLIP_COLUMNS,
    KEPT_TEXT_ONLY,
    REJECTED,
    quality_frame,
    quality_issue,
    summarise,
)

logger = logging.getLogger(__name__)


def assemble(
    caption_rows: pd.DataFrame,
    text_quality: pd.DataFrame,
    audio_probes: pd.DataFrame,
    audio_quality: pd.DataFrame,
    config: AudioCapsConfig,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Apply ``require_audio`` and return ``clips``, ``captions`` and ``data_quality``.

    A clip without usable audio is rejected with all its captions when ``require_audio`` is
    true, and kept text-only otherwise; either way ``data_quality`` has one row saying why.
    Raises ``CaptionFileError`` when that leaves the train split without a clip.
    """
    action = REJECTED if config.require_audio else KEPT_TEXT_ONLY
    no_audio = audio_probes[audio_probes["problem"].notna()]
    n_captions = caption_rows["clip_id"].value_counts()
    clip_issues = [
        quality_issue(
            split,
            file,
            "audio",
            f"{problem} ({n_captions[clip_id]} caption row(s) rejected)"
            if config.require_audio
            else problem,
            action,
            clip_id=clip_id,
        )
        for clip_id, split, file, problem in zip(
            no_audio["clip_id"],
            no_audio["split"],
            no_audio["file"],
            no_audio["problem"],
            strict=True,
        )
    ]
    quality = pd.concat(
        [
            frame
            for frame in (text_quality, quality_frame(clip_issues), audio_quality)
            if not frame.empty
        ]
        or [quality_frame([])],
        ignore_index=True,
    )

    clips = audio_probes
    if config.require_audio:
        clips = audio_probes[audio_probes["problem"].isna()]
        if clips.empty:
            raise ValueError(
                f"data_prep.require_audio is true and no clip has usable audio in "
                f"{', '.join(sorted(set(caption_rows['file'])))} under {config.audiocaps_root}: "
                f"{summarise(quality)}"
            )
        if "train" in config.splits and not (clips["split"] == "train").any():
            train_files = sorted(set(caption_rows.loc[caption_rows["split"] == "train", "file"]))
            raise CaptionFileError(
                f"data_prep.require_audio is true and no clip of split 'train' has usable audio "
                f"({', '.join(train_files)} under {config.audiocaps_root}): the train split would "
                f"be empty; {summarise(quality[quality['split'] == 'train'])}"
            )
    kept = caption_rows["clip_id"].isin(clips["clip_id"])
    captions = caption_rows.loc[kept, CAPTION_COLUMNS].reset_index(drop=True)
    clips = clips[CLIP_COLUMNS].reset_index(drop=True)
    for split in config.splits:
        in_split = clips["split"] == split
        logger.info(
            "%s: %d clips (%d with audio), %d captions",
            split,
            in_split.sum(),
            clips.loc[in_split, "audio_path"].notna().sum(),
            (captions["split"] == split).sum(),
        )
    logger.info("data_quality: %d entries (%s)", len(quality), summarise(quality))
    return clips, captions, quality


def prepare_audiocaps(config: AudioCapsConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """All three steps at once: ``clips``, ``captions`` and ``data_quality`` for a root."""
    caption_rows, text_quality = read_caption_rows(config)
    audio_probes, audio_quality = probe_clip_audio(caption_rows, config)
    return assemble(caption_rows, text_quality, audio_probes, audio_quality, config)
