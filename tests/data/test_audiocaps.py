"""Tests of diffusion_link.data.audiocaps on small real files written into tmp_path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from pydantic import ValidationError

from diffusion_link.data.audiocaps import (
    CAPTION_COLUMNS,
    CLIP_COLUMNS,
    QUALITY_COLUMNS,
    AudioCapsConfig,
    CaptionFileError,
    prepare_audiocaps,
    probe_audio_file,
)

HEADER = b"audiocap_id,youtube_id,start_time,caption\n"
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "audiocaps_default"


def make_params(root: Path, **overrides) -> AudioCapsConfig:
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
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def quality_by(quality: pd.DataFrame, key: str) -> dict[str, str]:
    return dict(zip(quality[key], quality["reason"], strict=True))


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


# --- every kind of bad audio -------------------------------------------------------------

BAD_AUDIO = {  # youtube_id -> (how the test writes it, expected reason)
    "missing": (None, "no audio file missing*"),
    "garbage": ("garbage.wav", "unreadable or truncated"),
    "cut-wav": ("cut-wav.wav", "truncated: the data chunk declares"),
    "cut-flac": ("cut-flac.flac", "unreadable or truncated"),
    "cut-mp3": ("cut-mp3.mp3", "truncated: the header declares"),
    "zero-bytes": ("zero-bytes.wav", "zero-length file (0 bytes)"),
    "no-frames": ("no-frames.wav", "no audio frames"),
    "silent": ("silent.flac", "all-silent: peak 0 < silence_peak 0.0001"),
    "short": ("short.wav", "shorter than min_duration_s: 0.200 s < 0.5 s"),
    "nan": ("nan.wav", "non-finite samples"),
    "text-file": ("text-file.txt", "wrong extension '.txt'"),
    "aiff": ("aiff.aiff", "wrong extension '.aiff'"),
}


def build_bad_audio_root(root: Path) -> None:
    rows = [f"{i},{yid},0,Caption of {yid}".encode() for i, yid in enumerate(BAD_AUDIO, 1)]
    write_csv(root / "train.csv", [*rows, b"100,good,0,A good clip"])
    write_csv(root / "val.csv", [b"200,good-val,0,Another good clip"])
    write_csv(root / "test.csv", [b"300,good-test,0,A third good clip"])
    audio = root / "audio" / "train"
    for name in ("good", "cut-wav"):
        write_audio(audio / f"{name}.wav")
    write_audio(root / "audio/val/good-val.flac")
    write_audio(root / "audio/test/good-test.ogg")
    write_audio(audio / "cut-flac.flac", 2.0)
    write_audio(audio / "cut-mp3.mp3", 2.0, 44_100)
    write_audio(audio / "silent.flac", amplitude=0.0)
    write_audio(audio / "short.wav", seconds=0.2)
    write_audio(audio / "aiff.aiff")
    sf.write(audio / "no-frames.wav", np.zeros((0, 1), np.float32), 16_000)
    sf.write(audio / "nan.wav", np.full((16_000, 1), np.nan, np.float32), 16_000, subtype="FLOAT")
    cut(audio / "cut-wav.wav", 0.5)
    cut(audio / "cut-flac.flac", 0.5)
    cut(audio / "cut-mp3.mp3", 0.5)
    (audio / "garbage.wav").write_bytes(np.random.default_rng(0).bytes(4000))
    (audio / "zero-bytes.wav").write_bytes(b"")
    (audio / "text-file.txt").write_text("not audio")


@pytest.mark.parametrize("require_audio", [False, True])
def test_every_bad_audio_is_reported_and_never_crashes(tmp_path: Path, require_audio) -> None:
    build_bad_audio_root(tmp_path)
    before = tree_hashes(tmp_path)

    clips, captions, quality = prepare_audiocaps(make_params(tmp_path, require_audio=require_audio))

    assert tree_hashes(tmp_path) == before  # raw data never modified
    reasons = quality_by(quality, "clip_id")
    for youtube_id, (_, reason) in BAD_AUDIO.items():
        assert reason in reasons[youtube_id], youtube_id
    assert len(quality) == len(BAD_AUDIO)
    assert set(quality["kind"]) == {"audio"}
    bad_ids = set(BAD_AUDIO)
    good_ids = ["good", "good-val", "good-test"]
    if require_audio:
        assert set(quality["action"]) == {"rejected"}
        assert quality["reason"].str.endswith("(1 caption row(s) rejected)").all()
        assert list(clips["clip_id"]) == good_ids
        assert list(captions["caption_id"]) == ["100", "200", "300"]
    else:
        assert set(quality["action"]) == {"kept_text_only"}
        assert set(clips["clip_id"]) == bad_ids | set(good_ids)
        no_audio = clips[clips["audio_path"].isna()]
        assert set(no_audio["clip_id"]) == bad_ids
        assert no_audio["duration_s"].isna().all() and no_audio["channels"].isna().all()
        assert len(captions) == len(BAD_AUDIO) + 3
    assert clips.set_index("clip_id").loc["good", "duration_s"] == pytest.approx(1.0)


def test_probe_accepts_any_rate_and_channel_count(tmp_path: Path) -> None:
    path = tmp_path / "six-channels-8k.wav"
    write_audio(path, seconds=0.75, sample_rate=8_000, channels=6)
    probe = probe_audio_file(path, 0.5, 1e-4, 0.1)
    assert (probe.duration_s, probe.sample_rate, probe.channels, probe.problem) == (
        0.75,
        8_000,
        6,
        None,
    )


def test_probe_thresholds_are_the_parameters(tmp_path: Path) -> None:
    path = tmp_path / "quiet.wav"
    write_audio(path, seconds=1.0, amplitude=1e-3)
    assert probe_audio_file(path, 0.5, 1e-4, 0.1).problem is None
    assert "all-silent: peak 0.001" in probe_audio_file(path, 0.5, 1e-2, 0.1).problem
    assert "shorter than min_duration_s" in probe_audio_file(path, 1.5, 1e-4, 0.1).problem


# --- every kind of bad text --------------------------------------------------------------


def build_bad_text_root(root: Path) -> None:
    write_csv(
        root / "train.csv",
        [
            b"1,clipA,30,A dog barks",  # line 2
            b'2,clipB,0,"Two lines,\nin one quoted caption"',  # lines 3-4
            b'3,clipC,0,""',  # line 5: empty caption
            b"4,clipD,0,   ",  # line 6: whitespace caption
            b"1,clipE,0,Duplicate audiocap_id",  # line 7
            b"6,clipF,0,Un caf\xe9 bruyant",  # line 8: Latin-1, not UTF-8
            b"7,clipG,0,Too,many,fields",  # line 9
            b"8,clipH,abc,Bad start time",  # line 10
            b"9,,0,No youtube id",  # line 11
            b"",  # line 12: blank, not a row
            b"10,clipI,0.0,A good row after bad ones",  # line 13
        ],
    )
    # val: BOM and CRLF; a clip already in train; a clip with six captions.
    val_rows = [b"20,clipA,30,Same clip as in train"] + [
        f"{21 + i},clipJ,0,Caption {i}".encode() for i in range(6)
    ]
    (root / "val.csv").write_bytes(
        b"\xef\xbb\xbf" + b"\r\n".join([HEADER.strip(), *val_rows]) + b"\r\n"
    )
    # No test.csv: a caption CSV missing a column now stops the run (see the file-level tests).
    write_csv(root / "dev.csv", [b"40,clipM,0,A clip of an unknown split"])
    write_audio(root / "audio/train/clipA_30.wav")
    write_audio(root / "audio/train/clipA.flac")  # a second file for the same clip
    write_audio(root / "audio/train/clipI.wav")
    write_audio(root / "audio/train/clipC.wav")  # its only row was rejected
    write_audio(root / "audio/train/orphan.wav")
    write_audio(root / "audio/dev/clipM.wav")
    write_audio(root / "audio/stray.wav")


def test_every_bad_text_row_is_reported_and_good_rows_pass(tmp_path: Path) -> None:
    build_bad_text_root(tmp_path)
    before = tree_hashes(tmp_path)

    clips, captions, quality = prepare_audiocaps(make_params(tmp_path))

    assert tree_hashes(tmp_path) == before
    assert list(captions["caption_id"]) == ["1", "2", "10", "21", "22", "23", "24", "25"]
    assert captions.loc[1, "caption"] == "Two lines,\nin one quoted caption"
    assert list(clips["clip_id"]) == ["clipA", "clipB", "clipI", "clipJ"]
    assert clips.set_index("clip_id").loc["clipI", "audio_path"].endswith("clipI.wav")
    assert clips.set_index("clip_id").loc["clipA", "audio_path"].endswith("clipA_30.wav")

    rows = quality[quality["row"].notna()]
    found = {
        (f, int(r)): (k, reason)
        for f, r, k, reason in zip(
            rows["file"], rows["row"], rows["kind"], rows["reason"], strict=True
        )
    }
    expected = {
        ("train.csv", 5): ("caption", "empty or whitespace-only caption"),
        ("train.csv", 6): ("caption", "empty or whitespace-only caption"),
        ("train.csv", 7): ("csv", "duplicate audiocap_id 1 (first at train.csv line 2)"),
        ("train.csv", 8): ("csv", "row is not valid UTF-8: b'Un caf\\xe9 bruyant'"),
        ("train.csv", 9): ("csv", "row has 6 fields, the header has 4"),
        ("train.csv", 10): ("csv", "start_time 'abc' is not a non-negative number"),
        ("train.csv", 11): ("csv", "empty audiocap_id or youtube_id"),
        ("val.csv", 2): ("csv", "clip already in split 'train' (train.csv line 2)"),
        ("val.csv", 8): ("caption", "clip already has max_captions_per_clip=5 captions"),
    }
    assert found == expected
    assert set(rows["action"]) == {"rejected"}
    assert quality.set_index("row").loc[7, "caption_id"] == "1"

    files = quality_by(quality[quality["row"].isna()], "file")
    assert files["test.csv"] == "caption CSV not found"
    assert files["dev.csv"] == "unknown split 'dev' (expected one of train, val, test)"
    assert files["audio/dev"].startswith("unknown split folder 'dev'")
    assert files["audio/stray.wav"] == "audio file outside a split folder"
    assert files["audio/train/orphan.wav"] == "no accepted caption row refers to this file"
    assert files["audio/train/clipC.wav"] == "no accepted caption row refers to this file"
    assert files["audio/train/clipA.flac"] == "another file was used for the same clip"
    assert files["audio/train/clipB*"] == "no audio file clipB* in audio/train/"
    assert files["audio/val/clipJ*"] == "no audio folder audio/val/"


# --- files that cannot be used at all raise one clear error -------------------------------


def test_unparseable_csv_raises_naming_the_file(tmp_path: Path) -> None:
    write_csv(tmp_path / "train.csv", [b"1,a,0,fine"])
    (tmp_path / "val.csv").write_bytes(HEADER + b'2,b,0,"never closed' + b"x" * 200_000)
    with pytest.raises(ValueError, match=r"val\.csv: cannot parse the caption CSV"):
        prepare_audiocaps(make_params(tmp_path))


def test_empty_csv_raises_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_bytes(b"")
    with pytest.raises(ValueError, match=r"train\.csv: cannot parse the caption CSV.*empty"):
        prepare_audiocaps(make_params(tmp_path))


def test_every_row_rejected_raises_naming_the_file(tmp_path: Path) -> None:
    write_csv(tmp_path / "train.csv", [b"1,a,0,", b"2,b,0,  "])
    with pytest.raises(ValueError, match=r"No caption row accepted from .*train\.csv: 2 caption"):
        prepare_audiocaps(make_params(tmp_path))


def test_binary_file_as_csv_is_rejected_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(ValueError, match=r"train\.csv.*missing columns"):
        prepare_audiocaps(make_params(tmp_path))


# --- a caption CSV that cannot be used at all is a file-level error ------------------------

GOOD_CSV = HEADER + b"1,clipA,0,A dog barks\n2,clipB,0,Rain on a roof\n"
ALL_COLUMNS = "audiocap_id, youtube_id, start_time, caption"


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


RANDOM_BYTES = np.random.default_rng(0).bytes(3000)
GOOD_TEXT = GOOD_CSV.decode()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            RANDOM_BYTES,
            [
                "cannot parse the caption CSV (split 'train'): it holds NUL bytes",
                f"; missing columns: {ALL_COLUMNS}; found columns: none (the file was not read "
                "as CSV); 0 row(s) read",
            ],
            id="random-bytes",
        ),
        pytest.param(
            RANDOM_BYTES.replace(b"\x00", b""),
            [
                "not an AudioCaps caption CSV (split 'train')",
                "its header row is not UTF-8 text (a binary file or another encoding?)",
                f"; missing columns: {ALL_COLUMNS}; found columns: b'",
            ],
            id="random-bytes-without-nul",
        ),
        pytest.param(
            b"",
            [
                "cannot parse the caption CSV (split 'train'): the file is empty",
                f"; missing columns: {ALL_COLUMNS}; found columns: none; 0 row(s) read",
            ],
            id="empty",
        ),
        pytest.param(
            HEADER,
            [
                "No caption row accepted from",
                f"(split 'train'): the file has a header ({ALL_COLUMNS}) and no row, "
                "so split 'train' would be empty",
            ],
            id="header-only",
        ),
        pytest.param(
            GOOD_TEXT.encode("utf-16"),
            [
                "cannot parse the caption CSV (split 'train'): it is UTF-16 or UTF-32 text "
                "(byte-order mark); save it as UTF-8",
                f"; missing columns: {ALL_COLUMNS};",
            ],
            id="utf-16",
        ),
        pytest.param(
            GOOD_TEXT.encode("utf-16-le"),
            ["cannot parse the caption CSV (split 'train'): it holds NUL bytes"],
            id="utf-16-without-bom",
        ),
        pytest.param(
            b"id,ytid,start,text\n1,clipA,0,A dog barks\n2,clipB,0,Rain on a roof\n",
            [
                "not an AudioCaps caption CSV (split 'train'): it needs the columns "
                f"{ALL_COLUMNS}; missing columns: {ALL_COLUMNS}; "
                "found columns: id, ytid, start, text; 2 row(s) read",
            ],
            id="other-column-names",
        ),
        pytest.param(
            b"audiocap_id,youtube_id,start_time\n30,clipK,0\n31,clipL,0\n",
            [
                "not an AudioCaps caption CSV (split 'train')",
                "; missing columns: caption; found columns: audiocap_id, youtube_id, start_time; "
                "2 row(s) read",
            ],
            id="one-column-missing",
        ),
        pytest.param(
            GOOD_CSV.replace(b",", b";"),
            ["its header has one column: are the fields not separated by commas?"],
            id="semicolons",
        ),
    ],
)
def test_unusable_train_csv_stops_with_one_message(
    tmp_path: Path, content: bytes, expected: list[str]
) -> None:
    path = write_split_root(tmp_path, content)

    message = raised_message(tmp_path)

    assert str(path) in message
    assert "\n" not in message  # one message, one line: no traceback of a decoder or parser
    for fragment in expected:
        assert fragment in message
    assert "val.csv" not in message and "test.csv" not in message


def test_good_train_csv_in_the_same_root_passes_and_bad_rows_are_set_aside(
    tmp_path: Path,
) -> None:
    write_split_root(tmp_path, GOOD_CSV + b'3,clipC,0,""\n4,clipD,abc,Bad start time\n')

    clips, captions, quality = prepare_audiocaps(make_params(tmp_path))

    assert captions["caption_id"].tolist() == ["1", "2", "10", "20"]
    assert clips["split"].value_counts().to_dict() == {"train": 2, "val": 1, "test": 1}
    rows = quality[quality["row"].notna()]
    assert rows[["file", "row", "reason"]].values.tolist() == [
        ["train.csv", 4, "empty or whitespace-only caption"],
        ["train.csv", 5, "start_time 'abc' is not a non-negative number"],
    ]


def test_unusable_val_csv_stops_the_run_too(tmp_path: Path) -> None:
    write_split_root(tmp_path, GOOD_CSV)
    (tmp_path / "val.csv").write_bytes(b"id,ytid,start,text\n10,clipV,0,A bell rings\n")

    message = raised_message(tmp_path)

    assert message.startswith(f"{tmp_path / 'val.csv'}: not an AudioCaps caption CSV (split 'val')")
    assert "found columns: id, ytid, start, text; 1 row(s) read" in message


def test_several_unusable_csvs_are_named_in_one_message(tmp_path: Path) -> None:
    write_split_root(tmp_path, RANDOM_BYTES)
    (tmp_path / "test.csv").write_bytes(HEADER)

    message = raised_message(tmp_path)

    assert message.startswith("2 caption CSVs cannot be used:\n")
    lines = message.splitlines()[1:]
    assert len(lines) == 2
    assert lines[0].startswith(f"- {tmp_path / 'train.csv'}: cannot parse the caption CSV")
    assert lines[1].startswith(f"- No caption row accepted from {tmp_path / 'test.csv'}")


def test_missing_train_csv_stops_the_run(tmp_path: Path) -> None:
    write_split_root(tmp_path, GOOD_CSV)
    (tmp_path / "train.csv").unlink()

    message = raised_message(tmp_path)

    assert message == (
        f"{tmp_path / 'train.csv'}: the caption CSV of split 'train' is not found "
        f"(audiocaps layout under {tmp_path}); the train split would be empty"
    )


def test_missing_val_csv_is_still_only_reported(tmp_path: Path) -> None:
    write_split_root(tmp_path, GOOD_CSV)
    (tmp_path / "val.csv").unlink()

    _, captions, quality = prepare_audiocaps(make_params(tmp_path))

    assert set(captions["split"]) == {"train", "test"}
    assert quality_by(quality, "file")["val.csv"] == "caption CSV not found"


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


# --- parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("require_audio", "sometimes"),
        ("min_duration_s", -1.0),
        ("silence_peak", 2.0),
        ("splits", ["train", "dev"]),
        ("num_workers", 0),
        ("aac_datasets_version", "v3"),
        ("not_a_key", 1),
    ],
)
def test_bad_parameter_names_its_key(tmp_path: Path, key: str, value) -> None:
    with pytest.raises(ValidationError, match=key):
        make_params(tmp_path, **{key: value})


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
