"""Embedding tables in memory: one row per clip or caption, its vector in the ``embedding`` column.

Kedro-free: the on-disk format (Parquet with metadata) is ``datasets/embedding_table.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

EMBEDDING_COLUMN = "embedding"


def embedding_matrix(table: pd.DataFrame) -> np.ndarray:
    """The ``embedding`` column of a table as one contiguous float32 array of shape (n, dim)."""
    if len(table) == 0:
        dim = int(table.attrs.get("dim", 0))
        return np.zeros((0, dim), dtype=np.float32)
    return np.stack(table[EMBEDDING_COLUMN].to_numpy()).astype(np.float32, copy=False)


def with_embeddings(
    ids: pd.DataFrame, embeddings: np.ndarray, attrs: dict[str, Any]
) -> pd.DataFrame:
    """A table of ``ids`` (one row per embedding) plus the ``embedding`` column and ``attrs``."""
    if len(ids) != len(embeddings):
        raise ValueError(f"{len(ids)} id rows but {len(embeddings)} embeddings")
    table = ids.reset_index(drop=True).copy()
    table[EMBEDDING_COLUMN] = list(np.asarray(embeddings, dtype=np.float32))
    table.attrs = dict(attrs)
    return table
