"""Read an AudioCaps root into a clip manifest, a caption table and a data-quality report.

Plain Python (no Kedro): the ``data_prep`` pipeline's nodes are thin wrappers around the three
steps here, and a notebook can call :func:`prepare_audiocaps` directly. One concept per module:

- :mod:`.config`: what to read and how strictly (:class:`AudioCapsConfig`);
- :mod:`.layout`: where the root keeps each split's caption CSV and audio folder;
- :mod:`.csv_file` and :mod:`.captions`: the caption CSVs, each row accepted or rejected;
- :mod:`.probe` and :mod:`.clip_audio`: each clip's audio file found and decoded;
- :mod:`.tables`: the tables passed between the steps and the ``data_quality`` rows;
- :mod:`.manifest`: ``clips``, ``captions`` and ``data_quality`` once ``require_audio`` applies.

Nothing under the root is ever written; files are only opened for reading. Every row or file that
is not used ends up in ``data_quality`` with its reason, except a caption CSV that cannot be used
at all (unreadable, not UTF-8 text, missing columns, no valid row) or a missing ``train.csv``:
those stop the run with one :class:`CaptionFileError` naming the file(s).
"""

from diffusion_link.data.audiocaps.captions import read_caption_rows
from diffusion_link.data.audiocaps.clip_audio import probe_clip_audio
from diffusion_link.data.audiocaps.config import SPLITS, AudioCapsConfig
from diffusion_link.data.audiocaps.csv_file import CSV_COLUMNS, CaptionFileError
from diffusion_link.data.audiocaps.layout import Layout, SplitSource, locate
from diffusion_link.data.audiocaps.manifest import assemble, prepare_audiocaps
from diffusion_link.data.audiocaps.probe import AudioProbe, probe_audio_file
from diffusion_link.data.audiocaps.tables import (
    CAPTION_COLUMNS,
    CLIP_COLUMNS,
    KEPT_TEXT_ONLY,
    PROBE_COLUMNS,
    QUALITY_COLUMNS,
    REJECTED,
    ROW_COLUMNS,
)

__all__ = [
    "CAPTION_COLUMNS",
    "CLIP_COLUMNS",
    "CSV_COLUMNS",
    "KEPT_TEXT_ONLY",
    "PROBE_COLUMNS",
    "QUALITY_COLUMNS",
    "REJECTED",
    "ROW_COLUMNS",
    "SPLITS",
    "AudioCapsConfig",
    "AudioProbe",
    "CaptionFileError",
    "Layout",
    "SplitSource",
    "assemble",
    "locate",
    "prepare_audiocaps",
    "probe_audio_file",
    "probe_clip_audio",
    "read_caption_rows",
]
