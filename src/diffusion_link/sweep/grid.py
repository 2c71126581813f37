"""A sweep's grid, its points and their digests: pure functions, no Kedro session, no MLflow.

A grid item is ``key=v1,v2,...``: a dotted Kedro parameter key and its values, each parsed as
``kedro run --params key=value`` parses it (OmegaConf's types: ``100`` an int, ``0.5`` a float,
``true`` a bool, ``null`` None, ``[1,2]`` a list; commas inside brackets do not split values).
The points are the cartesian product of the grid's items, in the order given.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from diffusion_link.project.parameters import ParameterError
from diffusion_link.project.tracking import git_state

Grid = dict[str, list[Any]]  # dotted key -> its values, in the order given
Point = dict[str, Any]  # dotted key -> one value
SWEEP_OWNED = "tracking"  # the group the sweep sets itself (parent run, tracking on)
CODE_FOLDERS = ("src", "conf")  # hashed as the code version when git cannot give it


def split_values(text: str) -> list[str]:
    """``text`` split at the commas outside brackets and quotes, each part stripped."""
    parts, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += char
    parts.append(current.strip())
    return [part for part in parts if part]


def parse_value(text: str) -> Any:
    """One value as ``kedro run --params key=<text>`` parses it (OmegaConf's dot-list)."""
    return OmegaConf.to_container(OmegaConf.from_dotlist([f"value={text}"]))["value"]


def parse_items(items: Iterable[str], option: str) -> tuple[Grid, list[str]]:
    """The ``key=v1,v2`` items of an option (``--grid`` or ``--params``) as a grid, and the
    problems found: an item without ``=``, an empty key, an empty value list, a key given twice
    (or inside another given key), a value given twice, a key of the sweep's own group."""
    grid: Grid = {}
    problems = []
    for item in items:
        key, equals, text = item.partition("=")
        key = key.strip()
        if not equals or not key:
            problems.append(f"{option} {item!r}: expected key=value[,value...]")
            continue
        values = [parse_value(part) for part in split_values(text)]
        clash = next((k for k in grid if key == k or key.startswith(f"{k}.")), None)
        clash = clash or next((k for k in grid if k.startswith(f"{key}.")), None)
        if clash == key:
            problems.append(f"{key}: given twice in {option}")
        elif clash:
            problems.append(f"{key}: overlaps {clash}, also given in {option}")
        elif key.split(".")[0] == SWEEP_OWNED:
            problems.append(f"{key}: set by the sweep itself; not allowed in {option}")
        elif not values:
            problems.append(f"{key}: empty value list in {option}")
        elif len({json.dumps(v, sort_keys=True) for v in values}) < len(values):
            problems.append(f"{key}: a value is given twice in {option} ({text})")
        else:
            grid[key] = values
    return grid, problems


def overlapping_keys(grid: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """A problem for each grid key that ``params`` (the fixed overrides) also sets."""
    return [
        f"{key}: given both in --grid and in --params (as {other})"
        for key in grid
        for other in params
        if key == other or key.startswith(f"{other}.") or other.startswith(f"{key}.")
    ]


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[Point]:
    """The cartesian product of the grid: one point per combination, first key slowest."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def nested(point: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted overrides as the nested mapping Kedro's runtime params are."""
    tree: dict[str, Any] = {}
    for key, value in point.items():
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def merged(parameters: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``parameters`` with the dotted ``overrides`` merged in, as Kedro merges runtime params."""
    merge = OmegaConf.unsafe_merge(OmegaConf.create(dict(parameters)), nested(overrides))
    return OmegaConf.to_container(merge, resolve=True)


def unread_keys(keys: Iterable[str], read: set[str]) -> list[str]:
    """A problem for each key no node of the sweep's pipelines reads (``read``: the dotted keys
    they read, as :func:`~diffusion_link.project.parameters.read_parameters` gives them)."""
    return [
        f"{key}: no node of the swept pipelines reads it"
        for key in keys
        if not any(
            r == "" or key == r or key.startswith(f"{r}.") or r.startswith(f"{key}.") for r in read
        )
    ]


def check_grid(problems: Sequence[str]) -> None:
    """Raise :class:`~diffusion_link.project.parameters.ParameterError` listing ``problems``
    (each first occurrence, in order) unless there are none."""
    if problems:
        raise ParameterError(list(dict.fromkeys(problems)))


def code_version(project_path: Path) -> str:
    """The code a point ran: ``git:<commit>`` for a clean git checkout, otherwise (changed
    tracked files, or no git) ``files:<sha256>`` of every file under ``src/`` and ``conf/``
    (by relative path and content; caches, hidden and ``.pyc`` files left out)."""
    git = git_state(project_path)
    if git["git_commit"] is not None and git["git_dirty"] is False:
        return f"git:{git['git_commit']}"
    digest = hashlib.sha256()
    for folder in CODE_FOLDERS:
        for path in sorted((project_path / folder).rglob("*")):
            relative = path.relative_to(project_path)
            skipped = any(p.startswith(".") or p == "__pycache__" for p in relative.parts)
            if path.is_file() and not skipped and path.suffix != ".pyc":
                digest.update(f"{relative.as_posix()}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"files:{digest.hexdigest()}"


def point_digest(
    pipelines: Sequence[str],
    env: str,
    point: Mapping[str, Any],
    params: Mapping[str, Any],
    parameters: Mapping[str, Any],
    code: str,
) -> str:
    """The sha256 that identifies a point's run: its pipelines (in any order), environment,
    overrides, the sweep's fixed ``--params``, the run's resolved ``parameters`` (so a changed
    conf/local counts) and the ``code`` version (:func:`code_version`)."""
    record = {
        "pipelines": sorted(pipelines),
        "env": env,
        "point": dict(point),
        "params": dict(params),
        "parameters": dict(parameters),
        "code": code,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """Each dotted key's shortest dotted suffix that no other key ends with (table columns:
    ``...model.s_star`` -> ``s_star``)."""
    names = {}
    for key in keys:
        parts = key.split(".")
        for size in range(1, len(parts) + 1):
            suffix = ".".join(parts[-size:])
            others = [k for k in keys if k != key]
            if not any(k == suffix or k.endswith(f".{suffix}") for k in others):
                break
        names[key] = suffix
    return names


def default_name(keys: Sequence[str]) -> str:
    """A sweep's default name: its grid's short key names joined by ``-``."""
    return "-".join(short_names(keys).values())
