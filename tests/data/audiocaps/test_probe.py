"""One audio file probed: any rate and channel count, the thresholds are the parameters."""

from __future__ import annotations

from pathlib import Path

from audiocaps_fixtures import write_audio
from diffusion_link.data.audiocaps import probe_audio_file


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
