"""The bridge_training pipeline: a whole run, kill-and-resume through ``kedro run``, bad input."""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import Version
from kedro.runner import SequentialRunner
from kedro.validation.exceptions import ParameterValidationError
from kedro.validation.parameter_validator import ParameterValidator
from matplotlib.figure import Figure
from pydantic import ValidationError
from safetensors import safe_open
from safetensors.torch import load_file

from catalog_fixtures import KeptDataset
from diffusion_link.core.bridges import BRIDGES
from diffusion_link.core.training import TrainingStateStore
from diffusion_link.core.validation import VALIDATION_METRICS
from diffusion_link.data.embeddings import embedding_matrix
from diffusion_link.datasets import EmbeddingTableDataset
from diffusion_link.datasets.bridge_checkpoint import (
    BridgeCheckpointDataset,
    TrainingStateDataset,
)
from diffusion_link.pipelines.bridge_training import create_pipeline
from diffusion_link.pipelines.bridge_training.nodes import (
    apply_bridge,
    train_bridge,
)
from diffusion_link.pipelines.bridge_training.params import BridgeParams, BridgeTrainingParams
from embedding_fixtures import simulated_tables
from kill_and_resume import first_kill_mid_training, kill_once_saved

logger = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parents[3]
SPLITS = ("train", "val", "test")
DIFFUSION = ("diffusion_bridge", "diffgap", "diffusion_link")
TABLE_VERSION = "2020-01-01T00.00.00.000Z"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def base_parameters() -> dict:
    text = (PROJECT / "conf/base/parameters_bridge_training.yml").read_text()
    return yaml.safe_load(text)["bridge_training"]


def tiny_parameters() -> dict:
    """The project's parameters with every diffusion bridge made small and short."""
    params = copy.deepcopy(base_parameters())
    params["settings"].update(device="cpu")
    params["settings"]["s_star_sweep"].update(s_stars=[100, 300], steps=5)
    bridges = params["bridges"]
    for name in DIFFUSION:
        bridges[name]["model"]["width"] = 32
        bridges[name]["training"].update(
            steps=12, checkpoint_every=5, batch_size=64, eval_every=10, warmup_steps=2
        )
    bridges["diffgap"]["model"]["ddim_steps"] = 10
    return params


def typed(params: dict) -> BridgeTrainingParams:
    """The parameters as Kedro hands them to the nodes: validated into their models."""
    return BridgeTrainingParams.model_validate(params)


@pytest.fixture(scope="module")
def tables(default_captions, default_text_embeddings, sentence_encoder):
    """Small real text/audio embedding tables: default captions through all-MiniLM-L6-v2, and
    audio simulated by the gap simulator fitted on their train split (as the embedding
    pipeline does)."""
    return simulated_tables(
        default_captions,
        default_text_embeddings,
        sentence_encoder.checkpoint_id,
        {"train": 400, "val": 40, "test": 80},
    )


OUTPUTS = (
    "bridged_embeddings",
    "s_star_sweep",
    "bridge_training_curves",
    "bridge_training_history",
)


def run_pipeline(audio, text, params, root: Path) -> DataCatalog:
    params = typed(params)
    datasets = {
        "audio_embeddings": MemoryDataset(audio),
        "text_embeddings": MemoryDataset(text),
        "params:bridge_training.settings": MemoryDataset(params.settings),
        **{name: KeptDataset() for name in OUTPUTS},
    }
    for name in BRIDGES:
        datasets[f"params:bridge_training.bridges.{name}"] = MemoryDataset(params.bridges[name])
        datasets[f"{name}.training_state"] = TrainingStateDataset(
            str(root / "training_state" / f"{name}.safetensors")
        )
        datasets[f"{name}.model"] = BridgeCheckpointDataset(
            str(root / "bridges" / name), version=Version(None, None)
        )
        datasets[f"{name}.bridged_embeddings"] = KeptDataset()
        datasets[f"{name}.training_history"] = KeptDataset()
    catalog = DataCatalog(datasets)
    SequentialRunner().run(create_pipeline(), catalog)
    return catalog


@pytest.fixture(scope="module")
def pipeline_run(tables, tmp_path_factory):
    audio, text = tables
    root = tmp_path_factory.mktemp("bridge_training")
    params = tiny_parameters()
    started = time.perf_counter()
    catalog = run_pipeline(audio, text, params, root)
    logger.info(
        "bridge_training on %d captions took %.1fs", len(text), time.perf_counter() - started
    )
    return catalog, root, params


def test_pipeline_interface():
    pipeline = create_pipeline()
    # the history is also read: its curves become the run's MLflow metrics
    assert pipeline.outputs() == set(OUTPUTS) - {"bridge_training_history"} | {
        "bridge_training_metrics"
    }
    assert "bridge_training_history" in pipeline.all_outputs()
    assert {"audio_embeddings", "text_embeddings", "params:bridge_training.settings"} <= (
        pipeline.inputs()
    )
    for name in BRIDGES:
        assert {f"{name}.train", f"{name}.apply"} <= {n.name for n in pipeline.nodes}
        assert f"params:bridge_training.bridges.{name}" in pipeline.inputs()


def test_every_bridge_source_and_split_is_bridged(pipeline_run, tables):
    catalog, _, _ = pipeline_run
    audio, text = tables
    table = catalog.load("bridged_embeddings")
    assert list(table.columns) == [
        "bridge",
        "source",
        "split",
        "clip_id",
        "caption_id",
        "embedding",
    ]
    combos = set(table[["bridge", "source", "split"]].itertuples(index=False, name=None))
    assert combos == {(b, s, split) for b in BRIDGES for s in ("audio", "text") for split in SPLITS}
    assert table.attrs["bridges"] == list(BRIDGES) and table.attrs["dim"] == 384
    for name in BRIDGES:
        rows = table[table["bridge"] == name]
        from_audio, from_text = rows[rows["source"] == "audio"], rows[rows["source"] == "text"]
        assert from_audio["clip_id"].tolist() == audio["clip_id"].tolist()
        assert from_audio["split"].tolist() == audio["split"].tolist()
        assert from_audio["caption_id"].isna().all()
        assert from_text["caption_id"].tolist() == text["caption_id"].tolist()
        assert from_text["clip_id"].tolist() == text["clip_id"].tolist()
    matrix = embedding_matrix(table)
    assert matrix.shape == (len(BRIDGES) * (len(audio) + len(text)), 384)
    assert np.isfinite(matrix).all()
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, rtol=1e-5)
    identity = table[(table["bridge"] == "identity") & (table["source"] == "audio")]
    np.testing.assert_allclose(embedding_matrix(identity), embedding_matrix(audio), atol=1e-6)


def test_s_star_sweep_has_every_configured_s_star(pipeline_run, tables):
    catalog, _, params = pipeline_run
    audio, _ = tables
    sweep = catalog.load("s_star_sweep")
    test_clips = audio[audio["split"] == "test"]["clip_id"].tolist()
    assert sorted(sweep["s_star"].unique()) == params["settings"]["s_star_sweep"]["s_stars"]
    for _, rows in sweep.groupby("s_star"):
        assert rows["clip_id"].tolist() == test_clips
    np.testing.assert_allclose(np.linalg.norm(embedding_matrix(sweep), axis=1), 1.0, rtol=1e-5)
    assert sweep.attrs["bridge"] == "diffusion_link" and sweep.attrs["ddim_steps"] == 5
    first, last = (embedding_matrix(sweep[sweep["s_star"] == s]) for s in (100, 300))
    assert not np.allclose(first, last)


def test_training_curves_and_history(pipeline_run):
    catalog, _, _ = pipeline_run
    figure = catalog.load("bridge_training_curves")
    assert isinstance(figure, Figure)
    titles = [*DIFFUSION, *(f"{name}: validation" for name in DIFFUSION)]
    assert sorted(axis.get_title() for axis in figure.axes) == sorted(titles)
    history = catalog.load("bridge_training_history")
    assert set(history["bridge"]) == set(DIFFUSION)
    link = history[history["bridge"] == "diffusion_link"]
    assert {"loss", "text_to_text", "audio_to_text", "topology", "step", "lr"} <= set(link)
    assert link["step"].max() == 12
    # Validation on the val split with the EMA weights, every eval_every steps and at the end.
    for name in DIFFUSION:
        evaluated = history[history["bridge"] == name].dropna(subset=list(VALIDATION_METRICS))
        assert list(evaluated["step"]) == [10, 12]
        assert evaluated[list(VALIDATION_METRICS)].abs().le(1.0).all().all()


def test_every_model_reloads_and_reproduces_its_rows(pipeline_run, tables):
    catalog, root, params = pipeline_run
    audio, _ = tables
    bridged = catalog.load("bridged_embeddings")
    for name in BRIDGES:
        model = BridgeCheckpointDataset(str(root / "bridges" / name), Version(None, None)).load()
        assert model.method == name
        seed = params["bridges"][name].get("seed", 0)  # BridgeParams' default
        out = model.bridge(
            torch.from_numpy(embedding_matrix(audio)),
            modality="audio",
            generator=torch.Generator().manual_seed(seed),
        )
        rows = bridged[(bridged["bridge"] == name) & (bridged["source"] == "audio")]
        np.testing.assert_array_equal(out.numpy(), embedding_matrix(rows))
    for name in BRIDGES:
        state = root / "training_state" / f"{name}.safetensors"
        if name in DIFFUSION:
            assert TrainingStateStore(state).load()["meta"]["step"] == 12
        else:
            assert not state.exists()


# --- kill and resume through `kedro run` ---------------------------------------------------

KILL_STEPS = 400  # diffusion_link's training length in the kill-and-resume runs
KILL_FROM = 40  # kill once a state at least this far has been written
# Hang guard for a whole `kedro run --pipeline bridge_training` of this test (beside a second
# one: both share the 2 cores). Measured: the whole test (both runs, the kill, the resumed run)
# took 73 s on a 2-core machine running another CPU job; the test logs its total time.
RUN_GUARD_S = 1200
LOCAL_PARAMETERS = {
    "bridge_training": {
        "settings": {"device": "cpu", "s_star_sweep": {"s_stars": [100, 200], "steps": 5}},
        "bridges": {
            "diffusion_link": {
                "model": {"width": 64},
                "training": {"steps": KILL_STEPS, "checkpoint_every": 20},
            },
            "diffusion_bridge": {"model": {"width": 32}, "training": {"steps": 5}},
            "diffgap": {"model": {"width": 32, "ddim_steps": 10}, "training": {"steps": 5}},
        },
    }
}


def project_copy(root: Path, audio: pd.DataFrame, text: pd.DataFrame) -> Path:
    """The project (conf, pyproject, src) in ``root`` with the embedding tables in place."""
    shutil.copytree(PROJECT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    shutil.copy(PROJECT / "pyproject.toml", root)
    shutil.copytree(PROJECT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "conf" / "local").mkdir()
    (root / "conf" / "local" / "parameters.yml").write_text(yaml.safe_dump(LOCAL_PARAMETERS))
    for name, table in (("audio", audio), ("text", text)):
        EmbeddingTableDataset(
            str(root / f"data/04_feature/{name}_embeddings.parquet"),
            version=Version(None, TABLE_VERSION),
        ).save(table)
    return root


def kedro_run(project: Path, log: Path) -> subprocess.Popen:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        # One thread each: two runs share the 2 cores, and both runs of a comparison must use
        # the same thread count for bitwise equality.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "COLUMNS": "250",  # keep rich from wrapping the log lines searched below
    }
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [str(bin_dir / "kedro"), "run", "--pipeline", "bridge_training"],
            cwd=project,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def finish(process: subprocess.Popen, log: Path, timeout: float) -> None:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"kedro run took over {timeout}s:\n{log.read_text()[-3000:]}")
    assert process.returncode == 0, log.read_text()[-5000:]


def kill_in_training(project: Path, log: Path) -> int | None:
    """Start ``kedro run``, SIGKILL it once diffusion_link's state is past KILL_FROM steps.

    Returns the step of the state the kill left behind, or None when the kill came too late
    (training had finished: nothing left to resume, so the attempt proves nothing).
    """
    state = project / "data/06_models/training_state/diffusion_link.safetensors"
    process = kedro_run(project, log)
    # Hang guard: kedro's start and 40 training steps, part of the whole test's 73 s (measured).
    deadline = time.monotonic() + 600
    step = kill_once_saved(process, state, KILL_FROM, deadline, lambda: log.read_text()[-5000:])
    if step is None:
        return None
    # The state the kill left is a complete safetensors file with its metadata.
    with safe_open(state, framework="pt") as handle:
        assert "json" in handle.metadata() and "ema.denoiser.output.weight" in handle.keys()
    assert step % 20 == 0 and KILL_FROM <= step <= KILL_STEPS
    return None if step == KILL_STEPS else step


def final_link_weights(project: Path) -> dict[str, torch.Tensor]:
    versions = sorted((project / "data/06_models/bridges/diffusion_link").glob("*"))
    finished = [v for v in versions if (v / "diffusion_link" / "model.safetensors").is_file()]
    assert len(finished) == 1, f"one finished diffusion_link model expected, got {finished}"
    folder = finished[0] / "diffusion_link"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    return load_file(folder / "model.safetensors")


@pytest.mark.slow
def test_kedro_run_killed_and_restarted_ends_bitwise_like_an_uninterrupted_run(tables, tmp_path):
    audio, text = tables
    started = time.monotonic()
    uninterrupted = project_copy(tmp_path / "uninterrupted", audio, text)
    reference = kedro_run(uninterrupted, tmp_path / "uninterrupted.log")
    try:
        projects: list[Path] = []

        def attempt(i: int) -> int | None:
            projects.append(project_copy(tmp_path / f"interrupted-{i}", audio, text))
            return kill_in_training(projects[-1], tmp_path / f"killed-{i}.log")

        killed_at = first_kill_mid_training(attempt)
        interrupted = projects[-1]
        logger.info("diffusion_link killed with its state at step %d of %d", killed_at, KILL_STEPS)
        # Nothing unfinished appears as a model: the killed run saved no diffusion_link model.
        assert not list(interrupted.glob("data/06_models/bridges/diffusion_link/*/diffusion_link"))

        resumed_log = tmp_path / "resumed.log"
        finish(kedro_run(interrupted, resumed_log), resumed_log, timeout=RUN_GUARD_S)
        resumed_text = resumed_log.read_text()
        assert f"diffusion_link: resuming from step {killed_at}" in resumed_text, resumed_text
        finish(reference, tmp_path / "uninterrupted.log", timeout=RUN_GUARD_S)
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()

    resumed, fresh = final_link_weights(interrupted), final_link_weights(uninterrupted)
    assert resumed.keys() == fresh.keys()
    for name in fresh:
        assert torch.equal(resumed[name], fresh[name]), f"{name} differs after the resume"
    # The resumed run's loss history is the uninterrupted one, and so are its outputs.
    history = "data/08_reporting/bridge_training_history.csv"
    pd.testing.assert_frame_equal(
        pd.read_csv(interrupted / history), pd.read_csv(uninterrupted / history)
    )
    for name in ("bridged_embeddings", "s_star_sweep"):
        outputs = [
            EmbeddingTableDataset(
                str(project / f"data/07_model_output/{name}.parquet"), Version(None, None)
            ).load()
            for project in (interrupted, uninterrupted)
        ]
        np.testing.assert_array_equal(*(embedding_matrix(table) for table in outputs))
    state = interrupted / "data/06_models/training_state/diffusion_link.safetensors"
    assert TrainingStateStore(state).load()["meta"]["step"] == KILL_STEPS
    logger.info("kill-and-resume test took %.0fs", time.monotonic() - started)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, pattern",
    [
        ({"method": "clap"}, r"method\n.*'identity'"),
        ({"model": {"s_star": 10, "ddim_steps": 11}}, r"model\n.*DDIM steps .* s_star=10"),
        ({"model": {"s_star": 1200}}, r"model\n.*s_star must be between 1 and T=1000"),
        ({"model": {"T": 50}}, r"model\n.*s_star must be between 1 and T=50"),
        ({"model": {"width": 0}}, r"model.width\n"),
        ({"training": {"steps": 0}}, r"training.steps\n"),
        ({"training": {"ema_decay": 1.0}}, r"training.ema_decay\n"),
        ({"trainig": {"steps": 5}}, r"trainig\n.*Extra inputs are not permitted"),
    ],
)
def test_bad_bridge_parameters_name_the_key(change, pattern):
    params = copy.deepcopy(base_parameters()["bridges"]["diffusion_link"])
    for key, value in change.items():
        params[key] = {**params.get(key, {}), **value} if isinstance(value, dict) else value
    with pytest.raises(ValidationError, match=pattern):
        BridgeParams.model_validate(params)


def test_kedro_refuses_bad_parameters_before_running():
    params = base_parameters()
    params["bridges"]["diffgap"]["model"]["s_star"] = 2000
    validator = ParameterValidator({"bridge_training": create_pipeline()})
    validator.validate_raw_params({"bridge_training": base_parameters()})
    with pytest.raises(ParameterValidationError, match="bridge_training.bridges.diffgap") as err:
        validator.validate_raw_params({"bridge_training": params})
    assert "s_star must be between 1 and T=1000, got 2000" in str(err.value)


def test_an_empty_train_split_is_a_clear_error(tables, tmp_path):
    audio, text = tables
    params = typed(tiny_parameters())
    no_train = text[text["split"] != "train"].reset_index(drop=True)
    no_train.attrs = text.attrs
    store = TrainingStateStore(tmp_path / "state.safetensors")
    with pytest.raises(ValueError, match="no 'train' captions have an audio embedding"):
        train_bridge(audio, no_train, store, params.bridges["diffusion_link"], params.settings)
    settings = params.settings.model_copy(update={"train_split": "dev"})
    with pytest.raises(ValueError, match="no 'dev' captions"):
        train_bridge(audio, text, store, params.bridges["c3"], settings)
    assert not store.path.exists()


def test_nan_in_the_training_embeddings_fails_naming_the_rows(tables, tmp_path):
    audio, text = tables
    broken = text.copy()
    broken.attrs = text.attrs
    row = int(np.flatnonzero(text["split"].to_numpy() == "train")[3])
    broken.at[row, "embedding"] = np.full(384, np.nan, dtype=np.float32)
    with pytest.raises(ValueError, match=r"training text: rows \[3\] contain NaN or inf"):
        run_pipeline(audio, broken, tiny_parameters(), tmp_path)


def test_nan_in_an_applied_split_fails_naming_the_rows(tables):
    audio, text = tables
    params = typed(tiny_parameters())
    train = text["split"] == "train"
    model, _ = train_bridge(audio, text, None, params.bridges["identity"], params.settings)
    broken = audio.copy()
    broken.attrs = audio.attrs
    broken.at[len(audio) - 1, "embedding"] = np.full(384, np.inf, dtype=np.float32)
    assert train.any()
    with pytest.raises(ValueError, match=rf"rows \[{len(audio) - 1}\] contain NaN or inf"):
        apply_bridge(model, broken, text, params.bridges["identity"], params.settings)


@pytest.mark.parametrize("env", ["base", "paper"])
def test_every_diffusion_bridge_gets_the_same_size_and_budget(env):
    from kedro.config import OmegaConfigLoader

    from diffusion_link.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(
        str(PROJECT / "conf"), env=None if env == "base" else env, **CONFIG_LOADER_ARGS
    )
    bridges = loader["parameters"]["bridge_training"]["bridges"]
    size = {"width", "num_blocks", "time_dim", "dropout", "T", "norm_scale"}
    validated = {name: BridgeParams(**bridges[name]) for name in DIFFUSION}
    first = validated[DIFFUSION[0]]
    # The peak learning rate is each bridge's own on the default (chosen on val by one rule,
    # conf/base/parameters_bridge_training.yml); everything else of the training is shared.
    own_lr = {"lr": first.training.lr} if env == "base" else {}
    for name in DIFFUSION[1:]:
        assert dataclasses.replace(validated[name].training, **own_lr) == first.training, name
        for key in size:
            assert getattr(validated[name].model, key) == getattr(first.model, key), (name, key)
    recipe = dataclasses.asdict(first.training)
    if env == "paper":  # the paper's recipe: Adam 1e-4 x0.97 every 200 steps, no stopping
        assert (recipe["lr"], recipe["schedule"], recipe["lr_decay"]) == (1e-4, "step", 0.97)
        assert recipe["lr_decay_every"] == 200 and recipe["patience"] == 0
    else:
        assert recipe["schedule"] == "cosine" and recipe["patience"] > 0
        for name in DIFFUSION:  # the grid the rule chooses from
            assert validated[name].training.lr in (1e-3, 3e-3, 1e-2), name


def test_a_missing_validation_split_is_a_clear_error(tables):
    audio, text = tables
    params = typed(tiny_parameters())
    settings = params.settings.model_copy(update={"validation_split": "dev"})
    with pytest.raises(ValueError, match="validation split 'dev' has no caption"):
        train_bridge(audio, text, None, params.bridges["diffusion_link"], settings)
