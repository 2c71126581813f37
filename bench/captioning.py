"""Captioning speed on the 16 bundled clips: files per second cold (model loading included) and
warm, and the time to the first caption, split into loading and captioning.

The models have the paper's sizes and random weights (no trained ones exist offline): LAION-CLAP
HTSAT-tiny written in its own checkpoint format, a Diffusion-Link bridge of the default size
(512-d, 5 DDIM steps from s* = 100) and a zero-shot decoder on SmolLM2-135M-Instruct (LoRA and
head untrained; ``make setup`` converts the LLM). Greedy decoding of exactly 12 tokens (an
AudioCaps caption's length; the untrained decoder would otherwise stop at once).

Run it twice: ``--phase cold`` (a fresh process: load, then caption the 16 clips once) and
``--phase warm`` (load, caption one clip: the time to the first caption; then the 16 clips
twice, the second timed). Last line: one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from diffusion_link.captioning import Captioner
from diffusion_link.core.model import DiffusionConfig, DiffusionLink
from diffusion_link.decoder.config import DecoderConfig, GenerationSettings
from diffusion_link.decoder.model import CaptionDecoder

PROJECT = Path(__file__).resolve().parents[1]
GENERATION = GenerationSettings(min_new_tokens=12, max_new_tokens=12)
SMOLLM2 = PROJECT / "data" / "06_models" / "smollm2-135m-instruct"
sys.path.insert(0, str(PROJECT / "tests"))
from captioning_fixtures import bundled_clips, write_checkpoint  # noqa: E402


def write_models(root: Path) -> tuple[Path, Path, Path]:
    """A random checkpoint, a default-size Diffusion-Link bridge, a SmolLM2 decoder, on disk."""
    torch.manual_seed(0)
    means = {"audio": torch.randn(512), "text": torch.randn(512)}
    DiffusionLink.from_means(DiffusionConfig(dim=512), means).save_pretrained(root / "bridge")
    config = DecoderConfig(
        base_model=str(SMOLLM2), mode="zero_shot", embedding_dim=512, prefix_length=4
    )
    decoder = CaptionDecoder.build(config)
    decoder.trained_on = {"variant": "zero_shot_diffusion_link", "bridge": "diffusion_link"}
    decoder.save_pretrained(root / "decoder")
    return write_checkpoint(root), root / "bridge", root / "decoder"


def main() -> None:
    """Time one phase and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=["cold", "warm"], required=True)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    clips = bundled_clips()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint, bridge, decoder = write_models(Path(tmp))
        started = time.perf_counter()
        captioner = Captioner.from_pretrained(
            checkpoint, bridge, decoder, device=args.device, generation=GENERATION
        )
        load_s = time.perf_counter() - started
        figures = {
            "phase": args.phase,
            "device": args.device,
            "files": len(clips),
            "load_s": load_s,
        }
        if args.phase == "cold":
            captions = captioner.caption(clips)
            total = time.perf_counter() - started
            figures |= {"cold_total_s": total, "cold_files_per_s": len(clips) / total}
        else:
            captioner.caption(clips[:1])
            first = time.perf_counter() - started
            captioner.caption(clips)
            timed = time.perf_counter()
            captions = captioner.caption(clips)
            warm = time.perf_counter() - timed
            figures |= {"first_caption_s": first, "first_caption_load_share": load_s / first}
            figures |= {"warm_s": warm, "warm_files_per_s": len(clips) / warm}
        assert all(c.reason is None for c in captions), [c.reason for c in captions]
    for name, value in figures.items():
        print(f"{name:>26}: {value:.3f}" if isinstance(value, float) else f"{name:>26}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
