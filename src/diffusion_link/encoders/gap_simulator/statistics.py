"""What the gap simulator is judged by: Table 1's statistics, sampled retrieval recall and the
oracle bridge's matched cosine, on simulated audio against captions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from diffusion_link.encoders.gap_simulator.settings import RECALL_KEYS, GapTargets
from diffusion_link.encoders.gap_simulator.simulator import GapSimulator
from diffusion_link.metrics.modality_gap import (
    c3_collapse,
    l2_normalise,
    matched_cosine,
    modality_mean,
    nonmatched_cosine,
    retrieval_recall,
)


def gap_statistics(audio: np.ndarray, text: np.ndarray, pair_index: np.ndarray) -> dict[str, float]:
    """Table 1's CLAP and C3 statistics of one split (C3 uses that split's own means)."""
    audio_c3 = c3_collapse(audio, modality_mean(audio))
    text_c3 = c3_collapse(text, modality_mean(text))
    return {
        "matched": matched_cosine(audio, text, pair_index),
        "nonmatched": nonmatched_cosine(audio, text, pair_index),
        "c3_matched": matched_cosine(audio_c3, text_c3, pair_index),
    }


def oracle_matched_cosine(
    simulator: GapSimulator, audio: np.ndarray, text: np.ndarray, pair_index: np.ndarray
) -> float:
    """Matched audio->text cosine of the oracle bridge (the exact inverse of the learnable
    part), in Diffusion-Bridge's normalised space with the fit's (train) text mean."""
    bridged = simulator.invert(audio)
    mean = simulator.text_mean
    return matched_cosine(c3_collapse(bridged, mean), c3_collapse(text, mean), pair_index)


def sampled_recall(
    audio: np.ndarray,
    text: np.ndarray,
    pair_index: np.ndarray,
    n_clips: int,
    seeds: Sequence[int],
) -> dict[str, np.ndarray]:
    """Recall@1 and @10 in both directions on seeded samples of ``n_clips`` clips (all of a
    sampled clip's captions with it): one value per seed under each of :data:`RECALL_KEYS`."""
    pair_index = np.asarray(pair_index)
    values: dict[str, list[float]] = {key: [] for key in RECALL_KEYS}
    for seed in seeds:
        chosen = np.random.default_rng(seed).choice(
            len(audio), size=min(n_clips, len(audio)), replace=False
        )
        position = np.full(len(audio), -1)
        position[chosen] = np.arange(len(chosen))
        rows = np.flatnonzero(position[pair_index] >= 0)
        recall = retrieval_recall(audio[chosen], text[rows], position[pair_index[rows]], (1, 10))
        for direction in ("audio_to_text", "text_to_audio"):
            for k in (1, 10):
                values[f"{direction}_r{k}"].append(recall[direction][k])
    return {key: np.asarray(v) for key, v in values.items()}


def split_statistics(
    simulator: GapSimulator,
    audio: np.ndarray,
    clip_ids: Sequence[str],
    clip_splits: Sequence[str],
    text: np.ndarray,
    text_clip_ids: Sequence[str],
    text_splits: Sequence[str],
) -> dict[str, dict[str, float]]:
    """Per split: Table 1's statistics (that split's own C3 means) and the oracle's matched
    cosine (train text mean) of simulated ``audio`` (one row per clip) against ``text``."""
    clip_splits, text_splits = np.asarray(clip_splits), np.asarray(text_splits)
    text_clip_ids = np.asarray(text_clip_ids)
    statistics = {}
    for split in sorted(set(clip_splits.tolist())):
        clip_mask, text_mask = clip_splits == split, text_splits == split
        position = {c: i for i, c in enumerate(np.asarray(clip_ids)[clip_mask])}
        index = np.array([position[c] for c in text_clip_ids[text_mask]], dtype=np.int64)
        split_audio, split_text = audio[clip_mask], text[text_mask]
        statistics[split] = {
            **gap_statistics(split_audio, split_text, index),
            "oracle_matched": oracle_matched_cosine(simulator, split_audio, split_text, index),
        }
    return statistics


def mean_caption_embeddings(text: np.ndarray, pair_index: np.ndarray, n_clips: int) -> np.ndarray:
    """Per clip, the L2-normalised mean of its captions' embeddings."""
    sums = np.zeros((n_clips, text.shape[1]), dtype=np.float64)
    np.add.at(sums, pair_index, text)
    return l2_normalise(sums)


def simulator_statistics(
    simulator: GapSimulator,
    audio: np.ndarray,
    text: np.ndarray,
    pair_index: np.ndarray,
    targets: GapTargets,
    seeds: Sequence[int],
) -> dict[str, float]:
    """Every fitted statistic of simulated ``audio`` (recall averaged over ``seeds``)."""
    recall = sampled_recall(audio, text, pair_index, targets.recall_clips, seeds)
    return {
        **gap_statistics(audio, text, pair_index),
        **{key: float(v.mean()) for key, v in recall.items()},
        "oracle_matched": oracle_matched_cosine(simulator, audio, text, pair_index),
    }
