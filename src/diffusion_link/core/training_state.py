"""A training run's resumable state: one safetensors file (tensors + JSON metadata).

The trainer writes the model, EMA, optimiser and RNG state here every ``checkpoint_every``
steps, atomically, so a killed run resumes bitwise where it stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from diffusion_link.atomic import atomic_file, read_safetensors


class TrainingStateStore:
    """Training state in one safetensors file, replaced atomically (tensors + JSON metadata)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any] | None:
        """The saved tensors and metadata, or None when nothing is saved yet."""
        if not self.path.is_file():
            return None
        remedy = "delete it to start this training from scratch"
        tensors, metadata = read_safetensors(self.path, remedy)
        try:
            meta = json.loads(metadata["json"])
        except (KeyError, json.JSONDecodeError) as error:
            raise ValueError(f"{self.path} has no training-state metadata: {remedy}") from error
        return {"tensors": tensors, "meta": meta}

    def save(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Replace the saved state by ``tensors`` and ``meta`` (atomically)."""
        cpu = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        with atomic_file(self.path) as partial:
            save_file(cpu, partial, metadata={"json": json.dumps(meta, default=_plain)})


def _plain(value: Any) -> Any:
    """JSON for the 0-d tensors a capturable optimiser keeps (its learning rate)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in training-state metadata")


def prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``tensors`` with their names under ``prefix.``."""
    return {f"{prefix}.{k}": v for k, v in tensors.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors named under ``prefix.``, with the prefix removed."""
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def optimizer_state(
    optimizer: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """An optimiser's state as safetensors-ready tensors ("optimizer.<i>.<slot>") + param groups."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for index, slots in state["state"].items():
        tensors.update(prefixed(f"optimizer.{index}", slots))
    return tensors, state["param_groups"]


def load_optimizer_state(
    optimizer: torch.optim.Optimizer,
    tensors: dict[str, torch.Tensor],
    param_groups: list[dict[str, Any]],
) -> None:
    """The inverse of :func:`optimizer_state`."""
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in unprefixed("optimizer", tensors).items():
        index, name = key.split(".", 1)
        slots.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": slots, "param_groups": param_groups})
