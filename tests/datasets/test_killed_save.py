"""A save SIGKILLed mid-write never leaves a version (or file) that a later load takes.

Real processes and real files: a child process saves through the project's dataset classes
(as the catalog configures them) and is SIGKILLed while a write is under way. A fresh dataset
in this process must then load the previous complete version, or say that there is none.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from kedro.io.core import DatasetError, Version  # noqa: E402

from diffusion_link.data.embeddings import embedding_matrix, with_embeddings  # noqa: E402
from diffusion_link.datasets import (  # noqa: E402
    AtomicCSVDataset,
    AtomicJSONDataset,
    AtomicMatplotlibDataset,
    AtomicParquetDataset,
    AtomicTextDataset,
    EmbeddingTableDataset,
)
from diffusion_link.datasets.atomic_save import PARTIAL_MARK  # noqa: E402

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
# Hang guards only. Measured quiet (nice'd, on this 2-core machine beside another CPU job): a
# child's first save completes after 5.4 s (figure), 7.5 s (text), 11.9 s (embedding: imports
# plus a 100 MB table), and later saves every 0.3-2.1 s; a JSON child pauses mid-write after
# 3.2 s. The guards are at least 7x those times.
FIRST_SAVE_GUARD_S = 90.0
KILL_GUARD_S = 30.0
ATTEMPTS = 5  # a kill that lands between two writes leaves nothing partial: try again
VERSIONED = ("embedding", "figure", "parquet")  # text and csv: one unversioned file

ROWS, DIM = 25_000, 1024  # a 100 MB embedding table (random float32 does not compress)
TEXT_CHARS = 100_000_000
FIGURE_INCHES, FIGURE_DPI = 50, 100  # a 5000 x 5000 RGBA raw image: 100 MB
TABLE_ROWS = 2_000_000  # a caption-like table of ~60 MB as CSV, ~30 MB as Parquet


def _dataset(kind: str, root: Path) -> Any:
    """The dataset under test, configured as the project's catalog entries are."""
    if kind == "embedding":
        return EmbeddingTableDataset(
            filepath=str(root / "table.parquet"), version=Version(None, None)
        )
    if kind == "text":
        return AtomicTextDataset(filepath=str(root / "report.md"))
    if kind == "csv":  # as the histories and data_quality.csv are configured
        return AtomicCSVDataset(filepath=str(root / "history.csv"), save_args={"index": False})
    if kind == "parquet":  # as the caption tables and generated captions are configured
        return AtomicParquetDataset(
            filepath=str(root / "captions.parquet"), version=Version(None, None)
        )
    if kind == "figure":
        return AtomicMatplotlibDataset(
            filepath=str(root / "figure.rgba"),
            version=Version(None, None),
            save_args={"format": "rgba", "dpi": FIGURE_DPI},
        )
    raise ValueError(kind)


def _embedding_table(index: int) -> pd.DataFrame:
    rng = np.random.default_rng(index)
    ids = pd.DataFrame({"clip_id": [f"c{i}" for i in range(ROWS)]})
    attrs = {"encoder": "test", "checkpoint": f"save-{index}", "dim": DIM}
    return with_embeddings(ids, rng.standard_normal((ROWS, DIM), dtype=np.float32), attrs)


def _table(index: int) -> pd.DataFrame:
    """A table whose every row says which save it belongs to."""
    rng = np.random.default_rng(index)
    return pd.DataFrame(
        {"save": np.full(TABLE_ROWS, index), "value": rng.standard_normal(TABLE_ROWS)}
    )


def _grey(index: int) -> int:
    return 10 * (index % 20) + 20


def _payload(kind: str, index: int) -> Any:
    """The data of the child's save number ``index`` (the same in parent and child)."""
    if kind == "embedding":
        return _embedding_table(index)
    if kind == "text":
        return chr(ord("a") + index % 26) * TEXT_CHARS
    if kind in ("csv", "parquet"):
        return _table(index)
    figure = plt.figure(figsize=(FIGURE_INCHES, FIGURE_INCHES))
    figure.patch.set_facecolor([_grey(index) / 255] * 3)
    return figure


def save_forever(kind: str, root: str) -> None:
    """Child process: save payload 0, 1, 2, ... printing "saved <i>" after each."""
    dataset = _dataset(kind, Path(root))
    index = 0
    while True:
        dataset.save(_payload(kind, index))
        sys.stdout.write(f"saved {index}\n")
        sys.stdout.flush()
        index += 1


class _Pause:
    """What the JSON encoder meets only after it has written the big value before it."""


def save_json_paused(root: str) -> None:
    """Child process: save a JSON report whose encoding stops mid-write (the file holds the
    first megabytes), announce that in ``<root>/paused``, and wait there to be killed."""

    def pause(value: object) -> object:
        (Path(root) / "paused").write_text("mid-write")
        time.sleep(3600)
        return None

    dataset = AtomicJSONDataset(
        filepath=str(Path(root) / "report.json"),
        version=Version(None, None),
        save_args={"indent": 2, "default": pause},
    )
    dataset.save({"big": "x" * 4_000_000, "later": _Pause()})


def _child(code: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    program = f"import sys; sys.path.insert(0, {str(HERE)!r}); import test_killed_save as t; {code}"
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-c", program], env=env, stdout=output, stderr=subprocess.STDOUT
        )


def _partials(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"*{PARTIAL_MARK}*") if p.stat().st_size > 0]


def _written(root: Path, kind: str, done: set[Path]) -> list[Path]:
    """Files of a save under way: hidden partials, the files of a version folder newer than
    those in ``done``, or (unversioned text) a file shorter than a complete one."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or path.stat().st_size == 0:
            continue
        if PARTIAL_MARK in path.name or (kind in VERSIONED and path.parent not in done):
            found.append(path)
        elif kind == "text" and path.stat().st_size < TEXT_CHARS:
            found.append(path)
    return found


def _sigkill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=KILL_GUARD_S)
    assert process.returncode == -signal.SIGKILL


def _kill_mid_write(kind: str, root: Path) -> list[Path]:
    """Start a saving child, SIGKILL it once a save after the first is writing; the partial
    files the kill left (none when it landed between two writes)."""
    log = root.parent / f"{root.name}.log"
    process = _child(f"t.save_forever({kind!r}, {str(root)!r})", log)
    try:
        deadline = time.monotonic() + FIRST_SAVE_GUARD_S
        while "saved 0" not in log.read_text():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"no first save: {log.read_text()[-3000:]}"
            time.sleep(0.01)
        done = {path.parent for path in root.rglob("*") if path.is_file()}
        deadline = time.monotonic() + KILL_GUARD_S
        while not _written(root, kind, done):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"no second save: {log.read_text()[-3000:]}"
            time.sleep(0.001)
        _sigkill(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return _partials(root)


def _completed(root: Path) -> int:
    """How many saves the killed child reported complete (from its log)."""
    log = (root.parent / f"{root.name}.log").read_text()
    return sum(line.startswith("saved ") for line in log.splitlines())


def _check_loads_a_complete_save(kind: str, root: Path) -> None:
    """A fresh dataset loads a complete save: the last one the child reported, or the one it
    finished but was killed before reporting."""
    last = _completed(root) - 1
    assert last >= 0
    dataset = _dataset(kind, root)
    if kind == "embedding":
        loaded = dataset.load()
        index = int(loaded.attrs["checkpoint"].removeprefix("save-"))
        assert index in (last, last + 1)
        np.testing.assert_array_equal(
            embedding_matrix(loaded), embedding_matrix(_payload(kind, index))
        )
    elif kind == "text":
        text = dataset.load()
        assert text in (_payload(kind, last), _payload(kind, last + 1)), len(text)
    elif kind in ("csv", "parquet"):
        table = dataset.load()
        (index,) = set(table["save"])
        assert index in (last, last + 1)
        pd.testing.assert_frame_equal(table, _payload(kind, index), check_dtype=False)
    else:
        raw = Path(dataset._get_load_path()).read_bytes()
        side = FIGURE_INCHES * FIGURE_DPI
        assert len(raw) == side * side * 4
        pixels = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 4)
        assert int(pixels[0, 0]) in (_grey(last), _grey(last + 1))
        assert (pixels[:, :3] == pixels[0, 0]).all() and (pixels[:, 3] == 255).all()


@pytest.mark.parametrize("kind", ["embedding", "text", "figure", "csv", "parquet"])
def test_a_save_killed_mid_write_leaves_the_previous_complete_version(tmp_path, kind):
    for attempt in range(ATTEMPTS):
        root = tmp_path / f"attempt{attempt}"
        root.mkdir()
        partials = _kill_mid_write(kind, root)
        _check_loads_a_complete_save(kind, root)
        if partials:
            break
    else:
        pytest.fail(f"{ATTEMPTS} kills in a row landed between two writes")
    dataset = _dataset(kind, root)
    if kind in VERSIONED:  # the killed save's version folder is newer, and skipped
        killed = {p.parent.name for p in partials}
        assert dataset.resolve_load_version() not in killed
        assert max(killed) > dataset.resolve_load_version()
        assert all(not (p.parent / dataset._filepath.name).exists() for p in partials)
    else:  # unversioned: the file is a complete save, the partial a hidden sibling
        assert [p.parent for p in partials] == [root]


def test_a_json_save_killed_mid_write_is_never_loaded(tmp_path):
    """The child stops at a known point mid-write (megabytes written) and is killed there;
    with no earlier version that is a clear error, later it is the earlier version."""
    dataset = AtomicJSONDataset(filepath=str(tmp_path / "report.json"), version=Version(None, None))
    for round_ in range(2):
        marker = tmp_path / "paused"
        marker.unlink(missing_ok=True)
        earlier = set((tmp_path / "report.json").rglob("*"))
        process = _child(f"t.save_json_paused({str(tmp_path)!r})", tmp_path / f"{round_}.log")
        try:
            deadline = time.monotonic() + FIRST_SAVE_GUARD_S
            while not marker.exists():
                assert process.poll() is None, (tmp_path / f"{round_}.log").read_text()
                assert time.monotonic() < deadline, "the child never paused mid-write"
                time.sleep(0.01)
            new = {p for p in (tmp_path / "report.json").rglob("*") if p.is_file()} - earlier
            (writing,) = new
            assert writing.stat().st_size > 1_000_000
            _sigkill(process)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert writing.exists() and PARTIAL_MARK in writing.name  # left as it was: no cleanup
        fresh = AtomicJSONDataset(
            filepath=str(tmp_path / "report.json"), version=Version(None, None)
        )
        if round_ == 0:
            with pytest.raises(DatasetError, match="Did not find any versions"):
                fresh.load()
            assert not fresh.exists()
            dataset.save({"complete": True})
        else:
            assert fresh.load() == {"complete": True}
            assert fresh.resolve_load_version() == dataset.resolve_load_version()


def test_json_save_writes_only_the_final_file_and_refuses_nothing_it_should_not(tmp_path):
    # Two explicit save versions: Kedro stamps versions to the millisecond, and two saves
    # in a row on a fast machine can fall in the same one.
    for index, stamp in enumerate(("2026-01-01T00.00.00.000Z", "2026-01-01T00.00.00.001Z")):
        AtomicJSONDataset(
            filepath=str(tmp_path / "r.json"), version=Version(None, stamp), save_args={"indent": 2}
        ).save({"a": index + 1})
    versions = sorted((tmp_path / "r.json").iterdir())
    assert [sorted(p.name for p in v.iterdir()) for v in versions] == [["r.json"], ["r.json"]]
    assert json.loads((versions[-1] / "r.json").read_text()) == {"a": 2}
    assert AtomicJSONDataset(
        filepath=str(tmp_path / "r.json"), version=Version(None, None)
    ).load() == {"a": 2}


def test_json_save_that_fails_mid_write_leaves_no_file(tmp_path):
    dataset = AtomicJSONDataset(filepath=str(tmp_path / "r.json"))
    dataset.save({"a": 1})
    with pytest.raises(DatasetError):
        dataset.save({"big": "x" * 100_000, "bad": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    assert dataset.load() == {"a": 1}


def test_text_save_replaces_the_file_whole_and_a_failed_one_keeps_it(tmp_path):
    dataset = AtomicTextDataset(filepath=str(tmp_path / "report.md"))
    dataset.save("first")
    dataset.save("second")
    assert dataset.load() == "second"
    with pytest.raises(DatasetError):
        dataset.save(b"not text")  # type: ignore[arg-type]
    assert dataset.load() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_figure_saves_a_version_and_a_failed_draw_leaves_none(tmp_path):
    dataset = AtomicMatplotlibDataset(
        filepath=str(tmp_path / "f.png"), version=Version(None, None), save_args={"dpi": 20}
    )
    dataset.save(plt.figure())
    first = dataset.resolve_load_version()
    figure = plt.figure()
    figure.add_artist(_Broken())
    with pytest.raises(DatasetError):
        AtomicMatplotlibDataset(filepath=str(tmp_path / "f.png"), version=Version(None, None)).save(
            figure
        )
    fresh = AtomicMatplotlibDataset(filepath=str(tmp_path / "f.png"), version=Version(None, None))
    assert fresh.resolve_load_version() == first and fresh.exists()
    png = Path(fresh._get_load_path()).read_bytes()
    assert png.startswith(b"\x89PNG")
    assert not list(tmp_path.rglob(f"*{PARTIAL_MARK}*"))


def test_figure_lists_save_a_folder_under_its_final_name(tmp_path):
    dataset = AtomicMatplotlibDataset(filepath=str(tmp_path / "figs"), version=Version(None, None))
    dataset.save([plt.figure(), plt.figure()])
    (version,) = (tmp_path / "figs").iterdir()
    assert sorted(p.name for p in (version / "figs").iterdir()) == ["0.png", "1.png"]
    assert [p.name for p in version.iterdir()] == ["figs"]


class _Broken(matplotlib.artist.Artist):
    """An artist whose drawing fails (a figure that cannot be rendered)."""

    def draw(self, renderer: object) -> None:
        raise RuntimeError("cannot draw")
