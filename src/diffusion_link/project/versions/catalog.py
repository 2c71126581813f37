"""The versioned entries of the catalog that ``kedro run`` would use, resolved to local folders.

Dataset-factory entries (``"{bridge}.model"``) are resolved by matching their ``filepath``
against the folders that exist (each ``{placeholder}`` stands for one path component); entries
under ``data/01_raw`` or not on the local disk are skipped.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from diffusion_link.project.versions.folders import Target

RAW_DATA = Path("data") / "01_raw"
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _is_raw(path: Path, project_dir: Path) -> bool:
    """Whether ``path`` lies in (or is) the project's raw data folder."""
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
    """``text`` with glob's special characters made literal."""
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
    """Print ``message`` on ``out`` unless ``out`` is None."""
    if out is not None:
        print(message, file=out)
