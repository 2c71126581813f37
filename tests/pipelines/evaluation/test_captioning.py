"""The ``captioning_metrics`` node on a synthetic ``generated_captions`` table made from the
default test references (real AudioCaps captions)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from diffusion_link.metrics.caption_metrics import (
    DIVERSITY,
    METRICS,
    ptb_tokenize,
    spice_unavailable_reason,
)
from diffusion_link.pipelines.evaluation.nodes import captioning_metrics
from diffusion_link.pipelines.evaluation.params import EvaluationParams

PROJECT = Path(__file__).resolve().parents[3]
N_CLIPS = 30

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="no java on PATH")


@pytest.fixture(scope="module")
def params() -> dict:
    text = (PROJECT / "conf/base/parameters_evaluation.yml").read_text()
    return yaml.safe_load(text)["evaluation"]


@pytest.fixture(scope="module")
def generated(default_captions) -> pd.DataFrame:
    """Four decoder variants on 30 test clips: 'supervised/diffusion_link' repeats each clip's
    first reference; 'supervised/none' uses another clip's caption (shuffled); the zero-shot
    variants use the second reference (or a fixed sentence)."""
    test = default_captions[default_captions["split"] == "test"]
    first = test.groupby("clip_id", sort=False)["caption"].agg(list).head(N_CLIPS)
    clips = list(first.index)
    shuffled = [refs[0] for refs in first]
    random.Random(0).shuffle(shuffled)
    variants = {
        ("supervised", "diffusion_link"): [refs[0] for refs in first],
        ("supervised", "none"): shuffled,
        ("zero_shot", "diffusion_bridge"): [refs[-1] for refs in first],
        ("zero_shot", "none"): ["a sound is heard"] * N_CLIPS,
    }
    frames = [
        pd.DataFrame({"clip_id": clips, "mode": mode, "bridge": bridge, "caption": captions})
        for (mode, bridge), captions in variants.items()
    ]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def scored(generated, default_captions, params):
    """The node's two outputs: the scores (report.json's layout) and caption_results."""
    return captioning_metrics(generated, default_captions, EvaluationParams.model_validate(params))


@pytest.fixture(scope="module")
def result(scored):
    return scored[0]


def test_layout_follows_the_report_schema(result):
    assert set(result) == {"captioning", "unavailable", "jars"}
    assert [Path(jar).name for jar in result["jars"][:2]] == [
        "stanford-corenlp-3.4.1.jar",
        "meteor-1.5.jar",
    ]
    table = result["captioning"]
    assert set(table) == {"supervised", "zero_shot", "constant_caption"}
    assert set(table["supervised"]) == {"diffusion_link", "none"}
    assert set(table["zero_shot"]) == {"diffusion_bridge", "none"}
    for mode in ("supervised", "zero_shot"):
        for values in table[mode].values():
            assert set(values) == set(METRICS) | set(DIVERSITY)
    constant = table["constant_caption"]
    assert set(constant) == {"caption", "tokenised", "candidates"} | set(METRICS) | set(DIVERSITY)


def test_distinct_share_and_vocab_of_each_variant(result, generated):
    table = result["captioning"]
    fixed = table["zero_shot"]["none"]  # "a sound is heard" for every clip
    assert fixed["distinct_share"] == pytest.approx(1 / N_CLIPS) and fixed["Vocab"] == 4
    first = generated[generated["bridge"] == "diffusion_link"]["caption"]
    distinct = len(set(ptb_tokenize(first.tolist())))  # "A dog." and "a dog" are one caption
    assert table["supervised"]["diffusion_link"]["distinct_share"] == pytest.approx(
        distinct / N_CLIPS
    )
    assert table["supervised"]["diffusion_link"]["Vocab"] > 50


def test_constant_caption_is_a_training_caption_that_beats_a_fixed_sentence(
    result, default_captions, params
):
    constant = result["captioning"]["constant_caption"]
    train = default_captions[default_captions["split"] == params["train_split"]]
    assert constant["caption"] in set(train["caption"].str.strip())
    assert constant["candidates"] == params["constant_caption_candidates"]
    table = result["captioning"]
    assert table["zero_shot"]["none"]["CIDEr"] < constant["CIDEr"]
    assert constant["CIDEr"] < table["supervised"]["diffusion_link"]["CIDEr"]
    assert constant["distinct_share"] == pytest.approx(1 / N_CLIPS)


def test_caption_results_has_every_clip_of_every_variant(scored, generated, default_captions):
    result, results = scored
    assert list(results.columns) == [
        "mode",
        "bridge",
        "clip_id",
        "caption",
        "references",
        "cider_d",
    ]
    assert len(results) == len(generated) == 4 * N_CLIPS
    expected = generated.sort_values(["mode", "bridge", "clip_id"], ignore_index=True)
    pd.testing.assert_frame_equal(results[list(expected.columns)], expected)
    test = default_captions[default_captions["split"] == "test"]
    references = test.groupby("clip_id")["caption"].agg(list)
    for row in results.itertuples():
        assert row.references == references[row.clip_id]  # all of them, in the table's order
    for (mode, bridge), rows in results.groupby(["mode", "bridge"]):
        assert rows["cider_d"].mean() == pytest.approx(
            result["captioning"][mode][bridge]["CIDEr"], rel=1e-12
        )
    own = results[results["bridge"] == "diffusion_link"].set_index("clip_id")["cider_d"]
    fixed = results[results["mode"] == "zero_shot"]
    fixed = fixed[fixed["bridge"] == "none"].set_index("clip_id")["cider_d"]
    assert (own > fixed).all()  # each clip's own first reference beats "a sound is heard"


def test_caption_results_round_trip_through_its_catalog_entry(scored, tmp_path):
    from kedro.io import DataCatalog

    entry = yaml.safe_load((PROJECT / "conf/base/catalog_evaluation.yml").read_text())[
        "caption_results"
    ]
    assert entry["type"] == "diffusion_link.datasets.AtomicParquetDataset" and entry["versioned"]
    assert entry["metadata"]["mlflow"] == {"artifact_path": "captions"}
    entry["filepath"] = str(tmp_path / "caption_results.parquet")
    catalog = DataCatalog.from_config({"caption_results": entry})
    catalog.save("caption_results", scored[1])
    loaded = catalog.load("caption_results")
    assert loaded["references"].map(list).tolist() == scored[1]["references"].tolist()
    pd.testing.assert_frame_equal(
        loaded.drop(columns="references"), scored[1].drop(columns="references")
    )


def test_scores_order_the_variants(result):
    table = result["captioning"]
    reference, shuffled = table["supervised"]["diffusion_link"], table["supervised"]["none"]
    for metric in ("BLEU_4", "METEOR", "ROUGE_L", "CIDEr"):
        assert reference[metric] > shuffled[metric] >= 0, metric
        assert 0 <= table["zero_shot"]["none"][metric] < reference[metric]
    assert reference["BLEU_4"] > 99 and reference["CIDEr"] > 200


@pytest.mark.skipif(spice_unavailable_reason() is None, reason="CoreNLP installed: SPICE runs")
def test_spice_and_spider_unavailable_with_reason(result):
    assert set(result["unavailable"]) == {"SPICE", "SPIDEr"}
    assert "Stanford CoreNLP" in result["unavailable"]["SPICE"]
    for mode in ("supervised", "zero_shot"):
        for values in result["captioning"][mode].values():
            assert values["SPICE"] is None and values["SPIDEr"] is None
    constant = result["captioning"]["constant_caption"]
    assert constant["SPICE"] is None and constant["SPIDEr"] is None


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda t: t.assign(mode="few_shot"), r"unknown mode \['few_shot'\]"),
        (lambda t: t.assign(bridge="c3"), r"unknown bridge \['c3'\]"),
        (lambda t: pd.concat([t, t.head(1)]), r"1 repeated \(clip_id, mode, bridge\)"),
        (lambda t: t.drop(columns="caption"), r"lacks columns \['caption'\]"),
        (
            lambda t: pd.concat([t, t.head(1).assign(clip_id="not-a-test-clip", mode="zero_shot")]),
            r"1 clips with no 'test' reference captions",
        ),
    ],
)
def test_bad_generated_captions_are_clear_errors(
    change, pattern, generated, default_captions, params
):
    with pytest.raises(ValueError, match=pattern):
        captioning_metrics(
            change(generated), default_captions, EvaluationParams.model_validate(params)
        )
