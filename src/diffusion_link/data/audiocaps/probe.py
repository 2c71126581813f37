"""Decode one audio file fully and say whether it is usable: readable, complete, long, audible."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from diffusion_link.data.audio import AUDIO_EXTENSIONS, read_audio

# libsndfile repairs a WAV whose data chunk runs past the end of the file and only says so in its
# log ("data : 88200 (should be 44078)"), so a truncated WAV decodes without an error.
_WAV_CHUNK_CUT = re.compile(r"^\s*data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


@dataclass(frozen=True)
class AudioProbe:
    """What decoding one file found; ``problem`` is None when the file is usable."""

    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    problem: str | None

    @classmethod
    def unusable(cls, problem: str) -> AudioProbe:
        """A file that could not be measured."""
        return cls(None, None, None, problem)


def _truncation(
    declared_frames: int, frames: int, tolerance_frames: int, decoder_log: str
) -> str | None:
    """Why the file looks truncated (its header promises more than it holds), or None.

    MP3 headers count the encoder's delay and padding, which decoders drop (~2,000 frames), so
    a shortfall up to ``tolerance_frames`` is normal.
    """
    if declared_frames - frames > tolerance_frames:
        return f"truncated: the header declares {declared_frames} frames, {frames} decoded"
    for declared, present in _WAV_CHUNK_CUT.findall(decoder_log):
        if int(declared) > int(present):
            return f"truncated: the data chunk declares {declared} bytes, {present} present"
    return None


def content_problem(
    waveform: np.ndarray, duration_s: float, min_duration_s: float, silence_peak: float
) -> str | None:
    """Why decoded samples are unusable: empty, NaN/inf, too short, all silent; or None."""
    if len(waveform) == 0:
        return "no audio frames (zero-length audio)"
    if not np.isfinite(waveform).all():
        return "non-finite samples (NaN or inf)"
    if duration_s < min_duration_s:
        return f"shorter than min_duration_s: {duration_s:.3f} s < {min_duration_s:g} s"
    peak = float(np.abs(waveform).max())
    if peak < silence_peak:
        return f"all-silent: peak {peak:.3g} < silence_peak {silence_peak:g}"
    return None


def probe_audio_file(
    path: Path, min_duration_s: float, silence_peak: float, truncation_tolerance_s: float
) -> AudioProbe:
    """Decode one file fully and say whether it is usable: readable, complete, long, not silent.

    Any sample rate and channel count is accepted (the encoder resamples and mixes down).
    """
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        expected = ", ".join(AUDIO_EXTENSIONS)
        return AudioProbe.unusable(f"wrong extension '{path.suffix}' (expected one of {expected})")
    try:
        if path.stat().st_size == 0:
            return AudioProbe.unusable("zero-length file (0 bytes)")
        info = sf.info(str(path))
        waveform, sample_rate = read_audio(path)
    except Exception as err:  # a C decoder on arbitrary bytes: any failure is this file's fault
        return AudioProbe.unusable(f"unreadable or truncated: {err}")
    frames, channels = waveform.shape
    duration_s = frames / sample_rate
    tolerance_frames = round(truncation_tolerance_s * sample_rate)
    problem = _truncation(
        info.frames, frames, tolerance_frames, info.extra_info
    ) or content_problem(waveform, duration_s, min_duration_s, silence_peak)
    return AudioProbe(duration_s, sample_rate, channels, problem)
