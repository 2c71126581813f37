"""Pairing a split's captions with its clips' audio embeddings (tables of the catalog)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from diffusion_link.core.validation import ValidationSet
from diffusion_link.data.embeddings import embedding_matrix

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitPairs:
    """One split's captions whose clip has an audio embedding, and those clips."""

    clip_ids: pd.Index  # one per clip, in audio-table order
    captions: pd.DataFrame  # text_embeddings rows, in table order
    pair_index: np.ndarray  # for each caption, its clip's position in clip_ids


def split_pairs(audio_ids: pd.Series, text_embeddings: pd.DataFrame, split: str) -> SplitPairs:
    """Pair a split's captions with clips (``audio_ids``: that split's clip ids with audio)."""
    text = text_embeddings[text_embeddings["split"] == split]
    has_audio = text["clip_id"].isin(audio_ids)
    if not has_audio.all():
        logger.info("%d %s captions have no audio embedding; left out", (~has_audio).sum(), split)
    text = text[has_audio]
    clip_ids = pd.Index(audio_ids[audio_ids.isin(text["clip_id"])].drop_duplicates())
    if text.empty:
        raise ValueError(f"no {split!r} caption has an audio embedding: nothing to evaluate")
    return SplitPairs(clip_ids, text, clip_ids.get_indexer(text["clip_id"]))


def validation_set(
    audio_embeddings: pd.DataFrame, text_embeddings: pd.DataFrame, split: str, seed: int = 0
) -> ValidationSet:
    """The raw audio of ``split``'s clips and their captions, paired, for training validation."""
    audio = audio_embeddings[audio_embeddings["split"] == split]
    if (
        not text_embeddings["clip_id"][text_embeddings["split"] == split]
        .isin(audio["clip_id"])
        .any()
    ):
        raise ValueError(
            f"validation split {split!r} has no caption with an audio embedding: set "
            "bridge_training.settings.validation_split to a split that has, or to null to "
            "train without validation"
        )
    pairs = split_pairs(audio["clip_id"], text_embeddings, split)
    rows = pd.Index(audio["clip_id"]).get_indexer(pairs.clip_ids)
    return ValidationSet(
        audio=torch.from_numpy(embedding_matrix(audio)[rows]),
        text=torch.from_numpy(embedding_matrix(pairs.captions)),
        pair_index=pairs.pair_index,
        seed=seed,
    )
