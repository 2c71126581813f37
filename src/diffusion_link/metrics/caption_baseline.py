"""What tells a decoder that listens from one that writes its prior: caption diversity and the
constant-caption baseline (the one training caption that scores best as every clip's caption).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

SCALE = 100.0
"""Every caption score is multiplied by this (x100, as papers report them)."""


def caption_diversity(tokenised: Sequence[str]) -> dict[str, float]:
    """``distinct_share`` (distinct captions / captions) and ``Vocab`` (distinct words).

    Both over PTB-tokenised captions (lower-case, no punctuation), so "A dog barks." and
    "a dog barks" are one caption. ``Vocab`` is aac-metrics' ``vocab.cands``: the number of
    distinct whitespace-separated tokens of all the captions.
    """
    if not tokenised:
        raise ValueError("no captions")
    words = {word for caption in tokenised for word in caption.split()}
    return {"distinct_share": len(set(tokenised)) / len(tokenised), "Vocab": float(len(words))}


def _ngrams(caption: str, n: int) -> set[tuple[str, ...]]:
    words = caption.split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def central_captions(tokenised: Sequence[str], count: int, max_n: int = 4) -> list[str]:
    """The ``count`` most central distinct captions of a corpus, most central first.

    Centrality of caption c: for n = 1..max_n (CIDEr-D's n-gram orders), the mean over c's
    distinct n-grams of their document frequency (the share of the corpus's captions that
    contain the n-gram; 0 when c has no n-gram of that order), averaged over n. Generic
    captions made of the corpus's common phrases ("a man is speaking") come first. Ties keep
    corpus order.
    """
    captions = list(dict.fromkeys(c for c in tokenised if c.strip()))
    frequency: Counter[tuple[str, ...]] = Counter()
    for caption in tokenised:
        for n in range(1, max_n + 1):
            frequency.update(_ngrams(caption, n))

    def centrality(caption: str) -> float:
        per_order = []
        for n in range(1, max_n + 1):
            grams = _ngrams(caption, n)
            per_order.append(sum(frequency[g] for g in grams) / len(grams) if grams else 0.0)
        return sum(per_order) / (max_n * len(tokenised))

    return sorted(captions, key=centrality, reverse=True)[:count]


def constant_cider_d(
    candidates: Sequence[str], references: Mapping[str, Sequence[str]], sigma: float = 6.0
) -> np.ndarray:
    """CIDEr-D (x100) of each tokenised candidate given as the caption of EVERY clip.

    Exactly pycocoevalcap's CIDEr-D (n = 1..4, idf from the references of these clips, clipped
    tf-idf, Gaussian length penalty of the same ``sigma``), with each reference's vector
    computed once instead of once per candidate, so hundreds of candidates take seconds.
    """
    from pycocoevalcap.cider.cider_scorer import precook

    n_max = 4
    cooked = [[precook(ref, n_max) for ref in refs] for refs in references.values()]
    document_frequency: Counter[tuple[str, ...]] = Counter()
    for refs in cooked:
        document_frequency.update({gram for ref in refs for gram in ref})
    log_clips = np.log(float(len(cooked)))

    def vector(counts: Mapping[tuple[str, ...], int]) -> tuple[list[dict], list[float], int]:
        vec: list[dict] = [{} for _ in range(n_max)]
        norm, length = [0.0] * n_max, 0
        for gram, term_frequency in counts.items():
            order = len(gram) - 1
            idf = log_clips - np.log(max(1.0, document_frequency[gram]))
            vec[order][gram] = float(term_frequency) * idf
            norm[order] += vec[order][gram] ** 2
            length += term_frequency if order == 1 else 0  # pycocoevalcap counts bigrams
        return vec, [np.sqrt(x) for x in norm], length

    ref_vectors = [[vector(ref) for ref in refs] for refs in cooked]
    scores = []
    for candidate in candidates:
        vec, norm, length = vector(precook(candidate, n_max))
        per_clip = []
        for refs in ref_vectors:
            total = np.zeros(n_max)
            for ref_vec, ref_norm, ref_length in refs:
                penalty = np.e ** (-(float(length - ref_length) ** 2) / (2 * sigma**2))
                for order in range(n_max):
                    value = 0.0
                    for gram, weight in vec[order].items():
                        ref_weight = ref_vec[order].get(gram, 0.0)
                        value += min(weight, ref_weight) * ref_weight
                    if norm[order] != 0 and ref_norm[order] != 0:
                        value /= norm[order] * ref_norm[order]
                    total[order] += value * penalty
            per_clip.append(np.mean(total) / len(refs) * 10.0)
        scores.append(SCALE * float(np.mean(np.array(per_clip))))
    return np.array(scores)
