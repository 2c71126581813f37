"""Lineage: ``kedro viz build``'s static site, served on 127.0.0.1, drawn by headless chromium.

Every node of every registered pipeline must be drawn in the flowchart (modular pipelines
expanded), and a screenshot is saved to tests/artifacts/lineage.png for people to look at.
Skipped only when Debian's chromium is not installed (.ci/run installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# OFFLINE.md: the flags with which kedro-viz's static site renders offline
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--virtual-time-budget=15000",
    "--window-size=1600,1000",
)
DRAWN_LABEL = re.compile(r'<text class="pipeline-node__text"[^>]*>([^<]*)</text>')

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)

REGISTERED = """
import json
from pathlib import Path
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
bootstrap_project(Path.cwd())
print(json.dumps({n: [node.name for node in p.nodes] for n, p in pipelines.items()}))
"""


def environment() -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    return {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium(url: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=600,  # hang guard: a headless page load is estimated at < 30 s (quiet)
        )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The project's code and configuration (no data needed) in a temporary folder."""
    root = tmp_path_factory.mktemp("viz")
    ignore = shutil.ignore_patterns("__pycache__", "local")
    for folder in ("conf", "src"):
        shutil.copytree(PROJECT / folder, root / folder, ignore=ignore)
    shutil.copy(PROJECT / "pyproject.toml", root)
    (root / "conf" / "local").mkdir()
    return root


@pytest.fixture(scope="module")
def registered(project) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", REGISTERED],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=600,  # hang guard: importing the project's pipelines, estimated < 30 s (quiet)
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def site(project):
    """``kedro viz build`` served by ``python -m http.server`` on 127.0.0.1: its URL."""
    build = subprocess.run(
        [str(Path(sys.executable).parent / "kedro"), "viz", "build"],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=900,  # hang guard: `kedro viz build`, estimated < 60 s on a quiet machine
    )
    assert build.returncode == 0, (build.stdout + build.stderr)[-3000:]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=project / "build",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60  # hang guard: http.server listens in 0.1 s (measured)
        while True:
            try:
                # one attempt (refused at once until the server listens); the deadline is the guard
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no http.server"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=60)  # hang guard: exits at once on SIGTERM (< 0.1 s, measured)


def test_build_lists_every_registered_pipeline(project, site, registered):
    api = json.loads((project / "build" / "api" / "main").read_text())
    assert {p["id"] for p in api["pipelines"]} == set(registered)
    assert {"data_prep", "embedding", "bridge_training", "evaluation"} <= set(registered)


def _drawn_and_expected(site: str, pipeline: str, nodes: list[str]) -> tuple[Counter, Counter]:
    result = chromium(f"{site}?pid={pipeline}&expandAllPipelines=true", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    # kedro-viz labels a namespaced node "ns.train" as "train": count the short names
    return Counter(DRAWN_LABEL.findall(result.stdout)), Counter(n.rsplit(".", 1)[-1] for n in nodes)


def test_browser_draws_every_node_of_every_pipeline(site, registered):
    # __default__ holds every pipeline but those run on request only (captioning), drawn alone
    on_request = {
        name for name in registered if not set(registered[name]) <= set(registered["__default__"])
    }
    assert on_request == {"captioning"}
    for pipeline in ["__default__", *sorted(on_request)]:
        drawn, expected = _drawn_and_expected(site, pipeline, registered[pipeline])
        missing = {name: n - drawn[name] for name, n in expected.items() if drawn[name] < n}
        assert not missing, f"{pipeline}: nodes not drawn: {missing}; drawn: {sorted(drawn)}"
    for pipeline, names in registered.items():
        assert names, f"pipeline {pipeline} has no nodes"


def test_screenshot_is_saved_as_an_artefact(site):
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "lineage.png"
    target.unlink(missing_ok=True)
    result = chromium(site, f"--screenshot={target}")
    assert result.returncode == 0, result.stderr[-2000:]
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, "empty screenshot"
