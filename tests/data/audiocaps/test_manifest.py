"""The manifest: a good root passes through unchanged; require_audio; the committed default."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiocaps_fixtures import (
    DEFAULT_ROOT,
    GOOD_CSV,
    make_params,
    raised_message,
    write_audio,
    write_csv,
    write_split_root,
)
from diffusion_link.data.audiocaps import (
    CAPTION_COLUMNS,
    CLIP_COLUMNS,
    QUALITY_COLUMNS,
    prepare_audiocaps,
)

# --- a good root passes through unchanged -------------------------------------------------


def test_good_root_every_format_and_rate_passes_through_unchanged(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "train.csv",
        [
            b"1,wav-mono-16k,30,A dog barks",
            b'2,flac-stereo-44k,0,"Rain falls, then thunder"',
            b"3,text-only,10,A man speaks",
        ],
    )
    write_csv(tmp_path / "val.csv", [b"10,mp3-48k,0,Birds chirp"])
    write_csv(
        tmp_path / "test.csv",
        [f"{20 + i},ogg-22k,5,Reference number {i}".encode() for i in range(5)],
    )
    write_audio(tmp_path / "audio/train/wav-mono-16k_30.wav", seconds=1.0)
    write_audio(tmp_path / "audio/train/flac-stereo-44k.flac", 2.0, 44_100, channels=2)
    write_audio(tmp_path / "audio/val/mp3-48k.mp3", 1.5, 48_000)
    write_audio(tmp_path / "audio/test/ogg-22k.ogg", 1.0, 22_050)

    clips, captions, quality = prepare_audiocaps(make_params(tmp_path))

    assert list(clips.columns) == CLIP_COLUMNS
    assert list(captions.columns) == CAPTION_COLUMNS
    assert list(quality.columns) == QUALITY_COLUMNS
    by_id = clips.set_index("clip_id")
    assert list(by_id.index) == [
        "wav-mono-16k",
        "flac-stereo-44k",
        "text-only",
        "mp3-48k",
        "ogg-22k",
    ]
    assert by_id.loc["flac-stereo-44k", "sample_rate"] == 44_100  # stereo 44.1 kHz accepted
    assert by_id.loc["flac-stereo-44k", "channels"] == 2
    assert by_id.loc["flac-stereo-44k", "duration_s"] == pytest.approx(2.0)
    assert by_id.loc["wav-mono-16k", "audio_path"] == str(
        tmp_path / "audio/train/wav-mono-16k_30.wav"
    )
    assert by_id.loc["mp3-48k", "duration_s"] == pytest.approx(1.5, abs=0.06)
    assert by_id.loc["ogg-22k", "sample_rate"] == 22_050
    assert by_id.loc["text-only", ["audio_path", "sample_rate", "channels"]].isna().all()
    # Captions unchanged; the test clip keeps its five references.
    assert (
        captions.loc[captions["caption_id"] == "2", "caption"].item() == "Rain falls, then thunder"
    )
    test_refs = captions[captions["clip_id"] == "ogg-22k"]
    assert list(test_refs["caption_id"]) == ["20", "21", "22", "23", "24"]
    assert set(test_refs["split"]) == {"test"}
    # The only report entry is the text-only clip, kept.
    assert quality[["clip_id", "kind", "action"]].values.tolist() == [
        ["text-only", "audio", "kept_text_only"]
    ]
    assert quality["reason"].item() == "no audio file text-only* in audio/train/"


def test_require_audio_leaving_train_empty_stops_in_data_prep(tmp_path: Path) -> None:
    write_split_root(tmp_path, GOOD_CSV)  # audio for the val clip only

    message = raised_message(tmp_path, require_audio=True)

    assert message.startswith(
        "data_prep.require_audio is true and no clip of split 'train' has usable audio "
        f"(train.csv under {tmp_path}): the train split would be empty; 2 audio; first: "
        "audio/train/clipA*: no audio folder audio/train/"
    )


def test_require_audio_without_any_audio_raises(tmp_path: Path) -> None:
    write_csv(tmp_path / "train.csv", [b"1,a,0,A caption"])
    with pytest.raises(ValueError, match=r"require_audio is true .*train\.csv"):
        prepare_audiocaps(make_params(tmp_path, require_audio=True))


# --- the committed default --------------------------------------------------------------


def test_committed_default_data() -> None:
    clips, captions, quality = prepare_audiocaps(make_params(DEFAULT_ROOT))

    assert clips["split"].value_counts().to_dict() == {"train": 2409, "test": 404, "val": 203}
    assert captions["split"].value_counts().to_dict() == {"train": 2409, "test": 420, "val": 215}
    with_audio = clips[clips["audio_path"].notna()]
    assert with_audio["split"].value_counts().to_dict() == {"train": 9, "test": 4, "val": 3}
    assert with_audio["clip_id"].str.match(r"^(ovos|fdo)-").all()
    assert set(with_audio["sample_rate"]) == {8_000, 44_100, 48_000, 96_000}
    assert set(with_audio["channels"]) == {1, 2}
    assert with_audio["duration_s"].between(0.8, 8.6).all()
    refs = captions[captions["clip_id"].isin(with_audio["clip_id"])].groupby("split").size()
    assert refs.to_dict() == {"test": 20, "train": 9, "val": 15}  # 5 per val/test clip
    # Only the text-only AudioCaps clips are reported, kept, each once.
    assert len(quality) == 3000
    assert set(quality["action"]) == {"kept_text_only"}
    assert quality["clip_id"].is_unique
    assert captions["caption_id"].is_unique
