"""Small real AudioCaps roots written into tmp_path, for the tests of data.audiocaps."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from diffusion_link.data.audiocaps import AudioCapsConfig, CaptionFileError, prepare_audiocaps

HEADER = b"audiocap_id,youtube_id,start_time,caption\n"
DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "data" / "01_raw" / "audiocaps_default"


def make_params(root: Path, **overrides) -> AudioCapsConfig:
    """The base ``data_prep`` settings for ``root`` (2 workers), with ``overrides``."""
    values = {
        "audiocaps_root": root,
        "require_audio": False,
        "min_duration_s": 0.5,
        "silence_peak": 1e-4,
        "truncation_tolerance_s": 0.1,
        "splits": ["train", "val", "test"],
        "max_captions_per_clip": 5,
        "num_workers": 2,
        "aac_datasets_version": "v1",
        "aac_datasets_sample_rate": None,
    }
    return AudioCapsConfig(**{**values, **overrides})


def write_csv(path: Path, lines: list[bytes], header: bytes = HEADER) -> None:
    """A caption CSV of ``header`` and ``lines`` (raw bytes, one row each)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + b"".join(line + b"\n" for line in lines))


def write_audio(
    path: Path,
    seconds: float = 1.0,
    sample_rate: int = 16_000,
    channels: int = 1,
    amplitude: float = 0.5,
    **kwargs,
) -> None:
    """A sine tone (or silence with amplitude 0) in the format of the file's extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = amplitude * np.sin(2 * np.pi * 440 * t)
    sf.write(
        path, np.repeat(tone[:, None], channels, axis=1).astype(np.float32), sample_rate, **kwargs
    )


def cut(path: Path, keep: float) -> None:
    """Truncate a file to a fraction of its bytes."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def tree_hashes(root: Path) -> dict[str, str]:
    """Every file under ``root`` and the SHA-256 of its bytes."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def quality_by(quality: pd.DataFrame, key: str) -> dict[str, str]:
    """``data_quality`` reasons by the ``key`` column."""
    return dict(zip(quality[key], quality["reason"], strict=True))


GOOD_CSV = HEADER + b"1,clipA,0,A dog barks\n2,clipB,0,Rain on a roof\n"


def write_split_root(root: Path, train: bytes) -> Path:
    """``train.csv`` with the given bytes; good ``val.csv`` and ``test.csv``; one audio file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.csv").write_bytes(train)
    write_csv(root / "val.csv", [b"10,clipV,0,A bell rings"])
    write_csv(root / "test.csv", [b"20,clipT,0,A car passes"])
    write_audio(root / "audio/val/clipV.wav")
    return root / "train.csv"


def raised_message(root: Path, **overrides) -> str:
    """The one error message data_prep stops with; the raw files stay as they were."""
    before = tree_hashes(root)
    with pytest.raises(CaptionFileError) as raised:
        prepare_audiocaps(make_params(root, **overrides))
    assert tree_hashes(root) == before
    assert isinstance(raised.value, ValueError)
    return str(raised.value)
