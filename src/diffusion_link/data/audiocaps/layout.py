"""Where an AudioCaps root keeps each split's caption CSV and audio folder.

Two layouts are accepted under ``audiocaps_root``:

- AudioCaps' own: ``train.csv``, ``val.csv``, ``test.csv`` and audio under
  ``audio/<split>/<youtube_id>*`` (wav, flac, mp3 or ogg).
- What ``aac-datasets`` writes: ``AUDIOCAPS/`` (``audiocaps_root`` may be its parent or the folder
  itself) with the CSVs in ``csv_files_<version>/`` (or, for v1, directly in ``AUDIOCAPS/``) and
  audio in ``audio_<sr>Hz/<split>/<youtube_id>_<start_time>.flac``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from diffusion_link.data.audiocaps.config import AudioCapsConfig


@dataclass(frozen=True)
class SplitSource:
    """Where one split's caption CSV and audio folder are expected (neither need exist)."""

    split: str
    csv_path: Path
    audio_dir: Path


@dataclass(frozen=True)
class Layout:
    """The resolved root: its kind, the folder holding the audio split folders, each split."""

    kind: Literal["audiocaps", "aac_datasets"]
    root: Path
    audio_root: Path
    sources: tuple[SplitSource, ...]


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` for messages, or as it is when outside ``root``."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def locate(config: AudioCapsConfig) -> Layout:
    """Resolve ``audiocaps_root`` to one of the two layouts; raise if it is not a folder."""
    root = config.audiocaps_root.expanduser().absolute()
    if not root.is_dir():
        raise FileNotFoundError(f"data_prep.audiocaps_root: {root} is not a folder")
    base = root / "AUDIOCAPS" if (root / "AUDIOCAPS").is_dir() else root
    rate_dirs = sorted(p for p in base.glob("audio_*Hz") if p.is_dir())
    if not rate_dirs and not any(p.is_dir() for p in base.glob("csv_files_*")):
        return Layout(
            "audiocaps",
            root,
            root / "audio",
            tuple(SplitSource(s, root / f"{s}.csv", root / "audio" / s) for s in config.splits),
        )

    if config.aac_datasets_sample_rate is not None:
        audio_root = base / f"audio_{config.aac_datasets_sample_rate}Hz"
    elif len(rate_dirs) == 1:
        audio_root = rate_dirs[0]
    elif not rate_dirs:
        audio_root = base / "audio_32000Hz"  # aac-datasets' default; absent, so all text-only
    else:
        names = ", ".join(p.name for p in rate_dirs)
        raise ValueError(
            f"{base} holds several audio folders ({names}): "
            "set data_prep.aac_datasets_sample_rate to choose one"
        )
    version = config.aac_datasets_version
    csv_dir = base / f"csv_files_{version}"
    if version == "v1" and (base / "train.csv").is_file():
        csv_dir = base  # aac-datasets' older v1 layout
    return Layout(
        "aac_datasets",
        root,
        audio_root,
        tuple(SplitSource(s, csv_dir / f"{s}.csv", audio_root / s) for s in config.splits),
    )
