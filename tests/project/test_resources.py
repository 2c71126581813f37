"""A missing or broken checkpoint, tokenizer or LLM stops ``kedro run`` before any node runs.

Each case is a real Kedro session on a copy of the project's configuration, with ``--params``
pointing at real files in a temporary folder (missing, empty, unloadable, or a tokenizer that
turns every text into the same ids); the runner it is handed fails the test if it is ever
called. The refusal names the parameter and says how to get the file. One case runs ``kedro
run --env paper`` offline on the command line, the issue's observation (an error from inside
``encode_shards`` after 239 s).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diffusion_link.project.resources import ResourceError
from laion_clap_fixtures import SPECIAL_TOKENS, build_test_tokenizer
from session_fixtures import PROJECT, copy_configuration, run

HANG_GUARD_S = 300  # a refusal takes seconds (measured ~10-20 s on a loaded 2-core machine)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The project's configuration (no conf/local) and metadata in an empty folder."""
    return copy_configuration(tmp_path_factory.mktemp("project"))


@pytest.fixture(autouse=True)
def _offline_with_an_empty_cache(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # nothing cached


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Real resource files, good and bad, by name."""
    root = tmp_path_factory.mktemp("resources")
    good_tokenizer = build_test_tokenizer(
        ["a dog barks", "rain falls on a metal roof", "a car passes by"] * 4,
        root / "tokenizer",
        vocab_size=300,
    )
    # Knows only the special tokens: every text becomes the same ids (what transformers
    # returns for roberta-base offline).
    specials_only = root / "specials-only-tokenizer"
    specials_only.mkdir()
    (specials_only / "vocab.json").write_text(
        json.dumps({token: i for i, token in enumerate(SPECIAL_TOKENS)})
    )
    (specials_only / "merges.txt").write_text("#version: 0.2\n")
    unreadable = root / "unreadable-tokenizer"
    unreadable.mkdir()
    (unreadable / "vocab.json").write_text("{ not json")
    (unreadable / "merges.txt").write_text("#version: 0.2\n")
    checkpoint = root / "clap.pt"
    checkpoint.write_bytes(b"\0" * 1024)  # the check reads no weights: size is what it sees
    empty_checkpoint = root / "empty.pt"
    empty_checkpoint.touch()
    no_weights_llm = root / "llm-without-weights"
    no_weights_llm.mkdir()
    (no_weights_llm / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (no_weights_llm / "model.safetensors").touch()  # an interrupted download: empty
    return {
        "tokenizer": good_tokenizer,
        "specials_only": specials_only,
        "unreadable": unreadable,
        "checkpoint": checkpoint,
        "empty_checkpoint": empty_checkpoint,
        "no_weights_llm": no_weights_llm,
        "missing": root / "missing",
    }


def no_data_written(project: Path) -> bool:
    """Nothing under ``project/data`` but the run lock, which is taken before the check."""
    return [p.name for p in (project / "data").rglob("*")] in ([], [".kedro-run.lock"])


def clap(files: dict[str, Path], checkpoint: str = "checkpoint", tokenizer: str = "tokenizer"):
    """``--params`` selecting LAION-CLAP with the named files (or literal names)."""
    return [
        "embedding.encoder=laion_clap",
        f"embedding.laion_clap.checkpoint={files.get(checkpoint, checkpoint)}",
        f"embedding.laion_clap.tokenizer={files.get(tokenizer, tokenizer)}",
    ]


# (pipeline, the --params given the resource files, the message's key and explanation)
BAD = {
    "missing checkpoint": (
        "embedding",
        lambda f: clap(f, checkpoint="missing"),
        "embedding.laion_clap.checkpoint: LAION-CLAP checkpoint",
        "neither an existing file nor an official checkpoint name",
    ),
    "empty checkpoint": (
        "embedding",
        lambda f: clap(f, checkpoint="empty_checkpoint"),
        "embedding.laion_clap.checkpoint: LAION-CLAP checkpoint",
        "is empty (an interrupted download?)",
    ),
    "official checkpoint, offline, not cached": (
        "embedding",
        lambda f: clap(f, checkpoint="630k-audioset-best.pt"),
        "embedding.laion_clap.checkpoint: the LAION-CLAP checkpoint '630k-audioset-best.pt'",
        "download https://huggingface.co/lukewys/laion_clap/resolve/main/630k-audioset-best.pt",
    ),
    "missing tokenizer folder": (
        "embedding",
        lambda f: clap(f, tokenizer="missing"),
        "embedding.laion_clap.tokenizer: tokenizer folder",
        "does not exist: point `tokenizer` at a local folder holding roberta-base's vocab.json",
    ),
    "tokenizer giving every text the same ids": (
        "embedding",
        lambda f: clap(f, tokenizer="specials_only"),
        "embedding.laion_clap.tokenizer: RoBERTa tokenizer",
        "is broken",
    ),
    "unreadable tokenizer": (
        "embedding",
        lambda f: clap(f, tokenizer="unreadable"),
        "embedding.laion_clap.tokenizer: cannot load RoBERTa tokenizer",
        "huggingface.co/FacebookAI/roberta-base",
    ),
    "missing sentence model": (
        "embedding",
        lambda f: [f"embedding.sentence_model={f['missing']}"],
        "embedding.sentence_model: sentence encoder folder",
        "has no config.json",
    ),
    "missing LLM": (
        "decoder_training",
        lambda f: [f"decoder_training.settings.model={f['missing']}"],
        "decoder_training.settings.model: caption LLM",
        "not found (no config.json in that folder)",
    ),
    "LLM with an empty weights file": (
        "decoder_training",
        lambda f: [f"decoder_training.settings.model={f['no_weights_llm']}"],
        "decoder_training.settings.model: caption LLM",
        "has no weights",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_resource_stops_the_run_before_any_node_naming_its_parameter(project, files, case):
    pipeline, params, key, explanation = BAD[case]
    start = time.monotonic()
    with pytest.raises(ResourceError) as error:
        run(project, pipeline, params(files))  # the runner raises nothing: it was never reached
    elapsed = time.monotonic() - start
    text = str(error.value)
    assert text.startswith("missing or broken resources (nothing has run):"), text
    assert key in text and explanation in text, text
    assert elapsed < HANG_GUARD_S, f"refused only after {elapsed:.0f} s"
    assert no_data_written(project)


def test_every_bad_resource_is_reported_at_once(project, files):
    params = [
        *clap(files, "missing", "specials_only"),
        f"decoder_training.settings.model={files['missing']}",
    ]
    with pytest.raises(ResourceError) as error:
        run(project, "__default__", params)
    assert [p.split(":")[0] for p in error.value.problems] == [
        "embedding.laion_clap.checkpoint",
        "embedding.laion_clap.tokenizer",
        "decoder_training.settings.model",
    ]


def test_good_resources_reach_the_runner(project, files, tiny_llama):
    assert run(project, "embedding", clap(files)).called
    assert run(project, "embedding").called  # the packaged sentence encoder
    assert run(
        project, "decoder_training", [f"decoder_training.settings.model={tiny_llama}"]
    ).called


def test_only_the_resources_of_the_nodes_being_run_are_checked(project, files):
    bad = clap(files, "missing", "missing")
    assert run(project, "bridge_training", bad).called
    assert run(project, "embedding", bad, node_names=["embedding.combine_text_embeddings"]).called
    with pytest.raises(ResourceError, match="embedding.laion_clap.checkpoint"):
        run(project, "embedding", bad, node_names=["embedding.encode_shards"])


def test_kedro_run_with_the_paper_encoder_offline_fails_in_seconds(project, tmp_path):
    """The issue's case: conf/paper's LAION-CLAP offline, nothing downloaded."""
    shutil.copytree(project, tmp_path / "project")
    shutil.copytree(
        PROJECT / "src", tmp_path / "project" / "src", ignore=shutil.ignore_patterns("__pycache__")
    )
    bin_dir = Path(sys.executable).parent
    start = time.monotonic()
    result = subprocess.run(
        [str(bin_dir / "kedro"), "run", "--env", "paper", "--pipeline", "embedding"],
        cwd=tmp_path / "project",
        env={
            **os.environ,
            "KEDRO_DISABLE_TELEMETRY": "1",
            "DO_NOT_TRACK": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_CACHE": str(tmp_path / "hf-cache"),  # nothing cached
            "OMP_NUM_THREADS": "1",
            "COLUMNS": "250",
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    elapsed = time.monotonic() - start
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "missing or broken resources (nothing has run)" in output, output[-3000:]
    assert "embedding.laion_clap.checkpoint: the LAION-CLAP checkpoint" in output, output[-3000:]
    assert "embedding.laion_clap.tokenizer:" in output and "tokenizer roberta-base" in output
    assert no_data_written(tmp_path / "project")
    print(f"kedro run --env paper refused in {elapsed:.1f} s")  # noqa: T201
