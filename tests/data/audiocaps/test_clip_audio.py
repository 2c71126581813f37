"""Each clip's audio file found and probed: every kind of bad audio is reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiocaps_fixtures import (
    cut,
    make_params,
    quality_by,
    tree_hashes,
    write_audio,
    write_csv,
)
from diffusion_link.data.audiocaps import prepare_audiocaps

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
