"""The paper's chain offline, end to end, on the 16 bundled clips: LAION-CLAP (random weights in
its own checkpoint format, a BPE tokenizer trained on the captions) through ``embedding``, a tiny
``bridge_training`` (every bridge) and a tiny ``decoder_training`` on the tiny random LLaMA, then
``captioning``, the :class:`Captioner` API and the ``diffusion-link-caption`` command.

THE CAPTIONS ARE MEANINGLESS: every weight is random or trained for a few steps on 9 clips. What
is real is the path: the paper's encoder through every pipeline, and three ways in that agree.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import Version
from kedro.runner import SequentialRunner

from captioning_fixtures import bundled_clips, write_checkpoint
from catalog_fixtures import KeptDataset
from decoder_fixtures import CAPTIONS
from diffusion_link.captioning import Captioner
from diffusion_link.core.bridges import BRIDGES, load_bridge
from diffusion_link.data.audiocaps import AudioCapsConfig, prepare_audiocaps
from diffusion_link.datasets import (
    BridgeCheckpointDataset,
    DecoderCheckpointDataset,
    ModelFolders,
    TrainingStateDataset,
)
from diffusion_link.decoder.config import GenerationSettings
from diffusion_link.pipelines import bridge_training, captioning, decoder_training, embedding
from diffusion_link.pipelines.bridge_training.params import BridgeTrainingParams
from diffusion_link.pipelines.captioning.params import CaptioningParams
from diffusion_link.pipelines.decoder_training.params import DecoderSettings, VariantParams
from diffusion_link.pipelines.embedding.params import EmbeddingParams
from laion_clap_fixtures import build_test_tokenizer
from session_fixtures import copy_configuration

PROJECT = Path(__file__).resolve().parents[3]
VARIANT = "zero_shot_diffusion_link"
GENERATION = {"max_new_tokens": 6, "batch_size": 8}

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


def _yaml(group: str) -> dict:
    return yaml.safe_load((PROJECT / f"conf/base/parameters_{group}.yml").read_text())[group]


def _run(pipeline, datasets: dict, outputs: list[str]) -> DataCatalog:
    catalog = DataCatalog({**datasets, **{name: KeptDataset() for name in outputs}})
    SequentialRunner().run(pipeline, catalog)
    return catalog


def _clips_with_audio() -> tuple[pd.DataFrame, pd.DataFrame]:
    """data_prep on the embedded default, kept to the 16 clips with audio and their captions."""
    config = AudioCapsConfig.model_validate(_yaml("data_prep"))
    clips, captions, _ = prepare_audiocaps(config)
    clips = clips[clips["audio_path"].notna()].reset_index(drop=True)
    captions = captions[captions["clip_id"].isin(clips["clip_id"])].reset_index(drop=True)
    assert len(clips) == len(bundled_clips()) == 16
    return clips, captions


def _embed(clips, captions, checkpoint: Path, tokenizer: Path) -> DataCatalog:
    params = _yaml("embedding")
    params["encoder"] = "laion_clap"
    params["laion_clap"].update(
        checkpoint=str(checkpoint), tokenizer=str(tokenizer), device="cpu", batch_size=4
    )
    datasets = {
        "clips": MemoryDataset(clips),
        "captions": MemoryDataset(captions),
        "params:embedding": MemoryDataset(EmbeddingParams.model_validate(params)),
    }
    outputs = ["embedding_shards", "text_embeddings", "gap_simulator_fit", "audio_embeddings"]
    return _run(embedding.create_pipeline(), datasets, outputs)


def _train_bridges(audio, text, root: Path) -> pd.DataFrame:
    params = copy.deepcopy(_yaml("bridge_training"))
    params["settings"].update(device="cpu")
    params["settings"]["s_star_sweep"].update(s_stars=[100], steps=5)
    for bridge in params["bridges"].values():
        if "training" in bridge:
            bridge["model"]["width"] = 32
            bridge["training"].update(
                steps=6, checkpoint_every=3, batch_size=8, eval_every=3, warmup_steps=1
            )
    params["bridges"]["diffgap"]["model"]["ddim_steps"] = 5
    typed = BridgeTrainingParams.model_validate(params)
    datasets = {
        "audio_embeddings": MemoryDataset(audio),
        "text_embeddings": MemoryDataset(text),
        "params:bridge_training.settings": MemoryDataset(typed.settings),
    }
    for name in BRIDGES:
        datasets[f"params:bridge_training.bridges.{name}"] = MemoryDataset(typed.bridges[name])
        datasets[f"{name}.training_state"] = TrainingStateDataset(str(root / f"{name}.state"))
        datasets[f"{name}.model"] = BridgeCheckpointDataset(
            str(root / "bridges" / name), version=Version(None, None)
        )
    outputs = ["bridged_embeddings", "s_star_sweep", "bridge_training_curves"]
    outputs += ["bridge_training_history"]
    outputs += [f"{name}.{kind}" for name in BRIDGES for kind in ("bridged_embeddings",)]
    outputs += [f"{name}.training_history" for name in BRIDGES]
    return _run(bridge_training.create_pipeline(), datasets, outputs).load("bridged_embeddings")


def _train_decoder(bridged, captions, llama: Path, root: Path) -> None:
    settings = _yaml("decoder_training")["settings"]
    settings.update(model=str(llama), train_subset=None, max_caption_tokens=12, progress_bar=False)
    settings.update(job_dir=str(root / "jobs"), device="cpu")
    settings["lora"].update(r=4, alpha=8, dropout=0.0)
    settings["optimiser"].update(epochs=2, batch_size=4, lr=1e-3, log_every=1, eval_every=3)
    settings["generation"].update(GENERATION)
    datasets = {
        "bridged_embeddings": MemoryDataset(bridged),
        "captions": MemoryDataset(captions),
        "params:decoder_training.settings": MemoryDataset(DecoderSettings.model_validate(settings)),
        f"params:decoder_training.variants.{VARIANT}": MemoryDataset(
            VariantParams(mode="zero_shot", bridge="diffusion_link")
        ),
        f"{VARIANT}.decoder": DecoderCheckpointDataset(
            str(root / "decoders" / VARIANT),
            version=Version(None, None),
            load_args={"device": "cpu"},
        ),
        f"{VARIANT}.decoder_training_state": TrainingStateDataset(str(root / "decoder.state")),
    }
    outputs = ["generated_captions", "decoder_training_curves", "decoder_training_history"]
    outputs += [f"{VARIANT}.generated_captions"]
    _run(decoder_training.create_pipeline(variants=[VARIANT]), datasets, outputs)


@pytest.fixture(scope="module")
def chain(tiny_llama, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("paper_chain")
    clips, captions = _clips_with_audio()
    tokenizer = build_test_tokenizer(captions["caption"].tolist() + CAPTIONS, root / "tokenizer")
    checkpoint = write_checkpoint(root)
    embedded = _embed(clips, captions, checkpoint, tokenizer)
    audio, text = embedded.load("audio_embeddings"), embedded.load("text_embeddings")
    assert audio.attrs["encoder"] == "laion_clap" and audio.attrs["simulated_audio"] is False
    bridged = _train_bridges(audio, text, root)
    _train_decoder(bridged, captions, tiny_llama, root)
    params = _yaml("captioning")
    params["encoder"].update(checkpoint=str(checkpoint), batch_size=4)
    params.update(audio_dir=str(root / "audio"), device="cpu", generation=GENERATION)
    audio_dir = root / "audio"
    audio_dir.mkdir()
    for clip in bundled_clips():  # one folder of the user's audio
        (audio_dir / clip.name).symlink_to(clip)
    datasets = {
        "trained_bridge_folders": MemoryDataset(ModelFolders(root / "bridges")),
        "trained_decoder_folders": MemoryDataset(ModelFolders(root / "decoders")),
        "params:captioning": MemoryDataset(CaptioningParams.model_validate(params)),
    }
    table = _run(captioning.create_pipeline(), datasets, ["captions_out"]).load("captions_out")
    return {"root": root, "checkpoint": checkpoint, "audio_dir": audio_dir, "table": table}


def test_the_pipeline_captions_every_bundled_clip_with_the_latest_models(chain):
    table = chain["table"]
    assert len(table) == 16 and table["reason"].isna().all()
    assert table["caption"].map(lambda c: isinstance(c, str)).all()
    assert (table["bridge"] == "diffusion_link").all() and (table["decoder"] == VARIANT).all()
    bridge_folder = Path(table["bridge_folder"].iloc[0])
    assert bridge_folder.parent.name == table["bridge_version"].iloc[0]
    assert table["encoder"].iloc[0].startswith("random-clap.pt@sha256:")
    saved = json.loads((Path(table["decoder_folder"].iloc[0]) / "decoder_config.json").read_text())
    assert saved["trained_on"] == {"variant": VARIANT, "bridge": "diffusion_link"}
    # the encoder's weights are random: the output says so on every row
    assert table["warning"].str.startswith("THESE CAPTIONS ARE MEANINGLESS").all()


@pytest.fixture(scope="module")
def captioner(chain) -> Captioner:
    table = chain["table"]
    return Captioner.from_pretrained(
        chain["checkpoint"],
        table["bridge_folder"].iloc[0],
        table["decoder_folder"].iloc[0],
        device="cpu",
        generation=GenerationSettings(**GENERATION),
    )


def test_the_api_gives_the_pipelines_captions(chain, captioner):
    captions = captioner.caption(sorted(chain["audio_dir"].iterdir()))
    assert [c.text for c in captions] == chain["table"]["caption"].tolist()


def test_every_trained_bridge_chains_with_the_encoder_and_decoder(chain, captioner, caplog):
    clips = sorted(chain["audio_dir"].iterdir())[:3]
    for name in BRIDGES:
        folder, _ = ModelFolders(chain["root"] / "bridges").latest(name)
        caplog.clear()
        chained = Captioner(
            captioner.encoder, load_bridge(folder), captioner.decoder, captioner.generation
        )
        assert all(isinstance(c.text, str) for c in chained.caption(clips)), name
        other = f"trained on the outputs of bridge 'diffusion_link', but is given bridge '{name}'"
        assert (other in caplog.text) == (name != "diffusion_link")


def test_the_console_script_gives_the_pipelines_captions(chain, tmp_path):
    table = chain["table"]
    out = tmp_path / "captions.csv"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "diffusion_link.captioning", str(chain["audio_dir"])]
    command += ["--bridge", table["bridge_folder"].iloc[0]]
    command += ["--decoder", table["decoder_folder"].iloc[0]]
    command += ["--encoder-checkpoint", str(chain["checkpoint"]), "--device", "cpu"]
    command += ["--out", str(out), "--batch-size", "8", "--max-new-tokens", "6"]
    # Hang guard: this whole test took 43 s under make test-busy, 2026-12-03 (measured)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 16
    written = pd.read_csv(out, keep_default_na=False)
    assert written["file"].tolist() == [line.split("\t")[0] for line in lines]
    assert written["caption"].tolist() == [line.split("\t", 1)[1] for line in lines]


def test_kedro_run_captions_with_the_catalogs_latest_models(chain, tmp_path):
    """``kedro run --pipeline captioning`` in a copy of the project whose data/06_models holds
    the chain's trained bridges and decoders: the catalog finds them and versions the table."""
    project = copy_configuration(tmp_path / "project")
    shutil.copytree(PROJECT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    models = project / "data" / "06_models"
    models.mkdir(parents=True)
    for kind in ("bridges", "decoders"):
        (models / kind).symlink_to(chain["root"] / kind)
    params = f"captioning.audio_dir={chain['audio_dir']},captioning.device=cpu"
    params += (
        f",captioning.encoder.checkpoint={chain['checkpoint']},captioning.encoder.batch_size=4"
    )
    params += ",captioning.generation.max_new_tokens=6,captioning.generation.batch_size=8"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [str(bin_dir / "kedro"), "run", "--pipeline", "captioning", "--params", params],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # hang guard: model loading and 16 captions, ~30 s on 2 busy cores
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    (written,) = (project / "data/07_model_output/captions_out.csv").glob("*/captions_out.csv")
    table = pd.read_csv(written, keep_default_na=False)
    assert table["caption"].tolist() == chain["table"]["caption"].tolist()
    assert table["decoder_version"].iloc[0] == chain["table"]["decoder_version"].iloc[0]
