import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kedro.io.core import DatasetError, Version

from diffusion_link.data.embeddings import embedding_matrix, with_embeddings
from diffusion_link.datasets import EmbeddingTableDataset
from diffusion_link.datasets.embedding_table import METADATA_KEY, to_arrow

ATTRS = {"encoder": "test", "checkpoint": "ckpt-1", "dim": 4, "simulated_audio": False}


def _table(n: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ids = pd.DataFrame({"clip_id": [f"c{i}" for i in range(n)], "split": ["train"] * n})
    return with_embeddings(ids, rng.standard_normal((n, 4)), ATTRS)


def test_round_trip_keeps_values_ids_and_metadata(tmp_path):
    table = _table()
    dataset = EmbeddingTableDataset(str(tmp_path / "e.parquet"))
    dataset.save(table)
    loaded = dataset.load()
    assert loaded.attrs == ATTRS
    assert loaded["clip_id"].tolist() == table["clip_id"].tolist()
    np.testing.assert_array_equal(embedding_matrix(loaded), embedding_matrix(table))
    schema = pq.read_schema(tmp_path / "e.parquet")
    assert str(schema.field("embedding").type) == "fixed_size_list<element: float>[4]"
    assert b"diffusion_link" in schema.metadata
    assert [p.name for p in tmp_path.iterdir()] == ["e.parquet"]  # no partial file left


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_refuses_non_finite_embeddings(tmp_path, bad):
    table = _table()
    table.at[2, "embedding"] = np.array([0.0, bad, 0.0, 0.0], dtype=np.float32)
    dataset = EmbeddingTableDataset(str(tmp_path / "e.parquet"))
    with pytest.raises(DatasetError, match="NaN or inf.*c2"):
        dataset.save(table)
    assert not (tmp_path / "e.parquet").exists()


def test_refuses_wrong_dimension_and_missing_metadata(tmp_path):
    dataset = EmbeddingTableDataset(str(tmp_path / "e.parquet"))
    table = _table()
    table.at[0, "embedding"] = np.zeros(3, dtype=np.float32)
    with pytest.raises(DatasetError, match="differ from dim=4"):
        dataset.save(table)
    table = _table()
    table.attrs = {}
    with pytest.raises(DatasetError, match="lacks metadata"):
        dataset.save(table)


def test_versioned_table_is_never_overwritten(tmp_path):
    version = Version(None, "2026-01-01T00.00.00.000Z")
    first = EmbeddingTableDataset(str(tmp_path / "e.parquet"), version=version)
    first.save(_table())
    again = EmbeddingTableDataset(str(tmp_path / "e.parquet"), version=version)
    with pytest.raises(DatasetError, match="must not exist if versioning is enabled"):
        again.save(_table(3))
    assert (
        len(EmbeddingTableDataset(str(tmp_path / "e.parquet"), version=Version(None, None)).load())
        == 5
    )


def test_a_garbage_parquet_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "e.parquet"
    EmbeddingTableDataset(str(path)).save(_table())
    path.write_bytes(path.read_bytes()[:40])  # a copy cut short
    with pytest.raises(DatasetError, match="e.parquet"):
        EmbeddingTableDataset(str(path)).load()


@pytest.mark.parametrize(
    "spoil, message",
    [
        ("nan", r"1 embeddings contain NaN or inf \(first: .*c1"),
        ("dim", r"embedding lengths \[4\] differ from dim=8"),
        ("attrs", r"lacks metadata \['encoder', 'checkpoint', 'dim'\]"),
    ],
)
def test_a_table_written_by_another_tool_is_checked_on_load(tmp_path, spoil, message):
    """NaN, a dimension that is not the metadata's, or no metadata: an error naming the file."""
    arrow = to_arrow(_table())
    if spoil == "nan":
        values = arrow.column("embedding").combine_chunks().flatten().to_numpy().copy()
        values[5] = np.nan  # row 1
        column = pa.FixedSizeListArray.from_arrays(pa.array(values), 4)
        arrow = arrow.set_column(arrow.schema.get_field_index("embedding"), "embedding", column)
    else:
        attrs = (
            {}
            if spoil == "attrs"
            else {**json.loads(arrow.schema.metadata[METADATA_KEY]), "dim": 8}
        )
        arrow = arrow.replace_schema_metadata({METADATA_KEY: json.dumps(attrs).encode()})
    path = tmp_path / "e.parquet"
    pq.write_table(arrow, path)
    with pytest.raises(DatasetError, match=message) as error:
        EmbeddingTableDataset(str(path)).load()
    assert str(path) in str(error.value) and "rerun the pipeline" in str(error.value)
