"""The paper's Tables 1 and 2 and the extra gap measures, from embedding tables (no Kedro).

Every bridge is judged against the text embeddings in the space it was trained to reach
(:func:`text_target_space`); the numbers themselves come from
:mod:`diffusion_link.metrics.modality_gap`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from pydantic.dataclasses import dataclass

from diffusion_link.config import STRICT
from diffusion_link.core.bridges import Bridge
from diffusion_link.core.pairs import SplitPairs, split_pairs
from diffusion_link.data.embeddings import embedding_matrix
from diffusion_link.metrics.modality_gap import (
    centroid_distance,
    cross_group_cosine,
    linear_separability,
    matched_cosine,
    nonmatched_cosine,
    relative_modality_gap,
    retrieval_recall,
)

TABLE_1_ROWS: dict[str, str] = {
    "matched_audio_text": "(a) e_t · ê_{t←a} (matched)",
    "matched_text_text": "(b) e_t · ê_{t←t} (matched)",
    "nonmatched_audio_text": "(c) e_t · ê_{t←a} (non-matched)",
    "nonmatched_text_text": "(d) e_t · ê_{t←t} (non-matched)",
}
"""Table 1's rows: the key of each cosine and its label in the report."""

Table1Row = Literal[tuple(TABLE_1_ROWS)]


@dataclass(frozen=True, config=STRICT)
class Separability:
    """The linear-separability probe: a logistic regression predicting the modality."""

    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)  # seeded split by clip
    seed: int = 0
    l2_penalty: float = Field(1.0, gt=0.0)


def text_target_space(model: Bridge, text: np.ndarray) -> np.ndarray:
    """The text embeddings in the space ``model`` was trained to reach, L2-normalised."""
    with torch.no_grad():
        return model.target_text(torch.from_numpy(text).float()).cpu().numpy()


def embedding_rows(table: pd.DataFrame, key: str, ids: pd.Index, what: str) -> np.ndarray:
    """The embeddings of ``table`` in the order of ``ids`` (values of column ``key``)."""
    position = pd.Index(table[key]).get_indexer(ids)
    if (position < 0).any():
        missing = list(ids[position < 0][:3])
        raise ValueError(
            f"{what} lacks {int((position < 0).sum())} rows (e.g. {missing}): "
            "re-run bridge_training on these embeddings"
        )
    return embedding_matrix(table)[position]


def bridge_gap_metrics(
    model: Bridge,
    pairs: SplitPairs,
    bridged: pd.DataFrame,
    recall_at: Sequence[int],
    separability: Separability,
) -> dict[str, float]:
    """Table 1's four cosines and the gap measures of one bridge on one split."""
    from_audio = embedding_rows(
        bridged[bridged["source"] == "audio"], "clip_id", pairs.clip_ids, f"{model.method} t<-a"
    )
    from_text = embedding_rows(
        bridged[bridged["source"] == "text"],
        "caption_id",
        pd.Index(pairs.captions["caption_id"]),
        f"{model.method} t<-t",
    )
    reference = text_target_space(model, embedding_matrix(pairs.captions))
    clips = pairs.pair_index
    recall = retrieval_recall(from_audio, reference, clips, recall_at)
    return {
        "matched_audio_text": matched_cosine(from_audio, reference, clips),
        "matched_text_text": matched_cosine(from_text, reference, np.arange(len(reference))),
        "nonmatched_audio_text": nonmatched_cosine(from_audio, reference, clips),
        "nonmatched_text_text": cross_group_cosine(from_text, reference, clips, clips),
        "centroid_distance": centroid_distance(from_audio, reference),
        "relative_modality_gap": relative_modality_gap(from_audio, reference, clips),
        "linear_separability": linear_separability(
            from_audio,
            reference,
            clips,
            separability.test_fraction,
            separability.seed,
            separability.l2_penalty,
        ),
        **{f"recall_at_{k}": v for k, v in recall["audio_to_text"].items()},
        **{f"text_to_audio_recall_at_{k}": v for k, v in recall["text_to_audio"].items()},
    }


def split_gap_metrics(
    model: Bridge,
    text_embeddings: pd.DataFrame,
    bridged: pd.DataFrame,
    split: str,
    recall_at: Sequence[int],
    separability: Separability,
) -> dict[str, float]:
    """:func:`bridge_gap_metrics` of ``model`` on ``split`` of a ``bridged_embeddings`` table."""
    rows = bridged[(bridged["split"] == split) & (bridged["bridge"] == model.method)]
    if rows.empty:
        raise ValueError(f"bridged_embeddings has no {split!r} rows of {model.method}")
    audio_ids = rows.loc[rows["source"] == "audio", "clip_id"]
    pairs = split_pairs(audio_ids, text_embeddings, split)
    return bridge_gap_metrics(model, pairs, rows, recall_at, separability)


def s_star_cosines(
    text_embeddings: pd.DataFrame, s_star_sweep: pd.DataFrame, model: Bridge
) -> dict[str, float]:
    """Table 2: ``model``'s matched audio->text cosine at each swept s* (the sweep's split)."""
    splits = s_star_sweep["split"].unique()
    if len(splits) != 1:
        raise ValueError(f"s_star_sweep should hold one split, holds {sorted(splits)}")
    table = {}
    for s_star, rows in s_star_sweep.groupby("s_star", sort=True):
        pairs = split_pairs(rows["clip_id"], text_embeddings, splits[0])
        text_like = embedding_rows(rows, "clip_id", pairs.clip_ids, f"s_star_sweep at s*={s_star}")
        reference = text_target_space(model, embedding_matrix(pairs.captions))
        table[str(int(s_star))] = matched_cosine(text_like, reference, pairs.pair_index)
    return table
