"""report.json and report.md from small hand-made inputs (no pipeline run)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from diffusion_link.metrics.gap_tables import TABLE_1_ROWS
from diffusion_link.reporting.paper import PaperReference
from diffusion_link.reporting.report import EmbeddingTables, report_json
from diffusion_link.reporting.report_markdown import ReportContext, report_markdown
from diffusion_link.reporting.training_report import ConvergenceRule

PROVENANCE = {
    "git_commit": "0123456789abcdef",
    "git_dirty": True,
    "kedro_env": "local",
    "save_version": "2026-12-02T17.00.00.000Z",
    "mlflow_run_id": None,
    "versions": {"python": "3.11.2", "torch": "2.14.1", "laion-clap": None},
    "java": {"version": 'openjdk version "17.0.15"', "jars": {"meteor/meteor-1.5.jar": "ab" * 32}},
    "tables": {"captions": "cd" * 32},
    "seeds": {"evaluation.umap.seed": 0},
}
RESULTS = pd.DataFrame(
    {
        "mode": ["zero_shot"] * 3,
        "bridge": ["none"] * 3,
        "clip_id": ["a", "b", "c"],
        "caption": ["a dog barks", "rain", "wind"],
        "references": [["a dog is barking", "dog barks"], ["a car passes"], ["birds sing"]],
        "cider_d": [150.0, 0.0, 0.0],  # a tie for the worst: the first clip id is shown
    }
)
SCORES = {
    "METEOR": 20.0,
    "CIDEr": 50.0,
    "SPICE": None,
    "SPIDEr": None,
    "BLEU_4": 5.0,
    "ROUGE_L": 30.0,
    "distinct_share": 0.5,
    "Vocab": 12.0,
}


@pytest.fixture
def tables() -> EmbeddingTables:
    """Two test clips (three captions) and two training captions."""
    text = pd.DataFrame(
        {
            "clip_id": ["a", "a", "b", "t", "t"],
            "caption_id": [0, 1, 2, 3, 4],
            "split": ["test", "test", "test", "train", "train"],
            "embedding": list(np.eye(5, 3, dtype="float32")),
        }
    )
    audio = pd.DataFrame({"clip_id": ["a", "b", "t"], "split": ["test", "test", "train"]})
    text.attrs = {"encoder": "sentence", "dim": 3}
    audio.attrs = {"encoder": "laion_clap", "checkpoint": "ckpt", "simulated_audio": False}
    return EmbeddingTables.read(text, audio, "test", "train")


@pytest.fixture
def paper(project_root) -> PaperReference:
    text = (project_root / "conf/base/parameters_evaluation.yml").read_text()
    return PaperReference(**yaml.safe_load(text)["evaluation"]["paper"])


def test_tables_are_counted_on_the_split(tables):
    assert (tables.n_clips, tables.n_captions, tables.n_train_captions) == (2, 3, 2)
    assert tables.simulated_audio is False
    header = tables.header("tiny")
    assert header == {
        "dataset": {"name": "tiny", "n_test_clips": 2, "n_train_captions": 2},
        "encoder": "laion_clap",  # the audio table's attributes win
        "simulated_audio": False,
    }


def test_non_finite_numbers_are_none_and_listed(tables):
    gap = {"c3": {"matched_audio_text": float("nan"), "recall_at_1": 0.25}}
    captioning = {"captioning": {}, "unavailable": {"SPICE": "no CoreNLP"}}
    report = report_json(
        tables.header("tiny"), gap, {"100": float("inf")}, captioning, {}, {"c3": 1.0}, PROVENANCE
    )
    assert report["provenance"] == PROVENANCE
    assert list(report)[:3] == ["dataset", "encoder", "simulated_audio"]
    assert report["modality_gap"]["c3"] == {
        "matched_audio_text": None,
        "recall_at_1": 0.25,
        "draw_agreement": 1.0,
    }
    assert report["unavailable"] == {
        "SPICE": "no CoreNLP",
        "modality_gap.c3.matched_audio_text": "not a finite number",
        "s_star_sweep.100": "not a finite number",
    }
    assert captioning["unavailable"] == {"SPICE": "no CoreNLP"}  # the input is not changed
    json.dumps(report)


def test_markdown_lays_out_the_run_and_the_paper(tables, paper):
    cosines = dict.fromkeys(TABLE_1_ROWS, -0.0001)
    gap = {b: {**cosines, "recall_at_1": 0.5} for b in ("diffusion_link", "c3")}
    captioning = {
        "captioning": {
            "zero_shot": {"none": SCORES},
            "constant_caption": {"caption": "a dog", "candidates": 200, **SCORES},
        },
        "unavailable": {"SPICE": "no CoreNLP"},
    }
    report = report_json(tables.header("tiny"), gap, {"100": 0.5}, captioning, {}, {}, PROVENANCE)
    context = ReportContext("test", "train", [1], ConvergenceRule(), paper, tables, RESULTS)
    markdown = report_markdown(report, context)
    assert "Warning" not in markdown
    assert "| test clips (captions) | 2 (3) |" in markdown
    assert "| pair | C3 | DL |" in markdown  # the registry's order, the report's labels
    assert "0.000 (0.688)" in markdown  # rounded, never "-0.000"; the paper's DL (a)
    assert "| this run | 0.500 |" in markdown and "| paper | 0.688 |" in markdown
    assert "| zero_shot | none | 20.0 (21.2) | 50.0 (48.0) | n/a (14.4) |" in markdown
    assert "| baseline | constant caption | 20.0 | 50.0 | n/a |" in markdown
    assert 'Constant-caption baseline: "a dog"' in markdown
    assert "- SPICE: unavailable (no CoreNLP)" in markdown
    assert ConvergenceRule().describe() in markdown
    assert (
        '- zero_shot / none: best `a` (150.0) "a dog barks" (a reference: "a dog is barking"); '
        'worst `b` (0.0) "rain" (a reference: "a car passes")'
    ) in markdown
    provenance = markdown[markdown.index("## Provenance") :]
    assert "| git commit | `0123456789abcdef` (with uncommitted changes) |" in provenance
    assert "| Kedro environment | `local` |" in provenance
    assert "| MLflow run | not tracked |" in provenance
    assert "| versions | python 3.11.2, torch 2.14.1, laion-clap not installed |" in provenance
    assert 'openjdk version "17.0.15"; jars: meteor-1.5.jar `abababababab`' in provenance
    assert "| input tables | captions `cdcdcdcdcdcd` |" in provenance
    assert "| seeds | evaluation.umap.seed=0 |" in provenance
