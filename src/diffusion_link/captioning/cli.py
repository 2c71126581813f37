"""``diffusion-link-caption AUDIO...``: caption audio files (or folders of them) from the shell.

One line per input on stdout (``<file>\\t<caption>``, or ``<file>\\t[not captioned: <reason>]``),
a progress bar on stderr for long lists, and with ``--out`` the captions table as CSV (written
atomically). The exit status is 0 when every input was captioned, 1 when some were not.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from diffusion_link.atomic import atomic_file
from diffusion_link.captioning.captioner import Captioner
from diffusion_link.captioning.inputs import audio_files
from diffusion_link.decoder.config import GenerationSettings
from diffusion_link.encoders.laion_clap import LaionClapSettings

# A list at least this long gets a progress bar.
PROGRESS_FROM = 20


def parser() -> argparse.ArgumentParser:
    """The command line of ``diffusion-link-caption``."""
    cli = argparse.ArgumentParser(
        prog="diffusion-link-caption",
        description="Caption audio files with a LAION-CLAP encoder, a bridge and a caption decoder.",
    )
    cli.add_argument("audio", nargs="+", type=Path, help="audio files or folders of them")
    cli.add_argument("--bridge", type=Path, help="a saved bridge folder (default: no bridge)")
    cli.add_argument("--decoder", type=Path, required=True, help="a saved caption decoder folder")
    cli.add_argument(
        "--encoder-checkpoint",
        default=LaionClapSettings.checkpoint,
        help="LAION-CLAP checkpoint file, or an official name when online (default: %(default)s)",
    )
    cli.add_argument("--audio-model", default=LaionClapSettings.audio_model, help="%(default)s")
    cli.add_argument("--base-model", help="where the decoder's base LLM is, if moved")
    cli.add_argument("--out", type=Path, help="also write the captions table to this CSV file")
    cli.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda")
    cli.add_argument("--batch-size", type=int, default=GenerationSettings.batch_size)
    cli.add_argument("--num-beams", type=int, default=GenerationSettings.num_beams)
    cli.add_argument("--max-new-tokens", type=int, default=GenerationSettings.max_new_tokens)
    cli.add_argument("--seed", type=int, default=0, help="the bridge's sampling noise")
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    """Caption the files ``argv`` names; print one line per file; 1 if any was not captioned."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    files = audio_files(args.audio)
    captioner = Captioner.from_pretrained(
        LaionClapSettings(
            checkpoint=args.encoder_checkpoint, tokenizer=None, audio_model=args.audio_model
        ),
        args.bridge,
        args.decoder,
        device=args.device,
        base_model=args.base_model,
        generation=GenerationSettings(
            num_beams=args.num_beams, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size
        ),
        seed=args.seed,
    )
    captions = captioner.caption(files, progress=len(files) >= PROGRESS_FROM)
    for caption in captions:
        sys.stdout.write(caption.line() + "\n")
    sys.stdout.flush()
    if captioner.warning:  # after the captions too, where a reader of the output looks
        sys.stderr.write(f"WARNING: {captioner.warning}\n")
    if args.out is not None:
        with atomic_file(args.out) as partial:
            captioner.table(captions).to_csv(partial, index=False)
    return int(any(caption.reason is not None for caption in captions))


if __name__ == "__main__":
    sys.exit(main())
