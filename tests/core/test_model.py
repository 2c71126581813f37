"""DiffusionLink as a plug-in: save/load round trip, no pickle, atomic writes, clear errors."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from diffusion_link.core.bridges import DiffGap, DiffusionBridge
from diffusion_link.core.model import CONFIG_NAME, WEIGHTS_NAME, DiffusionConfig, DiffusionLink

DIM = 8


def trained_looking(cls=DiffusionLink, **config) -> DiffusionLink:
    """A small model with random (non-zero) weights everywhere, as after training."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = cls(
            DiffusionConfig(dim=DIM, width=16, time_dim=6, **config),
            audio_mean=torch.randn(DIM) * 0.1,
            text_mean=torch.randn(DIM) * 0.1,
        )
        for parameter in model.denoiser.parameters():
            torch.nn.init.normal_(parameter, std=0.3)
    return model.eval()


def raw_embeddings(n: int = 9, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed))


def bridged(model, x=None, seed=0, **kwargs) -> torch.Tensor:
    x = raw_embeddings() if x is None else x
    return model.bridge(x, generator=torch.Generator().manual_seed(seed), **kwargs)


@pytest.fixture
def saved(tmp_path) -> Path:
    directory = tmp_path / "link"
    trained_looking().save_pretrained(directory)
    return directory


def edit_config(directory: Path, edit) -> None:
    path = directory / CONFIG_NAME
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("cls", [DiffusionLink, DiffusionBridge, DiffGap])
def test_round_trip_gives_identical_bridge_output(tmp_path, cls):
    model = trained_looking(cls)
    model.save_pretrained(tmp_path / "m")
    loaded = cls.from_pretrained(tmp_path / "m")
    assert type(loaded) is cls and loaded.config == model.config and not loaded.training
    assert torch.equal(loaded.audio_mean, model.audio_mean)
    assert torch.equal(loaded.text_mean, model.text_mean)
    for modality in ("audio", "text"):
        assert torch.equal(bridged(loaded, modality=modality), bridged(model, modality=modality))


def test_the_folder_holds_only_safetensors_and_json(saved, tmp_path):
    assert sorted(p.name for p in saved.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    assert not [p for p in tmp_path.rglob("*") if p.suffix in {".pt", ".pkl", ".bin", ".pth"}]
    assert [p.name for p in tmp_path.iterdir()] == ["link"], "no partial folder is left behind"
    with safe_open(saved / WEIGHTS_NAME, framework="pt") as handle:
        assert set(handle.keys()) == set(trained_looking().denoiser.state_dict())
    config = json.loads((saved / CONFIG_NAME).read_text())
    assert config["method"] == "diffusion_link" and config["format_version"] == 1
    assert config["config"]["dim"] == DIM and config["config"]["s_star"] == 100
    assert len(config["normalisation"]["audio_mean"]) == DIM


class BrokenStateDict(DiffusionLink):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)

        def fail(*_, **__):
            raise RuntimeError("disk full (simulated)")

        self.denoiser.state_dict = fail


class BrokenAfterWeights(DiffusionLink):
    """Fails after model.safetensors is written, while the config is being built."""

    @property
    def method(self) -> str:  # type: ignore[override]
        raise RuntimeError("crash while writing the config (simulated)")


@pytest.mark.parametrize("broken", [BrokenStateDict, BrokenAfterWeights])
def test_a_failed_write_never_appears_under_the_final_name(tmp_path, broken):
    model = broken(DiffusionConfig(dim=DIM, width=16))
    with pytest.raises(RuntimeError, match="simulated"):
        model.save_pretrained(tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert list(tmp_path.iterdir()) == [], "the partial folder is removed"


def test_a_failed_overwrite_keeps_the_previous_model(saved):
    before = bridged(DiffusionLink.from_pretrained(saved))
    with pytest.raises(RuntimeError, match="simulated"):
        BrokenAfterWeights(DiffusionConfig(dim=DIM, width=32)).save_pretrained(saved)
    assert torch.equal(bridged(DiffusionLink.from_pretrained(saved)), before)
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_overwriting_replaces_the_whole_folder(saved):
    trained_looking(num_blocks=1).save_pretrained(saved)
    assert DiffusionLink.from_pretrained(saved).config.num_blocks == 1
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


@pytest.mark.parametrize("missing", [CONFIG_NAME, WEIGHTS_NAME])
def test_loading_without_a_file_names_both_files(saved, missing):
    (saved / missing).unlink()
    with pytest.raises(FileNotFoundError, match=f"needs {CONFIG_NAME} and {WEIGHTS_NAME}"):
        DiffusionLink.from_pretrained(saved)


def test_loading_a_missing_folder_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a saved DiffusionLink"):
        DiffusionLink.from_pretrained(tmp_path / "nowhere")


def test_loading_another_method_names_it(tmp_path):
    trained_looking(DiffGap).save_pretrained(tmp_path / "gap")
    with pytest.raises(ValueError, match="holds a 'diffgap' model, not 'diffusion_link'"):
        DiffusionLink.from_pretrained(tmp_path / "gap")
    with pytest.raises(ValueError, match="holds a 'diffgap' model, not 'diffusion_bridge'"):
        DiffusionBridge.from_pretrained(tmp_path / "gap")


def test_unknown_config_key_is_named(saved):
    edit_config(saved, lambda c: c["config"].update(heads=4))
    with pytest.raises(ValueError, match=r"unknown config keys \['heads'\]"):
        DiffusionLink.from_pretrained(saved)


@pytest.mark.parametrize("section", ["config", "normalisation"])
def test_a_missing_config_section_is_named(saved, section):
    edit_config(saved, lambda c: c.pop(section))
    with pytest.raises(ValueError, match=section):
        DiffusionLink.from_pretrained(saved)


def test_a_newer_format_version_is_refused(saved):
    edit_config(saved, lambda c: c.update(format_version=99))
    with pytest.raises(ValueError, match="format_version 99"):
        DiffusionLink.from_pretrained(saved)


@pytest.mark.parametrize("name", ["audio_mean", "text_mean"])
def test_normalisation_statistics_of_the_wrong_length(saved, name):
    edit_config(saved, lambda c: c["normalisation"].update({name: [0.0] * (DIM - 1)}))
    with pytest.raises(ValueError, match=f"{name} has {DIM - 1} values but dim is {DIM}"):
        DiffusionLink.from_pretrained(saved)


@pytest.mark.parametrize(
    "edit",
    [
        {"width": 32},
        {"num_blocks": 2},
        {"time_dim": 4},
        {"dim": DIM * 2},  # with statistics of the new length, so only the weights disagree
    ],
)
def test_weights_that_do_not_match_the_config(saved, edit):
    def change(config):
        config["config"].update(edit)
        dim = config["config"]["dim"]
        for key in ("audio_mean", "text_mean"):
            config["normalisation"][key] = [0.0] * dim

    edit_config(saved, change)
    with pytest.raises(ValueError, match=f"{WEIGHTS_NAME} does not match .*{CONFIG_NAME}"):
        DiffusionLink.from_pretrained(saved)


def test_an_impossible_saved_config_is_refused(saved):
    edit_config(saved, lambda c: c["config"].update(s_star=2000))
    with pytest.raises(ValueError, match="s_star must be between 1 and T=1000, got 2000"):
        DiffusionLink.from_pretrained(saved)


def test_bridge_output_is_unit_norm_float32_and_seeded():
    model = trained_looking()
    out = bridged(model)
    assert out.shape == (9, DIM) and out.dtype == torch.float32
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(9))
    assert torch.equal(bridged(model, seed=0), out)
    assert not torch.equal(bridged(model, seed=1), out), "fresh noise for another seed"
    # float64 numpy input (as read from Parquet) is accepted and gives the same rows.
    as_numpy = raw_embeddings().double().numpy()
    torch.testing.assert_close(bridged(model, torch.from_numpy(as_numpy)), out)
    torch.testing.assert_close(bridged(model, as_numpy), out)


def test_bridge_uses_the_stored_normalisation():
    model = trained_looking()
    x = raw_embeddings()
    unit = x / x.norm(dim=-1, keepdim=True)
    centred = unit - model.audio_mean
    expected = 5.0 * centred / centred.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(model.normalise(x, "audio"), expected)
    assert not torch.allclose(model.normalise(x, "text"), expected)


BRIDGE_CLASSES = [DiffusionLink, DiffusionBridge, DiffGap]


def _with_bad_row(value: float) -> torch.Tensor:
    x = raw_embeddings(5)
    x[3, 2] = value
    return x


@pytest.mark.parametrize("cls", BRIDGE_CLASSES)
@pytest.mark.parametrize(
    "embeddings, message",
    [
        (_with_bad_row(float("nan")), r"rows \[3\] contain NaN or inf"),
        (_with_bad_row(float("inf")), r"rows \[3\] contain NaN or inf"),
        (_with_bad_row(float("-inf")), r"rows \[3\] contain NaN or inf"),
        (torch.randn(4, DIM + 1), rf"expected shape \(n, {DIM}\), got \(4, {DIM + 1}\)"),
        (torch.randn(DIM), rf"expected shape \(n, {DIM}\), got \({DIM},\)"),
        (torch.zeros(0, DIM), "no embeddings"),
    ],
)
def test_bridge_rejects_bad_embeddings(cls, embeddings, message):
    with pytest.raises(ValueError, match=message):
        trained_looking(cls).bridge(embeddings)


@pytest.mark.parametrize("cls", BRIDGE_CLASSES)
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"s_star": 1001}, "s_star must be between 1 and T=1000, got 1001"),
        ({"s_star": 0}, "s_star must be between 1 and T=1000, got 0"),
        ({"steps": 0}, "DDIM steps must be between 1 and s_star=100, got 0"),
        ({"s_star": 10, "steps": 11}, "DDIM steps must be between 1 and s_star=10, got 11"),
    ],
)
def test_bridge_rejects_impossible_steps(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        trained_looking(cls).bridge(raw_embeddings(), **kwargs)


@pytest.mark.parametrize("cls", BRIDGE_CLASSES)
def test_every_diffusion_bridge_gives_unit_rows(cls):
    out = bridged(trained_looking(cls), s_star=50, steps=2)
    assert out.dtype == torch.float32 and np.allclose(out.norm(dim=-1).numpy(), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"dim": 0}, "dim must be >= 1"),
        ({"num_blocks": 0}, "num_blocks must be >= 1"),
        ({"T": 0}, "T must be >= 1"),
        ({"width": 0}, "width must be >= 1"),
        ({"width": -4}, "width must be >= 1"),
        ({"time_dim": 0}, "time_dim must be >= 1"),
        ({"dropout": -0.1}, r"dropout must be in \[0, 1\), got -0.1"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"norm_scale": 0.0}, "norm_scale must be > 0, got 0.0"),
        ({"schedule_s": -0.5}, "schedule_s must be > 0, got -0.5"),
        ({"s_star": 0}, "s_star must be between 1 and T=1000"),
        ({"s_star": 1001}, "s_star must be between 1 and T=1000, got 1001"),
        ({"T": 50}, "s_star must be between 1 and T=50, got 100"),
        ({"ddim_steps": 0}, "DDIM steps must be between 1 and s_star=100, got 0"),
        ({"s_star": 4}, "DDIM steps must be between 1 and s_star=4, got 5"),
    ],
)
def test_config_rejects_impossible_values(values, message):
    with pytest.raises(ValueError, match=message):
        DiffusionConfig(**{"dim": DIM, **values})


def test_config_defaults_follow_the_paper():
    config = DiffusionConfig(dim=512)
    assert (config.T, config.s_star, config.ddim_steps, config.num_blocks) == (1000, 100, 5, 3)
    assert config.resolved_width == 1024 and config.schedule_s == 0.008
    assert config.norm_scale == 5.0


def test_saved_weights_are_the_denoisers(saved):
    weights = load_file(saved / WEIGHTS_NAME)
    model = DiffusionLink.from_pretrained(saved)
    for name, tensor in model.denoiser.state_dict().items():
        assert torch.equal(weights[name], tensor)


def test_a_truncated_weights_file_names_itself_and_what_to_rerun(saved):
    weights = saved / WEIGHTS_NAME
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(
        ValueError, match=f"{WEIGHTS_NAME} is not a readable .*rerun bridge_training"
    ):
        DiffusionLink.from_pretrained(saved)


@pytest.mark.parametrize("text", ["{not json", "[1]"], ids=["not-json", "not-an-object"])
def test_a_config_that_is_not_a_json_object_names_itself(saved, text):
    (saved / CONFIG_NAME).write_text(text)
    with pytest.raises(ValueError, match=f"{CONFIG_NAME} (is not valid JSON|holds a list)"):
        DiffusionLink.from_pretrained(saved)
