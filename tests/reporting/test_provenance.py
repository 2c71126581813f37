"""report.json's provenance: table digests, seeds, versions and file hashes on real inputs."""

from __future__ import annotations

import hashlib
import platform
import re
from importlib.metadata import version

import numpy as np
import pandas as pd
import pytest
import yaml

from diffusion_link.data.embeddings import with_embeddings
from diffusion_link.datasets import AtomicParquetDataset, EmbeddingTableDataset
from diffusion_link.pipelines.evaluation.nodes import PROVENANCE_PARAMETERS
from diffusion_link.reporting.provenance import (
    PACKAGES,
    file_sha256,
    jar_digests,
    package_versions,
    parameter_seeds,
    provenance,
    table_sha256,
)


@pytest.fixture
def embeddings(default_captions) -> pd.DataFrame:
    """40 default captions with seeded random 8-d float32 embeddings and attributes."""
    ids = default_captions[["caption_id", "clip_id", "split"]].head(40)
    vectors = np.random.default_rng(0).standard_normal((40, 8)).astype(np.float32)
    return with_embeddings(ids, vectors, {"encoder": "gap_simulator", "checkpoint": "x", "dim": 8})


def test_a_table_read_back_from_its_file_has_the_digest_it_was_written_with(
    embeddings, default_captions, tmp_path
):
    dataset = EmbeddingTableDataset(str(tmp_path / "text_embeddings.parquet"))
    dataset.save(embeddings)
    assert table_sha256(dataset.load()) == table_sha256(embeddings)
    captions = AtomicParquetDataset(filepath=str(tmp_path / "captions.parquet"))
    captions.save(default_captions)
    assert table_sha256(captions.load()) == table_sha256(default_captions)
    assert re.fullmatch("[0-9a-f]{64}", table_sha256(embeddings))


def test_the_digest_follows_the_content_only(embeddings):
    digest = table_sha256(embeddings)
    changed = embeddings.copy()
    changed.at[3, "embedding"] = changed.at[3, "embedding"] + np.float32(1e-6)
    assert table_sha256(changed) != digest  # one float of one vector
    renamed = embeddings.copy()
    renamed.at[0, "clip_id"] = "another clip"
    assert table_sha256(renamed) != digest  # one id
    assert table_sha256(embeddings.iloc[::-1]) != digest  # the row order
    assert table_sha256(embeddings.rename(columns={"split": "fold"})) != digest  # a name
    relabelled = embeddings.copy()
    relabelled.attrs = {"encoder": "laion_clap"}
    relabelled.index = relabelled.index + 100
    assert table_sha256(relabelled) == digest  # attributes and index are not content
    assert table_sha256(embeddings.head(0)) != table_sha256(embeddings.head(0).iloc[:, :2])


def test_every_seed_of_the_configuration_is_found(project_root):
    groups = {}
    for name in PROVENANCE_PARAMETERS:
        group, *inner = name.split(".")
        text = (project_root / f"conf/base/parameters_{group}.yml").read_text()
        value = yaml.safe_load(text)[group]
        for key in inner:
            value = value[key]
        groups[name] = value
    seeds = parameter_seeds(groups)
    assert seeds["bridge_training.bridges.diffusion_link.training.seed"] == 0
    assert seeds["bridge_training.bridges.diffusion_link.seed"] == 0
    assert seeds["bridge_training.settings.s_star_sweep.seed"] == 0
    assert seeds["decoder_training.settings.subset_seed"] == 0
    assert seeds["decoder_training.settings.optimiser.seed"] == 0
    assert seeds["embedding.gap_simulator.seed"] == 0
    assert seeds["evaluation.umap.seed"] == 0
    # every `seed:` / `*_seed:` line of the four groups' parameter files, none more
    files = {f"parameters_{name.split('.')[0]}.yml" for name in PROVENANCE_PARAMETERS}
    lines = sum(
        len(
            re.findall(r"^\s*\w*seed:", (project_root / "conf/base" / file).read_text(), flags=re.M)
        )
        for file in files
    )
    assert len(seeds) == lines == 12
    assert parameter_seeds({"a": {"seed": 3, "seeds": [1], "b": {"x_seed": 4}}}) == {
        "a.seed": 3,
        "a.b.x_seed": 4,
    }


def test_versions_are_the_installed_ones():
    versions = package_versions()
    assert list(versions) == ["python", *PACKAGES]
    assert versions["python"] == platform.python_version()
    assert versions["torch"] == version("torch") and versions["kedro"] == version("kedro")
    assert package_versions(["no-such-distribution-xyz"])["no-such-distribution-xyz"] is None


def test_files_are_hashed_whole(tmp_path):
    data = np.random.default_rng(1).bytes(3 * (1 << 20) + 17)  # over several read chunks
    (tmp_path / "lib").mkdir()
    jar = tmp_path / "lib" / "a.jar"
    jar.write_bytes(data)
    assert file_sha256(jar) == hashlib.sha256(data).hexdigest()
    outside = tmp_path.parent / f"{tmp_path.name}-b.jar"
    outside.write_bytes(b"jar")
    digests = jar_digests([jar, outside], tmp_path)
    assert digests == {"lib/a.jar": file_sha256(jar), str(outside): file_sha256(outside)}
    outside.unlink()


def test_the_block_gathers_the_run_context_and_the_digests(embeddings):
    context = {"git_commit": None, "git_dirty": None, "kedro_env": "base"}
    java = {"version": "openjdk", "jars": {}}
    block = provenance(context, java, {"text_embeddings": embeddings}, {"e": {"seed": 1}})
    assert block == {
        **context,
        "versions": package_versions(),
        "java": java,
        "tables": {"text_embeddings": table_sha256(embeddings)},
        "seeds": {"e.seed": 1},
    }
