"""Kedro's file datasets, saving through a temporary name that is renamed into place.

Kedro's own ``JSONDataset``, ``TextDataset``, ``MatplotlibDataset``, ``pandas.CSVDataset`` and
``pandas.ParquetDataset`` open their final path
and write into it, so a run killed mid-save leaves a truncated file under the final name, and
for a versioned entry a ``<filepath>/<version>/<name>`` that Kedro takes for the newest
version. These subclasses write to a hidden sibling (``.<name>.partial-<random>``, in the same
folder) and rename it to ``<name>`` only once it is complete. Kedro finds versions by globbing
``<filepath>/*/<name>``, so a killed save leaves a version folder holding only the hidden
partial file, which Kedro (and ``python -m diffusion_link.project.versions``) does not count as a
version: the next run loads the previous complete version, or reports that there is none.

Only local paths are written this way; other protocols (object stores, whose writes appear
only once complete anyway) save as Kedro's class does. Catalog entries use these classes
exactly like Kedro's (same arguments, ``versioned: true`` and all)::

    report_json:
      type: diffusion_link.datasets.AtomicJSONDataset
      filepath: data/08_reporting/report.json
      versioned: true
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from kedro_datasets.json import JSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset, ParquetDataset
from kedro_datasets.text import TextDataset
from matplotlib.figure import Figure

PARTIAL_MARK = ".partial-"


def partial_path(final: PurePosixPath) -> PurePosixPath:
    """A hidden, unique sibling of ``final``, which no Kedro version glob matches."""
    return final.with_name(f".{final.name}{PARTIAL_MARK}{uuid.uuid4().hex}")


def replace_path(partial: Path, final: Path) -> None:
    """Put the finished ``partial`` (a file or a folder) in the place of ``final`` by renames.

    A file replaces ``final`` in one rename. A folder replacing an existing folder takes two
    (the old one is moved aside, then removed), so ``final`` is briefly absent but never partial.
    """
    if partial.is_dir() and final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex}")
        os.replace(final, old)
        os.replace(partial, final)
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
    else:
        os.replace(partial, final)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class AtomicSaveMixin:
    """Makes a Kedro file dataset's ``save`` write a temporary sibling, then rename it.

    Put it before the Kedro class (``class X(AtomicSaveMixin, JSONDataset)``). The Kedro
    class's own ``save`` does the writing: while it runs, ``_get_save_path`` answers the
    temporary path instead of the final one.
    """

    _protocol: str
    _atomic_target: PurePosixPath | None = None

    def _get_save_path(self) -> PurePosixPath:
        if self._atomic_target is not None:
            return self._atomic_target
        return super()._get_save_path()  # type: ignore[misc]

    def _saves_atomically(self, data: Any) -> bool:
        """Whether ``data`` is saved through a temporary name (else as the Kedro class does)."""
        return True

    def save(self, data: Any) -> None:
        """Save ``data`` as the Kedro class does, under a temporary name renamed into place."""
        write = super().save.__wrapped__  # type: ignore[misc]  # Kedro's unwrapped save
        if self._protocol != "file" or not self._saves_atomically(data):
            write(self, data)
            return
        final = self._get_save_path()  # for a versioned entry: refuses an existing version
        partial = partial_path(final)
        folder = Path(partial).parent
        made = not folder.exists()  # a new version folder: removed again if the save fails
        folder.mkdir(parents=True, exist_ok=True)
        self._atomic_target = partial
        done = False
        try:
            write(self, data)
            replace_path(Path(partial), Path(final))
            done = True
        finally:
            self._atomic_target = None
            _remove(Path(partial))
            if made and not done and not any(folder.iterdir()):
                folder.rmdir()
        self._invalidate_cache()  # type: ignore[attr-defined]


class AtomicJSONDataset(AtomicSaveMixin, JSONDataset):
    """Kedro's ``json.JSONDataset``; a save appears under its final name only once complete."""


class AtomicTextDataset(AtomicSaveMixin, TextDataset):
    """Kedro's ``text.TextDataset``; a save appears under its final name only once complete."""


class AtomicCSVDataset(AtomicSaveMixin, CSVDataset):
    """Kedro's ``pandas.CSVDataset``; a save appears under its final name only once complete."""


class AtomicParquetDataset(AtomicSaveMixin, ParquetDataset):
    """Kedro's ``pandas.ParquetDataset``; a save (a file, or a folder with ``partition_cols``)
    appears under its final name only once complete."""


class AtomicMatplotlibDataset(AtomicSaveMixin, MatplotlibDataset):
    """Kedro's ``matplotlib.MatplotlibDataset``; a figure (or a folder of figures, for a list
    or dict) appears under its final name only once complete.

    Exception: a list or dict of figures saved over an existing unversioned folder is written
    into that folder as Kedro does (which keeps or, with ``overwrite``, removes the files
    already there).
    """

    def _saves_atomically(self, data: Any) -> bool:
        return (
            isinstance(data, Figure)
            or self._version is not None
            or not Path(self._filepath).exists()
        )
