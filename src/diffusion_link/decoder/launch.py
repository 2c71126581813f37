"""Decoder training on one GPU or many, one machine or several, through Hugging Face Accelerate.

The caller (the Kedro node) writes a *job folder*: the training pairs, the decoder's
configuration and the training settings. :func:`train_in_processes` then runs

    accelerate launch --num_processes N ... -m diffusion_link.decoder.launch JOB

in a subprocess (torchrun underneath when N > 1), so the Kedro session itself never runs once per
rank, and loads back the decoder that rank 0 saved. One process takes the same path. Every rank
builds the same seeded decoder, trains its share of each batch
(:class:`~diffusion_link.decoder.trainer.DecoderTrainer`), writes ``ranks/<rank>.json`` (what it
did) and rank 0 alone saves ``decoder/``.

On a cluster, the other machines run the same worker command with their ``--machine_rank``
(:func:`worker_command` gives it; the job folder must be on storage all machines share).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import save_file

from diffusion_link.atomic import atomic_file, read_safetensors
from diffusion_link.core.training import TrainingStateStore
from diffusion_link.decoder.base_model import base_model_source
from diffusion_link.decoder.config import DecoderConfig, LaunchSettings, TrainSettings
from diffusion_link.decoder.model import CaptionDecoder
from diffusion_link.decoder.trainer import DecoderTrainer
from diffusion_link.device import resolve_device

logger = logging.getLogger(__name__)

JOB_FILE = "job.json"
PAIRS_FILE = "embeddings.safetensors"
RANKS_DIR = "ranks"
RESULT_DIR = "decoder"
Device = Literal["auto", "cpu", "cuda"]
Validation = tuple[torch.Tensor, Sequence[str]]  # (embeddings, captions) for the validation loss


@dataclass(frozen=True)
class Job:
    """Everything a worker needs; written to ``JOB/job.json`` + ``JOB/embeddings.safetensors``."""

    config: DecoderConfig
    settings: TrainSettings
    device: Device = "auto"
    state_path: str | None = None  # the resumable training state (rank 0 writes it)

    def write(
        self,
        folder: Path,
        embeddings: torch.Tensor,
        captions: Sequence[str],
        validation: Validation | None = None,
    ) -> None:
        """Write the pairs, then ``job.json`` (its presence means the job is ready)."""
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"embeddings": embeddings.float().contiguous()}
        if validation is not None:
            tensors["val_embeddings"] = validation[0].float().contiguous()
        with atomic_file(folder / PAIRS_FILE) as partial:
            save_file(tensors, partial)
        description = {
            "config": self.config.to_dict(),
            "settings": asdict(self.settings),
            "device": self.device,
            "state_path": self.state_path,
            "captions": list(captions),
            "val_captions": None if validation is None else list(validation[1]),
        }
        with atomic_file(folder / JOB_FILE) as partial:  # last: its presence means "ready"
            partial.write_text(json.dumps(description))

    @staticmethod
    def read(folder: Path) -> tuple[Job, torch.Tensor, list[str], Validation | None]:
        """(job, training embeddings, training captions, validation pairs or None)."""
        description = json.loads((folder / JOB_FILE).read_text())
        job = Job(
            config=DecoderConfig(**description["config"]),
            settings=TrainSettings(**description["settings"]),
            device=description["device"],
            state_path=description["state_path"],
        )
        tensors, _ = read_safetensors(
            folder / PAIRS_FILE, f"delete {folder} and rerun decoder_training"
        )
        val_captions = description.get("val_captions")
        validation = None if val_captions is None else (tensors["val_embeddings"], val_captions)
        return job, tensors["embeddings"], description["captions"], validation


def free_port() -> int:
    """A TCP port free on this machine now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def threads_per_process(launch: LaunchSettings) -> int:
    """CPU threads for each of this machine's processes: its usable cores, shared evenly."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // (launch.num_processes // launch.num_machines))


def launch_command(job_folder: Path, launch: LaunchSettings, machine_rank: int) -> list[str]:
    """``accelerate launch ... -m diffusion_link.decoder.launch JOB`` for one machine."""
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(launch.num_processes),
        "--num_machines",
        str(launch.num_machines),
        "--machine_rank",
        str(machine_rank),
        "--mixed_precision",
        "no",  # the decoder runs its own bf16 autocast (DecoderConfig.precision)
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(launch.main_process_port or free_port()),  # train_in_processes fixes it first
    ]
    if launch.num_processes > 1:
        command.append("--multi_gpu")  # torchrun; on machines without GPUs it runs gloo on CPU
    if launch.main_process_ip:
        command += ["--main_process_ip", launch.main_process_ip]
    return [*command, *launch.extra_args, "-m", __name__, str(job_folder)]


def worker_command(job_folder: Path, launch: LaunchSettings, machine_rank: int) -> str:
    """The shell command another machine of the cluster runs (it waits for the job folder).

    It names this environment's Python, so the project must live on the shared storage too.
    """
    return shlex.join([*launch_command(job_folder, launch, machine_rank), "--wait", "3600"])


def train_in_processes(
    job: Job,
    embeddings: torch.Tensor,
    captions: Sequence[str],
    job_folder: Path,
    launch: LaunchSettings | None = None,
    validation: Validation | None = None,
) -> tuple[CaptionDecoder, list[dict]]:
    """Run the job under ``accelerate launch``; (rank 0's decoder, every rank's report).

    ``validation`` (embeddings, captions): rank 0 logs a validation loss in the decoder's
    ``history``. The job folder is cleared first and removed once the decoder is loaded back.
    """
    base_model_source(job.config.base_model)  # a missing model: one clear error, no launch
    job_folder = job_folder.resolve()  # other machines must find it by the same path
    launch = launch or LaunchSettings()
    if launch.main_process_port is None:  # one port for every machine's command
        launch = replace(launch, main_process_port=free_port())
    shutil.rmtree(job_folder, ignore_errors=True)
    job.write(job_folder, embeddings, captions, validation)
    command = launch_command(job_folder, launch, machine_rank=0)
    for rank in range(1, launch.num_machines):
        logger.info(
            "decoder job for machine %d of %d: %s",
            rank,
            launch.num_machines,
            worker_command(job_folder, launch, rank),
        )
    logger.info("Launching decoder training: %s", shlex.join(command))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # accelerate launch gives each process OMP_NUM_THREADS or, unset, one thread: a CPU run
    # would use one core of many. This machine's cores are shared among its processes instead.
    env.setdefault("OMP_NUM_THREADS", str(threads_per_process(launch)))
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, check=False)
    if completed.returncode != 0:
        raise RuntimeError(
            f"decoder training failed (exit status {completed.returncode}) in "
            f"`{shlex.join(command)}`; the workers' errors are printed above"
        )
    reports = [
        json.loads(path.read_text())
        for path in sorted((job_folder / RANKS_DIR).glob("*.json"), key=lambda p: int(p.stem))
    ]
    if len(reports) != launch.num_processes:
        raise RuntimeError(
            f"decoder training ended with reports from {len(reports)} of "
            f"{launch.num_processes} processes in {job_folder / RANKS_DIR}"
        )
    logger.info(
        "decoder training: %d process(es) finished in %.1f s",
        len(reports),
        time.perf_counter() - started,
    )
    decoder = CaptionDecoder.from_pretrained(
        job_folder / RESULT_DIR, device=resolve_device(job.device)
    )
    shutil.rmtree(job_folder, ignore_errors=True)
    return decoder, reports


def trainable_checksum(decoder: CaptionDecoder) -> str:
    """A digest of what training changes and saving keeps: the head and the LoRA adapter."""
    from peft import get_peft_model_state_dict

    weights = {
        **{f"head.{k}": v for k, v in decoder.head.state_dict().items()},
        **get_peft_model_state_dict(decoder.llm),
    }
    digest = hashlib.sha256()
    for name in sorted(weights):
        digest.update(name.encode())
        digest.update(weights[name].detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def run_worker(job_folder: Path) -> None:
    """One rank: build the seeded decoder, train its share, report; rank 0 saves the decoder."""
    from accelerate import Accelerator

    job, embeddings, captions, validation = Job.read(job_folder)
    cpu = resolve_device(job.device).type == "cpu"
    accelerator = Accelerator(cpu=cpu, mixed_precision="no")
    rank = accelerator.process_index
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s [rank {rank}] %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    torch.manual_seed(job.settings.seed)  # the same initial head (LoRA A) on every rank
    started = time.perf_counter()
    decoder = CaptionDecoder.build(job.config, device=accelerator.device)
    store = TrainingStateStore(job.state_path) if job.state_path else None
    trainer = DecoderTrainer(
        decoder, embeddings, captions, job.settings, store, accelerator, validation
    )
    trainer.run()
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        decoder.save_pretrained(job_folder / RESULT_DIR)
    report = {
        "rank": rank,
        "world_size": accelerator.num_processes,
        "device": str(accelerator.device),
        "steps": trainer.step,
        "resumed_from": trainer.resumed_from,
        "rows_seen": trainer.rows_seen,
        "threads": torch.get_num_threads(),
        "dtype": str(decoder.autocast_dtype).removeprefix("torch."),
        "final_loss": trainer.history[-1]["loss"] if trainer.history else None,
        "final_val_loss": trainer.history[-1].get("val_loss") if trainer.history else None,
        "trainable_checksum": trainable_checksum(decoder),
        "saved_decoder": accelerator.is_main_process,
        "seconds": round(time.perf_counter() - started, 2),
    }
    (job_folder / RANKS_DIR).mkdir(exist_ok=True)
    with atomic_file(job_folder / RANKS_DIR / f"{rank}.json") as partial:
        partial.write_text(json.dumps(report, indent=2))
    accelerator.wait_for_everyone()
    accelerator.end_training()


def main(argv: Sequence[str] | None = None) -> None:
    """The worker's command line: wait for the job folder, then run one rank."""
    parser = argparse.ArgumentParser(
        prog="python -m diffusion_link.decoder.launch",
        description="One rank of a decoder-training job (run it under `accelerate launch`).",
    )
    parser.add_argument("job_folder", type=Path)
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="seconds to wait for the job folder to appear (other machines of a cluster)",
    )
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.wait
    while not (args.job_folder / JOB_FILE).is_file():
        if time.monotonic() >= deadline:
            raise SystemExit(f"no decoder job at {args.job_folder} ({JOB_FILE} is missing)")
        time.sleep(2.0)
    run_worker(args.job_folder)


if __name__ == "__main__":
    main()
