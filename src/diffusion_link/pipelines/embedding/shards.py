"""Shards of the embedding work: which shard a clip falls in, and combining them checked.

Work is split into shards by a stable hash of ``clip_id`` (a clip and its captions share a
shard), so N machines can each run one shard and a final run combines them. Combining checks
that every caption (and every clip with audio) has exactly one embedding from the configured
encoder; a missing or stale shard is an error that says which one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd


def shard_of(clip_ids: pd.Series, num_shards: int) -> np.ndarray:
    """Stable shard number of each clip id (independent of row order and of the machine)."""
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(str(c).encode(), digest_size=8).digest(), "little")
            % num_shards
            for c in clip_ids
        ],
        dtype=np.int64,
    )


def partition_name(modality: str, shard: int, num_shards: int) -> str:
    """The partition of ``embedding_shards`` that holds one modality of one shard."""
    return f"{modality}-shard-{shard:04d}-of-{num_shards:04d}"


def load_partitions(
    shards: dict[str, Callable[[], pd.DataFrame] | pd.DataFrame],
    modality: str,
    encoder: str,
    num_shards: int,
) -> pd.DataFrame:
    """Every shard of ``modality``, made by ``encoder`` from one checkpoint, as one table."""
    n = num_shards
    wanted = [partition_name(modality, k, n) for k in range(n)]
    missing = [name for name in wanted if name not in shards]
    if missing:
        raise ValueError(
            f"embedding shards missing: {missing}. Run each one with "
            "`kedro run --pipeline embedding --nodes embedding.encode_shards "
            "--params embedding.shard=<k>` before combining"
        )
    tables = [shards[name]() if callable(shards[name]) else shards[name] for name in wanted]
    for name, table in zip(wanted, tables, strict=True):
        if table.attrs.get("encoder") != encoder:
            raise ValueError(
                f"shard {name} was made by encoder {table.attrs.get('encoder')!r}, but "
                f"embedding.encoder is {encoder!r}: re-run that shard"
            )
    checkpoints = {t.attrs.get("checkpoint") for t in tables}
    if len(checkpoints) > 1:
        raise ValueError(f"{modality} shards come from different checkpoints: {checkpoints}")
    combined = pd.concat(tables, ignore_index=True)
    combined.attrs = {k: v for k, v in tables[0].attrs.items() if k != "shard"}
    combined.attrs["num_shards"] = n
    return combined


def align(table: pd.DataFrame, expected: pd.DataFrame, key: str, what: str) -> pd.DataFrame:
    """Order ``table`` like ``expected`` and fail when any id is missing, extra or repeated."""
    have, want = pd.Index(table[key]), pd.Index(expected[key])
    problems = {
        "missing": want.difference(have).tolist()[:5],
        "not in the current data (stale shard?)": have.difference(want).tolist()[:5],
        "duplicated": have[have.duplicated()].tolist()[:5],
    }
    problems = {k: v for k, v in problems.items() if v}
    if problems:
        raise ValueError(f"{what} do not match the current inputs: {problems}")
    attrs = table.attrs
    aligned = table.set_index(key).loc[want].reset_index()[table.columns]
    aligned.attrs = attrs
    return aligned
