"""The trainer: bitwise determinism, bitwise resume, EMA, history, state file, bad configs."""

import json
import logging

import pytest
import torch
from safetensors import safe_open

from diffusion_link.core.losses import cross_sample_objective
from diffusion_link.core.model import DiffusionConfig, DiffusionLink
from diffusion_link.core.training import TrainConfig, Trainer, TrainingStateStore

DIM = 8


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def paired_data(n: int = 48) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(123)
    text = torch.nn.functional.normalize(torch.randn(n, DIM, generator=generator), dim=-1) * 5
    audio = text.roll(1, dims=1) + torch.randn(n, DIM, generator=generator)
    return {"text": text, "audio": audio}


def fresh_model(dropout: float = 0.0) -> DiffusionLink:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return DiffusionLink(DiffusionConfig(dim=DIM, width=16, time_dim=6, dropout=dropout))


def config(**overrides) -> TrainConfig:
    values = dict(
        steps=40,
        batch_size=16,
        lr=1e-3,
        lr_decay=0.5,
        lr_decay_every=10,
        ema_decay=0.9,
        seed=7,
        checkpoint_every=10,
        log_every=5,
    )
    return TrainConfig(**{**values, **overrides})


def trainer(store=None, fingerprint="fp", loss_fn=None, dropout=0.0, **overrides) -> Trainer:
    return Trainer(
        fresh_model(dropout),
        loss_fn or cross_sample_objective(),
        paired_data(),
        config(**overrides),
        store,
        fingerprint,
    )


def assert_same_modules(a: torch.nn.Module, b: torch.nn.Module) -> None:
    first, second = a.state_dict(), b.state_dict()
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), f"{name} differs"


class Killed(Exception):
    pass


def killed_at(call: int):
    """A loss that raises on its ``call``-th use: a process killed in the middle of a step."""
    objective, calls = cross_sample_objective(), []

    def loss(model, batch, generator):
        calls.append(1)
        if len(calls) == call:
            raise Killed
        return objective(model, batch, generator)

    return loss


def test_same_seed_and_data_give_bitwise_identical_ema_weights():
    first, second = trainer().run(), trainer().run()
    assert_same_modules(first.ema_model, second.ema_model)
    assert first.history == second.history
    other = trainer(seed=8).run()
    assert not torch.equal(
        other.ema_model.denoiser.output.weight, first.ema_model.denoiser.output.weight
    )


def test_a_longer_run_resumes_a_finished_shorter_one_bitwise(tmp_path):
    store = TrainingStateStore(tmp_path / "state.safetensors")
    short = trainer(store, steps=20).run()
    assert short.resumed_from == 0 and store.load()["meta"]["step"] == 20
    resumed_trainer = trainer(store, steps=40)
    resumed = resumed_trainer.run()
    assert resumed.resumed_from == 20
    uninterrupted_trainer = trainer(steps=40)
    uninterrupted = uninterrupted_trainer.run()
    assert_same_modules(resumed.ema_model, uninterrupted.ema_model)
    assert_same_modules(resumed_trainer.model, uninterrupted_trainer.model)
    assert resumed.history == uninterrupted.history
    assert resumed_trainer.optimizer.state_dict()["param_groups"][0]["lr"] == pytest.approx(
        uninterrupted_trainer.optimizer.state_dict()["param_groups"][0]["lr"]
    )


@pytest.mark.parametrize("killed_on_step", [37, 11, 30])
def test_a_killed_run_restarted_ends_bitwise_like_an_uninterrupted_one(tmp_path, killed_on_step):
    store = TrainingStateStore(tmp_path / "state.safetensors")
    with pytest.raises(Killed):
        trainer(store, loss_fn=killed_at(killed_on_step)).run()
    last_checkpoint = (killed_on_step - 1) // 10 * 10
    assert store.load()["meta"]["step"] == last_checkpoint
    restarted = trainer(store).run()
    assert restarted.resumed_from == last_checkpoint
    uninterrupted = trainer().run()
    assert_same_modules(restarted.ema_model, uninterrupted.ema_model)
    assert restarted.history == uninterrupted.history
    assert [p.name for p in tmp_path.iterdir()] == ["state.safetensors"]


def test_dropout_does_not_break_determinism_or_resume(tmp_path):
    # Dropout draws random masks: they must come from the run's own seeded state too.
    store = TrainingStateStore(tmp_path / "state.safetensors")
    torch.manual_seed(1)
    with pytest.raises(Killed):
        trainer(store, loss_fn=killed_at(25), dropout=0.3).run()
    torch.manual_seed(2)  # the restarted process's global RNG is in another state
    restarted = trainer(store, dropout=0.3).run()
    torch.manual_seed(3)
    caller_state = torch.get_rng_state()
    uninterrupted = trainer(dropout=0.3).run()
    assert torch.equal(torch.get_rng_state(), caller_state), "the caller's RNG is untouched"
    assert restarted.resumed_from == 20
    assert_same_modules(restarted.ema_model, uninterrupted.ema_model)


def test_a_finished_state_is_returned_without_training(tmp_path):
    store = TrainingStateStore(tmp_path / "state.safetensors")
    first = trainer(store).run()
    again = trainer(store, loss_fn=killed_at(1)).run()  # any training step would raise
    assert again.resumed_from == 40
    assert_same_modules(again.ema_model, first.ema_model)
    assert again.history == first.history


def test_a_state_with_another_fingerprint_is_ignored(tmp_path, caplog):
    store = TrainingStateStore(tmp_path / "state.safetensors")
    trainer(store, fingerprint="other data", steps=20).run()
    with caplog.at_level(logging.WARNING, logger="diffusion_link.core.training"):
        result = trainer(store, fingerprint="fp").run()
    assert result.resumed_from == 0
    assert any(
        "ignoring training state" in r.getMessage() and r.levelno == logging.WARNING
        for r in caplog.records
    )
    assert_same_modules(result.ema_model, trainer().run().ema_model)
    assert store.load()["meta"]["fingerprint"] == "fp", "the state now belongs to this run"


def test_resuming_is_logged(tmp_path, caplog):
    store = TrainingStateStore(tmp_path / "state.safetensors")
    trainer(store, steps=10).run()
    with caplog.at_level(logging.INFO, logger="diffusion_link.core.training"):
        trainer(store, steps=20).run()
    assert any("resuming from step 10" in r.getMessage() for r in caplog.records)


def test_the_state_file_is_safetensors_with_json_metadata(tmp_path):
    path = tmp_path / "state.safetensors"
    run = trainer(TrainingStateStore(path), steps=20)
    run.run()
    with safe_open(path, framework="pt") as handle:
        keys = set(handle.keys())
        meta = json.loads(handle.metadata()["json"])
    model_keys = set(fresh_model().state_dict())
    assert {f"model.{k}" for k in model_keys} <= keys
    assert {f"ema.{k}" for k in model_keys} <= keys
    assert {"rng", "order"} <= keys
    assert any(k.startswith("optimizer.") and k.endswith("exp_avg_sq") for k in keys)
    assert meta["step"] == 20 and meta["fingerprint"] == "fp"
    assert {"position", "param_groups", "scheduler", "history"} <= set(meta)
    assert path.read_bytes()[8:9] == b"{", "a safetensors header, not a pickle"
    state = TrainingStateStore(path).load()
    assert torch.equal(state["tensors"]["rng"], run.generator.get_state())


def test_ema_follows_the_weights_by_lerp():
    run = trainer(steps=1, ema_decay=0.9)
    before = {k: v.clone() for k, v in run.model.named_parameters()}
    result = run.run()
    after = dict(run.model.named_parameters())
    ema = dict(result.ema_model.named_parameters())
    for name in before:
        expected = before[name] + 0.1 * (after[name].detach() - before[name])
        torch.testing.assert_close(ema[name], expected, rtol=0, atol=1e-7)
    changed = [n for n in before if not torch.equal(after[n], before[n])]
    assert changed and any(not torch.equal(ema[n], after[n]) for n in changed)


def test_ema_differs_from_the_raw_weights_and_is_the_result():
    run = trainer()
    result = run.run()
    assert result.ema_model is run.ema and not result.ema_model.training
    differs = [
        name
        for name, p in run.model.named_parameters()
        if not torch.equal(p, dict(result.ema_model.named_parameters())[name])
    ]
    assert differs
    # With decay 0 the EMA is the last weights exactly.
    plain = trainer(ema_decay=0.0)
    assert_same_modules(plain.run().ema_model, plain.model)


def test_history_records_the_loss_parts_and_the_schedule():
    history = trainer(steps=23).run().history
    assert [r["step"] for r in history] == [5, 10, 15, 20, 23]
    for record in history:
        assert {"loss", "text_to_text", "audio_to_text", "topology", "lr"} <= set(record)
        assert all(isinstance(v, float) or isinstance(v, int) for v in record.values())
    # lr 1e-3 halved every 10 steps (StepLR, stepped after each optimiser step).
    lrs = {r["step"]: r["lr"] for r in history}
    assert lrs[5] == pytest.approx(1e-3) and lrs[10] == pytest.approx(5e-4)
    assert lrs[20] == pytest.approx(2.5e-4) and lrs[23] == pytest.approx(2.5e-4)


def test_training_reduces_the_loss():
    history = trainer(steps=150, lr=3e-3, lr_decay=1.0, log_every=10).run().history
    first = sum(r["loss"] for r in history[:2]) / 2
    last = sum(r["loss"] for r in history[-2:]) / 2
    assert last < 0.8 * first


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("steps", 0, "training.steps must be >= 1, got 0"),
        ("batch_size", 0, "training.batch_size must be >= 1"),
        ("lr_decay_every", 0, "training.lr_decay_every must be >= 1"),
        ("checkpoint_every", -1, "training.checkpoint_every must be >= 1"),
        ("log_every", 0, "training.log_every must be >= 1"),
        ("ema_decay", 1.0, r"training.ema_decay must be in \[0, 1\), got 1.0"),
        ("ema_decay", -0.1, r"training.ema_decay must be in \[0, 1\)"),
    ],
)
def test_bad_train_configs_raise(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})


@pytest.mark.parametrize(
    "data",
    [
        {"text": torch.zeros(4, DIM), "audio": torch.zeros(5, DIM)},
        {"text": torch.zeros(0, DIM), "audio": torch.zeros(0, DIM)},
    ],
)
def test_trainer_rejects_misaligned_or_empty_data(data):
    with pytest.raises(ValueError, match="non-empty and row-aligned"):
        Trainer(fresh_model(), cross_sample_objective(), data, config())


def test_a_batch_larger_than_the_data_uses_all_rows():
    run = trainer(batch_size=1000, steps=3)
    assert run.batch_size == 48
    run.run()


def scored_by_step(step: int) -> dict[str, float]:
    """A validation figure that rises until step 20 and then falls."""
    return {"val_matched_audio_text": -abs(step - 20) / 100.0, "val_recall_at_1": 0.5}


def validated_trainer(store=None, loss_fn=None, **overrides) -> Trainer:
    overrides = {"eval_every": 5, **overrides}
    run = Trainer(
        fresh_model(),
        loss_fn or cross_sample_objective(),
        paired_data(),
        config(**overrides),
        store,
        "fp",
    )
    run.validate = lambda ema: scored_by_step(run.step)
    return run


def test_validation_rows_join_the_history_every_eval_every_steps():
    history = validated_trainer(steps=23, log_every=10).run().history
    evaluations = [r for r in history if "val_matched_audio_text" in r]
    assert [r["step"] for r in evaluations] == [5, 10, 15, 20, 23]
    assert [r["kept_step"] for r in evaluations] == [5, 10, 15, 20, 23]
    losses = [r for r in history if "loss" in r]
    assert [r["step"] for r in losses] == [10, 20, 23]


def test_early_stopping_keeps_the_best_ema_weights():
    result = validated_trainer(steps=40, patience=2).run()
    assert result.stopped_early and result.best_step == 20
    kept = [r["kept_step"] for r in result.history if "kept_step" in r]
    assert kept == [5, 10, 15, 20, 20, 20]
    assert max(r["step"] for r in result.history) == 30  # two evaluations without progress
    best = trainer(steps=20).run()  # validation draws no random numbers: same trajectory
    assert_same_modules(result.ema_model, best.ema_model)
    no_patience = validated_trainer(steps=40).run()
    assert not no_patience.stopped_early and no_patience.best_step is None
    assert max(r["step"] for r in no_patience.history) == 40


def test_an_unknown_monitor_names_the_validation_figures():
    with pytest.raises(ValueError, match=r"training.monitor 'val_typo' is not a validation"):
        validated_trainer(steps=10, monitor="val_typo").run()


@pytest.mark.parametrize("killed_on_step", [17, 26])
def test_early_stopping_resumes_bitwise(tmp_path, killed_on_step):
    store = TrainingStateStore(tmp_path / "state.safetensors")
    with pytest.raises(Killed):
        validated_trainer(store, loss_fn=killed_at(killed_on_step), patience=2).run()
    restarted = validated_trainer(store, patience=2).run()
    uninterrupted = validated_trainer(patience=2).run()
    assert restarted.resumed_from > 0
    assert_same_modules(restarted.ema_model, uninterrupted.ema_model)
    assert restarted.history == uninterrupted.history
    assert (restarted.best_step, restarted.stopped_early) == (20, True)
    again = validated_trainer(store, loss_fn=killed_at(1), patience=2).run()  # nothing to train
    assert again.stopped_early and again.best_step == 20
    assert_same_modules(again.ema_model, uninterrupted.ema_model)


def test_the_cosine_schedule_warms_up_then_decays_to_zero():
    settings = config(schedule="cosine", warmup_steps=4, steps=20)
    factors = [settings.lr_factor(step) for step in range(21)]
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4] == pytest.approx(1.0) and factors[12] == pytest.approx(0.5)
    assert factors[20] == pytest.approx(0.0)
    assert all(a >= b for a, b in zip(factors[4:], factors[5:], strict=False))


@pytest.mark.parametrize("keep", [0.5, 0.0], ids=["truncated", "empty"])
def test_a_truncated_training_state_is_a_clear_error(tmp_path, keep):
    """A state file cut short (a full disk, a copy killed half-way) names itself and says to
    delete it, instead of a bare SafetensorError from inside the node."""
    store = TrainingStateStore(tmp_path / "state.safetensors")
    Trainer(fresh_model(), cross_sample_objective(), paired_data(), config(steps=10), store).run()
    data = store.path.read_bytes()
    store.path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match="state.safetensors .*delete it to start this training"):
        Trainer(fresh_model(), cross_sample_objective(), paired_data(), config(), store).run()
