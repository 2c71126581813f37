"""Which audio inputs can be captioned: each file or waveform checked before any model runs.

A missing, unreadable, empty, silent or unsupported-format input gets a reason instead of a
caption; the others are captioned. Files are checked by the same probe as data preparation
(:func:`diffusion_link.data.audiocaps.probe_audio_file`), so a file ``data_prep`` accepts is a
file the captioner accepts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass

from diffusion_link.config import STRICT
from diffusion_link.data.audio import Waveform
from diffusion_link.data.audiocaps.probe import AudioProbe, content_problem, probe_audio_file

AudioInput = str | Path | Waveform


@dataclass(frozen=True, config=STRICT)
class InputChecks:
    """When an input is too short or silent to caption (data_prep's defaults).

    Args:
        min_duration_s: inputs shorter than this are not captioned.
        silence_peak: inputs whose peak |sample| is below this are silent (1e-4 = -80 dBFS).
        truncation_tolerance_s: a file decoding to fewer frames than its header declares,
            beyond this slack, is truncated (MP3 headers count encoder delay and padding).
    """

    min_duration_s: float = Field(0.5, ge=0)
    silence_peak: float = Field(1.0e-4, ge=0, lt=1)
    truncation_tolerance_s: float = Field(0.1, ge=0)


def check_input(item: AudioInput, checks: InputChecks) -> AudioProbe:
    """Decode one file or waveform and say whether it can be captioned (``problem`` None)."""
    if isinstance(item, tuple):
        samples, sample_rate = np.asarray(item[0], dtype=np.float32), int(item[1])
        if samples.ndim not in (1, 2) or sample_rate <= 0:
            return AudioProbe.unusable(
                f"not a waveform: samples of shape {samples.shape} at {sample_rate} Hz "
                "(expected (frames,) or (frames, channels) and a positive sample rate)"
            )
        duration_s = len(samples) / sample_rate
        problem = content_problem(samples, duration_s, checks.min_duration_s, checks.silence_peak)
        channels = 1 if samples.ndim == 1 else samples.shape[1]
        return AudioProbe(duration_s, sample_rate, channels, problem)
    path = Path(item)
    if not path.exists():
        return AudioProbe.unusable("missing: no such file")
    if not path.is_file():
        return AudioProbe.unusable("not a file")
    return probe_audio_file(
        path, checks.min_duration_s, checks.silence_peak, checks.truncation_tolerance_s
    )


def describe(item: AudioInput, index: int) -> str:
    """The input's name in outputs: its path, or ``<waveform N>`` for an in-memory waveform."""
    return f"<waveform {index}>" if isinstance(item, tuple) else str(item)


def audio_files(sources: Iterable[str | Path]) -> list[Path]:
    """``sources`` with every folder replaced by its files (recursively, sorted, no hidden ones).

    Every file is listed, whatever its extension, so that an unsupported format gets its reason.
    """
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            files += sorted(
                path
                for path in source.rglob("*")
                if path.is_file()
                and not any(p.startswith(".") for p in path.relative_to(source).parts)
            )
        else:
            files.append(source)
    return files
