"""The RoBERTa tokenizer of LAION-CLAP's text branch, checked to work.

transformers 5 silently returns a tokenizer that knows only special tokens when it cannot reach
the hub, which would give every text the same embedding: :func:`load_tokenizer` checks it with
probe sentences.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from diffusion_link.encoders.laion_clap.errors import LaionClapError

logger = logging.getLogger(__name__)

CONTEXT_LENGTH = 77  # laion-clap's RoBERTa tokenisation: pad/truncate to 77 tokens
PROBE_TEXTS = ("a dog barks", "rain falls on a metal roof")
_TOKENIZER_HINT = (
    "point `tokenizer` at a local folder holding roberta-base's vocab.json and merges.txt (or "
    "tokenizer.json), downloaded from https://huggingface.co/FacebookAI/roberta-base, or run "
    "once online so the Hugging Face cache holds it"
)


def load_tokenizer(source: str | Path) -> Any:
    """transformers' RobertaTokenizer from a local folder or a hub name, checked to work.

    Raises :class:`LaionClapError` when the tokenizer turns probe sentences into special tokens
    only (what transformers 5 silently returns when the hub is unreachable or offline).
    """
    from transformers import RobertaTokenizer

    folder = Path(source).expanduser()
    local = folder.is_dir()
    if not local and (
        folder.is_absolute() or str(source).startswith(".") or str(source).count("/") > 1
    ):
        raise FileNotFoundError(f"tokenizer folder {source} does not exist: {_TOKENIZER_HINT}")
    try:
        tokenizer = RobertaTokenizer.from_pretrained(str(folder if local else source))
    except Exception as error:
        raise LaionClapError(
            f"cannot load RoBERTa tokenizer {source} ({error}): {_TOKENIZER_HINT}"
        ) from error
    ids = [tokenizer(text)["input_ids"] for text in PROBE_TEXTS]
    special = set(tokenizer.all_special_ids)
    if all(set(i) <= special for i in ids) or len({tuple(i) for i in ids}) == 1:
        raise LaionClapError(
            f"RoBERTa tokenizer {source} is broken: {PROBE_TEXTS[0]!r} -> "
            f"{tokenizer.convert_ids_to_tokens(ids[0])} ({len(tokenizer)} tokens), so every text "
            "would get the same embedding. transformers returns such a tokenizer when it cannot "
            f"download one (offline, HF_HUB_OFFLINE=1): {_TOKENIZER_HINT}."
        )
    logger.info("RoBERTa tokenizer %s: %d tokens", source, len(tokenizer))
    return tokenizer
