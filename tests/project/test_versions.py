"""``python -m diffusion_link.project.versions``: list and prune the versions of versioned entries.

Every test builds a real project folder in tmp_path (conf/base, conf/local, data/ with real
version folders) and runs the real functions or the real command in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diffusion_link.project import versions
from diffusion_link.project.versions import (
    Target,
    catalog_config,
    folders,
    human_size,
    prune,
    remove_folder,
    scan,
    scan_all,
    versioned_targets,
)

SRC = Path(__file__).resolve().parents[2] / "src"
HANG_GUARD_S = 300  # only against a hung child; the command takes about a second

V1, V2, V3, V4, V5 = (f"2026-01-0{day}T08.53.53.540Z" for day in range(1, 6))

CATALOG_BASE = """
text_embeddings:
  type: diffusion_link.datasets.EmbeddingTableDataset
  filepath: data/04_feature/text_embeddings.parquet
  versioned: true

report_json:
  type: json.JSONDataset
  filepath: data/08_reporting/report.json
  versioned: true

"{bridge}.model":
  type: diffusion_link.datasets.BridgeCheckpointDataset
  filepath: data/06_models/bridges/{bridge}
  versioned: true

"{bridge}.training_state":
  type: diffusion_link.datasets.TrainingStateDataset
  filepath: data/06_models/training_state/{bridge}.safetensors

clips:
  type: pandas.ParquetDataset
  filepath: data/02_intermediate/clips.parquet

raw_by_mistake:
  type: json.JSONDataset
  filepath: data/01_raw/audiocaps/meta.json
  versioned: true
"""

# conf/local moves report_json, as a user's local override would
CATALOG_LOCAL = """
report_json:
  type: json.JSONDataset
  filepath: data/08_reporting/local_report.json
  versioned: true
"""


def make_version(entry: Path, version: str, size: int, folder: bool = False) -> Path:
    """A real version folder ``entry/version/<entry name>`` holding ``size`` bytes."""
    content = entry / version / entry.name
    if folder:
        content.mkdir(parents=True)
        (content / "model.safetensors").write_bytes(b"w" * (size - 10))
        (content / "config.json").write_bytes(b"c" * 10)
    else:
        content.parent.mkdir(parents=True)
        content.write_bytes(b"x" * size)
    return entry / version


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with versions of a file entry, two bridges (folders), raw data and more."""
    root = tmp_path / "project"
    (root / "conf" / "base").mkdir(parents=True)
    (root / "conf" / "local").mkdir()
    (root / "conf" / "base" / "catalog.yml").write_text(CATALOG_BASE)
    (root / "conf" / "local" / "catalog.yml").write_text(CATALOG_LOCAL)
    data = root / "data"
    for i, version in enumerate((V1, V2, V3, V4, V5)):
        make_version(data / "04_feature" / "text_embeddings.parquet", version, 100 * (i + 1))
    for version in (V2, V4):
        make_version(data / "06_models" / "bridges" / "mlp", version, 5000, folder=True)
    make_version(data / "06_models" / "bridges" / "diffusion_link", V1, 3000, folder=True)
    for version in (V1, V2, V3):
        make_version(data / "08_reporting" / "local_report.json", version, 10)
        make_version(data / "08_reporting" / "report.json", version, 10)  # base's: not in use
    # raw data shaped exactly like versions, and files beside versions: never touched
    for version in (V1, V2, V3, V4):
        make_version(data / "01_raw" / "audiocaps" / "meta.json", version, 7)
    (data / "01_raw" / "audiocaps" / "train.csv").write_text("youtube_id,caption\n")
    (data / "06_models" / "training_state").mkdir(parents=True)
    (data / "06_models" / "training_state" / "mlp.safetensors").write_bytes(b"s" * 64)
    (data / "02_intermediate").mkdir()
    (data / "02_intermediate" / "clips.parquet").write_bytes(b"p" * 32)
    (data / "04_feature" / "text_embeddings.parquet" / "notes.txt").write_text("mine")
    (data / "04_feature" / "text_embeddings.parquet" / "pinned").mkdir()
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` and its content."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def run_cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "KEDRO_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
    }
    env.pop("KEDRO_ENV", None)
    return subprocess.run(
        [sys.executable, "-m", "diffusion_link.project.versions", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )


def entries_of(project: Path, env: str | None = None) -> dict[str, versions.Entry]:
    targets = versioned_targets(catalog_config(project, env), project)
    return {entry.target.name: entry for entry in scan_all(targets)}


def test_the_catalog_is_read_for_the_run_environment_and_factories_are_resolved(project):
    entries = entries_of(project)
    assert set(entries) == {"text_embeddings", "report_json", "mlp.model", "diffusion_link.model"}
    assert entries["report_json"].target.path == project / "data/08_reporting/local_report.json"
    assert entries["mlp.model"].target.path == project / "data/06_models/bridges/mlp"
    assert entries["mlp.model"].target.filename == "mlp"
    # only conf/base: report_json is where base puts it
    (project / "conf" / "only_base").mkdir()
    base = entries_of(project, env="only_base")
    assert base["report_json"].target.path == project / "data/08_reporting/report.json"


def test_raw_data_is_refused_even_when_a_versioned_entry_points_there(project):
    notes = io.StringIO()
    targets = versioned_targets(catalog_config(project), project, notes)
    assert not any("01_raw" in str(target.path) for target in targets)
    assert "skipped raw_by_mistake" in notes.getvalue()


def test_list_shows_every_entry_newest_first_with_sizes_and_totals(project):
    result = run_cli(project, "list", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    by_name = {entry["name"]: entry for entry in listing["entries"]}
    text = by_name["text_embeddings"]
    assert [v["version"] for v in text["versions"]] == [V5, V4, V3, V2, V1]
    assert [v["bytes"] for v in text["versions"]] == [500, 400, 300, 200, 100]
    assert text["bytes"] == 1500
    assert [v["bytes"] for v in by_name["mlp.model"]["versions"]] == [5000, 5000]
    assert listing["versions"] == 5 + 2 + 1 + 3
    assert listing["bytes"] == 1500 + 10000 + 3000 + 30

    result = run_cli(project, "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index(f"text_embeddings  ({project / 'data/04_feature/text_embeddings.parquet'})")
    assert lines[start + 1].split() == [V5, "500", "B", "latest"]
    assert lines[start + 5].split() == [V1, "100", "B"]
    assert lines[start + 6].strip() == "5 version(s), 1.5 KiB"
    assert "mlp.model" in result.stdout and human_size(10000) in result.stdout
    assert lines[-1] == f"total: 4 versioned entries, 11 version(s), {human_size(14530)}"


def test_prune_keeps_the_newest_n_of_every_entry(project):
    before = snapshot(project)
    result = run_cli(project, "prune", "--keep", "2")
    assert result.returncode == 0, result.stderr
    entries = entries_of(project)
    assert [v.name for v in entries["text_embeddings"].versions] == [V5, V4]
    assert [v.name for v in entries["report_json"].versions] == [V3, V2]
    assert [v.name for v in entries["mlp.model"].versions] == [V4, V2]
    assert [v.name for v in entries["diffusion_link.model"].versions] == [V1]
    assert f"deleted text_embeddings {V1} (100 B)" in result.stdout
    assert f"freed {human_size(100 + 200 + 300 + 10)}" in result.stdout
    # nothing else changed: every remaining file is as it was, and only pruned ones are gone
    after = snapshot(project)
    gone = set(before) - set(after)
    assert all(before[name] == after[name] for name in after) and set(after) <= set(before)
    assert gone == {
        f"data/04_feature/text_embeddings.parquet/{v}/text_embeddings.parquet" for v in (V1, V2, V3)
    } | {f"data/08_reporting/local_report.json/{V1}/local_report.json"}
    assert not list(project.rglob(".pruning-*"))


def test_the_default_keeps_three(project):
    assert run_cli(project, "prune").returncode == 0
    entries = entries_of(project)
    assert [v.name for v in entries["text_embeddings"].versions] == [V5, V4, V3]


def test_the_latest_version_is_always_kept(project):
    result = run_cli(project, "prune", "--keep", "1")
    assert result.returncode == 0, result.stderr
    entries = entries_of(project)
    assert {name: [v.name for v in e.versions] for name, e in entries.items()} == {
        "text_embeddings": [V5],
        "report_json": [V3],
        "mlp.model": [V4],
        "diffusion_link.model": [V1],
    }
    before = snapshot(project)
    refused = run_cli(project, "prune", "--keep", "0")
    assert refused.returncode == 2 and "at least 1" in refused.stderr
    assert snapshot(project) == before
    with pytest.raises(ValueError, match="at least 1"):
        prune(list(entries.values()), keep=0, out=io.StringIO())


def test_raw_data_and_everything_but_old_versions_is_untouched(project):
    raw_before = snapshot(project / "data" / "01_raw")
    assert run_cli(project, "prune", "--keep", "1").returncode == 0
    assert snapshot(project / "data" / "01_raw") == raw_before
    assert (project / "data/06_models/training_state/mlp.safetensors").read_bytes() == b"s" * 64
    assert (project / "data/02_intermediate/clips.parquet").exists()
    assert (project / "data/04_feature/text_embeddings.parquet/notes.txt").read_text() == "mine"
    assert (project / "data/04_feature/text_embeddings.parquet/pinned").is_dir()
    # conf/base's report_json folder is not the entry of this environment: left alone
    assert len(list((project / "data/08_reporting/report.json").iterdir())) == 3


def test_dry_run_deletes_nothing(project):
    before = snapshot(project)
    result = run_cli(project, "prune", "--keep", "1", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert snapshot(project) == before
    assert f"would delete text_embeddings {V1} (100 B)" in result.stdout
    assert f"would delete mlp.model {V2} ({human_size(5000)})" in result.stdout
    assert "would free" in result.stdout


def test_an_incomplete_version_is_listed_but_neither_counted_nor_deleted(project):
    entry = project / "data" / "04_feature" / "text_embeddings.parquet"
    saving = entry / "2026-01-09T00.00.00.000Z"  # a save in progress: no table yet
    saving.mkdir()
    (saving / ".text_embeddings.parquet.partial-0123").write_bytes(b"half")
    scanned = scan(Target("text_embeddings", entry, entry.name))
    assert scanned.incomplete == [saving]
    assert scanned.versions[0].name == V5
    out = io.StringIO()
    prune([scanned], keep=1, out=out)
    assert saving.is_dir() and "incomplete" in out.getvalue()
    assert [v.name for v in scan(scanned.target).versions] == [V5]


def test_a_killed_removal_never_leaves_a_version_and_the_next_prune_finishes_it(
    project, monkeypatch
):
    from kedro.io.core import Version
    from kedro_datasets.json import JSONDataset

    entry = project / "data" / "08_reporting" / "local_report.json"
    for version in (V1, V2, V3):
        (entry / version / entry.name).write_text(json.dumps({"version": version}))
    real_rmtree = folders.shutil.rmtree

    def killed(path, *args, **kwargs):
        raise KeyboardInterrupt  # the process dies after the rename, before anything is gone

    monkeypatch.setattr(folders.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        remove_folder(entry / V3)  # even the newest: the worst case
    monkeypatch.setattr(folders.shutil, "rmtree", real_rmtree)
    names = sorted(p.name for p in entry.iterdir())
    assert names[1:] == [V1, V2]  # no folder under V3's name, complete or half-deleted
    assert names[0].startswith(f".pruning-{V3}-")
    # Kedro loads the newest real version; the leftover is no version to it
    dataset = JSONDataset(filepath=str(entry), version=Version(None, None))
    assert dataset.load() == {"version": V2}
    scanned = scan(Target("report_json", entry, entry.name))
    assert [v.name for v in scanned.versions] == [V2, V1]
    out = io.StringIO()
    prune([scanned], keep=3, out=out)
    assert "interrupted prune" in out.getvalue()
    assert sorted(p.name for p in entry.iterdir()) == [V1, V2]


def test_remove_folder_refuses_anything_but_a_version_folder(project):
    with pytest.raises(ValueError, match="not a version folder"):
        remove_folder(project / "data" / "04_feature" / "text_embeddings.parquet" / "pinned")
    assert (project / "data" / "04_feature" / "text_embeddings.parquet" / "pinned").is_dir()


def test_human_sizes():
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 3 * 1024**3)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "3.0 GiB",
    ]
