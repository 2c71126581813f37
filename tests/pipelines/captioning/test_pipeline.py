"""The captioning pipeline: its registration, catalog, parameters, model choice and output table,
on a random-weight LAION-CLAP checkpoint, a fitted C3 bridge and the tiny LLaMA decoder."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.framework.project import configure_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from captioning_fixtures import (
    bad_inputs,
    bundled_clips,
    write_bridge,
    write_checkpoint,
    write_decoder,
)
from catalog_fixtures import KeptDataset
from diffusion_link.captioning import Captioner
from diffusion_link.datasets import AtomicCSVDataset, ModelFolders, ModelFoldersDataset
from diffusion_link.decoder.config import GenerationSettings
from diffusion_link.pipeline_registry import register_pipelines
from diffusion_link.pipelines.captioning import create_pipeline
from diffusion_link.pipelines.captioning.nodes import caption_audio_folder
from diffusion_link.pipelines.captioning.params import CaptioningParams
from diffusion_link.project.parameters import ParameterError
from diffusion_link.project.resources import ResourceError
from session_fixtures import copy_configuration, run

PROJECT = Path(__file__).resolve().parents[3]
GENERATION = {"max_new_tokens": 6, "batch_size": 4}
VERSIONS = ("2026-12-01T10.00.00.000Z", "2026-12-02T09.30.00.000Z")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _params(**changes) -> CaptioningParams:
    params = yaml.safe_load((PROJECT / "conf/base/parameters_captioning.yml").read_text())
    return CaptioningParams.model_validate({**params["captioning"], **changes})


def test_captioning_is_registered_but_not_part_of_the_default_run():
    configure_project("diffusion_link")
    pipelines = register_pipelines()
    assert [n.name for n in pipelines["captioning"].nodes] == ["caption_audio_folder"]
    default = {node.name for node in pipelines["__default__"].nodes}
    assert "caption_audio_folder" not in default and default


def test_the_catalog_entries(tmp_path):
    entries = yaml.safe_load((PROJECT / "conf/base/catalog_captioning.yml").read_text())
    for entry in entries.values():
        entry["filepath"] = str(tmp_path / Path(entry["filepath"]).name)
    catalog = DataCatalog.from_config(entries)
    assert entries["captions_out"]["versioned"] is True
    assert isinstance(catalog.get("captions_out"), AtomicCSVDataset)
    assert isinstance(catalog.get("trained_bridge_folders"), ModelFoldersDataset)
    assert catalog.load("trained_decoder_folders") == ModelFolders(tmp_path / "decoders")


def test_the_latest_complete_version_is_chosen(tmp_path):
    for version in VERSIONS:
        (tmp_path / "c3" / version / "c3").mkdir(parents=True)
    (tmp_path / "c3" / "2026-12-03T00.00.00.000Z" / ".c3.partial-1").mkdir(parents=True)
    folders = ModelFolders(tmp_path)
    assert folders.latest("c3") == (tmp_path / "c3" / VERSIONS[1] / "c3", VERSIONS[1])
    assert folders.choose("c3", "/elsewhere") == (Path("/elsewhere"), "explicit")
    with pytest.raises(FileNotFoundError, match="no trained 'diffgap' under"):
        folders.latest("diffgap")


def test_an_unset_audio_folder_is_a_clear_error(tmp_path):
    folders = ModelFolders(tmp_path)
    with pytest.raises(ValueError, match="captioning.audio_dir is not set"):
        caption_audio_folder(folders, folders, _params())
    with pytest.raises(ValueError, match="holds no files"):
        caption_audio_folder(folders, folders, _params(audio_dir=str(tmp_path)))


def test_kedro_refuses_bad_captioning_parameters_before_running(tmp_path):
    project = copy_configuration(tmp_path)
    with pytest.raises(ParameterError, match=r"captioning\.varient: unknown key"):
        run(project, "captioning", "captioning.varient=zero_shot_none")
    with pytest.raises(ParameterError, match=r"captioning\.bridge"):
        run(project, "captioning", "captioning.bridge=clip")


def test_a_missing_checkpoint_or_audio_folder_stops_the_run_before_any_node(tmp_path):
    project = copy_configuration(tmp_path)
    missing = tmp_path / "no_such_folder"
    with pytest.raises(ResourceError) as error:
        run(project, "captioning", [f"captioning.audio_dir={missing}"])
    problems = error.value.problems
    assert problems[0].startswith("captioning.encoder.checkpoint: ")  # official name, offline
    assert problems[1].startswith(f"captioning.audio_dir: '{missing}' is not a folder")


@pytest.fixture(scope="module")
def pipeline_run(tiny_llama, tmp_path_factory):
    root = tmp_path_factory.mktemp("captioning_pipeline")
    for version in VERSIONS:  # the later decoder is the one the catalog gives
        folder = root / "decoders" / "zero_shot_none" / version / "zero_shot_none"
        write_decoder(folder, tiny_llama, "identity", "zero_shot_none")
    bridge = write_bridge(root / "my_c3", "c3")
    audio = root / "audio"
    bad = bad_inputs(audio)
    for clip in bundled_clips()[:2]:
        (audio / clip.name).symlink_to(clip)
    params = _params(
        audio_dir=str(audio),
        bridge="c3",
        variant="zero_shot_none",
        bridge_dir=str(bridge),
        device="cpu",
        encoder={**asdict(_params().encoder), "checkpoint": str(write_checkpoint(root))},
        generation=GENERATION,
    )
    catalog = DataCatalog(
        {
            "trained_bridge_folders": MemoryDataset(ModelFolders(root / "bridges")),
            "trained_decoder_folders": MemoryDataset(ModelFolders(root / "decoders")),
            "params:captioning": MemoryDataset(params),
            "captions_out": KeptDataset(),
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)
    return catalog.load("captions_out"), params, bad


def test_every_file_gets_a_row_with_its_caption_or_reason(pipeline_run):
    table, params, bad = pipeline_run
    assert list(table.columns[:4]) == ["file", "caption", "duration_s", "reason"]
    expected = sorted(str(p) for p in bad.values() if p.exists())
    assert sorted(table.loc[table["reason"].notna(), "file"]) == expected
    good = table[table["reason"].isna()]
    assert len(good) == 2 and good["caption"].map(lambda c: isinstance(c, str)).all()
    assert table.loc[table["reason"].notna(), "caption"].isna().all()


def test_the_table_names_the_models_and_their_versions(pipeline_run):
    table, params, _ = pipeline_run
    row = table.iloc[0]
    assert (row["bridge"], row["bridge_folder"], row["bridge_version"]) == (
        "c3",
        params.bridge_dir,
        "explicit",
    )
    assert row["decoder"] == "zero_shot_none" and row["decoder_version"] == VERSIONS[1]
    assert Path(row["decoder_folder"]).parent.name == VERSIONS[1]


def test_the_api_gives_the_pipelines_captions(pipeline_run):
    table, params, _ = pipeline_run
    captioner = Captioner.from_pretrained(
        params.encoder,
        params.bridge_dir,
        table["decoder_folder"].iloc[0],
        device="cpu",
        generation=GenerationSettings(**GENERATION),
    )
    captions = captioner.table(captioner.caption(table["file"].tolist()))
    pd.testing.assert_frame_equal(
        captions, table.drop(columns=["bridge_version", "decoder_version"])
    )
