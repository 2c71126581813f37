"""The table helpers of metrics.gap_tables on hand-made tables (the pipeline test runs them on
trained bridges)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from diffusion_link.metrics.gap_tables import (
    TABLE_1_ROWS,
    Separability,
    embedding_rows,
    s_star_cosines,
)


def test_rows_come_in_the_order_asked_and_missing_ones_are_named():
    table = pd.DataFrame({"clip_id": ["a", "b"], "embedding": [np.ones(2), np.zeros(2)]})
    rows = embedding_rows(table, "clip_id", pd.Index(["b", "a"]), "audio")
    np.testing.assert_array_equal(rows, [[0, 0], [1, 1]])
    with pytest.raises(ValueError, match=r"audio lacks 1 rows \(e.g. \['c'\]\)"):
        embedding_rows(table, "clip_id", pd.Index(["a", "c"]), "audio")


def test_a_sweep_of_two_splits_is_refused():
    sweep = pd.DataFrame({"split": ["test", "val"], "s_star": [100, 100], "clip_id": ["a", "b"]})
    with pytest.raises(ValueError, match="one split"):
        s_star_cosines(pd.DataFrame(), sweep, model=None)


def test_settings_and_rows():
    assert list(TABLE_1_ROWS)[0] == "matched_audio_text" and len(TABLE_1_ROWS) == 4
    assert Separability().test_fraction == 0.2
    with pytest.raises(ValidationError):
        Separability(test_fraction=1.0)
    with pytest.raises(ValidationError):
        Separability(l2=1.0)
