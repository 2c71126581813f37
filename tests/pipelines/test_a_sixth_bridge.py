"""CONTRIBUTING.md's walk-through, run: a sixth bridge registered in a temporary registry goes
through ``bridge_training`` and ``evaluation`` with no change to either pipeline.

The bridge is trivial on purpose (it shifts audio by the difference of the modality means, a
C3 variant with no training); what is tested is that the registry is the one place to add it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
import torch
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import Version
from kedro.runner import SequentialRunner
from kedro.validation.parameter_validator import ParameterValidator

from catalog_fixtures import KeptDataset
from diffusion_link.core.baselines import C3Bridge
from diffusion_link.core.bridges import BRIDGE_CLASSES, BRIDGES, load_bridge
from diffusion_link.core.normalisation import Modality, normalise
from diffusion_link.datasets import BridgeCheckpointDataset, TrainingStateDataset
from diffusion_link.pipelines import bridge_training, evaluation
from embedding_fixtures import simulated_tables

PROJECT = Path(__file__).resolve().parents[2]
NAME = "mean_shift"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class MeanShiftBridge(C3Bridge):
    """Audio moved by (text mean - audio mean), text kept; both L2-normalised."""

    method: ClassVar[str] = NAME
    label: ClassVar[str] = "MS"

    def bridge(
        self,
        embeddings: torch.Tensor,
        s_star: int | None = None,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        modality: Modality = "audio",
    ) -> torch.Tensor:
        """Unit ``embeddings``; audio shifted onto the text mean first."""
        unit = super(C3Bridge, self).bridge(embeddings, s_star, steps, generator, modality)
        if modality == "text":
            return unit
        return normalise(unit, self.means["audio"] - self.means["text"], 1.0)


@pytest.fixture
def sixth_bridge(monkeypatch):
    """``mean_shift`` in the bridge registry for this test only."""
    monkeypatch.setitem(BRIDGE_CLASSES, NAME, MeanShiftBridge)
    return NAME


def parameters(name: str) -> dict:
    """conf/base's bridge_training and evaluation groups, made small, plus the new bridge (and
    the embedding and decoder_training groups, whose seeds the report's provenance lists)."""
    raw = {}
    for group in ("embedding", "bridge_training", "decoder_training", "evaluation"):
        text = (PROJECT / "conf" / "base" / f"parameters_{group}.yml").read_text()
        raw.update(yaml.safe_load(text))
    params = copy.deepcopy(raw)
    bridges = params["bridge_training"]["bridges"]
    for bridge in bridges.values():
        if "model" in bridge:
            bridge["model"].update(width=32, ddim_steps=min(bridge["model"]["ddim_steps"], 10))
            bridge["training"].update(steps=12, checkpoint_every=100, batch_size=64)
    bridges[name] = {"method": name}  # all a bridge without training needs
    params["bridge_training"]["settings"].update(device="cpu")
    params["bridge_training"]["settings"]["s_star_sweep"].update(s_stars=[100, 300])
    params["evaluation"]["umap"]["max_clips"] = 40
    return params


def test_a_registered_bridge_is_trained_evaluated_and_reported(
    sixth_bridge, default_captions, default_text_embeddings, sentence_encoder, tmp_path
):
    audio, text = simulated_tables(
        default_captions,
        default_text_embeddings,
        sentence_encoder.checkpoint_id,
        {"train": 300, "val": 40, "test": 80},
    )
    pipeline = bridge_training.create_pipeline() + evaluation.create_pipeline()
    assert f"{sixth_bridge}.model" in pipeline.all_outputs()
    validated = ParameterValidator({"run": pipeline}).validate_raw_params(parameters(sixth_bridge))
    test = default_captions["split"] == "test"
    first = default_captions[test & default_captions["caption_id"].isin(text["caption_id"])]
    first = first.drop_duplicates("clip_id")
    inputs = {
        "audio_embeddings": audio,
        "text_embeddings": text,
        "captions": default_captions[default_captions["caption_id"].isin(text["caption_id"])],
        "generated_captions": pd.DataFrame(
            {
                "clip_id": first["clip_id"],
                "mode": "zero_shot",
                "bridge": "none",
                "caption": first["caption"],
            }
        ),
        "params:evaluation": validated["evaluation"],
        "params:bridge_training.settings": validated["bridge_training"]["settings"],
        "params:embedding": validated["embedding"],
        "params:bridge_training": validated["bridge_training"],
        "params:decoder_training.settings": validated["decoder_training"]["settings"],
        "clips": default_captions[["clip_id", "split"]].drop_duplicates(ignore_index=True),
        "run_context": {
            "git_commit": None,
            "git_dirty": None,
            "kedro_env": "base",
            "save_version": None,
            "mlflow_run_id": None,
        },
    }
    catalog = DataCatalog(
        {key: MemoryDataset(value, copy_mode="assign") for key, value in inputs.items()}
    )
    for name in BRIDGES:
        catalog[f"params:bridge_training.bridges.{name}"] = MemoryDataset(
            validated["bridge_training"]["bridges"][name], copy_mode="assign"
        )
        catalog[f"{name}.training_state"] = TrainingStateDataset(
            str(tmp_path / f"{name}.safetensors")
        )
        catalog[f"{name}.model"] = BridgeCheckpointDataset(
            str(tmp_path / "bridges" / name), version=Version(None, None)
        )
    for name in ("bridged_embeddings", "report_json"):
        catalog[name] = KeptDataset(copy_mode="assign")
    SequentialRunner().run(pipeline, catalog)

    saved = load_bridge(next((tmp_path / "bridges" / sixth_bridge).glob("*/" + sixth_bridge)))
    assert isinstance(saved, MeanShiftBridge)
    bridged = catalog.load("bridged_embeddings")
    assert set(bridged["bridge"]) == set(BRIDGES)
    assert (bridged["bridge"] == sixth_bridge).sum() == len(audio) + len(text)
    report = catalog.load("report_json")
    assert set(report["modality_gap"]) == set(BRIDGES)
    assert report["modality_gap"][sixth_bridge]["matched_audio_text"] > 0
    seeds = report["provenance"]["seeds"]  # from the whole bridge_training group
    assert seeds["bridge_training.bridges.diffusion_link.seed"] == 0
