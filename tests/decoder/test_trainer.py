"""The decoder's training loop: row schedule, resume after a kill, state of another run refused."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from decoder_fixtures import CAPTIONS, tiny_config
from diffusion_link.core.training import TrainingStateStore
from diffusion_link.decoder.config import TrainSettings
from diffusion_link.decoder.launch import trainable_checksum
from diffusion_link.decoder.model import CaptionDecoder
from diffusion_link.decoder.trainer import DecoderTrainer
from kill_and_resume import first_kill_mid_training, kill_once_saved

TESTS = Path(__file__).resolve().parents[1]
DIM = 16
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# The kill-and-resume run: 8 captions, batch 2, 60 epochs = 240 optimiser steps of a tiny LLaMA
# (a few seconds), with a state every 5 steps; the kill comes once a state past KILL_FROM exists.
KILL_SETTINGS = {"epochs": 60, "batch_size": 2, "lr": 3e-3, "noise_std": 0.05, "warmup_epochs": 2}
KILL_FROM = 20
TOTAL_STEPS = 240


def _embeddings() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.nn.functional.normalize(
        torch.randn(len(CAPTIONS), DIM, generator=generator), dim=-1
    )


def _validation() -> tuple[torch.Tensor, list[str]]:
    """Held-out pairs: other embeddings, the captions in another order (one of them empty)."""
    generator = torch.Generator().manual_seed(1)
    embeddings = torch.nn.functional.normalize(torch.randn(6, DIM, generator=generator), dim=-1)
    return embeddings, [*CAPTIONS[::-1][:5], " "]


def _train(
    model: Path, state: Path | None, validate: bool = True, **overrides
) -> tuple[CaptionDecoder, DecoderTrainer]:
    """What the kill-and-resume child runs too: a seeded decoder trained with dropout and noise,
    with a validation loss every 7 steps."""
    settings = TrainSettings(
        **{**KILL_SETTINGS, **overrides}, checkpoint_every=5, eval_every=7, progress=False
    )
    torch.manual_seed(settings.seed)
    decoder = CaptionDecoder.build(tiny_config(model, DIM, dropout=0.1))
    store = TrainingStateStore(state) if state is not None else None
    validation = _validation() if validate else None
    trainer = DecoderTrainer(decoder, _embeddings(), CAPTIONS, settings, store, None, validation)
    trainer.run()
    return decoder, trainer


class _World:
    """The two facts of an Accelerator the row schedule reads (rank and world size)."""

    def __init__(self, rank: int, size: int) -> None:
        self.process_index, self.num_processes = rank, size


def test_ranks_share_every_global_batch_and_each_epoch_covers_every_row(tiny_llama):
    torch.manual_seed(0)
    decoder = CaptionDecoder.build(tiny_config(tiny_llama, DIM, dropout=0.1))
    captions = CAPTIONS[:7]  # 7 rows, global batch 2 x 2: batches straddle epochs
    settings = TrainSettings(epochs=3, batch_size=2, progress=False)
    ranks = [
        DecoderTrainer(decoder, _embeddings()[:7], captions, settings, None, _World(r, 2))
        for r in range(2)
    ]
    assert ranks[0].total == 6  # ceil(7 / 4) = 2 steps per epoch
    stream = []
    for micro_batch in range(7):
        rank0, rank1 = ranks[0].rows(micro_batch), ranks[1].rows(micro_batch)
        assert len(rank0) == len(rank1) == 2 and not set(rank0) & set(rank1)
        stream += [row for pair in zip(rank0, rank1, strict=True) for row in pair]
    for epoch in range(4):
        assert sorted(stream[7 * epoch : 7 * epoch + 7]) == list(range(7))
    assert stream[:7] != stream[7:14]  # reshuffled each epoch


def _kill_in_training(model: Path, state: Path) -> int | None:
    """Run the training in a child process and SIGKILL it once its state is past KILL_FROM."""
    code = (
        "import sys, torch; torch.set_num_threads(1); "
        f"sys.path.insert(0, {str(TESTS)!r}); "
        "from pathlib import Path; from decoder.test_trainer import _train; "
        f"_train(Path({str(model)!r}), Path({str(state)!r}))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    state.unlink(missing_ok=True)
    log = state.with_suffix(".log")
    with log.open("w") as output:
        child = subprocess.Popen(
            [sys.executable, "-c", code], env=env, cwd=TESTS, stdout=output, stderr=output
        )
        # Hang guard: this whole test (kill, resume, uninterrupted run) took 57 s on a 2-core
        # machine running another CPU job (measured); reaching KILL_FROM is a fraction of that.
        step = kill_once_saved(
            child, state, KILL_FROM, time.monotonic() + 600, lambda: log.read_text()[-5000:]
        )
    return None if step is None or step == TOTAL_STEPS else step


def test_killed_training_resumes_and_ends_bitwise_like_an_uninterrupted_run(tiny_llama, tmp_path):
    state = tmp_path / "state.safetensors"
    killed_at = first_kill_mid_training(lambda _: _kill_in_training(tiny_llama, state))
    assert killed_at % 5 == 0 and KILL_FROM <= killed_at < TOTAL_STEPS
    resumed, trainer = _train(tiny_llama, state)
    assert trainer.resumed_from == killed_at and trainer.step == TOTAL_STEPS
    assert trainer.rows_seen == (TOTAL_STEPS - killed_at) * 2  # only the missing steps
    uninterrupted, reference = _train(tiny_llama, None)
    assert trainable_checksum(resumed) == trainable_checksum(uninterrupted)
    assert [r["loss"] for r in trainer.history] == [r["loss"] for r in reference.history]
    assert [r.get("val_loss") for r in trainer.history] == [
        r.get("val_loss") for r in reference.history
    ]


def test_validation_loss_every_eval_every_steps_finite_and_at_the_end(tiny_llama):
    _, trainer = _train(tiny_llama, None, epochs=5)  # 20 steps, eval_every 7
    evaluated = [r["step"] for r in trainer.history if "val_loss" in r]
    assert evaluated == [7, 14, 20]
    values = [r["val_loss"] for r in trainer.history if "val_loss" in r]
    assert all(math.isfinite(v) and v > 0 for v in values)
    assert values[-1] < values[0]  # it learns the captions, the held-out ones included


def test_validation_changes_no_weight_and_no_training_loss(tiny_llama):
    with_val, trainer = _train(tiny_llama, None, epochs=3)
    without, reference = _train(tiny_llama, None, validate=False, epochs=3)
    assert trainable_checksum(with_val) == trainable_checksum(without)
    assert [r["loss"] for r in trainer.history] == [r["loss"] for r in reference.history]
    assert not any("val_loss" in r for r in reference.history)


def test_validation_loss_is_the_token_mean_cross_entropy_in_eval_mode(tiny_llama):
    decoder, trainer = _train(tiny_llama, None, epochs=1, val_batch_size=4)
    embeddings, captions = _validation()
    assert len(trainer.val_ids) == 5  # the blank caption is left out
    decoder.train()  # LoRA dropout 0.1 is active in train mode; validation must not use it
    first = trainer.validation_loss()
    assert decoder.training  # the mode is restored
    assert trainer.validation_loss() == first  # deterministic
    decoder.eval()
    with torch.no_grad():  # one pair at a time, weighted by its caption tokens + EOS
        ids = decoder.tokenize_captions(captions[:5])
        losses = [float(decoder(embeddings[i : i + 1], [ids[i]])) for i in range(5)]
    counts = [len(row) + 1 for row in ids]
    expected = sum(loss * n for loss, n in zip(losses, counts, strict=True)) / sum(counts)
    assert first == pytest.approx(expected, rel=1e-5)
    assert trainer.history[-1]["val_loss"] == pytest.approx(first, rel=1e-6)


def test_state_of_another_run_is_ignored_with_a_warning(tiny_llama, tmp_path, caplog):
    state = tmp_path / "state.safetensors"
    _train(tiny_llama, state, epochs=1)
    with caplog.at_level(logging.WARNING, logger="diffusion_link.decoder.trainer"):
        _, trainer = _train(tiny_llama, state, epochs=1, lr=1e-3)
    assert trainer.resumed_from == 0 and trainer.rows_seen == 8
    assert any("ignoring training state" in r.message for r in caplog.records)
    _, again = _train(tiny_llama, state, epochs=1, lr=1e-3)  # the same run: nothing left to do
    assert again.resumed_from == again.step == 4 and again.rows_seen == 0


def test_bad_training_settings_name_the_setting():
    with pytest.raises(ValueError, match="checkpoint_every"):
        TrainSettings(checkpoint_every=0)
    with pytest.raises(ValueError, match="batch_size"):
        TrainSettings(batch_size=0)
    with pytest.raises(ValueError, match="eval_every"):
        TrainSettings(eval_every=0)
