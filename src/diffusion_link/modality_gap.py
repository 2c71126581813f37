"""Modality-gap statistics over paired embeddings (the paper's Table 1 quantities).

Pairs are given as ``pair_index``: for each text row, the row of its clip in the audio matrix.
Means over all non-matched pairs are computed from sums, so they are exact and O(n d).
"""

from __future__ import annotations

import numpy as np


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (rows of zeros stay zero)."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def matched_cosine(audio: np.ndarray, text: np.ndarray, pair_index: np.ndarray) -> float:
    """Mean cosine of each text row with its own clip's audio row."""
    return float(np.mean(np.sum(l2_normalise(audio)[pair_index] * l2_normalise(text), axis=1)))


def nonmatched_cosine(audio: np.ndarray, text: np.ndarray, pair_index: np.ndarray) -> float:
    """Mean cosine over every (audio row, text row) pair that is not a matched pair."""
    a, t = l2_normalise(audio), l2_normalise(text)
    total = float(a.sum(axis=0) @ t.sum(axis=0))
    matched = float(np.sum(a[pair_index] * t))
    count = len(a) * len(t) - len(t)
    return (total - matched) / count


def c3_collapse(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """C3's collapse: L2-normalise, subtract the modality's (training) mean, L2-normalise."""
    return l2_normalise(l2_normalise(x) - mean)


def modality_mean(x: np.ndarray) -> np.ndarray:
    """Mean of the L2-normalised rows: the modality's centroid."""
    return l2_normalise(x).mean(axis=0)
