"""What goes wrong with LAION-CLAP, each error saying what to do about it."""

from __future__ import annotations


class LaionClapError(RuntimeError):
    """A LAION-CLAP checkpoint, tokenizer or set-up problem, with what to do about it."""


class AudioDecodeError(LaionClapError):
    """An audio file that cannot be turned into a CLAP input; the message names the file."""
