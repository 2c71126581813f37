"""The decoder_training pipeline on a tiny random LLaMA: variants, pairing, the dataset, conf."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import Version
from kedro.runner import SequentialRunner

from diffusion_link.data.embeddings import with_embeddings
from diffusion_link.datasets import AtomicCSVDataset, DecoderCheckpointDataset, TrainingStateDataset
from diffusion_link.decoder.config import GenerationSettings
from diffusion_link.pipelines.decoder_training import create_pipeline
from diffusion_link.pipelines.decoder_training.pairs import training_pairs, validation_pairs
from diffusion_link.pipelines.decoder_training.params import VARIANTS as ALL_VARIANTS
from diffusion_link.pipelines.decoder_training.params import DecoderSettings, VariantParams
from diffusion_link.project.hooks import configured_variants
from diffusion_link.settings import CONFIG_LOADER_ARGS

TESTS = Path(__file__).resolve().parents[2]
PROJECT = TESTS.parent
sys.path.insert(0, str(TESTS))
from catalog_fixtures import KeptDataset  # noqa: E402
from decoder_fixtures import CAPTIONS  # noqa: E402
from figure_fixtures import KeptFigure  # noqa: E402

DIM = 16
VARIANTS = ["zero_shot_none", "zero_shot_diffusion_link", "supervised_diffusion_link"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """captions (2 per clip) and bridged_embeddings for identity and diffusion_link."""
    rng = np.random.default_rng(0)
    rows, caps = [], []
    for split, n_clips in (("train", 4), ("val", 2), ("test", 3)):
        for c in range(n_clips):
            clip = f"{split}{c}"
            for k in range(2):
                cid = f"{clip}_{k}"
                caps.append((clip, cid, split, CAPTIONS[(2 * c + k) % len(CAPTIONS)]))
    captions = pd.DataFrame(caps, columns=["clip_id", "caption_id", "split", "caption"])
    captions.loc[1, "caption"] = ""  # an empty caption is left out, not trained on
    for bridge in ("identity", "diffusion_link"):
        for split in ("train", "val", "test"):
            part = captions[captions["split"] == split]
            for clip in part["clip_id"].unique():
                rows.append((bridge, "audio", split, clip, None))
            for _, r in part.iterrows():
                rows.append((bridge, "text", split, r.clip_id, r.caption_id))
    ids = pd.DataFrame(rows, columns=["bridge", "source", "split", "clip_id", "caption_id"])
    vectors = rng.normal(size=(len(ids), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return with_embeddings(ids, vectors, {"dim": DIM}), captions


def _params(model: Path) -> dict:
    base = yaml.safe_load((PROJECT / "conf/base/parameters_decoder_training.yml").read_text())
    settings = base["decoder_training"]["settings"]
    settings.update(model=str(model), train_subset=None, max_caption_tokens=12, progress_bar=False)
    settings["lora"].update(r=4, alpha=8, dropout=0.0)
    settings["optimiser"].update(epochs=2, batch_size=4, lr=1e-3, log_every=1, eval_every=3)
    settings["generation"].update(max_new_tokens=5, batch_size=2, no_repeat_ngram_size=3)
    variants = {name: _variant(name) for name in VARIANTS}
    return {"settings": settings, "variants": variants}


def _variant(name: str) -> dict:
    mode = "zero_shot" if name.startswith("zero_shot") else "supervised"
    return {"mode": mode, "bridge": name.removeprefix(f"{mode}_")}


def _reporting_datasets(root: Path) -> dict:
    """The project's catalog entries for the curves and the history, writing under ``root``."""
    catalog = yaml.safe_load((PROJECT / "conf/base/catalog_decoder_training.yml").read_text())
    curves, history = catalog["decoder_training_curves"], catalog["decoder_training_history"]
    assert curves["type"] == "diffusion_link.datasets.AtomicMatplotlibDataset"
    assert curves["versioned"]
    assert history["type"] == "diffusion_link.datasets.AtomicCSVDataset"
    return {
        "decoder_training_curves": KeptFigure(
            filepath=str(root / Path(curves["filepath"]).name), version=Version(None, None)
        ),
        "decoder_training_history": AtomicCSVDataset(
            filepath=str(root / Path(history["filepath"]).name), save_args=history["save_args"]
        ),
    }


@pytest.fixture(scope="module")
def pipeline_run(tiny_llama, tmp_path_factory):
    bridged, captions = _tables()
    root = tmp_path_factory.mktemp("decoder_training")
    params = _params(tiny_llama)
    params["settings"]["job_dir"] = str(root / "jobs")
    datasets = {
        "bridged_embeddings": MemoryDataset(bridged),
        "captions": MemoryDataset(captions),
        "params:decoder_training.settings": MemoryDataset(
            DecoderSettings.model_validate(params["settings"])
        ),
        "generated_captions": KeptDataset(),
        **_reporting_datasets(root),
    }
    for name in VARIANTS:
        datasets[f"params:decoder_training.variants.{name}"] = MemoryDataset(
            VariantParams.model_validate(params["variants"][name])
        )
        datasets[f"{name}.decoder"] = DecoderCheckpointDataset(
            str(root / name), version=Version(None, None), load_args={"device": "cpu"}
        )
        datasets[f"{name}.generated_captions"] = KeptDataset()
        datasets[f"{name}.decoder_training_state"] = TrainingStateDataset(
            str(root / "training_state" / f"{name}.safetensors")
        )
    catalog = DataCatalog(datasets)
    SequentialRunner().run(create_pipeline(variants=VARIANTS), catalog)
    return catalog, root, bridged, captions


def test_every_variant_captions_every_test_clip(pipeline_run):
    catalog, root, bridged, _ = pipeline_run
    table = catalog.load("generated_captions")
    assert list(table.columns) == ["clip_id", "mode", "bridge", "caption"]
    assert len(table) == 3 * len(VARIANTS)
    assert set(table["clip_id"]) == {"test0", "test1", "test2"}
    combos = set(map(tuple, table[["mode", "bridge"]].drop_duplicates().to_numpy()))
    assert combos == {("zero_shot", "none"), ("zero_shot", "diffusion_link")} | {
        ("supervised", "diffusion_link")
    }
    assert table["caption"].map(lambda c: isinstance(c, str)).all()
    for name in VARIANTS:  # one versioned folder per variant, complete
        (version,) = list((root / name).iterdir())
        assert (version / name / "adapter" / "adapter_config.json").is_file()
        assert (root / "training_state" / f"{name}.safetensors").is_file()  # resumable
    assert list((root / "jobs").iterdir()) == []  # the launch's job folders are cleaned up


def test_training_history_and_curves_hold_the_validation_loss(pipeline_run):
    catalog, root, _, _ = pipeline_run
    history = catalog.load("decoder_training_history")
    assert list(history.columns) == ["step", "loss", "lr", "val_loss", "variant"]
    assert list(history["variant"].unique()) == VARIANTS
    for name in VARIANTS:
        rows = history[history["variant"] == name]
        # 8 training pairs (one caption empty: 7), batch 4, 2 epochs: 4 steps; eval every 3
        assert rows["step"].tolist() == [1, 2, 3, 4]
        assert rows["loss"].map(np.isfinite).all()
        val = rows.dropna(subset=["val_loss"])
        assert val["step"].tolist() == [3, 4]
        assert (val["val_loss"] > 0).all() and val["val_loss"].map(np.isfinite).all()
        decoder = catalog.load(f"{name}.decoder")  # the same history is saved with the decoder
        saved = [r["val_loss"] for r in decoder.history if "val_loss" in r]
        assert saved == pytest.approx(val["val_loss"].tolist(), rel=1e-9)
    assert list(root.glob("decoder_training_curves.png/*/decoder_training_curves.png"))
    figure = catalog.load("decoder_training_curves")
    assert [axis.get_title() for axis in figure.axes] == VARIANTS
    for axis in figure.axes:  # training loss (per step and its mean) and validation loss
        assert [len(line.get_xdata()) for line in axis.get_lines()] == [4, 4, 2]


def test_validation_pairs_are_the_val_split_built_like_the_training_pairs(tiny_llama):
    bridged, captions = _tables()
    settings = DecoderSettings.model_validate(_params(tiny_llama)["settings"])
    zero = validation_pairs(
        bridged, captions, VariantParams(mode="zero_shot", bridge="diffusion_link"), settings
    )
    assert len(zero) == 4 and set(zero["split"]) == {"val"} and set(zero["source"]) == {"text"}
    assert set(zero["caption_id"]) == set(captions[captions["split"] == "val"]["caption_id"])
    sup = validation_pairs(
        bridged, captions, VariantParams(mode="supervised", bridge="diffusion_link"), settings
    )
    assert len(sup) == 4 and set(sup["split"]) == {"val"} and set(sup["source"]) == {"audio"}
    few = settings.model_copy(update={"val_subset": 3})
    assert (
        len(validation_pairs(bridged, captions, VariantParams(**_variant(VARIANTS[0])), few)) == 3
    )
    off = settings.model_copy(update={"val_split": None})
    assert validation_pairs(bridged, captions, VariantParams(**_variant(VARIANTS[0])), off) is None


def test_saved_decoder_reloads_and_generates_the_same(pipeline_run, tiny_llama):
    catalog, _, bridged, _ = pipeline_run
    decoder = catalog.load("zero_shot_diffusion_link.decoder")
    assert decoder.config.mode == "zero_shot" and decoder.config.embedding_dim == DIM
    saved = catalog.load("zero_shot_diffusion_link.generated_captions")
    rows = bridged[
        (bridged.bridge == "diffusion_link")
        & (bridged.source == "audio")
        & (bridged.split == "test")
    ]
    again = decoder.generate(
        torch.from_numpy(np.stack(rows["embedding"].to_list())),
        GenerationSettings(max_new_tokens=5, batch_size=2, no_repeat_ngram_size=3),
    )
    assert again == saved["caption"].tolist()


def test_a_rerun_resumes_from_the_saved_training_state(pipeline_run, caplog):
    catalog, root, _, _ = pipeline_run
    before = catalog.load("zero_shot_none.generated_captions")
    nodes = "diffusion_link.pipelines.decoder_training.nodes"
    with caplog.at_level(logging.INFO, logger=nodes):
        SequentialRunner().run(create_pipeline(variants=["zero_shot_none"]), catalog)
    (summary,) = [r.getMessage() for r in caplog.records if "resumed from" in r.getMessage()]
    steps, resumed, rows = re.search(
        r"steps (\d+) \(resumed from (\d+)\), (\d+) rows", summary
    ).groups()
    assert int(steps) == int(resumed) > 0 and rows == "0"  # nothing was trained again
    assert len(list((root / "zero_shot_none").iterdir())) == 2  # a new version, the old kept
    after = catalog.load("zero_shot_none.generated_captions")
    assert after["caption"].tolist() == before["caption"].tolist()


def test_zero_shot_pairs_text_rows_and_supervised_pairs_audio_rows(tiny_llama):
    bridged, captions = _tables()
    settings = DecoderSettings.model_validate(_params(tiny_llama)["settings"])
    zero = training_pairs(
        bridged, captions, VariantParams(mode="zero_shot", bridge="none"), settings
    )
    assert (
        len(zero) == 8 and set(zero["source"]) == {"text"} and set(zero["bridge"]) == {"identity"}
    )
    text = bridged[(bridged.bridge == "identity") & (bridged.source == "text")]
    first = zero.iloc[0]
    expected = text[text.caption_id == first.caption_id]["embedding"].iloc[0]
    assert np.array_equal(first.embedding, expected)
    assert first.caption == captions.set_index("caption_id").loc[first.caption_id, "caption"]
    sup = training_pairs(
        bridged, captions, VariantParams(mode="supervised", bridge="diffusion_link"), settings
    )
    assert len(sup) == 8 and set(sup["source"]) == {"audio"}  # each clip once per caption
    assert set(sup["bridge"]) == {"diffusion_link"}
    subset = settings.model_copy(update={"train_subset": 3})
    assert (
        len(training_pairs(bridged, captions, VariantParams(**_variant(VARIANTS[0])), subset)) == 3
    )


def test_missing_bridge_rows_are_a_clear_error(tiny_llama):
    bridged, captions = _tables()
    settings = DecoderSettings.model_validate(_params(tiny_llama)["settings"])
    variant = VariantParams(mode="zero_shot", bridge="diffusion_bridge")
    with pytest.raises(ValueError, match="no 'text' rows of bridge 'diffusion_bridge'"):
        training_pairs(bridged, captions, variant, settings)


def test_variants_come_from_configuration():
    def conf(env: str) -> OmegaConfigLoader:
        return OmegaConfigLoader(str(PROJECT / "conf"), env=env, **CONFIG_LOADER_ARGS)

    assert configured_variants(conf("base")) == ["zero_shot_none", "zero_shot_diffusion_link"]
    assert configured_variants(conf("paper")) == list(ALL_VARIANTS)
    pipeline = create_pipeline(variants=["zero_shot_none"])
    assert pipeline.outputs() == {
        "generated_captions",
        "decoder_training_curves",
        "decoder_training_metrics",  # from decoder_training_history, which it reads
    }
    assert "decoder_training_history" in pipeline.all_outputs()
    assert {"bridged_embeddings", "captions", "params:decoder_training.settings"} <= set(
        pipeline.inputs()
    )


@pytest.mark.parametrize("env", ["base", "paper"])
def test_parameters_validate(env):
    params = yaml.safe_load((PROJECT / f"conf/{env}/parameters_decoder_training.yml").read_text())
    settings = DecoderSettings.model_validate(params["decoder_training"]["settings"])
    for variant in params["decoder_training"]["variants"].values():
        VariantParams.model_validate(variant)
    if env == "paper":
        assert settings.model == "meta-llama/Llama-2-7b-hf" and settings.precision == "bf16"
        opt = settings.optimiser
        assert (opt.batch_size, opt.epochs, opt.warmup_epochs, opt.lr) == (4, 50, 2, 5e-6)
        assert (settings.lora.r, settings.lora.alpha, settings.lora.dropout) == (8, 32, 0.05)
        assert settings.lora.target_modules == ["q_proj", "v_proj"]
