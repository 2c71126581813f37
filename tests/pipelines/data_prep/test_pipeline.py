"""The data_prep pipeline through Kedro's runner, with the project's own parameters."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro.validation.exceptions import ParameterValidationError
from kedro.validation.parameter_validator import ParameterValidator

from diffusion_link.data.audiocaps import CaptionFileError
from diffusion_link.pipelines.data_prep import create_pipeline
from diffusion_link.pipelines.data_prep.params import DataPrepParams

PROJECT = Path(__file__).resolve().parents[3]
OUTPUTS = ("clips", "captions", "data_quality")


def base_parameters() -> dict:
    text = (PROJECT / "conf/base/parameters_data_prep.yml").read_text()
    return yaml.safe_load(text)["data_prep"]


def validated(raw: dict) -> DataPrepParams:
    """The parameter group as Kedro hands it to the nodes: validated from the type hints."""
    return ParameterValidator({"data_prep": create_pipeline()}).validate_raw_params(
        {"data_prep": raw}
    )["data_prep"]


def run(params: DataPrepParams) -> dict:
    catalog = DataCatalog(
        {"params:data_prep": MemoryDataset(params), **{name: MemoryDataset() for name in OUTPUTS}}
    )
    SequentialRunner().run(create_pipeline(), catalog)
    return {name: catalog.load(name) for name in OUTPUTS}


def hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_pipeline_interface() -> None:
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"params:data_prep"}
    assert pipeline.outputs() == set(OUTPUTS)
    assert {n.name for n in pipeline.nodes} == {"read_captions", "probe_audio", "build_manifest"}


def test_kedro_validates_the_parameter_group() -> None:
    params = validated(base_parameters())
    assert isinstance(params, DataPrepParams)
    assert params.require_audio is False
    assert params.audiocaps_root == Path("data/01_raw/audiocaps_default")

    with pytest.raises(ParameterValidationError, match=r"data_prep(.|\n)*min_duration_s"):
        validated({**base_parameters(), "min_duration_s": "long"})


def test_default_run_through_the_runner() -> None:
    raw = {**base_parameters()}
    raw["audiocaps_root"] = str(PROJECT / raw["audiocaps_root"])
    root = Path(raw["audiocaps_root"])
    before = hashes(root)

    out = run(validated(raw))

    assert hashes(root) == before
    clips, captions, quality = out["clips"], out["captions"], out["data_quality"]
    assert len(clips) == 3016 and len(captions) == 3044
    assert clips["audio_path"].notna().sum() == 16
    assert set(captions["clip_id"]) == set(clips["clip_id"])
    owl = captions[captions["clip_id"] == "ovos-owl"]
    assert owl["split"].tolist() == ["test"] * 5
    assert owl["caption"].iloc[1] == "An owl hoots twice with a long pause in between"
    assert (quality["action"] == "kept_text_only").sum() == 3000


def test_require_audio_rejects_bad_clips_through_the_runner(tmp_path: Path) -> None:
    header = "audiocap_id,youtube_id,start_time,caption\n"
    for split, youtube_id in (("train", "tone"), ("val", "quiet"), ("test", "gone")):
        (tmp_path / f"{split}.csv").write_text(f"{header}1{split},{youtube_id},0,A sound\n")
    (tmp_path / "audio/train").mkdir(parents=True)
    (tmp_path / "audio/val").mkdir()
    tone = 0.3 * np.sin(np.linspace(0, 2000, 22_050, dtype=np.float32))
    sf.write(tmp_path / "audio/train/tone.wav", np.stack([tone, tone], axis=1), 44_100)
    sf.write(tmp_path / "audio/val/quiet.wav", np.zeros(16_000, np.float32), 16_000)

    out = run(
        validated({**base_parameters(), "audiocaps_root": str(tmp_path), "require_audio": True})
    )

    assert out["clips"][["clip_id", "sample_rate", "channels"]].values.tolist() == [
        ["tone", 44_100, 2]
    ]
    assert out["captions"]["caption_id"].tolist() == ["1train"]
    quality = out["data_quality"].set_index("clip_id")
    assert quality.loc["quiet", "reason"].startswith("all-silent")
    assert quality.loc["gone", "reason"].startswith("no audio folder audio/test/")
    assert set(quality["action"]) == {"rejected"}


def test_garbage_train_csv_stops_the_run_in_data_prep(tmp_path: Path) -> None:
    """3,000 random bytes as train.csv: one clear error, not a run that trains on nothing."""
    header = "audiocap_id,youtube_id,start_time,caption\n"
    (tmp_path / "train.csv").write_bytes(np.random.default_rng(0).bytes(3000))
    for split in ("val", "test"):
        (tmp_path / f"{split}.csv").write_text(f"{header}1{split},clip{split},0,A sound\n")
    before = hashes(tmp_path)
    params = validated({**base_parameters(), "audiocaps_root": str(tmp_path)})

    with pytest.raises(CaptionFileError) as raised:
        run(params)

    assert str(raised.value).startswith(
        f"{tmp_path / 'train.csv'}: cannot parse the caption CSV (split 'train')"
    )
    assert "missing columns: audiocap_id, youtube_id, start_time, caption" in str(raised.value)
    assert hashes(tmp_path) == before
