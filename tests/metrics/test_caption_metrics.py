"""Captioning metrics (pycocoevalcap 1.2) on real captions: aac-metrics' example_1 subset."""

from __future__ import annotations

import contextlib
import csv
import io
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from diffusion_link.metrics import caption_java
from diffusion_link.metrics.caption_metrics import (
    DIVERSITY,
    METRICS,
    JavaNotFoundError,
    caption_diversity,
    caption_report,
    caption_scores,
    caption_scores_many,
    central_captions,
    constant_cider_d,
    ptb_tokenize,
    spice_unavailable_reason,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "aac_metrics_example_1_head40.csv"
REPORT_KEYS = {"METEOR", "CIDEr", "SPICE", "SPIDEr", "BLEU_4", "ROUGE_L"}

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="no java on PATH")


@pytest.fixture(scope="module")
def example():
    """(candidates, references) of 40 real clips: clip id -> caption / five captions."""
    with open(DATA, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40
    references = {
        f"clip{i}": [row[f"caption_{j}"] for j in range(1, 6)] for i, row in enumerate(rows)
    }
    candidates = {f"clip{i}": row["caption_predicted"] for i, row in enumerate(rows)}
    return candidates, references


@pytest.fixture(scope="module")
def scored(example):
    candidates, references = example
    identical = {clip: refs[0] for clip, refs in references.items()}
    shuffled_values = list(candidates.values())
    random.Random(0).shuffle(shuffled_values)
    nonsense = {clip: "purple algebra negotiates violins quietly" for clip in references}
    variants = {
        "system": candidates,
        "identical": identical,
        "shuffled": dict(zip(candidates, shuffled_values, strict=True)),
        "nonsense": nonsense,
    }
    return caption_scores_many(variants, references)


def test_keys_are_the_report_schema(scored):
    scores, unavailable = scored
    assert set(METRICS) == REPORT_KEYS
    for values in scores.values():
        assert set(values) == REPORT_KEYS


def test_identical_captions_score_high_and_nonsense_low(scored):
    scores, _ = scored
    identical, system, shuffled, nonsense = (
        scores[k] for k in ("identical", "system", "shuffled", "nonsense")
    )
    assert identical["BLEU_4"] > 99 and identical["METEOR"] > 99 and identical["ROUGE_L"] > 99
    assert identical["CIDEr"] > 200
    for metric in ("BLEU_4", "METEOR", "ROUGE_L", "CIDEr"):
        assert identical[metric] > system[metric] > shuffled[metric] > nonsense[metric] >= 0
        assert nonsense[metric] < 5
    # a real system on real Clotho-style captions: the usual range of published numbers
    assert 10 < system["METEOR"] < 30 and 20 < system["CIDEr"] < 80


@pytest.mark.skipif(spice_unavailable_reason() is None, reason="CoreNLP installed: SPICE runs")
def test_spice_and_spider_are_unavailable_with_a_reason_not_zero(scored):
    scores, unavailable = scored
    assert set(unavailable) == {"SPICE", "SPIDEr"}
    assert "Stanford CoreNLP 3.6.0" in unavailable["SPICE"]
    assert "stanford-corenlp-3.6.0-models.jar" in unavailable["SPICE"]
    assert "needs SPICE" in unavailable["SPIDEr"]
    for values in scores.values():
        assert values["SPICE"] is None and values["SPIDEr"] is None
    # detection looks only at files: nothing was downloaded into pycocoevalcap's folder
    assert spice_unavailable_reason() == unavailable["SPICE"]


def test_same_numbers_as_pycocoevalcaps_own_pipeline(example, scored):
    """The one-Java-per-run batching changes nothing: compare with pycocoevalcap run alone."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    candidates, references = example
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({k: [{"caption": c} for c in v] for k, v in references.items()})
    res = tokenizer.tokenize({k: [{"caption": v}] for k, v in candidates.items()})
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res)
    meteor = Meteor()
    expected = {
        "BLEU_4": bleu[3],
        "METEOR": meteor.compute_score(gts, res)[0],
        "ROUGE_L": Rouge().compute_score(gts, res)[0],
        "CIDEr": Cider().compute_score(gts, res)[0],
    }
    del meteor
    ours = scored[0]["system"]
    for metric, value in expected.items():
        assert ours[metric] == pytest.approx(100 * value, abs=1e-9), metric


def test_one_variant_api_matches_the_batched_one(example, scored):
    candidates, references = example
    subset = dict(list(candidates.items())[:5])
    scores, unavailable = caption_scores(subset, references)
    assert set(scores) == REPORT_KEYS and set(unavailable) <= {"SPICE", "SPIDEr"}
    assert scores["BLEU_4"] > 0 and scores["CIDEr"] > 0


def test_java_is_started_once_for_all_variants(example, monkeypatch):
    candidates, references = example
    started = []
    real_popen = subprocess.Popen

    def popen(cmd, *args, **kwargs):  # subprocess.run and pycocoevalcap's Meteor both use it
        started.append(cmd)
        return real_popen(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    few = dict(list(candidates.items())[:4])
    caption_scores_many({"a": few, "b": few, "c": few}, references)
    tools = [
        next(part for part in cmd if part.endswith(".jar") or "PTB" in part) for cmd in started
    ]
    assert len(started) == 2, tools  # one tokeniser, one METEOR (SPICE unavailable here)


def test_spice_detection_needs_both_corenlp_jars(tmp_path):
    (tmp_path / "lib").mkdir()
    assert "spice-1.0.jar" in spice_unavailable_reason(tmp_path)
    (tmp_path / "spice-1.0.jar").touch()
    assert "stanford-corenlp-3.6.0.jar" in spice_unavailable_reason(tmp_path)
    (tmp_path / "lib" / "stanford-corenlp-3.6.0.jar").touch()
    reason = spice_unavailable_reason(tmp_path)
    assert "models.jar" in reason and "stanford-corenlp-3.6.0.jar," not in reason
    (tmp_path / "lib" / "stanford-corenlp-3.6.0-models.jar").touch()
    assert spice_unavailable_reason(tmp_path) is None


def test_missing_java_is_a_clear_error(example, monkeypatch):
    candidates, references = example
    monkeypatch.setattr(caption_java.shutil, "which", lambda name: None)
    with pytest.raises(JavaNotFoundError, match="no `java` is on PATH"):
        caption_scores(candidates, references)


def test_a_clip_without_references_is_a_clear_error(example):
    candidates, references = example
    with pytest.raises(ValueError, match="1 clips have no reference captions"):
        caption_scores({**candidates, "unknown": "a dog barks"}, references)


def test_distinct_share_and_vocab_on_a_tiny_example():
    captions = ["a dog barks", "a dog barks", "rain falls on a roof", "a dog barks"]
    assert caption_diversity(captions) == {"distinct_share": 0.5, "Vocab": 7.0}
    assert caption_diversity(["a dog barks"] * 4)["distinct_share"] == 0.25


def test_central_captions_are_made_of_the_corpus_common_ngrams():
    corpus = [
        "a dog barks",
        "a dog barks loudly",
        "a man speaks and a dog barks",
        "rain falls on a roof",
        "a dog barks",
        "thunder rumbles far away",
    ]
    ranked = central_captions(corpus, 10)
    assert ranked[0] == "a dog barks" and len(ranked) == 5  # distinct captions only
    assert ranked[-1] == "thunder rumbles far away"  # no n-gram shared with another caption
    assert central_captions(corpus, 2) == ranked[:2]


def test_constant_cider_d_is_pycocoevalcaps_cider_d(example):
    from pycocoevalcap.cider.cider import Cider

    _, references = example
    clips = list(references)
    tokens = ptb_tokenize([c for clip in clips for c in references[clip]] + ["a man speaks"])
    refs, at = {}, 0
    for clip in clips:
        refs[clip], at = tokens[at : at + len(references[clip])], at + len(references[clip])
    candidates = [tokens[-1], refs["clip0"][0], refs["clip7"][2], "purple algebra"]
    ours = constant_cider_d(candidates, refs)
    for candidate, value in zip(candidates, ours, strict=True):
        expected, _ = Cider().compute_score(refs, {clip: [candidate] for clip in clips})
        assert value == pytest.approx(100 * expected, rel=1e-12, abs=1e-12), candidate
    assert ours[-1] == 0.0


def test_constant_caption_baseline_picks_the_obvious_winner():
    """Three clips: two about a barking dog, one about rain. Among the training captions,
    'A dog barks.' describes two clips and wins; 'a cat meows' describes none."""
    references = {
        "c1": ["a dog barks loudly", "a dog is barking"],
        "c2": ["a dog barks at a man", "a large dog barks"],
        "c3": ["rain falls on a roof", "heavy rain falls"],
    }
    training = ["A dog barks.", "rain falls", "a cat meows", "a cat meows", "a dog barks"]
    variants = {"prior": {"c1": "a cat meows", "c2": "a cat meows", "c3": "a cat meows"}}
    report = caption_report(variants, references, training, constant_candidates=10)
    constant = report["constant_caption"]
    assert constant["caption"] == "A dog barks." and constant["tokenised"] == "a dog barks"
    assert constant["candidates"] == 3  # distinct after tokenisation
    searched = constant_cider_d(
        ["a dog barks", "rain falls", "a cat meows"],
        {k: ptb_tokenize(v) for k, v in references.items()},
    )
    assert searched[0] > searched[1] > searched[2] == 0.0
    assert constant["CIDEr"] == pytest.approx(searched[0], rel=1e-12)  # the full scorer agrees
    assert constant["distinct_share"] == pytest.approx(1 / 3) and constant["Vocab"] == 3
    prior = report["scores"]["prior"]
    assert set(prior) == set(METRICS) | set(DIVERSITY)
    assert prior["distinct_share"] == pytest.approx(1 / 3) and prior["CIDEr"] == 0.0
    assert caption_report(variants, references)["constant_caption"] is None
    assert set(report["cider_d"]) == {"prior"}  # the baseline has no per-clip results
    assert report["cider_d"]["prior"] == {"c1": 0.0, "c2": 0.0, "c3": 0.0}


def test_per_clip_cider_d_averages_to_the_variants_cider_d(example):
    """caption_report keeps pycocoevalcap's per-item CIDEr-D: one per clip, x100, their mean
    is the variant's corpus CIDEr-D; a clip captioned by its own reference beats nonsense."""
    candidates, references = example
    few = dict(list(candidates.items())[:12])
    own = {clip: references[clip][0] for clip in few}
    report = caption_report({"system": few, "own": own}, references)
    for name, variant in (("system", few), ("own", own)):
        per_clip = report["cider_d"][name]
        assert list(per_clip) == list(variant)
        mean = sum(per_clip.values()) / len(per_clip)
        assert mean == pytest.approx(report["scores"][name]["CIDEr"], rel=1e-12)
    assert all(report["cider_d"]["own"][clip] > report["cider_d"]["system"][clip] for clip in few)


def test_the_jars_that_ran_are_named_and_exist(example):
    candidates, references = example
    report = caption_report({"system": dict(list(candidates.items())[:3])}, references)
    names = [jar.name for jar in report["jars"]]
    assert names[:2] == ["stanford-corenlp-3.4.1.jar", "meteor-1.5.jar"]
    assert all(jar.is_file() for jar in report["jars"])
    if "SPICE" in report["unavailable"]:  # SPICE did not run: its jars are not listed
        assert names == ["stanford-corenlp-3.4.1.jar", "meteor-1.5.jar"]
    spice_dir = caption_java.package_dir() / "spice"
    with_spice = caption_java.metric_jars(spice_dir)
    assert with_spice[2] == spice_dir / "spice-1.0.jar"
    assert set(with_spice[3:]) == set((spice_dir / "lib").glob("*.jar"))


def test_java_version_is_the_runtimes_first_line():
    version = caption_java.java_version()
    assert version.split()[1] == "version", version
    expected = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    assert version == expected.splitlines()[0].strip()


def test_spice_command_is_safe_on_java_17(tmp_path):
    """spice-1.0.jar's -cache (FST into LMDB) fails on Java 17: the command never asks for it,
    and the JVM option comes before -jar (everything after the jar goes to SPICE)."""
    spice_dir = caption_java.package_dir() / "spice"
    command = caption_java.spice_command(spice_dir, tmp_path / "in.json", tmp_path / "out.json")
    assert command == [
        caption_java.java_executable(),
        "-Xmx8G",
        "-jar",
        str(spice_dir / "spice-1.0.jar"),
        str(tmp_path / "in.json"),
        "-out",
        str(tmp_path / "out.json"),
        "-subset",
        "-silent",
    ]
    assert "-cache" not in command
    assert (spice_dir / "spice-1.0.jar").is_file()


@pytest.mark.skipif(spice_unavailable_reason() is None, reason="CoreNLP installed: SPICE runs")
def test_spice_command_starts_the_jar_on_this_java(tmp_path):
    """Offline the command gets as far as it can: this Java accepts its options and starts
    spice-1.0.jar, which then stops on the missing Stanford CoreNLP classes (SPICE itself is
    not exercised offline)."""
    spice_dir = caption_java.package_dir() / "spice"
    in_file = tmp_path / "in.json"
    in_file.write_text('[{"image_id": "a", "test": "a dog barks", "refs": ["a dog barking"]}]')
    command = caption_java.spice_command(spice_dir, in_file, tmp_path / "out.json")
    # Hang guard: this whole test took 0.22 s under make test-busy, 2026-12-03 (measured)
    result = subprocess.run(command, cwd=spice_dir, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "ClassNotFoundException: edu.stanford.nlp." in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "out.json").exists()
