"""One training loop for every diffusion bridge: Adam, step decay, EMA, resumable state.

The data sit on the device as tensors and each step gathers a batch by index, so there is no
per-sample Python. All randomness (shuffling, steps, noise) comes from one seeded generator
whose state is saved with the weights, so a resumed run continues bit-for-bit.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import ValidationInfo, field_validator
from pydantic.dataclasses import dataclass as config_dataclass
from torch import nn
from tqdm.auto import tqdm

from diffusion_link.config import STRICT, at_least_one
from diffusion_link.core.losses import Objective
from diffusion_link.core.training_state import (
    TrainingStateStore,
    load_optimizer_state,
    optimizer_state,
    prefixed,
    unprefixed,
)

logger = logging.getLogger(__name__)

ValidateFn = Callable[[nn.Module], dict[str, float]]
"""``validate(ema_model)`` -> {metric: value}, e.g. :func:`diffusion_link.core.validation.validate`."""


@config_dataclass(frozen=True, config=STRICT)
class TrainConfig:
    """The paper's recipe by default: Adam 1e-4, x0.97 every 200 steps, batch 128, EMA 0.995.

    ``schedule: cosine`` replaces the step decay by a linear warm-up over ``warmup_steps``
    then a cosine decay to 0 at ``steps``. With a validation function the EMA weights are
    scored every ``eval_every`` steps; with ``patience`` > 0 training stops once ``monitor``
    has not improved by more than ``min_delta`` for ``patience`` evaluations, and the best
    evaluated EMA weights are kept (early stopping).
    """

    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-4
    schedule: Literal["step", "cosine"] = "step"
    lr_decay: float = 0.97
    lr_decay_every: int = 200
    warmup_steps: int = 0
    ema_decay: float = 0.995
    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 25
    eval_every: int = 100
    patience: int = 0
    monitor: str = "val_matched_audio_text"
    min_delta: float = 0.0

    @field_validator(
        "steps", "batch_size", "lr_decay_every", "checkpoint_every", "log_every", "eval_every"
    )
    @classmethod
    def _positive(cls, value: int, info: ValidationInfo) -> int:
        return at_least_one(value, f"training.{info.field_name} must be >= 1, got {value}")

    @field_validator("warmup_steps", "patience", "min_delta")
    @classmethod
    def _not_negative(cls, value: float, info: ValidationInfo) -> float:
        if value < 0:
            raise ValueError(f"training.{info.field_name} must be >= 0, got {value}")
        return value

    @field_validator("ema_decay")
    @classmethod
    def _decay_below_one(cls, value: float) -> float:
        if not 0.0 <= value < 1.0:
            raise ValueError(f"training.ema_decay must be in [0, 1), got {value}")
        return value

    @field_validator("lr")
    @classmethod
    def _positive_lr(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"training.lr must be > 0, got {value}")
        return value

    def lr_factor(self, step: int) -> float:
        """The learning rate after ``step`` optimiser steps, as a fraction of ``lr``."""
        if self.schedule == "step":
            return self.lr_decay ** (step // self.lr_decay_every)
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class TrainResult:
    """The EMA model (the best evaluated one under early stopping), history, resume point;
    ``best_step``: the step of the returned weights under early stopping, else None."""

    ema_model: nn.Module
    history: list[dict[str, float]]
    resumed_from: int
    best_step: int | None = None
    stopped_early: bool = False


class Trainer:
    """Trains ``model`` on row-aligned tensors ``data`` with ``loss_fn``."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Objective,
        data: dict[str, torch.Tensor],
        config: TrainConfig,
        store: TrainingStateStore | None = None,
        fingerprint: str = "",
        description: str = "training",
        cuda_graph: bool = False,
        validate: ValidateFn | None = None,
    ) -> None:
        sizes = {len(v) for v in data.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise ValueError(f"training data must be non-empty and row-aligned, got sizes {sizes}")
        self.model, self.loss_fn, self.data, self.config = model, loss_fn, data, config
        self.store, self.fingerprint, self.description = store, fingerprint, description
        self.validate = validate
        self.device = next(model.parameters()).device
        self.n = sizes.pop()
        self.batch_size = min(config.batch_size, self.n)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        # On CUDA one graph replays the whole step (gather, loss, backward, Adam, EMA): the
        # step is launch-bound, not compute-bound. Adam must then be capturable and take its
        # learning rate as a tensor, so the schedule can change it between replays.
        self.cuda_graph = cuda_graph and self.device.type == "cuda"
        lr = torch.tensor(config.lr, device=self.device) if self.cuda_graph else config.lr
        self.optimizer = torch.optim.Adam(
            model.parameters(), lr=lr, capturable=self.cuda_graph, foreach=True
        )
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graph_index = torch.zeros(self.batch_size, dtype=torch.long, device=self.device)
        self._graph_parts: dict[str, torch.Tensor] = {}
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: config.lr_factor(step)
        )
        # The EMA copy never trains: eval mode, so validation runs without dropout.
        self.ema = copy.deepcopy(model).requires_grad_(False).eval()
        self.order = torch.empty(0, dtype=torch.long, device=self.device)
        self.position = 0
        self.step = 0
        self.history: list[dict[str, float]] = []
        # Early stopping: the best evaluation so far, its EMA weights, and whether we stopped.
        self.best: dict[str, float] | None = None
        self.best_ema: dict[str, torch.Tensor] = {}
        self.stopped = False

    def _next_index(self) -> torch.Tensor:
        if self.position + self.batch_size > len(self.order):
            self.order = torch.randperm(self.n, generator=self.generator, device=self.device)
            self.position = 0
        index = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return index

    def _step_on(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss, backward, Adam and EMA for the rows ``index`` (gradients must be None)."""
        batch = {k: v[index] for k, v in self.data.items()}
        parts = self.loss_fn(self.model, batch, self.generator)
        parts["loss"].backward()
        self.optimizer.step()
        with torch.no_grad():
            ema = list(self.ema.parameters())
            torch._foreach_lerp_(ema, list(self.model.parameters()), 1.0 - self.config.ema_decay)
        return parts

    def _train_step(self) -> dict[str, torch.Tensor]:
        index = self._next_index()
        if not self.cuda_graph:
            self.optimizer.zero_grad(set_to_none=True)
            parts = self._step_on(index)
        elif self._graph is None:
            parts = self._capture(index)
        else:
            self._graph_index.copy_(index)
            self._graph.replay()
            parts = self._graph_parts
        self.scheduler.step()
        return parts

    def _capture(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run this step eagerly on a side stream (warm-up), then capture the next ones."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.optimizer.zero_grad(set_to_none=True)
            # Detached, so no autograd graph of the warm-up outlives it into the capture.
            parts = {k: v.detach() for k, v in self._step_on(index).items()}
        torch.cuda.current_stream().wait_stream(side)
        self._graph = torch.cuda.CUDAGraph()
        self._graph.register_generator_state(self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(self._graph):
            self._graph_parts = self._step_on(self._graph_index)
        # Capturing does not execute: the captured step runs at the next replay.
        return parts

    def _state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        optimizer, param_groups = optimizer_state(self.optimizer)
        tensors = {
            **optimizer,
            **prefixed("model", self.model.state_dict()),
            **prefixed("ema", self.ema.state_dict()),
            "rng": self.generator.get_state(),
            "global_rng": torch.get_rng_state(),
            "order": self.order,
            **prefixed("best_ema", self.best_ema),
        }
        if self.device.type == "cuda":
            tensors["global_cuda_rng"] = torch.cuda.get_rng_state(self.device)
        meta = {
            "fingerprint": self.fingerprint,
            "step": self.step,
            "position": self.position,
            "param_groups": param_groups,
            "scheduler": self.scheduler.state_dict(),
            "history": self.history,
            "best": self.best,
            "stopped": self.stopped,
        }
        return tensors, meta

    def _restore(self, saved: dict[str, Any]) -> None:
        tensors, meta = saved["tensors"], saved["meta"]
        self.model.load_state_dict(unprefixed("model", tensors))
        self.ema.load_state_dict(unprefixed("ema", tensors))
        load_optimizer_state(self.optimizer, tensors, meta["param_groups"])
        if self.cuda_graph:
            for group in self.optimizer.param_groups:
                group["lr"] = torch.tensor(group["lr"], device=self.device)
        self.scheduler.load_state_dict(meta["scheduler"])
        self.generator.set_state(tensors["rng"])
        if "global_rng" in tensors:
            torch.set_rng_state(tensors["global_rng"])
        if self.device.type == "cuda" and "global_cuda_rng" in tensors:
            torch.cuda.set_rng_state(tensors["global_cuda_rng"], self.device)
        self.order = tensors["order"].to(self.device)
        self.position, self.step, self.history = meta["position"], meta["step"], meta["history"]
        self.best, self.stopped = meta["best"], meta["stopped"]
        self.best_ema = {k: v.to(self.device) for k, v in unprefixed("best_ema", tensors).items()}

    def _checkpoint(self) -> None:
        if self.store is not None:
            self.store.save(*self._state())

    def run(self) -> TrainResult:
        """Train to ``config.steps``, resuming from the store when it holds this run's state."""
        # Dropout draws its masks from the global RNG, not from self.generator: seed it for
        # this run (its state is saved with the checkpoints) and leave the caller's untouched.
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.random.default_generator.manual_seed(self.config.seed)
            if devices:
                with torch.cuda.device(self.device):
                    torch.cuda.manual_seed(self.config.seed)
            return self._run()

    def _run(self) -> TrainResult:
        saved = self.store.load() if self.store is not None else None
        if saved is not None and saved["meta"]["fingerprint"] == self.fingerprint:
            self._restore(saved)
            logger.info("%s: resuming from step %d", self.description, self.step)
        elif saved is not None:
            logger.warning(
                "%s: ignoring training state at %s (made with other data or parameters)",
                self.description,
                self.store.path,
            )
        resumed_from = self.step
        self.model.train()
        with tqdm(
            total=self.config.steps, initial=self.step, desc=self.description, unit="step"
        ) as bar:
            while self.step < self.config.steps and not self.stopped:
                parts = self._train_step()
                self.step += 1
                bar.update(1)
                last = self.step == self.config.steps
                if self.step % self.config.log_every == 0 or last:
                    record = {k: float(v.detach()) for k, v in parts.items()}
                    record.update(step=self.step, lr=float(self.scheduler.get_last_lr()[0]))
                    self.history.append(record)
                    bar.set_postfix(loss=f"{record['loss']:.4f}")
                if self.validate is not None and (self.step % self.config.eval_every == 0 or last):
                    self._evaluate()
                if self.step % self.config.checkpoint_every == 0 and not self.stopped:
                    self._checkpoint()
        self._checkpoint()
        if self.stopped:
            logger.info(
                "%s: stopped early at step %d; keeping the EMA weights of step %d",
                self.description,
                self.step,
                self.best["step"],
            )
        if self.best_ema:
            self.ema.load_state_dict(self.best_ema)
        self.model.eval()
        # Only early stopping returns the best weights; otherwise the last ones are returned.
        best_step = int(self.best["step"]) if self.best_ema else None
        return TrainResult(self.ema.eval(), self.history, resumed_from, best_step, self.stopped)

    def _evaluate(self) -> None:
        """Score the EMA weights, remember the best ones, and decide on early stopping."""
        metrics = self.validate(self.ema)
        if self.config.monitor not in metrics:
            raise ValueError(
                f"training.monitor {self.config.monitor!r} is not a validation figure; "
                f"the validation function gives {sorted(metrics)}"
            )
        value = metrics[self.config.monitor]
        if self.best is None or value > self.best["value"] + self.config.min_delta:
            self.best = {"value": float(value), "step": self.step}
            if self.config.patience > 0:  # only early stopping keeps the best weights
                self.best_ema = {k: v.detach().clone() for k, v in self.ema.state_dict().items()}
        # kept_step: whose EMA weights this run would return if it ended now.
        kept = self.best["step"] if self.config.patience > 0 else self.step
        self.history.append({"step": self.step, **metrics, "kept_step": kept})
        since_best = (self.step - self.best["step"]) // self.config.eval_every
        self.stopped = self.config.patience > 0 and since_best >= self.config.patience
