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
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

METRICS: tuple[str, ...] = ("METEOR", "CIDEr", "SPICE", "SPIDEr", "BLEU_4", "ROUGE_L")
"""The keys of every score dictionary (those of report.json's ``captioning`` entries)."""

DIVERSITY: tuple[str, ...] = ("distinct_share", "Vocab")
"""What :func:`caption_report` adds to each score dictionary (see :func:`caption_diversity`)."""

CONSTANT_CAPTION = "constant_caption"
"""The name of the constant-caption baseline among :func:`caption_report`'s results."""

SPICE_CORENLP_JARS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")
SCALE = 100.0


class JavaNotFoundError(RuntimeError):
    """pycocoevalcap's tokeniser, METEOR and SPICE need a Java runtime on PATH."""


def _package_dir() -> Path:
    import pycocoevalcap

    # pycocoevalcap is a namespace-like package without __file__ in some installs
    return Path(next(iter(pycocoevalcap.__path__)))


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise JavaNotFoundError(
            "caption metrics need Java (pycocoevalcap's PTB tokenizer, METEOR and SPICE are Java "
            "programs) but no `java` is on PATH: install a Java runtime, e.g. "
            "`apt-get install -y default-jre-headless` (Java 17 works)"
        )
    return java


def spice_unavailable_reason(spice_dir: Path | None = None) -> str | None:
    """Why SPICE cannot run here, or ``None`` when its jars are all in place.

    Only looks at files: never calls pycocoevalcap's ``get_stanford_models`` (which downloads).
    """
    spice_dir = spice_dir or _package_dir() / "spice"
    if not (spice_dir / "spice-1.0.jar").is_file():
        return f"SPICE's jar {spice_dir / 'spice-1.0.jar'} is missing"
    missing = [name for name in SPICE_CORENLP_JARS if not (spice_dir / "lib" / name).is_file()]
    if missing:
        return (
            f"Stanford CoreNLP 3.6.0 is not installed for SPICE: {', '.join(missing)} not in "
            f"{spice_dir / 'lib'} (pycocoevalcap downloads them from nlp.stanford.edu on first "
            "use, which this machine cannot reach; copy them there from "
            "stanford-corenlp-full-2015-12-09.zip to enable SPICE and SPIDEr)"
        )
    return None


def ptb_tokenize(sentences: Sequence[str]) -> list[str]:
    """PTB-tokenise ``sentences`` in ONE Java process, exactly as pycocoevalcap's PTBTokenizer.

    pycocoevalcap's own wrapper writes its temporary file into site-packages and does not check
    the tokeniser's output; this one uses a private temporary file and checks the line count.
    """
    from pycocoevalcap.tokenizer.ptbtokenizer import PUNCTUATIONS, STANFORD_CORENLP_3_4_1_JAR

    jar = _package_dir() / "tokenizer" / STANFORD_CORENLP_3_4_1_JAR
    lines = [sentence.replace("\n", " ").replace("\r", " ") for sentence in sentences]
    with tempfile.TemporaryDirectory(prefix="ptb-") as folder:
        path = Path(folder) / "sentences.txt"
        path.write_text("\n".join(lines), encoding="utf-8")
        result = subprocess.run(
            [
                _java(),
                "-cp",
                str(jar),
                "edu.stanford.nlp.process.PTBTokenizer",
                "-preserveLines",
                "-lowerCase",
                str(path),
            ],
            capture_output=True,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"PTBTokenizer failed: {result.stderr.decode(errors='replace')}")
    tokenised = result.stdout.decode("utf-8").split("\n")[: len(lines)]
    if len(tokenised) != len(lines):
        raise RuntimeError(f"PTBTokenizer returned {len(tokenised)} lines for {len(lines)}")
    return [
        " ".join(w for w in line.rstrip().split(" ") if w not in PUNCTUATIONS) for line in tokenised
    ]


class _Meteor:
    """One running ``meteor-1.5.jar -stdio`` (pycocoevalcap's wrapper), closed on exit."""

    def __enter__(self):
        from pycocoevalcap.meteor.meteor import Meteor

        self.meteor = Meteor()
        return self

    def score(self, gts: dict[str, list[str]], res: dict[str, list[str]]) -> float:
        try:
            score, _ = self.meteor.compute_score(gts, res)
        except ValueError as error:  # the jar died: its stdout ended early
            stderr = self.meteor.meteor_p.stderr.read1().decode(errors="replace")
            raise RuntimeError(f"METEOR (meteor-1.5.jar) failed: {stderr or error}") from error
        return float(score)

    def __exit__(self, *exc: Any) -> None:
        process = self.meteor.meteor_p
        if process.stdin:
            process.stdin.close()
        process.kill()
        process.wait()


def _spice_scores(
    gts: dict[str, list[str]], res: dict[str, list[str]], spice_dir: Path
) -> dict[str, float]:
    """Per-caption SPICE F-scores of ``res`` against ``gts`` in ONE spice-1.0.jar run."""
    with tempfile.TemporaryDirectory(prefix="spice-") as folder:
        in_file, out_file = Path(folder) / "in.json", Path(folder) / "out.json"
        in_file.write_text(
            json.dumps([{"image_id": k, "test": res[k][0], "refs": gts[k]} for k in res])
        )
        subprocess.run(
            [
                _java(),
                "-jar",
                "-Xmx8G",
                str(spice_dir / "spice-1.0.jar"),
                str(in_file),
                "-cache",
                str(Path(folder) / "cache"),
                "-out",
                str(out_file),
                "-subset",
                "-silent",
            ],
            cwd=spice_dir,
            check=True,
        )
        results = json.loads(out_file.read_text())
    return {item["image_id"]: float(item["scores"]["All"]["f"]) for item in results}


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


def _score_tokenised(
    per_variant: Tokenised, spice_dir: Path
) -> tuple[dict[str, dict[str, float | None]], dict[str, str]]:
    """Every metric of every variant: one METEOR process, at most one SPICE run."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    spice_reason = spice_unavailable_reason(spice_dir)
    scores: dict[str, dict[str, float | None]] = {}
    # one METEOR process, one EVAL request per variant
    with _Meteor() as meteor:
        for name, (gts, res) in per_variant.items():
            with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its length ratios
                bleu, _ = Bleu(4).compute_score(gts, res)
            rouge, _ = Rouge().compute_score(gts, res)
            cider, _ = Cider().compute_score(gts, res)
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
        per_caption = _spice_scores(gts_all, res_all, spice_dir)
        for index, name in enumerate(names):
            values = [v for k, v in per_caption.items() if k.split("/", 1)[0] == str(index)]
            spice = SCALE * sum(values) / len(values)
            scores[name]["SPICE"] = spice
            scores[name]["SPIDEr"] = (scores[name]["CIDEr"] + spice) / 2
    else:
        unavailable["SPICE"] = spice_reason
        unavailable["SPIDEr"] = f"needs SPICE: {spice_reason}"
    return scores, unavailable


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
    _java()
    tokenised_refs, tokenised_cands, _ = _tokenise_all(variants, references)
    per_variant = _per_variant(variants, tokenised_refs, tokenised_cands)
    return _score_tokenised(per_variant, spice_dir or _package_dir() / "spice")


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
        score, ...} or None}``. One PTBTokenizer run, one METEOR process, at most one SPICE run.
    """
    _check_inputs(variants, references)
    if CONSTANT_CAPTION in variants:
        raise ValueError(f"{CONSTANT_CAPTION!r} is reserved for the baseline, not a variant name")
    _java()
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
    scores, unavailable = _score_tokenised(per_variant, spice_dir or _package_dir() / "spice")
    for name, (_, res) in per_variant.items():
        scores[name].update(caption_diversity([captions[0] for captions in res.values()]))
    if baseline is not None:
        baseline.update(scores.pop(CONSTANT_CAPTION))
    return {"scores": scores, "unavailable": unavailable, "constant_caption": baseline}


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
