"""Version folders on disk: what one entry holds, their sizes, and their crash-safe removal.

A version is a real (not symlinked) folder directly under the entry's ``filepath`` whose name is
a Kedro version timestamp and which holds the entry's file or folder. A version folder without it
(a save still running, or one that was killed) is incomplete. Removal renames a version folder
to ``.pruning-<version>-<random>`` (atomic, in the same folder) before deleting it.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

VERSION_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")
PRUNING_PREFIX = ".pruning-"
PRUNING_NAME = re.compile(r"^\.pruning-\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z-[0-9a-f]{32}$")


@dataclass(frozen=True)
class Target:
    """One versioned catalog entry resolved to a local folder.

    Attributes:
        name: the dataset name (a factory pattern's name with its placeholders filled in).
        path: the entry's ``filepath`` (the folder that holds one sub-folder per version).
        filename: what each version folder holds (the basename of ``filepath``).
    """

    name: str
    path: Path
    filename: str


@dataclass(frozen=True)
class Version:
    """One complete version folder of an entry and the bytes it takes on disk."""

    name: str
    path: Path
    size: int


@dataclass
class Entry:
    """A versioned entry as found on disk: complete versions newest first, and the rest."""

    target: Target
    versions: list[Version] = field(default_factory=list)
    incomplete: list[Path] = field(default_factory=list)  # version-named, without the file
    leftovers: list[Path] = field(default_factory=list)  # of an interrupted prune

    @property
    def size(self) -> int:
        """Bytes taken by the complete versions."""
        return sum(version.size for version in self.versions)


def folder_size(path: Path) -> int:
    """Bytes of every file under ``path`` (symlinks counted as links, never followed)."""
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files:
            total += (Path(root) / name).lstat().st_size
        for name in dirs:
            if (Path(root) / name).is_symlink():
                total += (Path(root) / name).lstat().st_size
    return total


def human_size(size: int) -> str:
    """``size`` bytes in binary units, e.g. ``"512 B"``, ``"1.5 KiB"``, ``"2.0 GiB"``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} TiB"


def scan(target: Target) -> Entry:
    """The versions of one entry found on disk, newest first (Kedro's order: by name)."""
    entry = Entry(target)
    if not target.path.is_dir() or target.path.is_symlink():
        return entry
    for child in sorted(target.path.iterdir(), key=lambda p: p.name, reverse=True):
        if child.is_symlink() or not child.is_dir():
            continue
        if PRUNING_NAME.match(child.name):
            entry.leftovers.append(child)
        elif VERSION_NAME.match(child.name):
            content = child / target.filename
            if content.exists() or content.is_symlink():
                entry.versions.append(Version(child.name, child, folder_size(child)))
            else:
                entry.incomplete.append(child)
    return entry


def scan_all(targets: Iterable[Target]) -> list[Entry]:
    """:func:`scan` of every target."""
    return [scan(target) for target in targets]


def remove_folder(path: Path) -> None:
    """Delete a version folder so that no half-deleted folder is left under a version name.

    The folder is renamed to ``.pruning-<name>-<random>`` in the same parent (atomic), then
    removed. Leftovers of a killed removal are recognised and removed by the next prune.
    """
    if PRUNING_NAME.match(path.name):
        shutil.rmtree(path)
        return
    if not VERSION_NAME.match(path.name) or path.is_symlink() or not path.is_dir():
        raise ValueError(f"{path} is not a version folder")
    doomed = path.with_name(f"{PRUNING_PREFIX}{path.name}-{uuid.uuid4().hex}")
    os.rename(path, doomed)
    shutil.rmtree(doomed)
