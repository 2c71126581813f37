"""Diffusion-Link: the plug-in module that maps audio embeddings into the text distribution.

Usage without Kedro::

    from diffusion_link import DiffusionLink
    link = DiffusionLink.from_pretrained("data/06_models/.../diffusion_link")
    text_like = link.bridge(raw_clap_audio_embeddings)   # (n, d) unit vectors

``bridge`` normalises raw encoder embeddings with the training statistics stored in the
checkpoint, noises them once to ``s_star`` and runs DDIM to step 0 (paper eqs. 9-10). Outputs
are L2-normalised text-like embeddings in the normalised (text-mean-centred) text space.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import ClassVar

import torch
from pydantic import ValidationInfo, field_validator
from pydantic.dataclasses import dataclass
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F

from diffusion_link.atomic import atomic_directory, read_json_object, read_safetensors
from diffusion_link.config import STRICT, at_least_one
from diffusion_link.core.denoiser import ResidualMLPDenoiser
from diffusion_link.core.losses import cross_sample_objective
from diffusion_link.core.normalisation import (
    BRIDGE_INPUT,
    Modality,
    check_embeddings,
    check_modality,
    normalise,
)
from diffusion_link.core.schedule import (
    check_inference_steps,
    cosine_alpha_bar,
    ddim_sample,
    ddim_timesteps,
)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1


@dataclass(frozen=True, config=STRICT)
class DiffusionSettings:
    """The hyper-parameters a user chooses for an embedding diffusion model.

    The ``model`` settings of a bridge (``bridge_training.bridges.<name>.model``); the
    embedding width ``dim`` comes from the data (:class:`DiffusionConfig`).
    """

    width: int | None = None  # None: 2 * dim, as SEED
    num_blocks: int = 3
    time_dim: int | None = None  # None: dim
    dropout: float = 0.0
    T: int = 1000
    schedule_s: float = 0.008
    norm_scale: float = 5.0
    s_star: int = 100
    ddim_steps: int = 5

    @field_validator("num_blocks", "T", "width", "time_dim")
    @classmethod
    def _positive(cls, value: int | None, info: ValidationInfo) -> int | None:
        # width/time_dim 0 must not mean "default"
        return at_least_one(value, f"diffusion config: {info.field_name} must be >= 1, got {value}")

    @field_validator("s_star", "ddim_steps")
    @classmethod
    def _positive_steps(cls, value: int, info: ValidationInfo) -> int:
        if value >= 1 or info.field_name == "s_star" and "T" not in info.data:
            return value
        try:  # the schedule's own wording: s_star in [1, T], DDIM steps in [1, s_star]
            if info.field_name == "s_star":
                check_inference_steps(value, 1, info.data["T"])
            elif "s_star" in info.data:
                check_inference_steps(info.data["s_star"], value)
        except ValueError as error:
            return at_least_one(value, str(error))
        return at_least_one(value, f"{info.field_name} must be >= 1, got {value}")

    @field_validator("dropout")
    @classmethod
    def _dropout_below_one(cls, value: float) -> float:
        if not 0.0 <= value < 1.0:
            raise ValueError(f"diffusion config: dropout must be in [0, 1), got {value}")
        return value

    @field_validator("norm_scale", "schedule_s")
    @classmethod
    def _positive_scale(cls, value: float, info: ValidationInfo) -> float:
        if not value > 0:
            raise ValueError(f"diffusion config: {info.field_name} must be > 0, got {value}")
        return value

    def __post_init__(self) -> None:
        check_inference_steps(self.s_star, self.ddim_steps, self.T)


@dataclass(frozen=True, config=STRICT, kw_only=True)
class DiffusionConfig(DiffusionSettings):
    """Every hyper-parameter of an embedding diffusion model (saved with its weights)."""

    dim: int

    @field_validator("dim")
    @classmethod
    def _positive_dim(cls, value: int) -> int:
        return at_least_one(value, f"diffusion config: dim must be >= 1, got {value}")

    @property
    def resolved_width(self) -> int:
        """The denoiser's hidden width: ``width``, or 2 * ``dim`` when unset."""
        return self.width or 2 * self.dim


class DiffusionLink(nn.Module):
    """A residual-MLP denoiser predicting z_0, the cosine schedule and the normalisation."""

    method: ClassVar[str] = "diffusion_link"
    label: ClassVar[str] = "DL"  # its column in the report's tables
    objective = staticmethod(cross_sample_objective)  # eq. 8: trained on text and audio
    trains_on_audio: ClassVar[bool] = True

    def __init__(
        self,
        config: DiffusionConfig,
        audio_mean: torch.Tensor | None = None,
        text_mean: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.denoiser = self._build_denoiser(config)
        self.register_buffer("alpha_bar", cosine_alpha_bar(config.T, config.schedule_s))
        zeros = torch.zeros(config.dim)
        self.register_buffer("audio_mean", zeros.clone() if audio_mean is None else audio_mean)
        self.register_buffer("text_mean", zeros.clone() if text_mean is None else text_mean)

    @classmethod
    def from_means(
        cls, config: DiffusionConfig, means: Mapping[str, torch.Tensor]
    ) -> DiffusionLink:
        """An untrained model normalising with the training ``means`` of each modality."""
        return cls(config, means["audio"], means["text"])

    @staticmethod
    def _build_denoiser(config: DiffusionConfig) -> nn.Module:
        return ResidualMLPDenoiser(
            config.dim, config.resolved_width, config.num_blocks, config.time_dim, config.dropout
        )

    def forward(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """phi(z_s, s): the predicted clean (normalised) text embedding.

        The network may hold lower-precision weights (e.g. bf16 for inference); the sampler's
        arithmetic stays in the caller's precision.
        """
        return self.denoiser(z.to(self._network_dtype()), s).to(z.dtype)

    def _network_dtype(self) -> torch.dtype:
        return next(self.denoiser.parameters()).dtype

    def normalise(self, embeddings: torch.Tensor, modality: Modality) -> torch.Tensor:
        """Raw encoder embeddings -> the normalised space the model works in."""
        mean = self.audio_mean if modality == "audio" else self.text_mean
        return normalise(embeddings, mean, self.config.norm_scale)

    @property
    def dim(self) -> int:
        """The dimension of the embeddings it bridges."""
        return self.config.dim

    def target_text(self, text: torch.Tensor) -> torch.Tensor:
        """Raw text embeddings in the space this bridge's outputs live in (unit rows)."""
        x = torch.as_tensor(text).to(device=self.alpha_bar.device, dtype=torch.float32)
        return F.normalize(self.normalise(x, "text"), dim=-1)

    @torch.inference_mode()
    def bridge(
        self,
        embeddings: torch.Tensor,
        s_star: int | None = None,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        modality: Modality = "audio",
    ) -> torch.Tensor:
        """Text-like embeddings from raw ``embeddings`` of ``modality``.

        Normalises the input with the training statistics, runs :meth:`_sample` from
        ``s_star`` to 0 in ``steps`` DDIM steps (defaults from the config) and returns
        L2-normalised float32 rows on the model's device.
        """
        s_star = self.config.s_star if s_star is None else s_star
        steps = self.config.ddim_steps if steps is None else steps
        check_inference_steps(s_star, steps, self.config.T)
        embeddings = torch.as_tensor(embeddings)
        check_embeddings(embeddings, self.config.dim, BRIDGE_INPUT)
        check_modality(modality)
        x = embeddings.to(device=self.alpha_bar.device, dtype=torch.float32)
        x = self.normalise(x, modality)
        return F.normalize(self._sample(x, ddim_timesteps(s_star, steps), generator), dim=-1)

    def _sample(
        self, x: torch.Tensor, timesteps: list[int], generator: torch.Generator | None
    ) -> torch.Tensor:
        """Eqs. 9-10: forward-noise once to s* with fresh Gaussian noise, then DDIM to 0."""
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        a = self.alpha_bar[timesteps[0]]
        z = a.sqrt() * x + (1 - a).sqrt() * noise
        return ddim_sample(self, z, timesteps, self.alpha_bar)

    def save_pretrained(self, directory: str | Path) -> None:
        """Write ``model.safetensors`` and ``config.json`` atomically into ``directory``."""
        with atomic_directory(Path(directory)) as partial:
            weights = {
                k: v.detach().cpu().contiguous() for k, v in self.denoiser.state_dict().items()
            }
            save_file(weights, partial / WEIGHTS_NAME)
            config = {
                "format_version": FORMAT_VERSION,
                "method": self.method,
                "config": asdict(self.config),
                "normalisation": {
                    "audio_mean": self.audio_mean.cpu().tolist(),
                    "text_mean": self.text_mean.cpu().tolist(),
                },
            }
            (partial / CONFIG_NAME).write_text(json.dumps(config, indent=2))

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str = "cpu") -> DiffusionLink:
        """Load a model written by :meth:`save_pretrained` (no code is executed on load)."""
        directory = Path(directory)
        config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        if not config_path.is_file() or not weights_path.is_file():
            raise FileNotFoundError(
                f"{directory} is not a saved {cls.__name__}: it needs {CONFIG_NAME} and {WEIGHTS_NAME}"
            )
        saved = read_json_object(
            config_path, "delete this bridge version and rerun bridge_training"
        )
        if saved.get("method") != cls.method:
            raise ValueError(
                f"{directory} holds a {saved.get('method')!r} model, not {cls.method!r}; "
                "load it with diffusion_link.load_bridge"
            )
        if saved.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{config_path}: format_version {saved.get('format_version')} is not "
                f"{FORMAT_VERSION}, the one this version of diffusion_link reads"
            )
        missing = [key for key in ("config", "normalisation") if key not in saved]
        if missing:
            raise ValueError(f"{config_path}: lacks the sections {missing}")
        known = {f.name for f in fields(DiffusionConfig)}
        unknown = set(saved["config"]) - known
        if unknown:
            raise ValueError(f"{config_path}: unknown config keys {sorted(unknown)}")
        config = DiffusionConfig(**saved["config"])
        stats = saved["normalisation"]
        means = {
            k: torch.tensor(stats[k], dtype=torch.float32) for k in ("audio_mean", "text_mean")
        }
        for name, mean in means.items():
            if mean.shape != (config.dim,):
                raise ValueError(
                    f"{config_path}: {name} has {mean.shape[0]} values but dim is {config.dim}"
                )
        model = cls(config, **means)
        weights, _ = read_safetensors(
            weights_path, "delete this bridge version and rerun bridge_training", map_location
        )
        try:
            model.denoiser.load_state_dict(weights)
        except RuntimeError as error:
            raise ValueError(f"{weights_path} does not match {config_path}: {error}") from error
        return model.to(map_location).eval()

    def extra_repr(self) -> str:
        """The diffusion config, shown by ``repr(model)``."""
        return ", ".join(f"{k}={v}" for k, v in asdict(self.config).items())
