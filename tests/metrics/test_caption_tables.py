"""The checks and layout of metrics.caption_tables that need no Java (the captioning node test
scores real captions)."""

from __future__ import annotations

import pandas as pd
import pytest

from diffusion_link.metrics.caption_tables import caption_references, caption_variants

CAPTIONS = pd.DataFrame(
    {
        "clip_id": ["a", "a", "b", "t"],
        "caption": ["a dog barks", "a dog", "rain", "wind"],
        "split": ["test", "test", "test", "train"],
    }
)
GENERATED = pd.DataFrame(
    {
        "clip_id": ["a", "b", "a"],
        "mode": ["zero_shot", "zero_shot", "supervised"],
        "bridge": ["none", "none", "diffusion_link"],
        "caption": ["a dog", "rain falls", "dog"],
    }
)
MODES, BRIDGES = ("zero_shot", "supervised"), ("none", "diffusion_link")


def test_references_of_the_split_and_variants_by_mode_and_bridge():
    references = caption_references(GENERATED, CAPTIONS, "test", MODES, BRIDGES)
    assert references == {"a": ["a dog barks", "a dog"], "b": ["rain"]}
    assert caption_variants(GENERATED) == {
        ("supervised", "diffusion_link"): {"a": "dog"},
        ("zero_shot", "none"): {"a": "a dog", "b": "rain falls"},
    }


def test_names_outside_the_registries_are_refused():
    with pytest.raises(ValueError, match=r"unknown bridge \['diffusion_link'\]"):
        caption_references(GENERATED, CAPTIONS, "test", MODES, ("none",))
    with pytest.raises(ValueError, match=r"2 clips with no 'train' reference"):
        caption_references(GENERATED, CAPTIONS, "train", MODES, BRIDGES)
