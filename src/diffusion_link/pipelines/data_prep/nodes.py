"""Nodes of ``data_prep``: thin wrappers over :mod:`diffusion_link.data.audiocaps`.

``params`` is typed, so Kedro validates the ``data_prep`` parameter group against
:data:`~diffusion_link.pipelines.data_prep.params.DataPrepParams` before the run starts.
"""

from __future__ import annotations

import pandas as pd

from diffusion_link.data import audiocaps
from diffusion_link.pipelines.data_prep.params import DataPrepParams


def read_captions(params: DataPrepParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every split's caption CSV; return the accepted rows and the rejected ones.

    A caption CSV that cannot be used at all, or a missing ``train.csv``, stops the run here
    with one ``CaptionFileError`` naming the file(s).
    """
    return audiocaps.read_caption_rows(params)


def probe_audio(
    caption_rows: pd.DataFrame, params: DataPrepParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Find and decode each clip's audio; return one probe per clip and the unused files."""
    return audiocaps.probe_clip_audio(caption_rows, params)


def build_manifest(
    caption_rows: pd.DataFrame,
    text_quality: pd.DataFrame,
    audio_probes: pd.DataFrame,
    audio_quality: pd.DataFrame,
    params: DataPrepParams,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Apply ``require_audio``; return ``clips``, ``captions`` and ``data_quality``."""
    return audiocaps.assemble(caption_rows, text_quality, audio_probes, audio_quality, params)
