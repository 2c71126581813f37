"""The decoder's training loop: row schedule, resume after a kill, state of another run refused."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from decoder_fixtures import CAPTIONS
from diffusion_link.decoder import CaptionDecoder, DecoderConfig
from diffusion_link.decoder_launch import trainable_checksum
from diffusion_link.decoder_trainer import DecoderTrainer, TrainSettings
from diffusion_link.training import TrainingStateStore

TESTS = Path(__file__).resolve().parent
DIM = 16
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# The kill-and-resume run: 8 captions, batch 2, 60 epochs = 240 optimiser steps of a tiny LLaMA
# (a few seconds), with a state every 5 steps; the kill comes once a state past KILL_FROM exists.
KILL_SETTINGS = {"epochs": 60, "batch_size": 2, "lr": 3e-3, "noise_std": 0.05, "warmup_epochs": 2}
KILL_FROM = 20


def _config(model: Path) -> DecoderConfig:
    return DecoderConfig(
        base_model=str(model),
        mode="zero_shot",
        embedding_dim=DIM,
        max_caption_tokens=12,
        lora={"r": 4, "alpha": 8, "dropout": 0.1, "target_modules": ["q_proj", "v_proj"]},
        precision="fp32",
    )


def _embeddings() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.nn.functional.normalize(
        torch.randn(len(CAPTIONS), DIM, generator=generator), dim=-1
    )


def _train(model: Path, state: Path | None, **overrides) -> tuple[CaptionDecoder, DecoderTrainer]:
    """What the kill-and-resume child runs too: a seeded decoder trained with dropout and noise."""
    settings = TrainSettings(**{**KILL_SETTINGS, **overrides}, checkpoint_every=5, progress=False)
    torch.manual_seed(settings.seed)
    decoder = CaptionDecoder.build(_config(model))
    store = TrainingStateStore(state) if state is not None else None
    trainer = DecoderTrainer(decoder, _embeddings(), CAPTIONS, settings, store)
    trainer.run()
    return decoder, trainer


class _World:
    """The two facts of an Accelerator the row schedule reads (rank and world size)."""

    def __init__(self, rank: int, size: int) -> None:
        self.process_index, self.num_processes = rank, size


def test_ranks_share_every_global_batch_and_each_epoch_covers_every_row(tiny_llama):
    torch.manual_seed(0)
    decoder = CaptionDecoder.build(_config(tiny_llama))
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


def _state_step(path: Path) -> int:
    try:
        with safe_open(path, framework="pt") as handle:
            return json.loads(handle.metadata()["json"])["step"]
    except (OSError, RuntimeError, KeyError, ValueError):
        return -1  # not there yet


def _kill_in_training(model: Path, state: Path, deadline: float) -> int:
    """Run the training in a child process and SIGKILL it once its state is past KILL_FROM."""
    code = (
        "import sys, torch; torch.set_num_threads(1); "
        f"sys.path.insert(0, {str(TESTS)!r}); "
        "from pathlib import Path; from test_decoder_trainer import _train; "
        f"_train(Path({str(model)!r}), Path({str(state)!r}))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    child = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=TESTS)
    try:
        while (step := _state_step(state)) < KILL_FROM:
            if child.poll() is not None or time.monotonic() > deadline:
                return -1
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    return _state_step(state) if step < 240 else -1


def test_killed_training_resumes_and_ends_bitwise_like_an_uninterrupted_run(tiny_llama, tmp_path):
    state = tmp_path / "state.safetensors"
    for attempt in range(3):
        state.unlink(missing_ok=True)
        killed_at = _kill_in_training(tiny_llama, state, time.monotonic() + 120)
        if killed_at > 0:
            break
        logging.getLogger(__name__).warning("attempt %d: the kill came too late", attempt)
    else:
        pytest.fail("three kills in a row came after training ended: nothing was resumed")
    assert killed_at % 5 == 0 and KILL_FROM <= killed_at < 240
    resumed, trainer = _train(tiny_llama, state)
    assert trainer.resumed_from == killed_at and trainer.step == 240
    assert trainer.rows_seen == (240 - killed_at) * 2  # only the missing steps were trained
    uninterrupted, reference = _train(tiny_llama, None)
    assert trainable_checksum(resumed) == trainable_checksum(uninterrupted)
    assert [r["loss"] for r in trainer.history] == [r["loss"] for r in reference.history]


def test_state_of_another_run_is_ignored_with_a_warning(tiny_llama, tmp_path, caplog):
    state = tmp_path / "state.safetensors"
    _train(tiny_llama, state, epochs=1)
    with caplog.at_level(logging.WARNING, logger="diffusion_link.decoder_trainer"):
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
