"""Decoder training under `accelerate launch`: two CPU processes (gloo), one process, bad input."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from decoder_fixtures import CAPTIONS, tiny_config
from diffusion_link.decoder.base_model import ModelNotAvailableError
from diffusion_link.decoder.config import TrainSettings
from diffusion_link.decoder.launch import (
    Job,
    LaunchSettings,
    free_port,
    launch_command,
    threads_per_process,
    train_in_processes,
    trainable_checksum,
    worker_command,
)
from diffusion_link.decoder.model import CaptionDecoder
from diffusion_link.decoder.trainer import DecoderTrainer

DIM = 16
SETTINGS = TrainSettings(epochs=3, batch_size=2, lr=1e-2, checkpoint_every=2, progress=False)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def one_thread_per_worker(monkeypatch):
    """Workers inherit the environment: one OpenMP thread each on the shared 2-core machine."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _job(model: Path, state: Path | None = None) -> Job:
    config = tiny_config(model, DIM)
    return Job(config, SETTINGS, device="cpu", state_path=str(state) if state else None)


def _embeddings() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(len(CAPTIONS), DIM, generator=generator)


def test_two_cpu_processes_train_in_both_ranks_and_save_the_adapter_once(tiny_llama, tmp_path):
    job = _job(tiny_llama, tmp_path / "state.safetensors")
    torch.manual_seed(SETTINGS.seed)
    initial = trainable_checksum(CaptionDecoder.build(job.config))
    folder = tmp_path / "job"
    decoder, reports = train_in_processes(
        job, _embeddings(), CAPTIONS, folder, LaunchSettings(num_processes=2)
    )
    assert [r["rank"] for r in reports] == [0, 1]
    # 8 captions, 2 per rank per step: 2 steps per epoch, 3 epochs; each rank saw its half.
    for report in reports:
        assert report["world_size"] == 2 and report["steps"] == 6 and report["rows_seen"] == 12
        assert report["threads"] == 1  # OMP_NUM_THREADS, set by the caller, is kept
    # DistributedDataParallel averaged the gradients: both ranks end with the same weights,
    # which are trained (not the initial ones) and are the ones that were saved and loaded back.
    assert reports[0]["trainable_checksum"] == reports[1]["trainable_checksum"] != initial
    assert trainable_checksum(decoder) == reports[0]["trainable_checksum"]
    assert [r["saved_decoder"] for r in reports] == [True, False]
    assert (tmp_path / "state.safetensors").is_file()
    assert not folder.exists()  # the job folder is removed once the decoder is back
    assert len(decoder.history) == 6


def test_one_process_is_the_same_training_as_in_this_process(tiny_llama, tmp_path):
    job = _job(tiny_llama)
    launched, reports = train_in_processes(job, _embeddings(), CAPTIONS, tmp_path / "job")
    assert len(reports) == 1 and reports[0]["world_size"] == 1 and reports[0]["steps"] == 12
    torch.manual_seed(SETTINGS.seed)
    local = CaptionDecoder.build(job.config)
    DecoderTrainer(local, _embeddings(), CAPTIONS, SETTINGS).run()
    assert trainable_checksum(local) == trainable_checksum(launched)
    assert [r["loss"] for r in local.history] == [r["loss"] for r in launched.history]


def test_threads_per_process_shares_this_machines_cores_among_its_processes():
    cores = len(os.sched_getaffinity(0))
    assert threads_per_process(LaunchSettings()) == cores
    assert threads_per_process(LaunchSettings(num_processes=2)) == max(1, cores // 2)
    many = LaunchSettings(num_processes=4 * cores, num_machines=2, main_process_ip="10.0.0.1")
    assert threads_per_process(many) == 1  # never fewer than one


def test_a_cpu_worker_uses_every_core_unless_omp_num_threads_is_set(
    tiny_llama, tmp_path, monkeypatch
):
    """accelerate launch alone would give a CPU process one thread, whatever the machine."""
    monkeypatch.delenv("OMP_NUM_THREADS")
    _, reports = train_in_processes(_job(tiny_llama), _embeddings(), CAPTIONS, tmp_path / "job")
    assert reports[0]["threads"] == threads_per_process(LaunchSettings())
    assert reports[0]["dtype"] == "float32"  # the job's precision (tiny_config: fp32)


def test_a_missing_model_fails_before_any_process_starts(tmp_path):
    job = _job(tmp_path / "smollm2-135m-instruct")
    with pytest.raises(ModelNotAvailableError, match="llm_setup"):
        train_in_processes(job, _embeddings(), CAPTIONS, tmp_path / "job")
    assert not (tmp_path / "job").exists()


def test_a_failing_worker_is_a_clear_error(tiny_llama, tmp_path):
    captions = [""] * len(CAPTIONS)  # nothing to train on: every worker stops with an error
    with pytest.raises(RuntimeError, match="decoder training failed .*exit status"):
        train_in_processes(_job(tiny_llama), _embeddings(), captions, tmp_path / "job")


def test_launch_settings_and_commands_for_several_machines(tmp_path):
    with pytest.raises(ValueError, match="multiple of num_machines"):
        LaunchSettings(num_processes=3, num_machines=2, main_process_ip="10.0.0.1")
    with pytest.raises(ValueError, match="main_process_ip"):
        LaunchSettings(num_processes=4, num_machines=2)
    launch = LaunchSettings(
        num_processes=16,
        num_machines=2,
        main_process_ip="10.0.0.1",
        main_process_port=29500,
        extra_args=("--gpu_ids", "all"),
    )
    command = launch_command(tmp_path, launch, machine_rank=0)
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    text = " ".join(command)
    for option in (
        "--num_processes 16",
        "--num_machines 2",
        "--machine_rank 0",
        "--main_process_ip 10.0.0.1",
        "--main_process_port 29500",
        "--multi_gpu",
        "--gpu_ids all",
    ):
        assert option in text
    assert command[-3:] == ["-m", "diffusion_link.decoder.launch", str(tmp_path)]
    other = worker_command(tmp_path, launch, machine_rank=1)
    assert other.startswith(f"{sys.executable} -m accelerate.commands.launch")
    assert "--machine_rank 1" in other
    assert other.endswith(f"{tmp_path} --wait 3600")


def test_two_machines_on_one_host_train_together(tiny_llama, tmp_path):
    """The cluster path: machine 1 runs the worker command machine 0 would log for it."""
    launch = LaunchSettings(
        num_processes=2, num_machines=2, main_process_ip="127.0.0.1", main_process_port=free_port()
    )
    folder = tmp_path / "job"
    other = subprocess.Popen(shlex.split(worker_command(folder, launch, machine_rank=1)))
    try:
        decoder, reports = train_in_processes(
            _job(tiny_llama), _embeddings(), CAPTIONS, folder, launch
        )
        # Hang guard: the worker ends with machine 0's training; this whole test took 33 s on a
        # 2-core machine running another CPU job (measured).
        assert other.wait(timeout=600) == 0
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    assert [(r["rank"], r["world_size"], r["steps"]) for r in reports] == [(0, 2, 6), (1, 2, 6)]
    assert reports[0]["trainable_checksum"] == reports[1]["trainable_checksum"]
    assert trainable_checksum(decoder) == reports[0]["trainable_checksum"]
