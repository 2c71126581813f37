"""Modality-gap statistics over paired embeddings (the paper's Table 1 quantities and the
measures of the modality-gap literature: centroid distance, relative modality gap, linear
separability, cross-modal retrieval).

Pairs are given as ``pair_index``: for each text row, the row of its clip in the audio matrix.
Means over all non-matched pairs are computed from sums, so they are exact and O(n d).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import minimize


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (rows of zeros stay zero)."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def matched_cosine(audio: np.ndarray, text: np.ndarray, pair_index: np.ndarray) -> float:
    """Mean cosine of each text row with its own clip's audio row."""
    return float(np.mean(np.sum(l2_normalise(audio)[pair_index] * l2_normalise(text), axis=1)))


def cross_group_cosine(
    x: np.ndarray, y: np.ndarray, x_group: np.ndarray, y_group: np.ndarray
) -> float:
    """Mean cosine over every (x row, y row) pair whose groups differ.

    With ``x_group = arange(len(x))`` and ``y_group = pair_index`` these are the non-matched
    pairs; with clip ids as groups on both sides, pairs of two captions of the same clip count
    as matched too.
    """
    a, b = l2_normalise(x).astype(np.float64), l2_normalise(y).astype(np.float64)
    groups, codes = np.unique(np.concatenate([x_group, y_group]), return_inverse=True)
    x_codes, y_codes = codes[: len(a)], codes[len(a) :]
    same = float(
        np.sum(_group_sums(a, x_codes, len(groups)) * _group_sums(b, y_codes, len(groups)))
    )
    x_counts = np.bincount(x_codes, minlength=len(groups))
    count = len(a) * len(b) - int(x_counts @ np.bincount(y_codes, minlength=len(groups)))
    if count == 0:
        raise ValueError("no pairs from different groups: cannot average non-matched cosine")
    return (float(a.sum(axis=0) @ b.sum(axis=0)) - same) / count


def _group_sums(x: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Row sums of ``x`` per group code: (n_groups, dim)."""
    members = sparse.csr_matrix((np.ones(len(x)), (codes, np.arange(len(x)))), (n_groups, len(x)))
    return members @ x


def nonmatched_cosine(audio: np.ndarray, text: np.ndarray, pair_index: np.ndarray) -> float:
    """Mean cosine over every (audio row, text row) pair that is not a matched pair."""
    return cross_group_cosine(audio, text, np.arange(len(audio)), np.asarray(pair_index))


def intra_modal_cosine(x: np.ndarray) -> float:
    """Mean cosine over every pair of two different rows of one modality (off-diagonal)."""
    return cross_group_cosine(x, x, np.arange(len(x)), np.arange(len(x)))


def c3_collapse(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """C3's collapse: L2-normalise, subtract the modality's (training) mean, L2-normalise."""
    return l2_normalise(l2_normalise(x) - mean)


def uncollapse(u: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """The inverse of :func:`c3_collapse` (and of Diffusion-Bridge's normalisation up to its
    scale): the unit ``x`` with ``c3_collapse(x, mean)`` in the direction of ``u``.

    ``x = mean + c u`` with the positive ``c`` that puts ``x`` on the unit sphere; it exists
    because a mean of unit vectors has norm below 1.
    """
    u, mean = l2_normalise(u), np.asarray(mean, dtype=np.float64)
    squared = float(mean @ mean)
    if squared >= 1.0:
        raise ValueError("the modality mean must have norm below 1 to be inverted")
    projection = u @ mean
    c = -projection + np.sqrt(projection**2 + 1.0 - squared)
    return mean + c[:, None] * u


def modality_mean(x: np.ndarray) -> np.ndarray:
    """Mean of the L2-normalised rows: the modality's centroid."""
    return l2_normalise(x).mean(axis=0)


def centroid_distance(audio: np.ndarray, text: np.ndarray) -> float:
    """Liang et al.'s gap: the norm of mean(normalised audio) - mean(normalised text)."""
    return float(np.linalg.norm(modality_mean(audio) - modality_mean(text)))


def relative_modality_gap(audio: np.ndarray, text: np.ndarray, pair_index: np.ndarray) -> float:
    """Schrodi et al.'s relative modality gap, with cosine dissimilarities d = 1 - (cos + 1)/2:
    d_match / (d_match + (d_audio + d_text) / 2), d_m over off-diagonal pairs within modality m.
    0 when matched pairs coincide; about 0.5 when they are no closer than random pairs."""

    def dissimilarity(cosine: float) -> float:
        return 1.0 - (cosine + 1.0) / 2.0

    d_match = dissimilarity(matched_cosine(audio, text, pair_index))
    d_intra = (
        dissimilarity(intra_modal_cosine(audio)) + dissimilarity(intra_modal_cosine(text))
    ) / 2.0
    return d_match / (d_match + d_intra)


def linear_separability(
    audio: np.ndarray,
    text: np.ndarray,
    pair_index: np.ndarray,
    test_fraction: float = 0.2,
    seed: int = 0,
    l2_penalty: float = 1.0,
) -> float:
    """Test accuracy of a logistic regression predicting the modality of a unit embedding.

    Each clip with a caption contributes its audio row and one of its captions (seeded), so the
    classes are balanced and 0.5 means no gap. The split is by clip, seeded
    (1 - test_fraction) / test_fraction: a clip's two rows are never on both sides, or the
    classifier would score below chance by memorising near-duplicate pairs with opposite
    labels. L-BFGS on the mean log-loss plus ``l2_penalty / (2 n)`` times the squared weights
    (scikit-learn's ``C = 1 / l2_penalty``), bias unpenalised.
    """
    rng = np.random.default_rng(seed)
    pair_index = np.asarray(pair_index)
    one_caption = rng.permutation(len(pair_index))
    clips, first = np.unique(pair_index[one_caption], return_index=True)
    captions = one_caption[first]  # one caption per clip, in the order of ``clips``
    if len(clips) < 5:
        raise ValueError(f"linear separability needs at least 5 paired clips, got {len(clips)}")
    order = rng.permutation(len(clips))
    n_test = min(len(clips) - 1, max(1, round(test_fraction * len(clips))))
    test, train = order[:n_test], order[n_test:]

    def rows(subset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([audio[clips[subset]], text[captions[subset]]])
        y = np.repeat([0.0, 1.0], len(subset))
        return l2_normalise(x).astype(np.float64), y

    weights = _fit_logistic(*rows(train), l2_penalty)
    x_test, y_test = rows(test)
    predicted = (x_test @ weights[:-1] + weights[-1]) > 0
    return float(np.mean(predicted == y_test.astype(bool)))


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2_penalty: float) -> np.ndarray:
    """Weights (then bias) of an L2-penalised logistic regression."""
    n = len(x)
    sign = 2.0 * y - 1.0

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        margin = sign * (x @ w[:-1] + w[-1])
        loss = np.logaddexp(0.0, -margin).mean() + l2_penalty / (2 * n) * (w[:-1] @ w[:-1])
        slope = -sign * np.exp(-np.logaddexp(0.0, margin)) / n  # d loss / d logit
        gradient = np.append(x.T @ slope + l2_penalty / n * w[:-1], slope.sum())
        return float(loss), gradient

    result = minimize(
        loss_and_gradient,
        np.zeros(x.shape[1] + 1),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 1000},
    )
    return result.x


def retrieval_recall(
    audio: np.ndarray, text: np.ndarray, pair_index: np.ndarray, ks: Sequence[int] = (1, 5, 10)
) -> dict[str, dict[int, float]]:
    """Cross-modal retrieval recall@k by cosine, with several captions per clip.

    ``audio_to_text``: each audio row with at least one caption queries all text rows; a hit
    when any of its clip's captions ranks in the top k. ``text_to_audio``: each text row
    queries all audio rows; a hit when its clip ranks in the top k. Ties count in the query's
    favour (only strictly more similar rows push the match down).
    """
    pair_index = np.asarray(pair_index)
    similarity = l2_normalise(audio) @ l2_normalise(text).T
    own = similarity[pair_index, np.arange(len(text))]
    best_own = np.full(len(audio), -np.inf)
    np.maximum.at(best_own, pair_index, own)
    queried = np.isfinite(best_own)
    audio_rank = (similarity[queried] > best_own[queried, None]).sum(axis=1)
    text_rank = (similarity > own[None, :]).sum(axis=0)
    return {
        "audio_to_text": {k: float(np.mean(audio_rank < k)) for k in ks},
        "text_to_audio": {k: float(np.mean(text_rank < k)) for k in ks},
    }
