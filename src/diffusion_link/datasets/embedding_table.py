"""Parquet tables of embeddings: id columns plus one fixed-size ``list<float32>`` column.

The encoder's identity travels with the numbers: ``DataFrame.attrs`` (encoder, checkpoint,
dim, simulated_audio, ...) is written to the Parquet schema metadata and read back into
``attrs``. Writes go to a temporary file that is renamed into place, so a reader never sees a
half-written table; versioned tables are never overwritten (Kedro refuses an existing version).
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)

from diffusion_link.data.embeddings import EMBEDDING_COLUMN, embedding_matrix
from diffusion_link.datasets.atomic_save import partial_path

METADATA_KEY = b"diffusion_link"
REQUIRED_ATTRS = ("encoder", "checkpoint", "dim")


def check_embedding_table(table: pd.DataFrame) -> np.ndarray:
    """The table's (n, dim) float32 matrix, once its metadata, dimension and values are sound."""
    missing = [key for key in REQUIRED_ATTRS if key not in table.attrs]
    if missing:
        raise DatasetError(f"embedding table lacks metadata {missing} in DataFrame.attrs")
    if EMBEDDING_COLUMN not in table.columns:
        raise DatasetError(f"embedding table has no '{EMBEDDING_COLUMN}' column")
    dim = int(table.attrs["dim"])
    lengths = {len(v) for v in table[EMBEDDING_COLUMN]}
    if lengths and lengths != {dim}:
        raise DatasetError(f"embedding lengths {sorted(lengths)} differ from dim={dim}")
    matrix = embedding_matrix(table).reshape(-1, dim)
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        first = table.drop(columns=EMBEDDING_COLUMN).iloc[int(np.argmax(bad))].to_dict()
        raise DatasetError(f"{int(bad.sum())} embeddings contain NaN or inf (first: {first})")
    return matrix


def to_arrow(table: pd.DataFrame) -> pa.Table:
    """Validate an embedding table and convert it, attrs included, to an Arrow table."""
    matrix = check_embedding_table(table)
    dim = matrix.shape[1]
    ids = pa.Table.from_pandas(table.drop(columns=EMBEDDING_COLUMN), preserve_index=False)
    values = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), dim)
    arrow = ids.append_column(EMBEDDING_COLUMN, values)
    metadata = dict(arrow.schema.metadata or {})
    metadata[METADATA_KEY] = json.dumps(table.attrs, sort_keys=True, default=str).encode()
    return arrow.replace_schema_metadata(metadata)


def from_arrow(arrow: pa.Table) -> pd.DataFrame:
    """Inverse of :func:`to_arrow`: a DataFrame whose ``embedding`` cells are float32 rows."""
    column = arrow.column(EMBEDDING_COLUMN).combine_chunks()
    dim = column.type.list_size
    matrix = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, dim)
    table = arrow.drop_columns([EMBEDDING_COLUMN]).to_pandas()
    table[EMBEDDING_COLUMN] = list(matrix)
    raw = (arrow.schema.metadata or {}).get(METADATA_KEY)
    table.attrs = json.loads(raw) if raw else {}
    return table


class EmbeddingTableDataset(AbstractVersionedDataset[pd.DataFrame, pd.DataFrame]):
    """Kedro dataset for one embedding table in Parquet (optionally versioned).

    Example catalog entry::

        text_embeddings:
          type: diffusion_link.datasets.EmbeddingTableDataset
          filepath: data/04_feature/text_embeddings.parquet
          versioned: true
    """

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
    ) -> None:
        """A table at ``filepath`` (any fsspec protocol), optionally versioned."""
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(fs_args or {}))
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def load(self) -> pd.DataFrame:
        """The table, its metadata back in ``DataFrame.attrs``; checked as a save checks it."""
        path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(path, "rb") as handle:
            table = from_arrow(pq.read_table(handle))
        try:  # this class refuses such tables on save: the file was written by another tool
            check_embedding_table(table)
        except DatasetError as error:
            raise DatasetError(
                f"{path}: {error}. Delete it and rerun the pipeline that writes it."
            ) from None
        return table

    def save(self, data: pd.DataFrame) -> None:
        """Write the table with its ``attrs`` as metadata, atomically (temporary file, rename)."""
        arrow = to_arrow(data)
        path = get_filepath_str(self._get_save_path(), self._protocol)
        self._fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
        partial = str(partial_path(PurePosixPath(path)))  # hidden: no version glob matches it
        try:
            with self._fs.open(partial, "wb") as handle:
                pq.write_table(arrow, handle)
            self._fs.mv(partial, path)
        finally:
            if self._fs.exists(partial):
                self._fs.rm(partial)
        self._invalidate_cache()

    def _exists(self) -> bool:
        try:
            path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def _invalidate_cache(self) -> None:
        self._fs.invalidate_cache(str(self._filepath))
