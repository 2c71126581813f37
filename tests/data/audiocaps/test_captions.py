"""Caption CSVs: bad rows set aside with their reason, unusable files stop the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audiocaps_fixtures import (
    GOOD_CSV,
    HEADER,
    make_params,
    quality_by,
    raised_message,
    tree_hashes,
    write_audio,
    write_csv,
    write_split_root,
)
from diffusion_link.data.audiocaps import prepare_audiocaps

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

ALL_COLUMNS = "audiocap_id, youtube_id, start_time, caption"


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
