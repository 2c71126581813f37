"""Local stand-ins for LAION-CLAP's downloads, for offline tests and benchmarks only.

No CLAP weights and no RoBERTa vocabulary ship in any package, so tests and ``bench/`` build:
a random-initialised checkpoint in laion-clap's own file format, a small byte-level BPE
tokenizer trained on captions (RoBERTa's format and special-token ids), and laion-clap's own
``CLAP_Module`` around a given model, to compare against. Embeddings made with these are
meaningless; they exercise the real code paths.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from diffusion_link.encoders.laion_clap import (
    ROBERTA_BASE_CONFIG,
    build_clap_model,
    forced_hub_offline,
    import_clap_module,
    text_branch_from_config,
)

# RoBERTa's special tokens, in the order that gives them RoBERTa's ids (<s>=0, <pad>=1, </s>=2).
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def build_test_tokenizer(texts: Iterable[str], out_dir: str | Path, vocab_size: int = 2000) -> Path:
    """Train a byte-level BPE on ``texts``; write vocab.json + merges.txt into ``out_dir``.

    The folder loads with transformers' ``RobertaTokenizer``; its ids fit RoBERTa's embedding
    table (``vocab_size`` at most 50265).
    """
    from tokenizers import ByteLevelBPETokenizer

    if vocab_size > ROBERTA_BASE_CONFIG["vocab_size"]:
        raise ValueError(f"vocab_size {vocab_size} exceeds RoBERTa's embedding table")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        list(texts), vocab_size=vocab_size, min_frequency=1, special_tokens=list(SPECIAL_TOKENS)
    )
    bpe.save_model(str(out_dir))
    return out_dir


def write_random_checkpoint(path: str | Path, audio_model: str, seed: int = 0) -> Path:
    """Save a random-initialised CLAP as the official 630k checkpoints are saved.

    That is ``{"epoch": ..., "state_dict": {"module." + name: tensor}}`` (DataParallel
    prefixes) including ``text_branch.embeddings.position_ids``, which transformers < 4.31 stored.
    """
    torch.manual_seed(seed)
    model, _ = build_clap_model(audio_model)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    positions = ROBERTA_BASE_CONFIG["max_position_embeddings"]
    state["module.text_branch.embeddings.position_ids"] = torch.arange(positions).expand((1, -1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 0, "state_dict": state}, path)
    return path


def laion_clap_module(checkpoint: str | Path, audio_model: str, device: str = "cpu") -> Any:
    """laion-clap's own ``CLAP_Module`` (non-fusion), built offline, with ``checkpoint`` loaded
    by its own ``load_ckpt`` -- the reference the project's encoder is compared against.

    Its own RoBERTa tokenizer, built offline, is broken: for text, pass ``get_text_embedding``
    a working ``tokenizer``.
    """
    import_clap_module()
    import laion_clap

    with forced_hub_offline(), text_branch_from_config():
        module = laion_clap.CLAP_Module(enable_fusion=False, amodel=audio_model, device=device)
    module.load_ckpt(str(checkpoint), verbose=False)
    return module
