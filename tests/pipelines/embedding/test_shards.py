"""Shards: stable assignment by clip id, and combining refuses another encoder's shard."""

import numpy as np
import pandas as pd
import pytest

from diffusion_link.pipelines.embedding.shards import load_partitions, partition_name, shard_of


def test_a_clip_keeps_its_shard_whatever_the_order():
    ids = pd.Series([f"clip{i}" for i in range(50)])
    shards = shard_of(ids, 4)
    assert set(shards) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(shard_of(ids[::-1], 4), shards[::-1])
    assert partition_name("audio", 2, 10) == "audio-shard-0002-of-0010"


def test_a_shard_of_another_encoder_is_refused():
    table = pd.DataFrame({"clip_id": ["a"]})
    table.attrs = {"encoder": "laion_clap", "checkpoint": "x"}
    shards = {partition_name("text", 0, 1): table}
    with pytest.raises(ValueError, match="made by encoder 'laion_clap'"):
        load_partitions(shards, "text", "gap_simulator", 1)
    assert load_partitions(shards, "text", "laion_clap", 1).attrs["num_shards"] == 1
