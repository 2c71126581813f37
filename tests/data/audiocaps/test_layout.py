"""Where the root keeps its CSVs and audio: a missing root, the aac-datasets layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audiocaps_fixtures import (
    make_params,
    write_audio,
    write_csv,
)
from diffusion_link.data.audiocaps import prepare_audiocaps


def test_missing_root_raises_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="data_prep.audiocaps_root"):
        prepare_audiocaps(make_params(tmp_path / "nowhere"))


# --- the aac-datasets layout -------------------------------------------------------------


def build_aac_root(root: Path, csv_dir: str = "csv_files_v1", rates=(32_000,)) -> None:
    base = root / "AUDIOCAPS"
    write_csv(
        base / csv_dir / "train.csv",
        [
            b"1,videoAAAAAA,60,Segment at 60 s",
            b"2,videoAAAAAA,30,Another segment of the same video",
        ],
    )
    write_csv(base / csv_dir / "val.csv", [b"3,videoBBBBBB,0,Val clip"])
    write_csv(
        base / csv_dir / "test.csv",
        [f"{4 + i},videoCCCCCC,10,Reference {i}".encode() for i in range(5)],
    )
    for rate in rates:
        audio = base / f"audio_{rate}Hz"
        write_audio(audio / "train/videoAAAAAA_30.flac", 1.0, rate)
        write_audio(audio / "train/videoAAAAAA_60.flac", 2.0, rate)
        write_audio(audio / "test/videoCCCCCC_10.flac", 1.0, rate)


@pytest.mark.parametrize("inside", [False, True])
def test_aac_datasets_layout(tmp_path: Path, inside: bool) -> None:
    build_aac_root(tmp_path)
    root = tmp_path / "AUDIOCAPS" if inside else tmp_path

    clips, captions, quality = prepare_audiocaps(make_params(root))

    durations = clips.set_index("clip_id")["duration_s"]
    assert durations["videoAAAAAA"] == pytest.approx(2.0)  # the file of its own segment
    assert np.isnan(durations["videoBBBBBB"])
    assert (captions["clip_id"] == "videoCCCCCC").sum() == 5
    p = "" if inside else "AUDIOCAPS/"
    assert quality[["file", "row", "action", "reason"]].values.tolist() == [
        [
            f"{p}csv_files_v1/train.csv",
            3,
            "rejected",
            f"start_time 30 differs from 60 ({p}csv_files_v1/train.csv line 2): "
            "one segment per video",
        ],
        [
            f"{p}audio_32000Hz/val/videoBBBBBB*",
            pd.NA,
            "kept_text_only",
            f"no audio folder {p}audio_32000Hz/val/",
        ],
        [
            f"{p}audio_32000Hz/train/videoAAAAAA_30.flac",
            pd.NA,
            "rejected",
            "no accepted caption row refers to this file",
        ],
    ]


def test_aac_datasets_v2_and_sample_rate_choice(tmp_path: Path) -> None:
    build_aac_root(tmp_path, csv_dir="csv_files_v2", rates=(16_000, 32_000))
    with pytest.raises(ValueError, match="aac_datasets_sample_rate"):
        prepare_audiocaps(make_params(tmp_path, aac_datasets_version="v2"))

    clips, _, _ = prepare_audiocaps(
        make_params(tmp_path, aac_datasets_version="v2", aac_datasets_sample_rate=16_000)
    )
    assert set(clips["sample_rate"].dropna()) == {16_000}


def test_aac_datasets_legacy_v1_csvs(tmp_path: Path) -> None:
    build_aac_root(tmp_path, csv_dir=".")
    clips, captions, _ = prepare_audiocaps(make_params(tmp_path))
    assert len(clips) == 3 and len(captions) == 7
