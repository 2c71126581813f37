"""Every bridge behind one interface: fitting, saving, loading, bad input, and a learning check."""

import json
import logging

import numpy as np
import pytest
import torch

from diffusion_link.core.baselines import C3Bridge, DiffGap, DiffusionBridge, IdentityBridge
from diffusion_link.core.bridges import BRIDGES, fit_bridge, load_bridge
from diffusion_link.core.losses import diffusion_bridge_objective
from diffusion_link.core.model import CONFIG_NAME, DiffusionConfig, DiffusionLink
from diffusion_link.core.training import TrainConfig, TrainingStateStore
from diffusion_link.metrics.modality_gap import matched_cosine, nonmatched_cosine

DIM = 16
# A fixed rotation: audio is the rotated text plus an offset and noise (a modality gap).
_SKEW = torch.randn(DIM, DIM, generator=torch.Generator().manual_seed(99))
ROTATION = torch.linalg.matrix_exp(0.25 * (_SKEW - _SKEW.T))
DIFFUSION_METHODS = ["diffusion_link", "diffusion_bridge", "diffgap"]
CLASSES = {"diffusion_link": DiffusionLink, "diffusion_bridge": DiffusionBridge, "diffgap": DiffGap}
TINY = {"width": 32, "time_dim": 16}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def pairs(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(audio, text): raw, un-normalised, paired row by row."""
    generator = torch.Generator().manual_seed(seed)
    text = torch.randn(n, DIM, generator=generator) + 0.5
    audio = text @ ROTATION.T + 1.0 + 0.5 * torch.randn(n, DIM, generator=generator)
    return audio, text


def short(steps: int = 30, **overrides) -> TrainConfig:
    return TrainConfig(
        **{"steps": steps, "batch_size": 64, "lr": 1e-3, "checkpoint_every": 10, **overrides}
    )


def seeded(x: torch.Tensor, model, seed: int = 0, **kwargs) -> torch.Tensor:
    return model.bridge(x, generator=torch.Generator().manual_seed(seed), **kwargs)


@pytest.fixture(scope="module")
def fitted() -> dict:
    """Each diffusion bridge fitted briefly on the synthetic pairs."""
    audio, text = pairs()
    return {
        method: fit_bridge(method, audio, text, model=TINY, training=short())
        for method in DIFFUSION_METHODS
    }


def test_identity_round_trip_and_output(tmp_path):
    audio, text = pairs(32)
    bridge, history = fit_bridge("identity", audio, text)
    assert isinstance(bridge, IdentityBridge) and history == []
    torch.testing.assert_close(
        bridge.bridge(audio), audio / audio.norm(dim=-1, keepdim=True), rtol=0, atol=1e-6
    )
    bridge.save_pretrained(tmp_path / "identity")
    assert [p.name for p in (tmp_path / "identity").iterdir()] == [CONFIG_NAME]
    loaded = load_bridge(tmp_path / "identity")
    assert type(loaded) is IdentityBridge and loaded.dim == DIM
    assert torch.equal(loaded.bridge(text, modality="text"), bridge.bridge(text))


def test_c3_round_trip_and_centred_output(tmp_path):
    audio, text = pairs()
    bridge, _ = fit_bridge("c3", audio, text)
    assert isinstance(bridge, C3Bridge)
    bridge.save_pretrained(tmp_path / "c3")
    loaded = load_bridge(tmp_path / "c3")
    assert type(loaded) is C3Bridge
    for x, modality in ((audio, "audio"), (text, "text")):
        out = loaded.bridge(x, modality=modality)
        assert torch.equal(out, bridge.bridge(x, modality=modality))
        torch.testing.assert_close(out.norm(dim=-1), torch.ones(len(x)))
        # Collapse removes the modality's mean direction: the outputs are centred.
        raw_mean = IdentityBridge(DIM).bridge(x).mean(0).norm()
        assert out.mean(0).norm() < 0.25 * raw_mean
    # The two modalities use their own (training) means.
    assert not torch.allclose(bridge.bridge(audio, modality="text"), bridge.bridge(audio))


def test_c3_uses_training_statistics_only():
    audio, text = pairs()
    bridge, _ = fit_bridge("c3", audio, text)
    unit = text / text.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(bridge.means["text"], unit.mean(0))
    held_out, _ = pairs(64, seed=5)
    out = bridge.bridge(held_out)
    expected = held_out / held_out.norm(dim=-1, keepdim=True) - bridge.means["audio"]
    torch.testing.assert_close(out, expected / expected.norm(dim=-1, keepdim=True))


@pytest.mark.parametrize("method", DIFFUSION_METHODS)
def test_fit_bridge_returns_a_trained_ema_model(fitted, method, tmp_path):
    model, history = fitted[method]
    assert type(model) is CLASSES[method] and not model.training
    assert model.config.dim == DIM and model.config.resolved_width == 32
    assert history and history[-1]["step"] == 30
    assert all(np.isfinite(record["loss"]) for record in history)
    audio, text = pairs(40, seed=3)
    for x, modality in ((audio, "audio"), (text, "text")):
        out = seeded(x, model, modality=modality)
        assert out.shape == (40, DIM) and out.dtype == torch.float32
        torch.testing.assert_close(out.norm(dim=-1), torch.ones(40))
    model.save_pretrained(tmp_path / method)
    loaded = load_bridge(tmp_path / method)
    assert type(loaded) is CLASSES[method]
    assert torch.equal(seeded(audio, loaded), seeded(audio, model))


def test_diffusion_link_history_has_every_loss_part(fitted):
    _, history = fitted["diffusion_link"]
    assert {"loss", "text_to_text", "audio_to_text", "topology", "lr", "step"} <= set(history[0])


def test_diffusion_bridge_never_trains_on_audio():
    audio, text = pairs(128)
    other_audio, _ = pairs(128, seed=9)
    first, _ = fit_bridge("diffusion_bridge", audio, text, model=TINY, training=short(10))
    second, _ = fit_bridge("diffusion_bridge", other_audio, text, model=TINY, training=short(10))
    for (name, a), b in zip(
        first.denoiser.state_dict().items(), second.denoiser.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert not torch.equal(first.audio_mean, second.audio_mean)


def test_fit_bridge_is_deterministic_and_resumes_through_its_store(tmp_path, caplog):
    audio, text = pairs(128)
    store = TrainingStateStore(tmp_path / "state.safetensors")
    plain, _ = fit_bridge("diffusion_link", audio, text, model=TINY, training=short(20))
    stored, history = fit_bridge(
        "diffusion_link", audio, text, model=TINY, training=short(20), store=store
    )
    for name, tensor in plain.state_dict().items():
        assert torch.equal(tensor, stored.state_dict()[name]), name
    assert store.load()["meta"]["step"] == 20
    with caplog.at_level(logging.INFO, logger="diffusion_link.core.training"):
        again, again_history = fit_bridge(
            "diffusion_link", audio, text, model=TINY, training=short(20), store=store
        )
    assert any("resuming from step 20" in r.getMessage() for r in caplog.records)
    assert again_history == history
    for name, tensor in again.state_dict().items():
        assert torch.equal(tensor, stored.state_dict()[name]), name
    # Other data, or another setting, is another run: its state is not reused.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="diffusion_link.core.training"):
        fit_bridge("diffusion_link", audio, text * 2, model=TINY, training=short(20), store=store)
        fit_bridge(
            "diffusion_link", audio, text, model=TINY, training=short(20, lr=2e-3), store=store
        )
    assert sum("ignoring training state" in r.getMessage() for r in caplog.records) == 2


def test_load_bridge_picks_the_class_from_the_config(tmp_path, fitted):
    audio, text = pairs(32)
    for name in BRIDGES:
        model = fitted[name][0] if name in fitted else fit_bridge(name, audio, text)[0]
        model.save_pretrained(tmp_path / name)
        config = json.loads((tmp_path / name / CONFIG_NAME).read_text())
        assert config["method"] == name
        assert load_bridge(tmp_path / name).method == name


def test_load_bridge_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved bridge"):
        load_bridge(tmp_path / "nothing")
    IdentityBridge(DIM).save_pretrained(tmp_path / "odd")
    path = tmp_path / "odd" / CONFIG_NAME
    path.write_text(json.dumps({**json.loads(path.read_text()), "method": "clap"}))
    with pytest.raises(ValueError, match="unknown bridge method 'clap'"):
        load_bridge(tmp_path / "odd")
    with pytest.raises(ValueError, match="holds a 'clap' bridge, not 'identity'"):
        IdentityBridge.from_pretrained(tmp_path / "odd")


def test_an_unknown_bridge_name_is_a_clear_error():
    audio, text = pairs(8)
    with pytest.raises(ValueError, match="unknown bridge 'clap'; choose from identity, c3"):
        fit_bridge("clap", audio, text)


def test_misaligned_pairs_are_refused():
    audio, text = pairs(8)
    with pytest.raises(ValueError, match="7 audio rows but 8 text rows: pairs must align"):
        fit_bridge("diffusion_link", audio[:7], text)


@pytest.mark.parametrize("method", ["identity", "c3", *DIFFUSION_METHODS])
@pytest.mark.parametrize("modality", ["audio", "text"])
def test_non_finite_training_data_names_the_rows(method, modality):
    audio, text = pairs(8)
    bad = {"audio": audio, "text": text}
    bad[modality][2, 0] = float("nan")
    bad[modality][5, 3] = float("inf")
    with pytest.raises(ValueError, match=rf"{modality}: rows \[2, 5\] contain NaN or inf"):
        fit_bridge(method, bad["audio"], bad["text"])


def test_wrongly_sized_or_empty_training_data_is_refused():
    audio, text = pairs(8)
    with pytest.raises(ValueError, match=rf"audio: expected shape \(n, {DIM}\), got \(8, 5\)"):
        fit_bridge("diffusion_link", audio[:, :5], text)
    with pytest.raises(ValueError, match="no embeddings"):
        fit_bridge("diffusion_link", audio[:0], text[:0])


def test_diffusion_bridge_weights_by_the_plain_snr_unless_clipped():
    # The zero-initialised output layer predicts 0: the loss is mean(weight * ||text||^2).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = DiffusionBridge(DiffusionConfig(dim=4, width=8, s_star=600))
    text = torch.randn(6, 4, generator=torch.Generator().manual_seed(2))
    steps = torch.randint(1, 1001, (6,), generator=torch.Generator().manual_seed(3))
    snr = model.alpha_bar[steps] / (1 - model.alpha_bar[steps])
    squared = text.pow(2).sum(-1)
    for clip, weight in ((None, snr), (5.0, snr.clamp(max=5.0))):
        loss = diffusion_bridge_objective(clip)(
            model, {"text": text}, torch.Generator().manual_seed(3)
        )["loss"]
        torch.testing.assert_close(loss, (weight * squared).mean())
    with pytest.raises(ValueError, match="snr_clip must be > 0 or null"):
        diffusion_bridge_objective(0.0)


def test_diffgap_takes_no_loss_settings():
    audio, text = pairs(8)
    with pytest.raises(ValueError, match=r"diffgap takes no loss settings, got \['snr_clip'\]"):
        fit_bridge("diffgap", audio, text, loss={"snr_clip": 5.0})


def test_diffusion_link_closes_the_gap_on_synthetic_pairs():
    """~300 steps on rotated + offset + noisy pairs: held-out matched cosine above identity."""
    audio, text = pairs(512)
    test_audio, test_text = pairs(256, seed=100)
    link, _ = fit_bridge(
        "diffusion_link",
        audio,
        text,
        model={"width": 32},
        training=TrainConfig(steps=300, lr=1e-3, batch_size=128, checkpoint_every=1000),
    )
    pair_index = np.arange(len(test_text))
    text_space = link.normalise(test_text, "text").numpy()
    bridged = seeded(test_audio, link).numpy()
    identity = matched_cosine(test_audio.numpy(), test_text.numpy(), pair_index)
    linked = matched_cosine(bridged, text_space, pair_index)
    assert 0.3 < identity < 0.5
    assert linked > identity + 0.1, (linked, identity)
    assert abs(nonmatched_cosine(bridged, text_space, pair_index)) < 0.05


def _finite_row(value: float) -> torch.Tensor:
    x = pairs(4)[0]
    x[1, 2] = value
    return x


# (keyword arguments of .bridge, the argument the ValueError must name); `embeddings` defaults
# to a good batch. The step cases are impossible for the diffusion bridges (T = 1000, default
# s* 100) and meaningless for identity and c3, which do not diffuse.
BAD_BRIDGE_INPUT = {
    "unknown modality": ({"modality": "image"}, "modality must be one of 'audio', 'text'"),
    "wrong dimension": ({"embeddings": torch.randn(4, DIM + 1)}, r"`embeddings`.*\(n, 16\)"),
    "one vector, not a batch": ({"embeddings": torch.randn(DIM)}, r"`embeddings`.*\(n, 16\)"),
    "NaN": ({"embeddings": _finite_row(float("nan"))}, r"`embeddings`: rows \[1\] contain NaN"),
    "inf": ({"embeddings": _finite_row(float("inf"))}, r"`embeddings`: rows \[1\] contain NaN"),
    "empty batch": ({"embeddings": torch.zeros(0, DIM)}, "`embeddings`: no embeddings"),
    "steps > s*": ({"s_star": 10, "steps": 11}, "`steps`"),
    "s* > T": ({"s_star": 1001}, "s_star"),
    "s* < 1": ({"s_star": 0, "steps": 1}, "s_star"),
}


@pytest.fixture(scope="module")
def every_bridge(fitted, tmp_path_factory) -> dict:
    """The five bridges, each as fitted and as `load_bridge` reads it back."""
    audio, text = pairs(32)
    fresh = {m: fit_bridge(m, audio, text)[0] for m in ("identity", "c3")}
    fresh |= {m: fitted[m][0] for m in DIFFUSION_METHODS}
    root = tmp_path_factory.mktemp("bridges")
    for method, bridge in fresh.items():
        bridge.save_pretrained(root / method)
    return {m: (b, load_bridge(root / m)) for m, b in fresh.items()}


@pytest.mark.parametrize("method", BRIDGES)
@pytest.mark.parametrize("case", list(BAD_BRIDGE_INPUT))
def test_every_bridge_refuses_bad_input_naming_the_argument(every_bridge, method, case):
    kwargs, message = BAD_BRIDGE_INPUT[case]
    kwargs = {"embeddings": pairs(4)[0], **kwargs}
    for bridge in every_bridge[method]:  # fitted, and loaded with load_bridge
        with pytest.raises(ValueError, match=message):
            bridge.bridge(**kwargs)
        good = {k: v for k, v in kwargs.items() if k in ("embeddings", "modality")}
        if case.startswith("s") and method in DIFFUSION_METHODS:
            assert bridge.bridge(**good).shape == (4, DIM)  # the steps alone were the problem
