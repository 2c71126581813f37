"""Bad parameters stop ``kedro run`` before any node runs, naming the dotted key.

Each case is a real Kedro session on a copy of the project's configuration, given ``--params``
exactly as the command line parses them; the runner it is handed fails the test if it is ever
called, so every refusal is proven to come before the first node.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from kedro.config import OmegaConfigLoader
from kedro.framework.project import configure_project, pipelines
from pydantic import ValidationError

from diffusion_link.core.bridges import fit_bridge, training_objective
from diffusion_link.core.model import DiffusionConfig
from diffusion_link.core.training import TrainConfig
from diffusion_link.pipelines.bridge_training.params import BridgeParams
from diffusion_link.project.parameters import PARAMETER_GROUPS, ParameterError, check_parameters
from diffusion_link.settings import CONFIG_LOADER_ARGS
from session_fixtures import PROJECT, copy_configuration, run


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The project's configuration (no conf/local) and metadata in an empty folder."""
    return copy_configuration(tmp_path_factory.mktemp("project"))


@pytest.fixture(autouse=True)
def _no_resource_check(monkeypatch):
    """These runs are about parameters: the models and checkpoints they name (conf/paper's
    LAION-CLAP and LLaMA-2, the set-up's SmolLM2) need not exist; tests/test_resources.py
    checks that missing ones stop a run."""
    monkeypatch.setattr("diffusion_link.project.resources.check_resources", lambda *args: None)


def data_files(project: Path) -> dict[str, bytes] | None:
    """Every file under ``project/data`` and its content; None when there is no ``data/``.

    Accepted runs leave ``data/.kedro-run.lock`` (the run lock) and nothing else here."""
    data = project / "data"
    if not data.exists():
        return None
    return {str(p.relative_to(data)): p.read_bytes() for p in data.rglob("*") if p.is_file()}


def refused(project: Path, pipeline: str, params: str | list[str]) -> str:
    """The message of the refused run; asserts that nothing ran and no data was written."""
    before = data_files(project)
    with pytest.raises(ParameterError) as error:
        run(project, pipeline, params)
    assert data_files(project) == before
    return str(error.value)


BAD = [
    # data_prep
    ("data_prep", "data_prep.audiocaps_rot=x", "data_prep.audiocaps_rot: unknown key"),
    ("data_prep", "data_prep.require_audio=maybe", "data_prep.require_audio: Input should be"),
    ("data_prep", "data_prep.num_workers=0", "data_prep.num_workers: Input should be greater"),
    ("data_prep", "data_prep.splits=[train,dev]", "data_prep.splits[1]: Input should be 'train'"),
    ("data_prep", "data_prep.silence_peak=1.5", "data_prep.silence_peak: Input should be less"),
    # embedding
    ("embedding", "embedding.gap_simulator.warp_angel=1", "embedding.gap_simulator.warp_angel:"),
    ("embedding", "embedding.text_batch_size=big", "embedding.text_batch_size: Input should be"),
    ("embedding", "embedding.num_shards=0", "embedding.num_shards: Input should be greater"),
    ("embedding", "embedding.shard=3", "embedding: embedding.shard=3 must be < num_shards=1"),
    ("embedding", "embedding.encoder=clap", "embedding.encoder: Input should be 'gap_simulator'"),
    # bridge_training (the issue's example first)
    (
        "bridge_training",
        "bridge_training.bridgs.diffusion_link.model.s_star=200",
        "bridge_training.bridgs: unknown key",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.diffusion_link.model.s_stra=200",
        "bridge_training.bridges.diffusion_link.model.s_stra: unknown key",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.diffusion_link.model.s_star=2000",
        "bridge_training.bridges.diffusion_link.model: s_star must be between 1 and T=1000",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.diffusion_link.model.s_star=-5",
        "bridge_training.bridges.diffusion_link.model.s_star: Input should be greater than 0",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.diffgap.model.ddim_steps=0",
        "bridge_training.bridges.diffgap.model.ddim_steps: Input should be greater than 0",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.diffusion_bridge.training.batch_size=0",
        "bridge_training.bridges.diffusion_bridge.training.batch_size: Input should be greater",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.diffusion_link.training.lr=fast",
        "bridge_training.bridges.diffusion_link.training.lr: Input should be a valid number",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.diffusion_link.loss.topology_wieght=2",
        "bridge_training.bridges.diffusion_link.loss.topology_wieght: unknown key",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.diffusion_link.loss.topology_weight=heavy",
        "bridge_training.bridges.diffusion_link.loss.topology_weight: Input should be a valid num",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.diffusion_link.loss.reduction=median",
        "bridge_training.bridges.diffusion_link.loss: reduction must be mean or sum",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.diffgap.loss.snr_clip=5",
        "bridge_training.bridges.diffgap.loss: diffgap takes no loss settings",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.diffusion_lnk.method=diffusion_link",
        "bridge_training.bridges.diffusion_lnk: unknown name 'diffusion_lnk'; allowed: 'identity'",
    ),
    (
        "bridge_training",
        "bridge_training.bridges.c3.method=clap",
        "bridge_training.bridges.c3.method: Input should be 'identity', 'c3'",
    ),
    (
        "bridge_training",
        "bridge_training.settings.s_star_sweep.s_stars=[100,1500]",
        "bridge_training: settings.s_star_sweep: s_star must be between 1 and T=1000, got 1500",
    ),
    # decoder_training
    (
        "decoder_training",
        "decoder_training.settings.lora.rank=4",
        "decoder_training.settings.lora.rank: unknown key",
    ),
    (
        "decoder_training",
        "decoder_training.settings.lora.r=0",
        "decoder_training.settings.lora.r: Input should be greater than 0",
    ),
    (
        "decoder_training",
        "decoder_training.settings.optimiser.batch_size=eight",
        "decoder_training.settings.optimiser.batch_size: Input should be a valid integer",
    ),
    (
        "decoder_training",
        "decoder_training.variant.zero_shot_none.mode=zero_shot",
        "decoder_training.variant: unknown key",
    ),
    (
        "decoder_training",
        [
            "decoder_training.variants.zero_shot_clap.mode=zero_shot",
            "decoder_training.variants.zero_shot_clap.bridge=none",
        ],
        "decoder_training.variants.zero_shot_clap: unknown name 'zero_shot_clap'; allowed: "
        "'zero_shot_none'",
    ),
    (
        "decoder_training",
        "decoder_training.variants.zero_shot_none.bridge=diffgap",
        "decoder_training.variants.zero_shot_none.bridge: Input should be 'none'",
    ),
    (
        "decoder_training",
        [
            "decoder_training.variants.supervised_none.mode=supervised",
            "decoder_training.variants.supervised_none.bridge=none",
        ],
        "decoder_training.variants.supervised_none: no node of this run reads it",
    ),
    # evaluation
    ("evaluation", "evaluation.umap.n_neighbours=10", "evaluation.umap.n_neighbours: unknown key"),
    ("evaluation", "evaluation.recall_at=[1,five]", "evaluation.recall_at[1]: Input should be"),
    (
        "evaluation",
        "evaluation.linear_separability.test_fraction=1.5",
        "evaluation.linear_separability.test_fraction: Input should be less than 1",
    ),
    (
        "evaluation",
        "evaluation.paper.table_1.matched_audio_text.clap=0.5",
        "evaluation.paper.table_1.matched_audio_text.clap: unknown name 'clap'; allowed:",
    ),
    # an unknown group, whichever pipeline runs
    ("data_prep", "bridge_trainin.x=1", "bridge_trainin: unknown parameter group (did you mean"),
    ("evaluation", "paramters.x=1", "paramters: unknown parameter group (known: data_prep"),
]


@pytest.mark.parametrize(("pipeline", "params", "message"), BAD, ids=[str(b[1]) for b in BAD])
def test_a_bad_parameter_stops_the_run_before_any_node_naming_its_key(
    project, pipeline, params, message
):
    text = refused(project, pipeline, params)
    assert message in text, text
    assert text.startswith("invalid parameters (nothing has run):")


def test_every_problem_is_reported_at_once(project):
    text = refused(
        project,
        "bridge_training",
        [
            "bridge_training.bridgs.x=1",
            "bridge_training.bridges.diffgap.model.ddim_steps=0",
            "other.y=2",
        ],
    )
    assert "bridge_training.bridgs: unknown key" in text
    assert "bridge_training.bridges.diffgap.model.ddim_steps: Input should be greater" in text
    assert "other: unknown parameter group" in text


def test_only_the_groups_of_the_pipelines_being_run_are_checked(project):
    # A bad bridge_training value does not stop data_prep, which does not read it ...
    assert run(project, "data_prep", "bridge_training.bridges.diffgap.model.ddim_steps=0").called
    # ... but it stops the default run, which does.
    with pytest.raises(ParameterError, match="bridges.diffgap.model.ddim_steps"):
        run(project, "__default__", "bridge_training.bridges.diffgap.model.ddim_steps=0")


@pytest.mark.parametrize("env", [None, "paper"])
@pytest.mark.parametrize(
    "pipeline", ["data_prep", "embedding", "bridge_training", "decoder_training", "evaluation"]
)
def test_the_projects_parameters_reach_the_runner(project, pipeline, env):
    assert run(project, pipeline, env=env).called
    assert run(
        project, pipeline, "bridge_training.bridges.diffusion_link.model.s_star=200", env=env
    ).called


@pytest.mark.parametrize("env", [None, "paper"])
def test_every_group_of_the_configuration_is_known_and_fits_its_model(project, env, monkeypatch):
    loader = OmegaConfigLoader(conf_source=str(project / "conf"), env=env, **CONFIG_LOADER_ARGS)
    parameters = loader["parameters"]
    assert set(parameters) == set(PARAMETER_GROUPS)
    for name, value in parameters.items():
        PARAMETER_GROUPS[name].model_validate(value)
    configure_project("diffusion_link")  # every pipeline, built for this environment
    check_parameters(parameters, pipelines.values())


def test_kedro_run_on_the_command_line_refuses_the_issues_typo(project, tmp_path):
    """The issue's command: a typo in the bridges' key used to train the default s* silently."""
    shutil.copytree(project, tmp_path / "project")
    shutil.copytree(
        PROJECT / "src", tmp_path / "project" / "src", ignore=shutil.ignore_patterns("__pycache__")
    )
    before = data_files(tmp_path / "project")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "kedro"),
            "run",
            "--pipeline",
            "bridge_training",
            "--params",
            "bridge_training.bridgs.diffusion_link.model.s_star=200",
        ],
        cwd=tmp_path / "project",
        env={
            **os.environ,
            "KEDRO_DISABLE_TELEMETRY": "1",
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
            "COLUMNS": "250",
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        capture_output=True,
        text=True,
        timeout=240,  # hang guard: measured 12 s on a 2-core machine running another CPU job
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "bridge_training.bridgs: unknown key" in output, output[-3000:]
    assert data_files(tmp_path / "project") == before


def test_the_bridge_models_take_exactly_the_core_configs_keys():
    """No key the parameter models accept can make DiffusionConfig / TrainConfig fail."""
    model_keys = {f.name for f in dataclasses.fields(DiffusionConfig)} - {"dim"}
    model, training = BridgeParams.model_fields["model"], BridgeParams.model_fields["training"]
    assert {f.name for f in dataclasses.fields(model.annotation)} == model_keys
    assert training.annotation is TrainConfig  # the core config itself, not a mirror


def test_fit_bridge_names_a_bad_setting_before_any_work():
    audio = text = torch.zeros(4, 8)
    with pytest.raises(ValueError, match=r"unknown model settings model\.s_stra; known: .*s_star"):
        fit_bridge("diffusion_link", audio, text, model={"s_stra": 200})
    with pytest.raises(ValidationError) as error:
        fit_bridge("diffusion_link", audio, text, loss={"topology_wieght": 2.0})
    assert [e["loc"] for e in error.value.errors()] == [("topology_wieght",)]
    with pytest.raises(ValueError, match=r"identity takes no loss settings"):
        fit_bridge("identity", audio, text, loss={"snr_clip": 5.0})
    assert training_objective("c3") is None
    assert callable(training_objective("diffusion_bridge", {"snr_clip": 5}))
