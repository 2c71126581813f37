"""Training of the caption decoder: AdamW, warm-up then cosine, accumulation, resume, many ranks.

One loop serves one process and many. Under ``accelerate launch`` (see
:mod:`diffusion_link.decoder.launch`) every rank takes its share of each global batch and
DistributedDataParallel averages the gradients; alone, the same loop runs with world size 1.

Randomness is a function of (seed, step, rank) only: epoch ``e`` is shuffled by a generator
seeded from (seed, e), and the input noise and LoRA dropout of micro-batch ``k`` on rank ``r`` come
from the global RNG seeded from (seed, k, r). A run resumed from a saved step therefore continues
exactly as if it had never stopped, with no generator state to save. The training state (trainable
weights, AdamW, schedule, loss history) is written every ``checkpoint_every`` steps by rank 0.

Given validation pairs, rank 0 computes the mean caption cross-entropy over them every
``eval_every`` optimiser steps and at the last step (eval mode, no gradient, no input noise, no
dropout: a deterministic function of the weights) and stores it as ``val_loss`` in that step's
history record. It draws no random numbers, so it changes nothing in training or resume.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from diffusion_link.core.training import (
    TrainingStateStore,
    load_optimizer_state,
    optimizer_state,
    prefixed,
    unprefixed,
)
from diffusion_link.decoder.config import TrainSettings

if TYPE_CHECKING:
    from accelerate import Accelerator

    from diffusion_link.decoder.model import CaptionDecoder

logger = logging.getLogger(__name__)


def warmup_cosine(warmup: int, total: int):
    """LR multiplier: linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def drop_empty_captions(
    embeddings: torch.Tensor, captions: Sequence[str]
) -> tuple[torch.Tensor, list[str]]:
    """Leave out pairs whose caption is empty or blank (None/NaN too), counting them in the log."""
    keep = [isinstance(c, str) and bool(c.strip()) for c in captions]
    dropped = len(keep) - sum(keep)
    if dropped:
        logger.warning("%d of %d captions are empty and were left out", dropped, len(keep))
    index = torch.tensor([i for i, k in enumerate(keep) if k], dtype=torch.long)
    return embeddings[index], [c.strip() for c, k in zip(captions, keep, strict=True) if k]


def _seed(*keys: int) -> int:
    """A well-mixed 63-bit seed from integer keys (numpy's SeedSequence)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0]) >> 1


class DecoderTrainer:
    """Trains a :class:`CaptionDecoder`'s head and LoRA adapter on (embedding, caption) pairs.

    With an ``accelerator`` of several processes, each process builds the same decoder and
    trains its rows of every global batch; gradients are averaged by DistributedDataParallel,
    so every rank ends with the same weights. ``store`` (rank 0 writes it) makes the run
    resumable: a run with the same decoder, data, settings and world size continues from it.
    ``validation`` (embeddings, captions) adds a validation loss to the history (rank 0).
    """

    def __init__(
        self,
        decoder: CaptionDecoder,
        embeddings: torch.Tensor,
        captions: Sequence[str],
        settings: TrainSettings,
        store: TrainingStateStore | None = None,
        accelerator: Accelerator | None = None,
        validation: tuple[torch.Tensor, Sequence[str]] | None = None,
    ) -> None:
        embeddings, captions = drop_empty_captions(embeddings, captions)
        if len(captions) == 0:
            raise ValueError("no non-empty captions to train the caption decoder on")
        self.decoder, self.settings, self.store = decoder, settings, store
        self.accelerator = accelerator
        self.rank = accelerator.process_index if accelerator else 0
        self.world = accelerator.num_processes if accelerator else 1
        self.embeddings = embeddings.float()
        self.caption_ids = decoder.tokenize_captions(captions)
        self.n = len(self.caption_ids)
        self.global_batch = settings.batch_size * self.world
        self.steps_per_epoch = math.ceil(self.n / (self.global_batch * settings.grad_accumulation))
        self.total = max(1, round(settings.epochs * self.steps_per_epoch))
        self.warmup = round(settings.warmup_epochs * self.steps_per_epoch)
        self.trainable = {name: p for name, p in decoder.named_parameters() if p.requires_grad}
        head = {id(p) for p in decoder.head.parameters()}
        self.optimiser = torch.optim.AdamW(
            [
                {
                    "params": [p for p in self.trainable.values() if id(p) not in head],
                    "lr": settings.lr,
                },
                {
                    "params": list(decoder.head.parameters()),
                    "lr": settings.lr * settings.head_lr_scale,
                },
            ],
            weight_decay=settings.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimiser, warmup_cosine(self.warmup, self.total)
        )
        self.fingerprint = self._fingerprint()
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.resumed_from = 0
        self.rows_seen = 0
        self._permutation: tuple[int, list[int]] = (-1, [])
        self._model: torch.nn.Module | None = None
        self.val_embeddings, self.val_ids = None, []
        if validation is not None:
            val_embeddings, val_captions = drop_empty_captions(*validation)
            self.val_embeddings = val_embeddings.float()
            self.val_ids = decoder.tokenize_captions(val_captions)

    # -- what this run is: a resumed state must come from the same one

    def _fingerprint(self) -> str:
        settings = asdict(self.settings)
        # What changes no weight: a run resumed with other values of these ends the same.
        for volatile in (
            "log_every",
            "checkpoint_every",
            "eval_every",
            "val_batch_size",
            "progress",
        ):
            settings.pop(volatile)
        digest = hashlib.sha256()
        digest.update(
            json.dumps(
                {
                    "config": self.decoder.config.to_dict(),
                    "base_model": self.decoder.identity,
                    "dtype": str(self.decoder.autocast_dtype),  # auto differs between machines
                    "settings": settings,
                    "world_size": self.world,
                },
                sort_keys=True,
            ).encode()
        )
        digest.update(self.embeddings.contiguous().numpy().tobytes())
        digest.update(json.dumps(self.caption_ids).encode())
        return digest.hexdigest()

    # -- which rows: epochs concatenated, each reshuffled; this rank's share of a global batch

    def _epoch_order(self, epoch: int) -> list[int]:
        if self._permutation[0] != epoch:
            generator = torch.Generator().manual_seed(_seed(self.settings.seed, epoch))
            self._permutation = (epoch, torch.randperm(self.n, generator=generator).tolist())
        return self._permutation[1]

    def rows(self, micro_batch: int) -> list[int]:
        """This rank's rows of global micro-batch ``micro_batch`` (0-based, over the whole run)."""
        start = micro_batch * self.global_batch
        rows: list[int] = []
        while len(rows) < self.global_batch:
            epoch, offset = divmod(start + len(rows), self.n)
            rows += self._epoch_order(epoch)[offset : offset + self.global_batch - len(rows)]
        return rows[self.rank :: self.world]

    # -- state

    def _save_state(self) -> None:
        if self.store is None or self.rank != 0:
            return
        optimiser, param_groups = optimizer_state(self.optimiser)
        params = {name: p.detach() for name, p in self.trainable.items()}
        meta = {
            "fingerprint": self.fingerprint,
            "step": self.step,
            "param_groups": param_groups,
            "scheduler": self.scheduler.state_dict(),
            "history": self.history,
        }
        self.store.save({**optimiser, **prefixed("param", params)}, meta)

    def _restore(self) -> None:
        saved = self.store.load() if self.store is not None else None
        if saved is None:
            return
        tensors, meta = saved["tensors"], saved["meta"]
        if meta.get("fingerprint") != self.fingerprint:
            logger.warning(
                "decoder: ignoring training state at %s (made with another model, data, "
                "settings or number of processes)",
                self.store.path,
            )
            return
        params = unprefixed("param", tensors)
        with torch.no_grad():
            for name, p in self.trainable.items():
                p.copy_(params[name].to(p.device, p.dtype))
        load_optimizer_state(self.optimiser, tensors, meta["param_groups"])
        self.scheduler.load_state_dict(meta["scheduler"])
        self.step, self.history = meta["step"], meta["history"]
        self.resumed_from = self.step
        logger.info("decoder: resuming from step %d of %d", self.step, self.total)

    # -- the loop

    def run(self) -> list[dict[str, float]]:
        """Train to the last step (resuming when the store holds this run's state)."""
        device = self.decoder.device
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # the caller's RNG is left as it was
            self._restore()
            self._train()
        self.decoder.eval()
        self.decoder.history = self.history
        return self.history

    def _train(self) -> None:
        settings = self.settings
        if self.rank == 0:
            logger.info(
                "Training the %s decoder on %d captions: %d optimiser steps (%d per epoch, "
                "batch %d x %d processes x %d accumulation), %d trainable parameters",
                self.decoder.config.mode,
                self.n,
                self.total,
                self.steps_per_epoch,
                settings.batch_size,
                self.world,
                settings.grad_accumulation,
                sum(p.numel() for p in self.trainable.values()),
            )
        progress = tqdm(
            total=self.total,
            initial=self.step,
            desc="decoder",
            unit="step",
            disable=not settings.progress or self.rank != 0,
            leave=False,
        )
        while self.step < self.total:
            record = self.train_step()
            progress.update(1)
            progress.set_postfix(loss=f"{record['loss']:.3f}")
            last = self.step == self.total
            if self.val_ids and self.rank == 0 and (self.step % settings.eval_every == 0 or last):
                record["val_loss"] = self.validation_loss()
                logger.info(
                    "decoder step %d/%d val_loss %.4f", self.step, self.total, record["val_loss"]
                )
            if self.rank == 0 and (self.step % settings.log_every == 0 or last):
                logger.info("decoder step %d/%d loss %.4f", self.step, self.total, record["loss"])
            if self.step % settings.checkpoint_every == 0 or self.step == self.total:
                self._save_state()
        progress.close()

    def train_step(self) -> dict[str, float]:
        """One optimiser step (its micro-batches, AdamW, the schedule); its history record."""
        settings = self.settings
        if self._model is None:  # DistributedDataParallel around the decoder when world > 1
            model = self.accelerator.prepare(self.decoder) if self.world > 1 else self.decoder
            self._model = model.train()
        model = self._model
        self.optimiser.zero_grad(set_to_none=True)
        step_loss = torch.zeros((), device=self.decoder.device)
        for accumulated in range(settings.grad_accumulation):
            micro_batch = self.step * settings.grad_accumulation + accumulated
            torch.manual_seed(_seed(settings.seed, micro_batch, self.rank))
            index = self.rows(micro_batch)
            batch = self.embeddings[index]
            if settings.noise_std > 0:
                batch = batch + torch.randn(batch.shape) * settings.noise_std
            last = accumulated == settings.grad_accumulation - 1
            sync = contextlib.nullcontext() if last or self.world == 1 else model.no_sync()
            with sync:
                loss = model(batch, [self.caption_ids[i] for i in index])
                (loss / settings.grad_accumulation).backward()
            step_loss += loss.detach().float() / settings.grad_accumulation
            self.rows_seen += len(index)
        lr = self.scheduler.get_last_lr()[0]
        self.optimiser.step()
        self.scheduler.step()
        if self.world > 1:
            step_loss = self.accelerator.reduce(step_loss, reduction="mean")
        self.step += 1
        record = {"step": self.step, "loss": float(step_loss), "lr": lr}
        self.history.append(record)
        return record

    @torch.no_grad()
    def validation_loss(self) -> float:
        """Mean cross-entropy per caption token (and EOS) over the validation pairs.

        In eval mode (no LoRA dropout), without input noise, in batches of ``val_batch_size``;
        the decoder's train/eval mode is restored afterwards.
        """
        if not self.val_ids:
            raise ValueError("no validation pairs were given to this trainer")
        was_training = self.decoder.training
        self.decoder.eval()
        total, tokens = 0.0, 0
        size = self.settings.val_batch_size
        for start in range(0, len(self.val_ids), size):
            ids = self.val_ids[start : start + size]
            count = sum(len(row) + 1 for row in ids)  # the caption tokens and EOS carry the loss
            loss = self.decoder(self.val_embeddings[start : start + size], ids)
            total += float(loss) * count
            tokens += count
        self.decoder.train(was_training)
        return total / tokens
