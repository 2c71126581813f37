"""The evaluation pipeline on small real inputs: default captions through all-MiniLM-L6-v2,
simulated audio, and every bridge trained briefly by the bridge_training nodes."""

from __future__ import annotations

import copy
import json
import math
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import Version
from kedro.runner import SequentialRunner
from kedro.validation.parameter_validator import ParameterValidator
from matplotlib.figure import Figure

from diffusion_link.core.bridges import BRIDGES
from diffusion_link.core.training import TrainingStateStore
from diffusion_link.data.embeddings import embedding_matrix
from diffusion_link.metrics.caption_java import java_version, package_dir
from diffusion_link.metrics.modality_gap import l2_normalise
from diffusion_link.pipelines.bridge_training.nodes import (
    apply_bridge,
    collect_bridged_embeddings,
    sweep_s_star,
    train_bridge,
)
from diffusion_link.pipelines.bridge_training.params import BridgeTrainingParams
from diffusion_link.pipelines.evaluation import create_pipeline
from diffusion_link.pipelines.evaluation.nodes import (
    PROVENANCE_PARAMETERS,
    PROVENANCE_TABLES,
    build_report,
    modality_gap_metrics,
)
from diffusion_link.pipelines.evaluation.params import EvaluationParams
from diffusion_link.reporting.provenance import PACKAGES, file_sha256, table_sha256
from embedding_fixtures import simulated_tables
from figure_fixtures import KeptFigure

PROJECT = Path(__file__).resolve().parents[3]
METRICS = (
    "matched_audio_text",
    "matched_text_text",
    "nonmatched_audio_text",
    "nonmatched_text_text",
    "centroid_distance",
    "relative_modality_gap",
    "linear_separability",
    "recall_at_1",
    "recall_at_5",
    "recall_at_10",
)
OUTPUTS = ("report_md", "evaluation_metrics", "umap_figure")  # no node reads them
RUN_CONTEXT = {  # what the tracking hook gives a run (tracking off: no MLflow run id)
    "git_commit": "0123456789abcdef0123456789abcdef01234567",
    "git_dirty": False,
    "kedro_env": "local",
    "save_version": "2026-12-02T17.00.00.000Z",
    "mlflow_run_id": None,
}


def conf(name: str) -> dict:
    return yaml.safe_load((PROJECT / "conf" / "base" / name).read_text())


def evaluation_parameters() -> dict:
    params = copy.deepcopy(conf("parameters_evaluation.yml")["evaluation"])
    params["umap"]["max_clips"] = 40
    return params


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tables(default_captions, default_text_embeddings, sentence_encoder):
    """Text embeddings of some default captions and their clips' simulated audio."""
    return simulated_tables(
        default_captions,
        default_text_embeddings,
        sentence_encoder.checkpoint_id,
        {"train": 300, "val": 40, "test": 80},
    )


@pytest.fixture(scope="module")
def bridged(tables, tmp_path_factory):
    """Every bridge trained for a few steps, its outputs and Diffusion-Link's s* sweep."""
    audio, text = tables
    params = copy.deepcopy(conf("parameters_bridge_training.yml")["bridge_training"])
    settings = params["settings"]
    settings.update(device="cpu")
    settings["s_star_sweep"].update(s_stars=[100, 300])
    root = tmp_path_factory.mktemp("training_state")
    models, outputs, histories = {}, [], []
    for name in BRIDGES:
        bridge = params["bridges"][name]
        if "model" in bridge:
            bridge["model"]["width"] = 32
            bridge["model"]["ddim_steps"] = min(bridge["model"]["ddim_steps"], 10)
            bridge["training"].update(steps=12, checkpoint_every=100, batch_size=64)
    params = BridgeTrainingParams.model_validate(params)  # as Kedro hands them to the nodes
    settings = params.settings
    for name in BRIDGES:
        bridge = params.bridges[name]
        store = TrainingStateStore(root / f"{name}.safetensors")
        models[name], history = train_bridge(audio, text, store, bridge, settings)
        outputs.append(apply_bridge(models[name], audio, text, bridge, settings))
        histories.append(history)
    sweep = sweep_s_star(models["diffusion_link"], audio, settings)
    history = pd.concat([h for h in histories if not h.empty], ignore_index=True)
    return models, collect_bridged_embeddings(*outputs), sweep, history


def output_catalog(root: Path) -> DataCatalog:
    """The project's evaluation catalog entries, writing under ``root``."""
    entries = conf("catalog_evaluation.yml")
    entries = {name: entry for name, entry in entries.items() if "filepath" in entry}
    for entry in entries.values():  # not evaluation_metrics: MLflow only (tests/project)
        entry["filepath"] = str(root / Path(entry["filepath"]).name)
    catalog = DataCatalog.from_config(entries)
    figure = entries["umap_figure"]
    assert figure["type"] == "diffusion_link.datasets.AtomicMatplotlibDataset"
    assert figure["versioned"]
    catalog["umap_figure"] = KeptFigure(
        filepath=figure["filepath"], save_args=figure["save_args"], version=Version(None, None)
    )
    return catalog


def generated_for(text: pd.DataFrame, captions: pd.DataFrame) -> pd.DataFrame:
    """Stand-in decoder outputs for the test clips: each clip's first reference caption."""
    test = captions[captions["caption_id"].isin(text["caption_id"]) & (captions["split"] == "test")]
    first = test.drop_duplicates("clip_id")
    return pd.DataFrame(
        {
            "clip_id": first["clip_id"],
            "mode": "zero_shot",
            "bridge": "none",
            "caption": first["caption"],
        }
    )


def provenance_parameters() -> dict:
    """The parameter (sub)groups the provenance reads, from conf/base."""
    groups = {}
    for name in PROVENANCE_PARAMETERS:
        group, *inner = name.split(".")
        value = conf(f"parameters_{group}.yml")[group]
        for key in inner:
            value = value[key]
        groups[f"params:{name}"] = value
    return groups


@pytest.fixture(scope="module")
def inputs(tables, bridged, default_captions) -> dict:
    """Every input of the pipeline, by catalog name."""
    audio, text = tables
    models, bridged_embeddings, sweep, history = bridged
    captions = default_captions[default_captions["caption_id"].isin(text["caption_id"])]
    return {
        "run_context": RUN_CONTEXT,
        "clips": captions[["clip_id", "split"]].drop_duplicates(ignore_index=True),
        "generated_captions": generated_for(text, default_captions),
        "captions": captions.reset_index(drop=True),
        "audio_embeddings": audio,
        "text_embeddings": text,
        "bridged_embeddings": bridged_embeddings,
        "s_star_sweep": sweep,
        "bridge_training_history": history,
        **provenance_parameters(),
        "params:evaluation": EvaluationParams.model_validate(evaluation_parameters()),
        **{f"{name}.model": model for name, model in models.items()},
    }


@pytest.fixture(scope="module")
def run(inputs, tmp_path_factory):
    catalog = output_catalog(tmp_path_factory.mktemp("reporting"))
    for name, value in inputs.items():
        catalog[name] = MemoryDataset(value, copy_mode="assign")
    SequentialRunner().run(create_pipeline(), catalog)
    return catalog


def test_pipeline_interface():
    pipeline = create_pipeline()
    assert pipeline.outputs() == set(OUTPUTS)
    assert {"report_json", "caption_results", "provenance"} <= pipeline.all_outputs()
    assert pipeline.inputs() == {
        "run_context",
        "clips",
        "generated_captions",
        "captions",
        "audio_embeddings",
        "text_embeddings",
        "bridged_embeddings",
        "s_star_sweep",
        "bridge_training_history",
        "params:embedding",
        "params:bridge_training",
        "params:decoder_training.settings",
        "params:evaluation",
        *(f"{name}.model" for name in BRIDGES),
    }


def test_catalog_entries_have_the_reporting_layer():
    for name, entry in conf("catalog_evaluation.yml").items():
        assert entry["metadata"]["kedro-viz"]["layer"] == "reporting", name
        assert entry.get("filepath", "data/08_reporting/").startswith("data/08_reporting/"), name


def test_parameters_validate():
    validator = ParameterValidator({"evaluation": create_pipeline()})
    validated = validator.validate_raw_params(conf("parameters_evaluation.yml"))
    params = validated["evaluation"]
    assert isinstance(params, EvaluationParams)
    assert params.paper.table_2[100] == 0.688
    assert set(params.paper.table_1) == set(METRICS[:4])


def test_report_json_follows_the_schema(run, tables):
    _, text = tables
    assert list(Path(run["report_json"]._filepath).glob("*/report.json"))
    report = run.load("report_json")
    assert set(report) == {
        "dataset",
        "encoder",
        "simulated_audio",
        "modality_gap",
        "s_star_sweep",
        "captioning",
        "unavailable",
        "training",
        "provenance",
    }
    test_text = text[text["split"] == "test"]
    assert report["dataset"] == {
        "name": evaluation_parameters()["dataset_name"],
        "n_test_clips": test_text["clip_id"].nunique(),
        "n_train_captions": int((text["split"] == "train").sum()),
    }
    assert report["encoder"] == "gap_simulator" and report["simulated_audio"] is True
    assert list(report["modality_gap"]) == list(BRIDGES)
    for bridge, metrics in report["modality_gap"].items():
        assert set(METRICS) <= set(metrics), bridge
        assert all(math.isfinite(v) for v in metrics.values()), bridge
        for key in METRICS[:4]:
            assert -1.0 <= metrics[key] <= 1.0, (bridge, key)
        assert 0.0 <= metrics["centroid_distance"] <= 2.0
        assert 0.0 <= metrics["relative_modality_gap"] <= 1.0
        assert 0.0 <= metrics["linear_separability"] <= 1.0
        recalls = [metrics[f"recall_at_{k}"] for k in (1, 5, 10)]
        assert 0.0 <= recalls[0] <= recalls[1] <= recalls[2] <= 1.0
    assert set(report["s_star_sweep"]) == {"100", "300"}
    assert all(-1.0 <= v <= 1.0 for v in report["s_star_sweep"].values())
    scores = report["captioning"]["zero_shot"]["none"]
    assert set(scores) == {"METEOR", "CIDEr", "SPICE", "SPIDEr", "BLEU_4", "ROUGE_L"} | {
        "distinct_share",
        "Vocab",
    }
    assert scores["BLEU_4"] > 90 and scores["CIDEr"] > 100  # the references themselves
    if scores["SPICE"] is None:  # no Stanford CoreNLP here: said so, never 0
        assert set(report["unavailable"]) == {"SPICE", "SPIDEr"}
        assert scores["SPIDEr"] is None


def test_provenance_records_what_produced_the_run(run, inputs):
    provenance = run.load("report_json")["provenance"]
    assert {key: provenance[key] for key in RUN_CONTEXT} == RUN_CONTEXT
    assert set(provenance["versions"]) == {"python", *PACKAGES}
    assert provenance["versions"]["kedro"] == version("kedro")
    assert provenance["java"]["version"] == java_version()
    jars = provenance["java"]["jars"]  # the tokeniser's and METEOR's; SPICE's when it ran
    assert {"tokenizer/stanford-corenlp-3.4.1.jar", "meteor/meteor-1.5.jar"} <= set(jars)
    for jar, digest in jars.items():
        assert digest == file_sha256(package_dir() / jar), jar
    assert provenance["tables"] == {name: table_sha256(inputs[name]) for name in PROVENANCE_TABLES}
    assert provenance["seeds"]["evaluation.umap.seed"] == 0
    assert provenance["seeds"]["decoder_training.settings.optimiser.seed"] == 0
    assert len(provenance["seeds"]) == 12  # every seed of conf/base (tests/reporting)
    markdown = run.load("report_md")
    assert f"| git commit | `{RUN_CONTEXT['git_commit']}` |" in markdown
    assert "| MLflow run | not tracked |" in markdown
    assert f"stanford-corenlp-3.4.1.jar `{jars['tokenizer/stanford-corenlp-3.4.1.jar'][:12]}`" in (
        markdown
    )


def test_caption_results_are_saved_with_each_clips_cider_d(run, inputs):
    assert list(Path(run["caption_results"]._filepath).glob("*/caption_results.parquet"))
    results = run.load("caption_results")
    generated = inputs["generated_captions"]
    assert len(results) == len(generated)
    assert set(results["clip_id"]) == set(generated["clip_id"])
    captioning = run.load("report_json")["captioning"]["zero_shot"]["none"]
    assert results["cider_d"].mean() == pytest.approx(captioning["CIDEr"], rel=1e-9)
    best = results.sort_values(["cider_d", "clip_id"], ascending=[False, True]).iloc[0]
    assert f"- zero_shot / none: best `{best['clip_id']}` ({best['cider_d']:.1f})" in run.load(
        "report_md"
    )


def test_draw_agreement_is_one_for_deterministic_bridges(run):
    gap = run.load("report_json")["modality_gap"]
    for name in ("identity", "c3", "diffusion_bridge"):  # no noise at all
        assert gap[name]["draw_agreement"] == pytest.approx(1.0, abs=1e-5), name
    for name in ("diffgap", "diffusion_link"):  # noise enters: a draw is a random variable
        assert -1.0 <= gap[name]["draw_agreement"] < 1.0, name
    assert "draw agreement" in run.load("report_md")


def test_report_says_how_each_bridge_trained(run, bridged):
    *_, history = bridged
    report = run.load("report_json")
    assert set(report["training"]) == {"diffusion_bridge", "diffgap", "diffusion_link"}
    for name, entry in report["training"].items():
        rows = history[history["bridge"] == name].dropna(subset=["val_matched_audio_text"])
        assert entry["steps"] == 12 and entry["kept_step"] == 12
        assert entry["validation"]["val_matched_audio_text"] == pytest.approx(
            rows["val_matched_audio_text"].iloc[-1]
        )
        assert entry["converged"] is False  # one evaluation cannot show a plateau
    markdown = run.load("report_md")
    assert "## Training (bridge_training, validation split)" in markdown
    assert "| DL | 12 | 12 |" in markdown and "**no**" in markdown


def test_identity_and_c3_metrics_match_direct_computations(run, tables):
    audio, text = tables
    gap = run.load("report_json")["modality_gap"]
    test_text = text[text["split"] == "test"]
    clip_audio = audio.set_index("clip_id").loc[test_text["clip_id"]]
    a, t = l2_normalise(embedding_matrix(clip_audio)), l2_normalise(embedding_matrix(test_text))
    assert gap["identity"]["matched_audio_text"] == pytest.approx(np.sum(a * t, 1).mean(), 1e-5)
    assert gap["identity"]["matched_text_text"] == pytest.approx(1.0, abs=1e-5)
    # C3 maps text exactly onto its own reference space: (b) is 1
    assert gap["c3"]["matched_text_text"] == pytest.approx(1.0, abs=1e-5)


def test_figure_is_a_matplotlib_figure_with_three_groups(run):
    assert list(Path(run["umap_figure"]._filepath).glob("*/umap_figure.png"))
    figure = run.load("umap_figure")
    assert isinstance(figure, Figure)
    (axis,) = figure.axes
    assert len(axis.collections) == 5  # two sets of pair lines, three point clouds
    assert [len(c.get_offsets()) for c in axis.collections[2:]] == [40, 40, 40]


def test_report_md_lays_out_the_tables_and_warns_when_simulated(run):
    markdown = run.load("report_md")
    assert "**Warning: the audio embeddings of this run are simulated**" in markdown
    # ... with what the simulator was fitted to and the oracle's ceiling on the test split
    assert "The simulator was fitted on the train split" in markdown
    assert "oracle_matched 0.688 (achieved" in markdown and "The oracle bridge" in markdown
    for heading in ("## Table 1", "## Table 2", "## Modality-gap measures", "## Captioning"):
        assert heading in markdown
    assert "raw encoder space" in markdown and "(0.688)" in markdown  # the paper's DL (a)
    assert "| zero_shot | none |" in markdown and "(48.0)" in markdown  # the paper's CIDEr


def test_report_of_real_audio_has_no_warning(run, tables):
    audio, text = tables
    real_audio = audio.copy()
    real_audio.attrs = {**audio.attrs, "simulated_audio": False, "encoder": "laion_clap"}
    gap = run.load("report_json")["modality_gap"]
    captioning = {"captioning": {}, "unavailable": {}}
    markdown, report = build_report(
        gap,
        {"100": 0.5},
        text,
        real_audio,
        EvaluationParams(**evaluation_parameters()),
        captioning,
        {},
        {},
        run.load("caption_results"),
        run.load("report_json")["provenance"],
    )
    assert report["simulated_audio"] is False and report["encoder"] == "laion_clap"
    assert "Warning" not in markdown
    json.dumps(report)  # plain JSON types only


def test_a_bridge_without_outputs_is_a_clear_error(tables, bridged):
    _, text = tables
    models, bridged_embeddings, _, _ = bridged
    without_c3 = bridged_embeddings[bridged_embeddings["bridge"] != "c3"]
    with pytest.raises(ValueError, match="no 'test' rows of c3"):
        modality_gap_metrics(
            text, without_c3, EvaluationParams.model_validate(evaluation_parameters()), models["c3"]
        )
