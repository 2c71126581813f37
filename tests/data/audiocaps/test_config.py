"""The reader's config: a bad setting names its key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from audiocaps_fixtures import make_params

# --- parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("require_audio", "sometimes"),
        ("min_duration_s", -1.0),
        ("silence_peak", 2.0),
        ("splits", ["train", "dev"]),
        ("num_workers", 0),
        ("aac_datasets_version", "v3"),
        ("not_a_key", 1),
    ],
)
def test_bad_parameter_names_its_key(tmp_path: Path, key: str, value) -> None:
    with pytest.raises(ValidationError, match=key):
        make_params(tmp_path, **{key: value})
