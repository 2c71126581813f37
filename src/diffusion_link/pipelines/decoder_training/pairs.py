"""The (embedding, caption) pairs a decoder variant trains, validates and captions on.

Zero-shot variants pair the TEXT rows of ``bridged_embeddings`` with their own captions;
supervised variants pair the AUDIO rows with every caption of their clip. Plain pandas.
"""

from __future__ import annotations

import pandas as pd
import torch

from diffusion_link.data.embeddings import embedding_matrix
from diffusion_link.decoder.config import Mode
from diffusion_link.pipelines.decoder_training.params import DecoderSettings, VariantParams

KEYS = ("clip_id", "caption_id")
# A mode's rows of bridged_embeddings and the key that pairs them with captions: zero-shot, each
# caption's own text embedding; supervised, its clip's audio embedding (once per caption).
PAIRED_BY: dict[Mode, tuple[str, str]] = {
    "zero_shot": ("text", "caption_id"),
    "supervised": ("audio", "clip_id"),
}


def variant_rows(
    bridged_embeddings: pd.DataFrame, variant: VariantParams, source: str, split: str
) -> pd.DataFrame:
    """The ``source`` rows (text or audio) of ``split`` that ``variant``'s bridge produced."""
    table = bridged_embeddings[
        (bridged_embeddings["bridge"] == variant.rows)
        & (bridged_embeddings["source"] == source)
        & (bridged_embeddings["split"] == split)
    ]
    if table.empty:
        raise ValueError(
            f"bridged_embeddings has no {source!r} rows of bridge {variant.rows!r} in split {split!r}"
        )
    return table


def split_pairs(
    bridged_embeddings: pd.DataFrame,
    captions: pd.DataFrame,
    variant: VariantParams,
    split: str,
    subset: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """(embedding, caption) pairs of ``split``: zero-shot from TEXT rows, supervised from AUDIO.

    ``subset``: at most that many pairs, a seeded sample.
    """
    source, key = PAIRED_BY[variant.mode]
    texts = captions[captions["split"] == split][[*KEYS, "caption"]].astype({key: str})
    rows = variant_rows(bridged_embeddings, variant, source, split)
    pairs = rows.drop(columns=[k for k in KEYS if k != key]).merge(texts, on=key, how="inner")
    if pairs.empty:
        raise ValueError(f"no {split!r} embeddings could be paired with a caption")
    if subset is not None and subset < len(pairs):
        pairs = pairs.sample(n=subset, random_state=seed)
    return pairs.reset_index(drop=True)


def training_pairs(
    bridged_embeddings: pd.DataFrame,
    captions: pd.DataFrame,
    variant: VariantParams,
    settings: DecoderSettings,
) -> pd.DataFrame:
    """The training pairs of ``variant``: ``settings.train_split``, ``train_subset`` of them."""
    return split_pairs(
        bridged_embeddings,
        captions,
        variant,
        settings.train_split,
        settings.train_subset,
        settings.subset_seed,
    )


def validation_pairs(
    bridged_embeddings: pd.DataFrame,
    captions: pd.DataFrame,
    variant: VariantParams,
    settings: DecoderSettings,
) -> pd.DataFrame | None:
    """The validation-loss pairs of ``variant``, built as its training pairs, from ``val_split``."""
    if settings.val_split is None:
        return None
    return split_pairs(
        bridged_embeddings,
        captions,
        variant,
        settings.val_split,
        settings.val_subset,
        settings.subset_seed,
    )


def embeddings_and_captions(pairs: pd.DataFrame) -> tuple[torch.Tensor, list[str]]:
    """The pairs as (an embedding matrix, the captions in the same order)."""
    return torch.from_numpy(embedding_matrix(pairs)), pairs["caption"].tolist()
