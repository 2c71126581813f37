"""Models and inputs for captioning tests, built offline: a random-weight LAION-CLAP checkpoint
in its own format, bridges fitted on random 512-d embeddings, a decoder on the tiny random
LLaMA, the bundled clips, and one bad input of each kind. The captions are meaningless; the
code paths are real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from decoder_fixtures import tiny_config
from diffusion_link.core.bridges import fit_bridge
from diffusion_link.decoder.model import CaptionDecoder
from laion_clap_fixtures import write_random_checkpoint

PROJECT = Path(__file__).resolve().parents[1]
BUNDLED_AUDIO = PROJECT / "data" / "01_raw" / "audiocaps_default" / "audio"
AUDIO_MODEL = "HTSAT-tiny"
CLAP_DIM = 512


def bundled_clips() -> list[Path]:
    """The 16 audio files the project ships (train, val and test), sorted."""
    return sorted(path for path in BUNDLED_AUDIO.glob("*/*") if path.is_file())


def bad_inputs(folder: Path) -> dict[str, Path]:
    """One input per kind of bad audio, by the words its reason contains."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    (folder / "garbage.wav").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (folder / "empty.flac").write_bytes(b"")
    sf.write(folder / "silent.wav", np.zeros(16_000, dtype=np.float32), 16_000)
    sf.write(folder / "short.wav", 0.5 * rng.standard_normal(800).astype(np.float32), 16_000)
    (folder / "notes.txt").write_text("not audio")
    return {
        "missing": folder / "missing.wav",
        "unreadable": folder / "garbage.wav",
        "zero-length": folder / "empty.flac",
        "all-silent": folder / "silent.wav",
        "shorter than": folder / "short.wav",
        "wrong extension": folder / "notes.txt",
    }


def write_checkpoint(folder: Path) -> Path:
    """A random HTSAT-tiny LAION-CLAP checkpoint in the official 630k files' format."""
    return write_random_checkpoint(folder / "random-clap.pt", AUDIO_MODEL)


def write_bridge(folder: Path, method: str = "c3", dim: int = CLAP_DIM) -> Path:
    """A bridge fitted on random paired embeddings of ``dim``, saved to ``folder``."""
    generator = torch.Generator().manual_seed(0)
    audio, text = (
        torch.randn(32, dim, generator=generator),
        torch.randn(32, dim, generator=generator),
    )
    bridge, _ = fit_bridge(method, audio, text)
    bridge.save_pretrained(folder)
    return folder


def write_decoder(
    folder: Path, llama: Path, bridge: str, variant: str, dim: int = CLAP_DIM
) -> Path:
    """An untrained zero-shot decoder on the tiny LLaMA that says it read ``bridge``'s outputs."""
    torch.manual_seed(0)
    decoder = CaptionDecoder.build(tiny_config(llama, dim=dim))
    decoder.trained_on = {"variant": variant, "bridge": bridge}
    decoder.save_pretrained(folder)
    return folder
