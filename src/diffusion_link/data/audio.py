"""Audio decoding shared by data preparation (probing) and the LAION-CLAP encoder (input).

One decoder serves both so that a file the manifest accepts is a file the encoder can read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".mp3", ".ogg")

# An in-memory input: samples of shape (frames,) or (frames, channels) and their sample rate.
Waveform = tuple[np.ndarray, int]

CLAP_SAMPLE_RATE = 48_000
CLAP_SECONDS = 10.0


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a whole file to float32 samples of shape (frames, channels) and its sample rate.

    Raises ``soundfile.LibsndfileError`` (a ``RuntimeError``) for unreadable or truncated files.
    """
    waveform, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    return waveform, int(sample_rate)


INT16_SCALE = 32767.0


def describe_input(inputs: Sequence[str | Path | Waveform], index: int) -> str:
    """How messages name input ``index``: its path, or its position for a waveform."""
    item = inputs[index]
    return f"waveform #{index}" if isinstance(item, tuple) else f"audio file {item}"


def to_clap_int16(
    waveform: np.ndarray,
    sample_rate: int,
    target_rate: int = CLAP_SAMPLE_RATE,
    seconds: float = CLAP_SECONDS,
) -> np.ndarray:
    """Mono, resampled to ``target_rate``, exactly ``seconds`` long, as int16 samples.

    Follows laion-clap's non-fusion preprocessing: int16 quantisation, "repeatpad" for short
    clips (tile the clip, then zero-pad). Longer clips are cut to their first ``seconds``
    (laion-clap cuts at a random offset; a fixed offset keeps embeddings reproducible).
    int16 is half the bytes of float32 to move from decoding workers to the model.
    """
    mono = waveform.mean(axis=1) if waveform.ndim == 2 else waveform
    if sample_rate != target_rate:
        mono = soxr.resample(mono, sample_rate, target_rate)
    quantised = (np.clip(mono, -1.0, 1.0) * INT16_SCALE).astype(np.int16)
    length = int(round(target_rate * seconds))
    if len(quantised) == 0:
        raise ValueError("cannot build a CLAP input from an empty waveform")
    if len(quantised) < length:
        quantised = np.tile(quantised, length // len(quantised))
        quantised = np.pad(quantised, (0, length - len(quantised)))
    return np.ascontiguousarray(quantised[:length])
