"""The baselines of the paper's Table 1, each behind the bridge interface.

- ``identity``: the raw CLAP embeddings, L2-normalised (the paper's "CLAP" column).
- ``c3``: C3's collapse (Zhang et al., 2024): subtract the modality's training mean and
  re-normalise. C3's "corrupt" step (noise on text during decoder training) belongs to the
  decoder, not to the bridge.
- ``diffusion_bridge``: Diffusion-Bridge (Lee et al., 2025) trained on text only with an
  SNR-weighted x0 loss; the noisy input is re-projected to norm ``norm_scale`` before every
  denoiser call; the normalised audio embedding is injected at ``injection_step`` without noise
  and DDIM runs to 0. Its 1-D U-Net is replaced by the same residual MLP as Diffusion-Link, so
  the comparison isolates the training recipe.
- ``diffgap``: DiffGap (Mo et al., 2025): a conditional denoiser that generates the text
  embedding from pure Gaussian noise, conditioned on the input embedding.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from diffusion_link.atomic import atomic_directory
from diffusion_link.core.denoiser import ResidualMLPDenoiser
from diffusion_link.core.losses import Objective, diffgap_objective, diffusion_bridge_objective
from diffusion_link.core.model import CONFIG_NAME, FORMAT_VERSION, DiffusionConfig, DiffusionLink
from diffusion_link.core.normalisation import (
    BRIDGE_INPUT,
    Modality,
    check_embeddings,
    check_modality,
    normalise,
)
from diffusion_link.core.schedule import ddim_sample


class IdentityBridge:
    """Raw embeddings, L2-normalised: the encoder's own space (the paper's CLAP column)."""

    method: ClassVar[str] = "identity"
    label: ClassVar[str] = "CLAP (identity)"  # its column in the report's tables
    objective: ClassVar[Callable[..., Objective] | None] = None
    trains_on_audio: ClassVar[bool] = False

    def __init__(self, dim: int) -> None:
        self.dim = dim

    @classmethod
    def from_means(
        cls, config: DiffusionConfig, means: Mapping[str, torch.Tensor]
    ) -> IdentityBridge:
        """The bridge for embeddings of ``config.dim`` (the training means are not used)."""
        return cls(config.dim)

    def bridge(
        self,
        embeddings: torch.Tensor,
        s_star: int | None = None,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        modality: Modality = "audio",
    ) -> torch.Tensor:
        """L2-normalised ``embeddings`` of ``modality``: unit rows, float32.

        The signature is :meth:`DiffusionLink.bridge`'s; this bridge does not diffuse, so a
        given ``s_star`` or ``steps`` is a ``ValueError`` and ``generator`` is unused.
        """
        given = {name: v for name, v in (("s_star", s_star), ("steps", steps)) if v is not None}
        if given:
            names = " and ".join(f"`{name}`" for name in given)
            raise ValueError(f"{self.method} does not diffuse: {names} do not apply (got {given})")
        check_modality(modality)
        x = torch.as_tensor(embeddings).float()
        check_embeddings(x, self.dim, BRIDGE_INPUT)
        return F.normalize(x, dim=-1)

    def target_text(self, text: torch.Tensor) -> torch.Tensor:
        """Raw text embeddings in the space this bridge's outputs live in (unit rows)."""
        return self.bridge(text, modality="text")

    def to(self, device: torch.device | str) -> IdentityBridge:
        """This bridge, its statistics on ``device`` (it has no weights)."""
        return self

    def _config(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "method": self.method,
            "config": {"dim": self.dim},
        }

    def save_pretrained(self, directory: str | Path) -> None:
        """Write the bridge's ``config.json`` into ``directory`` (atomically)."""
        with atomic_directory(Path(directory)) as partial:
            (partial / CONFIG_NAME).write_text(json.dumps(self._config(), indent=2))

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str = "cpu") -> IdentityBridge:
        """The bridge saved in ``directory`` by :meth:`save_pretrained`."""
        return cls(**_read_config(Path(directory), cls.method)["config"])


class C3Bridge(IdentityBridge):
    """C3's collapse: subtract the modality's training mean of unit embeddings, re-normalise."""

    method: ClassVar[str] = "c3"
    label: ClassVar[str] = "C3"  # its column in the report's tables

    def __init__(self, dim: int, audio_mean: torch.Tensor, text_mean: torch.Tensor) -> None:
        super().__init__(dim)
        self.means = {"audio": torch.as_tensor(audio_mean), "text": torch.as_tensor(text_mean)}

    @classmethod
    def from_means(cls, config: DiffusionConfig, means: Mapping[str, torch.Tensor]) -> C3Bridge:
        """C3 collapsing on the training ``means`` of each modality."""
        return cls(config.dim, means["audio"], means["text"])

    def to(self, device: torch.device | str) -> C3Bridge:
        """This bridge, its modality means on ``device``."""
        self.means = {name: mean.to(device) for name, mean in self.means.items()}
        return self

    def bridge(
        self,
        embeddings: torch.Tensor,
        s_star: int | None = None,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        modality: Modality = "audio",
    ) -> torch.Tensor:
        """``embeddings`` of ``modality`` centred on that modality's training mean, unit rows."""
        unit = super().bridge(embeddings, s_star, steps, generator, modality)
        return normalise(unit, self.means[modality], 1.0)

    def _config(self) -> dict[str, Any]:
        stats = {f"{k}_mean": v.tolist() for k, v in self.means.items()}
        return {**super()._config(), "normalisation": stats}

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str = "cpu") -> C3Bridge:
        """The C3 bridge saved in ``directory``, with its modality means."""
        saved = _read_config(Path(directory), cls.method)
        stats = {k: torch.tensor(v) for k, v in saved["normalisation"].items()}
        return cls(saved["config"]["dim"], **stats)


def _read_config(directory: Path, method: str) -> dict[str, Any]:
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no {CONFIG_NAME}: not a saved bridge")
    saved = json.loads(path.read_text())
    if saved.get("method") != method:
        raise ValueError(f"{path} holds a {saved.get('method')!r} bridge, not {method!r}")
    return saved


class DiffusionBridge(DiffusionLink):
    """Diffusion-Bridge: text-only training, norm re-projection, noiseless injection."""

    method: ClassVar[str] = "diffusion_bridge"
    label: ClassVar[str] = "DB"  # its column in the report's tables
    objective = staticmethod(diffusion_bridge_objective)
    trains_on_audio: ClassVar[bool] = False  # Diffusion-Bridge never sees audio in training

    def predict_x0(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """phi applied to ``z`` re-projected onto the sphere of radius ``norm_scale``."""
        return self(F.normalize(z, dim=-1) * self.config.norm_scale, s)

    def _sample(
        self, x: torch.Tensor, timesteps: list[int], generator: torch.Generator | None
    ) -> torch.Tensor:
        """Take the normalised input as z at s* (no noise) and run DDIM to 0."""
        return ddim_sample(self.predict_x0, x, timesteps, self.alpha_bar)


class DiffGap(DiffusionLink):
    """DiffGap: generate from pure noise at T, conditioned on the input embedding."""

    method: ClassVar[str] = "diffgap"
    label: ClassVar[str] = "DG"  # its column in the report's tables
    objective = staticmethod(diffgap_objective)

    @staticmethod
    def _build_denoiser(config: DiffusionConfig) -> nn.Module:
        return ResidualMLPDenoiser(
            config.dim,
            config.resolved_width,
            config.num_blocks,
            config.time_dim,
            config.dropout,
            in_dim=2 * config.dim,
        )

    def forward(
        self, z: torch.Tensor, s: torch.Tensor, condition: torch.Tensor | None = None
    ) -> torch.Tensor:
        """phi(z_s, s | condition): the predicted clean text embedding."""
        if condition is None:
            raise ValueError("DiffGap's denoiser needs the condition embedding")
        joint = torch.cat([z, condition], dim=-1).to(self._network_dtype())
        return self.denoiser(joint, s).to(z.dtype)

    def _sample(
        self, x: torch.Tensor, timesteps: list[int], generator: torch.Generator | None
    ) -> torch.Tensor:
        """Sample from N(0, I) at s* (T by configuration) down to 0, conditioned on ``x``."""
        z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return ddim_sample(lambda zs, s: self(zs, s, x), z, timesteps, self.alpha_bar)
