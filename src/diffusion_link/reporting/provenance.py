"""report.json's ``provenance``: what produced the run's numbers (no Kedro).

The block holds the run's context (git commit and dirty flag, Kedro environment, save version,
MLflow run id: the ``run_context`` the tracking hook gives every run), the versions of Python
and of the packages in :data:`PACKAGES`, the Java and the sha256 of every jar the caption
metrics ran, a content digest of each input table (:func:`table_sha256`) and every seed of the
run's parameters (:func:`parameter_seeds`).
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PACKAGES: tuple[str, ...] = (
    "torch",
    "transformers",
    "peft",
    "kedro",
    "kedro-datasets",
    "pycocoevalcap",
    "laion-clap",
)
"""The distributions whose versions the provenance records (besides Python's)."""

_CHUNK = 1 << 20


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """``{"python": version, package: installed version}``; ``None`` for a package that is not
    installed (recorded as such, not left out)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in packages:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return versions


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def jar_digests(jars: Iterable[str | Path], root: Path) -> dict[str, str]:
    """``{jar path (relative to root when under it): sha256}`` for every jar."""
    digests = {}
    for jar in map(Path, jars):
        name = jar.relative_to(root) if jar.is_relative_to(root) else jar
        digests[str(name)] = file_sha256(jar)
    return digests


def table_sha256(table: pd.DataFrame) -> str:
    """A content digest of a table: sha256 over its columns in order, rows in order.

    For each column: its name and its values. A column of arrays (an embedding table's
    ``embedding``) contributes its stacked matrix as little-endian bytes of its dtype, with its
    shape; any other column contributes the JSON of its values (``str`` for what JSON cannot
    write). The index and ``attrs`` (encoder, checkpoint: stated elsewhere in the report) are
    not part of it, so a table read back from its file has the digest of the one written.
    """
    digest = hashlib.sha256(json.dumps({"rows": len(table)}).encode())
    for name in table.columns:
        column = table[name]
        digest.update(json.dumps(str(name)).encode())
        if len(column) and isinstance(column.iloc[0], np.ndarray):
            matrix = np.stack(column.to_numpy())
            matrix = matrix.astype(matrix.dtype.newbyteorder("<"), copy=False)
            digest.update(json.dumps([str(matrix.dtype), list(matrix.shape)]).encode())
            digest.update(np.ascontiguousarray(matrix).tobytes())
        else:
            digest.update(json.dumps(column.tolist(), default=str).encode())
    return digest.hexdigest()


def parameter_seeds(groups: Mapping[str, Any]) -> dict[str, Any]:
    """Every seed in ``groups`` (parameter group -> its plain values), by dotted key: each key
    named ``seed`` or ending in ``_seed``, at any depth."""
    seeds: dict[str, Any] = {}
    for key, value in groups.items():
        if isinstance(value, Mapping):
            nested = parameter_seeds(value)
            seeds.update({f"{key}.{inner}": seed for inner, seed in nested.items()})
        elif key == "seed" or str(key).endswith("_seed"):
            seeds[str(key)] = value
    return seeds


def provenance(
    run_context: Mapping[str, Any],
    java: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    groups: Mapping[str, Any],
) -> dict[str, Any]:
    """report.json's ``provenance``.

    Args:
        run_context: the run's ``git_commit``, ``git_dirty``, ``kedro_env``, ``save_version``
            and ``mlflow_run_id``.
        java: ``{"version": ..., "jars": {jar: sha256}}`` of the caption metrics' Java.
        tables: the input tables by catalog name (digested by :func:`table_sha256`).
        groups: the parameter groups that produced the run (searched by
            :func:`parameter_seeds`).
    """
    return {
        **run_context,
        "versions": package_versions(),
        "java": dict(java),
        "tables": {name: table_sha256(table) for name, table in tables.items()},
        "seeds": parameter_seeds(groups),
    }
