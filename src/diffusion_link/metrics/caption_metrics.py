"""Audio-captioning metrics through pycocoevalcap 1.2 (no Kedro).

What is computed, as in audio-captioning papers (and the COCO caption evaluation):

- every candidate and reference caption is PTB-tokenised (Stanford PTBTokenizer, lower-cased,
  punctuation removed: pycocoevalcap's jar and punctuation list);
- each candidate is scored against **all** references of its clip;
- BLEU-4, METEOR 1.5, ROUGE-L, CIDEr-D (pycocoevalcap's ``Cider`` *is* CIDEr-D: Gaussian length
  penalty, clipped counts, x10), corpus level, multiplied by 100;
- SPICE and SPIDEr = (CIDEr-D + SPICE) / 2 wherever SPICE's Stanford CoreNLP 3.6.0 jars are in
  place. pycocoevalcap downloads them on first use, which is impossible offline; this module
  checks for the jars **before** constructing ``Spice`` (so no download is ever tried) and
  otherwise reports both metrics as unavailable, with the reason. Their score is then ``None``
  (never 0) and the reason is in the second return value (never silently left out).

Java is started once per call, however many variants (decoder configurations) are scored:

1. tokenisation: the candidates of every variant and the references go through ONE
   PTBTokenizer process (one input file, one line per caption, keys remembered in order);
2. METEOR: ONE ``meteor-1.5.jar -stdio`` process serves every variant. Each variant is one
   ``EVAL`` request on that process, so each variant's METEOR is the jar's own corpus-level
   aggregate over that variant's segments (concatenating the variants into one ``EVAL`` and
   averaging the segment scores afterwards would not reproduce the corpus score);
3. SPICE (when available): ONE ``spice-1.0.jar`` run over all variants, with the keys
   ``<variant index>/<clip id>``; SPICE's corpus score is the mean of the per-caption scores, so
   splitting the per-caption scores by variant gives each variant's exact score.

BLEU, ROUGE-L and CIDEr-D are pure Python. CIDEr-D's document frequencies come from the
references of the clips each variant is scored on (as in pycocoevalcap).

:func:`caption_report` adds, in the same Java runs, what tells a decoder that listens to its
input from one that writes its language model's prior: each variant's share of distinct captions
and its Vocab (aac-metrics' ``vocab.cands``: distinct words of its tokenised captions), and the
**constant-caption baseline**, the one caption that, given for every clip, scores the highest
CIDEr-D among candidates taken from the training captions (see :func:`central_captions`).

The Java runners live in :mod:`~diffusion_link.metrics.caption_java`, diversity and the baseline's
search in :mod:`~diffusion_link.metrics.caption_baseline`; their public names are re-exported here.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from diffusion_link.metrics.caption_baseline import (
    SCALE,
    caption_diversity,
    central_captions,
    constant_cider_d,
)
from diffusion_link.metrics.caption_java import (
    JavaNotFoundError,
    Meteor,
    java_executable,
    metric_jars,
    package_dir,
    ptb_tokenize,
    spice_scores,
    spice_unavailable_reason,
)

METRICS: tuple[str, ...] = ("METEOR", "CIDEr", "SPICE", "SPIDEr", "BLEU_4", "ROUGE_L")
"""The keys of every score dictionary (those of report.json's ``captioning`` entries)."""

DIVERSITY: tuple[str, ...] = ("distinct_share", "Vocab")
"""What :func:`caption_report` adds to each score dictionary (see :func:`caption_diversity`)."""

CONSTANT_CAPTION = "constant_caption"
"""The name of the constant-caption baseline among :func:`caption_report`'s results."""


def _check_inputs(
    variants: Mapping[str, Mapping[str, str]], references: Mapping[str, Sequence[str]]
) -> None:
    if not variants:
        raise ValueError("no candidate captions to score")
    for name, candidates in variants.items():
        if not candidates:
            raise ValueError(f"variant {name!r} has no candidate captions")
        missing = [clip for clip in candidates if not references.get(clip)]
        if missing:
            raise ValueError(
                f"variant {name!r}: {len(missing)} clips have no reference captions "
                f"(e.g. {missing[:3]})"
            )


def _tokenise_all(
    variants: Mapping[str, Mapping[str, str]],
    references: Mapping[str, Sequence[str]],
    extra: Sequence[str] = (),
) -> tuple[dict[str, list[str]], dict[tuple[str, str], str], list[str]]:
    """ONE PTBTokenizer run: (clip -> tokenised references, (variant, clip) -> tokenised
    candidate, tokenised ``extra`` sentences), references only of the clips some variant has."""
    clips = sorted({clip for candidates in variants.values() for clip in candidates})
    keys: list[tuple[str, ...]] = [("ref", clip) for clip in clips for _ in references[clip]]
    sentences = [caption for clip in clips for caption in references[clip]]
    for name, candidates in variants.items():
        keys += [("cand", name, clip) for clip in candidates]
        sentences += [str(caption) for caption in candidates.values()]
    keys += [("extra",)] * len(extra)
    sentences += [str(sentence) for sentence in extra]
    tokenised_refs: dict[str, list[str]] = {}
    tokenised_cands: dict[tuple[str, str], str] = {}
    tokenised_extra: list[str] = []
    for key, tokens in zip(keys, ptb_tokenize(sentences), strict=True):
        if key[0] == "ref":
            tokenised_refs.setdefault(key[1], []).append(tokens)
        elif key[0] == "cand":
            tokenised_cands[(key[1], key[2])] = tokens
        else:
            tokenised_extra.append(tokens)
    return tokenised_refs, tokenised_cands, tokenised_extra


Tokenised = dict[str, tuple[dict[str, list[str]], dict[str, list[str]]]]
"""variant -> (gts, res) as pycocoevalcap's scorers take them: clip -> tokenised captions."""


def _per_variant(
    variants: Mapping[str, Mapping[str, str]],
    tokenised_refs: dict[str, list[str]],
    tokenised_cands: dict[tuple[str, str], str],
) -> Tokenised:
    return {
        name: (
            {clip: tokenised_refs[clip] for clip in candidates},
            {clip: [tokenised_cands[(name, clip)]] for clip in candidates},
        )
        for name, candidates in variants.items()
    }


class Scored(NamedTuple):
    """What one scoring call found: corpus scores, unavailable metrics, per-clip CIDEr-D, jars."""

    scores: dict[str, dict[str, float | None]]  # variant -> {metric: score x100 or None}
    unavailable: dict[str, str]  # metric -> why it is unavailable
    cider_d: dict[str, dict[str, float]]  # variant -> {clip id: CIDEr-D x100}
    jars: list[Path]  # every jar that ran (caption_java.metric_jars)


def _score_tokenised(per_variant: Tokenised, spice_dir: Path) -> Scored:
    """Every metric of every variant: one METEOR process, at most one SPICE run.

    Each variant's CIDEr-D is the mean of its clips' (pycocoevalcap's per-item scores, which
    :attr:`Scored.cider_d` keeps)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    spice_reason = spice_unavailable_reason(spice_dir)
    scores: dict[str, dict[str, float | None]] = {}
    cider_d: dict[str, dict[str, float]] = {}
    # one METEOR process, one EVAL request per variant
    with Meteor() as meteor:
        for name, (gts, res) in per_variant.items():
            with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its length ratios
                bleu, _ = Bleu(4).compute_score(gts, res)
            rouge, _ = Rouge().compute_score(gts, res)
            cider, per_clip = Cider().compute_score(gts, res)
            cider_d[name] = {clip: SCALE * float(v) for clip, v in zip(gts, per_clip, strict=True)}
            scores[name] = {
                "METEOR": SCALE * meteor.score(gts, res),
                "CIDEr": SCALE * float(cider),
                "SPICE": None,
                "SPIDEr": None,
                "BLEU_4": SCALE * float(bleu[3]),
                "ROUGE_L": SCALE * float(rouge),
            }

    unavailable: dict[str, str] = {}
    if spice_reason is None:
        # one SPICE run over every variant, split back by the variant prefix of each key
        names = list(per_variant)
        gts_all, res_all = {}, {}
        for index, (gts, res) in enumerate(per_variant.values()):
            gts_all.update({f"{index}/{clip}": refs for clip, refs in gts.items()})
            res_all.update({f"{index}/{clip}": cand for clip, cand in res.items()})
        per_caption = spice_scores(gts_all, res_all, spice_dir)
        for index, name in enumerate(names):
            values = [v for k, v in per_caption.items() if k.split("/", 1)[0] == str(index)]
            spice = SCALE * sum(values) / len(values)
            scores[name]["SPICE"] = spice
            scores[name]["SPIDEr"] = (scores[name]["CIDEr"] + spice) / 2
    else:
        unavailable["SPICE"] = spice_reason
        unavailable["SPIDEr"] = f"needs SPICE: {spice_reason}"
    jars = metric_jars(spice_dir if spice_reason is None else None)
    return Scored(scores, unavailable, cider_d, jars)


def caption_scores_many(
    variants: Mapping[str, Mapping[str, str]],
    references: Mapping[str, Sequence[str]],
    spice_dir: Path | None = None,
) -> tuple[dict[str, dict[str, float | None]], dict[str, str]]:
    """Score several candidate sets against the same references, starting Java once per tool.

    Args:
        variants: variant name -> {clip id: candidate caption}.
        references: clip id -> all reference captions of that clip.
        spice_dir: pycocoevalcap's ``spice`` folder (default: the installed one).

    Returns:
        ``({variant: {metric: score x100 or None}}, {metric: reason it is unavailable})``, each
        score dictionary keyed by :data:`METRICS`.
    """
    _check_inputs(variants, references)
    java_executable()
    tokenised_refs, tokenised_cands, _ = _tokenise_all(variants, references)
    per_variant = _per_variant(variants, tokenised_refs, tokenised_cands)
    scored = _score_tokenised(per_variant, spice_dir or package_dir() / "spice")
    return scored.scores, scored.unavailable


def caption_report(
    variants: Mapping[str, Mapping[str, str]],
    references: Mapping[str, Sequence[str]],
    training_captions: Sequence[str] = (),
    constant_candidates: int = 200,
    spice_dir: Path | None = None,
) -> dict[str, Any]:
    """Scores and diversity of every variant, and the constant-caption baseline.

    Args:
        variants: variant name -> {clip id: candidate caption}.
        references: clip id -> all reference captions of that clip.
        training_captions: where the baseline's candidates come from: the
            ``constant_candidates`` most central of them (:func:`central_captions`, on their
            PTB tokens). Each is scored by CIDEr-D as the caption of every clip any variant
            captions (:func:`constant_cider_d`); the best is then scored by every metric like a
            variant. Empty: no baseline.
        constant_candidates: how many candidates are searched.
        spice_dir: pycocoevalcap's ``spice`` folder (default: the installed one).

    Returns:
        ``{"scores": {variant: {metric: score, distinct_share, Vocab}}, "unavailable":
        {metric: reason}, "constant_caption": {"caption", "tokenised", "candidates", metric:
        score, ...} or None, "cider_d": {variant: {clip id: CIDEr-D x100}}, "jars": [every jar
        that ran]}``. One PTBTokenizer run, one METEOR process, at most one SPICE run.
    """
    _check_inputs(variants, references)
    if CONSTANT_CAPTION in variants:
        raise ValueError(f"{CONSTANT_CAPTION!r} is reserved for the baseline, not a variant name")
    java_executable()
    refs, cands, pool = _tokenise_all(variants, references, training_captions)
    per_variant = _per_variant(variants, refs, cands)
    baseline = None
    if training_captions:
        candidates = central_captions(pool, constant_candidates)
        clips = sorted({clip for candidates in variants.values() for clip in candidates})
        cider = constant_cider_d(candidates, {clip: refs[clip] for clip in clips})
        best = candidates[int(np.argmax(cider))]
        raw = training_captions[pool.index(best)]
        per_variant[CONSTANT_CAPTION] = ({c: refs[c] for c in clips}, {c: [best] for c in clips})
        baseline = {"caption": str(raw).strip(), "tokenised": best, "candidates": len(candidates)}
    scored = _score_tokenised(per_variant, spice_dir or package_dir() / "spice")
    scores = scored.scores
    for name, (_, res) in per_variant.items():
        scores[name].update(caption_diversity([captions[0] for captions in res.values()]))
    if baseline is not None:
        baseline.update(scores.pop(CONSTANT_CAPTION))
        scored.cider_d.pop(CONSTANT_CAPTION)
    return {
        "scores": scores,
        "unavailable": scored.unavailable,
        "constant_caption": baseline,
        "cider_d": scored.cider_d,
        "jars": scored.jars,
    }


def caption_scores(
    candidates: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    spice_dir: Path | None = None,
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Score one candidate set: ``({metric: score x100 or None}, {metric: reason})``.

    ``candidates``: clip id -> candidate caption; ``references``: clip id -> all its reference
    captions. Metric keys are :data:`METRICS`. To score several variants, use
    :func:`caption_scores_many` (Java is then started once for all of them).
    """
    scores, unavailable = caption_scores_many({"candidates": candidates}, references, spice_dir)
    return scores["candidates"], unavailable


__all__ = [
    "CONSTANT_CAPTION",
    "DIVERSITY",
    "METRICS",
    "JavaNotFoundError",
    "caption_diversity",
    "caption_report",
    "caption_scores",
    "caption_scores_many",
    "central_captions",
    "constant_cider_d",
    "ptb_tokenize",
    "spice_unavailable_reason",
]
