"""List and prune the versions that versioned catalog entries accumulate.

Every ``kedro run`` writes a new version of every versioned catalog entry
(``versioned: true``) as ``<filepath>/<timestamp>/<basename of filepath>``, e.g.
``data/04_feature/text_embeddings.parquet/2026-12-02T08.53.53.540Z/text_embeddings.parquet`` or
``data/06_models/bridges/<bridge>/<timestamp>/<bridge>/`` (a whole model folder). Nothing
removes old ones::

    python -m diffusion_link.project.versions list                 # every entry, newest first, sizes
    python -m diffusion_link.project.versions prune --keep 3       # delete all but the newest 3
    python -m diffusion_link.project.versions prune --dry-run      # print what would go
    python -m diffusion_link.project.versions --env paper list     # the catalog of conf/base + conf/paper

What counts as a version, and what is never touched:

- The catalog is read through Kedro's config loader with the project's settings, for the same
  environment ``kedro run`` would use (``--env``, else ``KEDRO_ENV``, else ``local`` over
  ``base``). Dataset-factory entries (``"{bridge}.model"``) are resolved by matching their
  ``filepath`` against the folders that exist (each ``{placeholder}`` stands for one path
  component).
- A version is a real (not symlinked) folder directly under the entry's ``filepath`` whose
  name is a Kedro version timestamp and which holds the entry's file or folder. A version folder
  without it (a save still running, or one that was killed) is listed as incomplete and left
  alone, as is every other file or folder. Entries under ``data/01_raw`` are refused outright,
  and nothing outside an entry's own ``filepath`` is ever deleted.
- The newest complete version of every entry (the one ``kedro run`` loads) is always kept:
  ``--keep`` must be at least 1.
- Lineage is not recorded: this project does not write down which version of an input a saved
  output was made from (a run loads the latest version of each input, and no output's metadata
  names input versions). Pruning therefore cannot protect "the version another entry's latest
  was made from"; it protects the newest ``--keep`` of every entry. Keep more than 1 if you pin
  older versions with ``kedro run --load-versions``.

Deletion is crash-safe: a version folder is first renamed (one atomic rename in the same
folder) to ``.pruning-<version>-<random>``, then removed. If the removal is killed, what is
left has a name that is no Kedro version and that sorts below every real version (so ``kedro
run`` never loads it as the latest), and the next ``prune`` removes it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import shutil
import sys
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

VERSION_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")
PRUNING_PREFIX = ".pruning-"
PRUNING_NAME = re.compile(r"^\.pruning-\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z-[0-9a-f]{32}$")
RAW_DATA = Path("data") / "01_raw"
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
DEFAULT_KEEP = 3


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


def _is_raw(path: Path, project_dir: Path) -> bool:
    raw = (project_dir / RAW_DATA).resolve()
    resolved = path.resolve()
    return resolved == raw or raw in resolved.parents


def _local_path(filepath: str, project_dir: Path) -> Path | None:
    """The local path of a catalog ``filepath`` (relative to the project), None if remote."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", filepath):
        if not filepath.startswith("file://"):
            return None
        filepath = filepath.removeprefix("file://")
    path = Path(filepath).expanduser()
    return path if path.is_absolute() else project_dir / path


def _field(placeholder: str) -> str:
    """``"{bridge}"`` or ``"{bridge:s}"`` -> ``"bridge"``."""
    return placeholder[1:-1].split(":")[0]


def _fill(pattern: str, values: Mapping[str, str]) -> str:
    """A factory pattern's name with its placeholders replaced by ``values``."""
    return PLACEHOLDER.sub(lambda m: values.get(_field(m.group(0)), m.group(0)), pattern)


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _pattern_matches(name: str, filepath: Path) -> Iterable[tuple[str, Path]]:
    """(dataset name, folder) for every existing folder that a factory ``filepath`` matches.

    Each ``{placeholder}`` stands for part of one path component; a placeholder used twice
    must match the same text both times. ``name`` gets the matched values filled in.
    """
    base = Path(filepath.anchor) if filepath.is_absolute() else Path()
    parts = filepath.relative_to(base).parts if filepath.is_absolute() else filepath.parts
    regex_parts, glob_parts = [], []
    for part in parts:
        pieces = PLACEHOLDER.split(part)
        count = len(pieces) - 1
        regex_parts.append(
            "".join(re.escape(p) + ("([^/]*)" if i < count else "") for i, p in enumerate(pieces))
        )
        glob_parts.append(
            "".join(_glob_escape(p) + ("*" if i < count else "") for i, p in enumerate(pieces))
        )
    fields = [_field(key) for key in PLACEHOLDER.findall(str(filepath))]
    regex = re.compile("/".join(regex_parts) + r"\Z")
    for folder in sorted(base.glob("/".join(glob_parts))):
        found = regex.match(folder.relative_to(base).as_posix())
        if found is None or not folder.is_dir() or folder.is_symlink():
            continue
        values: dict[str, str] = {}
        if any(values.setdefault(f, v) != v for f, v in zip(fields, found.groups(), strict=True)):
            continue
        yield _fill(name, values), folder


def versioned_targets(
    catalog: Mapping[str, Any], project_dir: Path, out: TextIO | None = None
) -> list[Target]:
    """The versioned entries of a catalog configuration, resolved to local folders.

    ``catalog`` is the merged ``catalog`` configuration (entry name -> options). Factory
    patterns are matched against the folders that exist. Entries whose ``filepath`` is not
    local, or lies in ``data/01_raw``, are skipped with a message on ``out``.
    """
    targets: dict[Path, Target] = {}
    concrete = {k: v for k, v in catalog.items() if not PLACEHOLDER.search(k)}
    patterns = {k: v for k, v in catalog.items() if PLACEHOLDER.search(k)}
    for name, options in [*concrete.items(), *patterns.items()]:
        if name.startswith("_") or not isinstance(options, Mapping):
            continue  # YAML anchors and other non-entries, as Kedro ignores them
        if not options.get("versioned") or "filepath" not in options:
            continue
        path = _local_path(str(options["filepath"]), project_dir)
        if path is None:
            _say(out, f"skipped {name}: {options['filepath']} is not on the local disk")
            continue
        if PLACEHOLDER.search(name):
            found = list(_pattern_matches(name, path))
        else:
            found = [(name, path)]
        for resolved_name, folder in found:
            folder = Path(os.path.normpath(folder))
            if _is_raw(folder, project_dir):
                _say(out, f"skipped {resolved_name}: {folder} is raw data ({RAW_DATA})")
                continue
            targets.setdefault(folder, Target(resolved_name, folder, folder.name))
    return sorted(targets.values(), key=lambda t: t.name)


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


def to_prune(entry: Entry, keep: int) -> list[Version]:
    """The versions of ``entry`` that ``prune --keep keep`` deletes (all but the newest)."""
    if keep < 1:
        raise ValueError("keep must be at least 1: the newest version is never deleted")
    return entry.versions[keep:]


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


def prune(
    entries: Sequence[Entry],
    keep: int = DEFAULT_KEEP,
    dry_run: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Delete all but the newest ``keep`` versions of every entry; the bytes freed (or to be).

    Leftovers of an interrupted prune are removed too. With ``dry_run`` nothing is deleted and
    every line says what would go.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1: the newest version is never deleted")
    verb = "would delete" if dry_run else "deleted"
    freed = 0
    for entry in entries:
        for leftover in entry.leftovers:
            size = folder_size(leftover)
            if not dry_run:
                remove_folder(leftover)
            freed += size
            print(f"{verb} {leftover} ({human_size(size)}, left by an interrupted prune)", file=out)
        for version in to_prune(entry, keep):
            if not dry_run:
                remove_folder(version.path)
            freed += version.size
            print(
                f"{verb} {entry.target.name} {version.name} ({human_size(version.size)})", file=out
            )
        for folder in entry.incomplete:
            print(
                f"left {entry.target.name} {folder.name}: incomplete (no {entry.target.filename})",
                file=out,
            )
    kept = sum(min(len(e.versions), keep) for e in entries)
    print(
        f"{'would free' if dry_run else 'freed'} {human_size(freed)}; kept {kept} version(s) "
        f"of {len(entries)} entries (newest {keep} of each)",
        file=out,
    )
    return freed


def print_listing(entries: Sequence[Entry], out: TextIO = sys.stdout) -> None:
    """Every entry, its versions newest first with their sizes, and totals."""
    for entry in entries:
        target = entry.target
        print(f"{target.name}  ({target.path})", file=out)
        for i, version in enumerate(entry.versions):
            latest = "  latest" if i == 0 else ""
            print(f"  {version.name}  {human_size(version.size):>10}{latest}", file=out)
        for folder in entry.incomplete:
            print(f"  {folder.name}  incomplete (no {target.filename}), ignored", file=out)
        for folder in entry.leftovers:
            print(f"  {folder.name}  left by an interrupted prune", file=out)
        print(f"  {len(entry.versions)} version(s), {human_size(entry.size)}", file=out)
    total = sum(entry.size for entry in entries)
    count = sum(len(entry.versions) for entry in entries)
    print(
        f"total: {len(entries)} versioned entries, {count} version(s), {human_size(total)}",
        file=out,
    )


def listing_json(entries: Sequence[Entry]) -> dict[str, Any]:
    """The listing as plain data (``list --json``)."""
    return {
        "entries": [
            {
                "name": entry.target.name,
                "path": str(entry.target.path),
                "versions": [{"version": v.name, "bytes": v.size} for v in entry.versions],
                "incomplete": [p.name for p in entry.incomplete],
                "bytes": entry.size,
            }
            for entry in entries
        ],
        "bytes": sum(entry.size for entry in entries),
        "versions": sum(len(entry.versions) for entry in entries),
    }


def catalog_config(project_dir: Path, env: str | None = None) -> dict[str, Any]:
    """The merged ``catalog`` configuration that ``kedro run --env env`` would use.

    Uses the config loader class and arguments of the project's ``settings.py``: ``env`` None
    means ``KEDRO_ENV`` or else the default run environment (``local``) over ``base``. Kedro's
    start-up log line and deprecation warnings go to stderr, so stdout holds only the answer.
    """
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from kedro.config import OmegaConfigLoader

        project_settings = importlib.import_module("diffusion_link.settings")
        loader_class = getattr(project_settings, "CONFIG_LOADER_CLASS", OmegaConfigLoader)
        loader = loader_class(
            conf_source=str(project_dir / getattr(project_settings, "CONF_SOURCE", "conf")),
            env=env or os.environ.get("KEDRO_ENV") or None,
            **getattr(project_settings, "CONFIG_LOADER_ARGS", {}),
        )
        return dict(loader["catalog"])


def _say(out: TextIO | None, message: str) -> None:
    if out is not None:
        print(message, file=out)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m diffusion_link.project.versions {list,prune}``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m diffusion_link.project.versions",
        description="List or prune the versions of the versioned catalog entries.",
    )
    parser.add_argument(
        "--project-dir", type=Path, default=Path.cwd(), help="the Kedro project (default: .)"
    )
    parser.add_argument(
        "--env", default=None, help="configuration environment (default: KEDRO_ENV or local)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="every versioned entry, newest version first")
    listing.add_argument("--json", action="store_true", help="print JSON instead of text")
    pruning = commands.add_parser("prune", help="delete all but the newest N versions per entry")
    pruning.add_argument(
        "--keep",
        type=int,
        default=DEFAULT_KEEP,
        help=f"versions kept per entry (default {DEFAULT_KEEP})",
    )
    pruning.add_argument(
        "--dry-run", action="store_true", help="print what would go, delete nothing"
    )
    args = parser.parse_args(argv)
    if args.command == "prune" and args.keep < 1:
        parser.error("--keep must be at least 1: the newest version is never deleted")
    project_dir = args.project_dir.resolve()
    notes = sys.stderr
    entries = scan_all(versioned_targets(catalog_config(project_dir, args.env), project_dir, notes))
    if args.command == "list":
        if args.json:
            sys.stdout.write(json.dumps(listing_json(entries), indent=2) + "\n")
        else:
            print_listing(entries)
        return 0
    prune(entries, keep=args.keep, dry_run=args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
