"""One tiny ``kedro run`` of the five default pipelines, shared by the tests that read its
outputs (the notebooks, the MLflow store): tiny bridges and decoders, tracking on as default."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

logger = logging.getLogger(__name__)
PROJECT = Path(__file__).resolve().parents[1]
PIPELINES = ("data_prep", "embedding", "bridge_training", "decoder_training", "evaluation")
SMOLLM2 = PROJECT / "data" / "06_models" / "smollm2-135m-instruct"  # made by `make setup`
TINY = {"model": {"width": 32}, "training": {"steps": 20, "checkpoint_every": 10, "eval_every": 10}}
LOCAL_PARAMETERS = {
    "bridge_training": {
        "settings": {"device": "cpu"},
        "bridges": {
            "diffusion_link": TINY,
            "diffusion_bridge": TINY,
            "diffgap": {**TINY, "model": {"width": 32, "ddim_steps": 10}},
        },
    },
    "decoder_training": {
        "settings": {
            "model": str(SMOLLM2),
            "train_subset": 16,
            "generation": {"max_new_tokens": 4},
        }
    },
}


def environment() -> dict[str, str]:
    """The environment of a ``kedro`` subprocess: offline, no telemetry, one thread."""
    bin_dir = Path(sys.executable).parent
    return {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        "MPLBACKEND": "Agg",
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(PROJECT / ".cache" / "numba")),
        "OMP_NUM_THREADS": "1",  # small models on a shared 2-core machine
        "MKL_NUM_THREADS": "1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def copy_project(root: Path) -> Path:
    """The project's code, configuration, notebooks and raw data in ``root``, with the tiny
    parameters as its conf/local."""
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "local")
    for folder in ("conf", "src", "notebooks"):
        shutil.copytree(PROJECT / folder, root / folder, ignore=ignore)
    shutil.copytree(PROJECT / "data" / "01_raw", root / "data" / "01_raw")
    shutil.copy(PROJECT / "pyproject.toml", root)
    (root / "conf" / "local").mkdir()
    (root / "conf" / "local" / "parameters.yml").write_text(yaml.safe_dump(LOCAL_PARAMETERS))
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A copy of the project in which the default pipelines have run (tiny bridges, decoders)."""
    root = copy_project(tmp_path_factory.mktemp("project"))
    started = time.perf_counter()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kedro"), "run", "--pipelines", ",".join(PIPELINES)],
        cwd=root,
        env=environment(),
        capture_output=True,
        text=True,
        # Hang guard only: the tiny run of the five pipelines took 5 min 18 s on the 2-core
        # machine beside other jobs (tracking on); 1800 s is > 5x. Under make test-busy, 2026-12-03: 435 s.
        timeout=1800,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert list((root / "data" / "08_reporting").glob("report.json/*/report.json"))
    logger.info("kedro run of %s took %.0fs", PIPELINES, time.perf_counter() - started)
    return root
