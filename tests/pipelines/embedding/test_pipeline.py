"""The embedding pipeline through Kedro's runner, on real captions of the default subset."""

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from pydantic import ValidationError

from catalog_fixtures import KeptDataset
from diffusion_link.data.embeddings import embedding_matrix
from diffusion_link.pipelines.embedding import create_pipeline
from diffusion_link.pipelines.embedding.nodes import combine_text_embeddings, encode_shards
from diffusion_link.pipelines.embedding.params import EmbeddingParams


@pytest.fixture(scope="module")
def base_params(project_root) -> dict:
    with open(project_root / "conf" / "base" / "parameters_embedding.yml") as handle:
        return yaml.safe_load(handle)["embedding"]


@pytest.fixture(scope="module")
def small_inputs(default_captions) -> tuple[pd.DataFrame, pd.DataFrame]:
    captions = pd.concat(
        [
            default_captions[default_captions["split"] == "train"].head(400),
            default_captions[default_captions["split"] == "test"].head(80),
        ],
        ignore_index=True,
    )
    clips = captions[["clip_id", "split"]].drop_duplicates("clip_id").reset_index(drop=True)
    clips["audio_path"] = None
    return clips, captions


def _run(clips, captions, params) -> dict:
    catalog = DataCatalog(
        {
            "clips": MemoryDataset(clips),
            "captions": MemoryDataset(captions),
            "params:embedding": MemoryDataset(EmbeddingParams.model_validate(params)),
        }
    )
    for name in ("embedding_shards", "text_embeddings", "gap_simulator_fit", "audio_embeddings"):
        catalog[name] = KeptDataset()
    SequentialRunner().run(create_pipeline(), catalog)
    return {
        name: catalog.load(name)
        for name in ("text_embeddings", "audio_embeddings", "gap_simulator_fit")
    }


@pytest.fixture(scope="module")
def one_shard_run(small_inputs, base_params):
    return _run(*small_inputs, base_params)


def test_default_run_embeds_every_caption_and_clip(one_shard_run, small_inputs):
    clips, captions = small_inputs
    text, audio = one_shard_run["text_embeddings"], one_shard_run["audio_embeddings"]
    assert text["caption_id"].tolist() == captions["caption_id"].tolist()
    assert audio["clip_id"].tolist() == clips["clip_id"].tolist()
    for table in (text, audio):
        matrix = embedding_matrix(table)
        assert matrix.shape[1] == 384 and np.isfinite(matrix).all()
        np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, rtol=1e-5)
        assert table.attrs["simulated_audio"] is True
    assert audio.attrs["encoder"] == "gap_simulator"
    assert "over all-MiniLM-L6-v2" in audio.attrs["checkpoint"]
    fit = one_shard_run["gap_simulator_fit"]
    assert fit["used"] is True and abs(fit["achieved"]["matched"] - 0.486) <= 0.02
    assert set(audio.attrs["split_statistics"]) == {"train", "test"}


def test_three_shards_give_the_same_embeddings(one_shard_run, small_inputs, base_params):
    sharded = _run(*small_inputs, {**base_params, "num_shards": 3})
    for name in ("text_embeddings", "audio_embeddings"):
        single, split = one_shard_run[name], sharded[name]
        assert split.drop(columns="embedding").equals(single.drop(columns="embedding"))
        np.testing.assert_allclose(embedding_matrix(split), embedding_matrix(single), atol=1e-5)


def test_combining_with_a_missing_shard_names_it(small_inputs, base_params):
    clips, captions = small_inputs
    params = EmbeddingParams.model_validate({**base_params, "num_shards": 2, "shard": 1})
    partitions = encode_shards(clips, captions, params)
    assert list(partitions) == ["text-shard-0001-of-0002"]
    with pytest.raises(ValueError, match=r"missing: \['text-shard-0000-of-0002'\]"):
        combine_text_embeddings(partitions, captions, params)


def test_a_stale_shard_is_refused(small_inputs, base_params):
    clips, captions = small_inputs
    params = EmbeddingParams.model_validate(base_params)
    partitions = encode_shards(clips.head(5), captions.head(5), params)
    with pytest.raises(ValueError, match="missing"):
        combine_text_embeddings(partitions, captions, params)


@pytest.mark.parametrize(
    "change, key",
    [
        ({"encoder": "clip"}, "encoder"),
        ({"num_shards": 2, "shard": 2}, "shard"),
        ({"num_shards": 0}, "num_shards"),
        ({"batch": 3}, "batch"),
    ],
)
def test_bad_parameters_fail_naming_the_key(base_params, change, key):
    with pytest.raises(ValidationError, match=key):
        EmbeddingParams.model_validate({**base_params, **change})
