"""The bridges compared in the paper's Table 1, behind one interface.

Every bridge maps raw encoder embeddings of one modality to L2-normalised text-like embeddings:

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
- ``diffusion_link``: the method (:class:`diffusion_link.core.model.DiffusionLink`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch
from pydantic import validate_call
from torch import nn
from torch.nn import functional as F

from diffusion_link.atomic import atomic_directory
from diffusion_link.core.denoiser import ResidualMLPDenoiser
from diffusion_link.core.losses import cross_sample_objective, reconstruction_loss
from diffusion_link.core.model import (
    CONFIG_NAME,
    FORMAT_VERSION,
    DiffusionConfig,
    DiffusionLink,
)
from diffusion_link.core.normalisation import (
    BRIDGE_INPUT,
    Modality,
    check_embeddings,
    check_modality,
    modality_means,
    normalise,
)
from diffusion_link.core.schedule import ddim_sample, q_sample
from diffusion_link.core.training import TrainConfig, Trainer, TrainingStateStore
from diffusion_link.core.validation import ValidationSet, validate

BRIDGES: tuple[str, ...] = ("identity", "c3", "diffusion_bridge", "diffgap", "diffusion_link")


def check_bridge_name(name: str) -> None:
    if name not in BRIDGES:
        raise ValueError(f"unknown bridge {name!r}; choose from {', '.join(BRIDGES)}")


class Bridge(Protocol):
    """What every bridge offers: raw embeddings in, unit text-like embeddings out."""

    method: ClassVar[str]

    def bridge(self, embeddings: torch.Tensor, **kwargs: Any) -> torch.Tensor: ...

    def target_text(self, text: torch.Tensor) -> torch.Tensor: ...

    def save_pretrained(self, directory: str | Path) -> None: ...


class IdentityBridge:
    """Raw embeddings, L2-normalised: the encoder's own space (the paper's CLAP column)."""

    method: ClassVar[str] = "identity"

    def __init__(self, dim: int) -> None:
        self.dim = dim

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

    def _config(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "method": self.method,
            "config": {"dim": self.dim},
        }

    def save_pretrained(self, directory: str | Path) -> None:
        with atomic_directory(Path(directory)) as partial:
            (partial / CONFIG_NAME).write_text(json.dumps(self._config(), indent=2))

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str = "cpu") -> IdentityBridge:
        return cls(**_read_config(Path(directory), cls.method)["config"])


class C3Bridge(IdentityBridge):
    """C3's collapse: subtract the modality's training mean of unit embeddings, re-normalise."""

    method: ClassVar[str] = "c3"

    def __init__(self, dim: int, audio_mean: torch.Tensor, text_mean: torch.Tensor) -> None:
        super().__init__(dim)
        self.means = {"audio": torch.as_tensor(audio_mean), "text": torch.as_tensor(text_mean)}

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

    def predict_x0(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return self(F.normalize(z, dim=-1) * self.config.norm_scale, s)

    def _sample(
        self, x: torch.Tensor, timesteps: list[int], generator: torch.Generator | None
    ) -> torch.Tensor:
        """Take the normalised input as z at s* (no noise) and run DDIM to 0."""
        return ddim_sample(self.predict_x0, x, timesteps, self.alpha_bar)


class DiffGap(DiffusionLink):
    """DiffGap: generate from pure noise at T, conditioned on the input embedding."""

    method: ClassVar[str] = "diffgap"

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


def _random_steps(
    model: DiffusionLink, x0: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    return torch.randint(1, model.config.T + 1, (len(x0),), generator=generator, device=x0.device)


def _noise(x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)


def diffusion_bridge_objective(snr_clip: float | None = None) -> Callable:
    """Text-only x0 loss weighted by the step's SNR, as Diffusion-Bridge's public code does.

    ``snr_clip``: None (the public code) weights by the plain SNR abar / (1 - abar), which
    makes the smallest steps dominate; a number clips the weight there (min-SNR weighting).
    """
    if snr_clip is not None and not snr_clip > 0:
        raise ValueError(f"snr_clip must be > 0 or null, got {snr_clip}")

    def objective(
        model: DiffusionBridge, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        text = batch["text"]
        s = _random_steps(model, text, generator)
        a = model.alpha_bar[s]
        weight = a / (1 - a)
        if snr_clip is not None:
            weight = weight.clamp(max=snr_clip)
        prediction = model.predict_x0(
            q_sample(text, s, model.alpha_bar, _noise(text, generator)), s
        )
        loss = (weight * (text - prediction).pow(2).sum(dim=-1)).mean()
        return {"loss": loss}

    return objective


def diffgap_objective() -> Callable:
    """Conditional x0 loss: predict the text embedding from its noised copy and the audio."""

    def objective(
        model: DiffGap, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        text, audio = batch["text"], batch["audio"]
        s = _random_steps(model, text, generator)
        prediction = model(q_sample(text, s, model.alpha_bar, _noise(text, generator)), s, audio)
        return {"loss": reconstruction_loss(text, prediction)}

    return objective


BRIDGE_CLASSES: dict[str, type] = {
    cls.method: cls for cls in (IdentityBridge, C3Bridge, DiffusionBridge, DiffGap, DiffusionLink)
}


def load_bridge(directory: str | Path, map_location: str = "cpu") -> Bridge:
    """Load any saved bridge, choosing the class from its config's ``method``."""
    config_path = Path(directory) / CONFIG_NAME
    if not config_path.is_file():
        raise FileNotFoundError(f"{directory} has no {CONFIG_NAME}: not a saved bridge")
    method = json.loads(config_path.read_text()).get("method")
    if method not in BRIDGE_CLASSES:
        raise ValueError(f"{config_path}: unknown bridge method {method!r}")
    return BRIDGE_CLASSES[method].from_pretrained(directory, map_location)


# Each trained bridge's objective; the factory's signature is the schema of its ``loss`` settings.
OBJECTIVES: dict[str, Callable[..., Callable]] = {
    "diffusion_link": cross_sample_objective,
    "diffusion_bridge": diffusion_bridge_objective,
    "diffgap": diffgap_objective,
}


def training_objective(method: str, loss: dict[str, Any] | None = None) -> Callable | None:
    """The training objective of bridge ``method`` built from its ``loss`` settings.

    Returns None for the bridges that are not trained (identity, c3). An unknown setting or a
    value of the wrong type is a pydantic ``ValidationError`` located at that setting's key;
    settings for a bridge whose objective takes none are a ``ValueError``.
    """
    check_bridge_name(method)
    loss = loss or {}
    factory = OBJECTIVES.get(method)
    if loss and (factory is None or not inspect.signature(factory).parameters):
        raise ValueError(f"{method} takes no loss settings, got {sorted(loss)}")
    return None if factory is None else validate_call(factory)(**loss)


def _check_model_keys(method: str, model: dict[str, Any]) -> None:
    known = {field.name for field in fields(DiffusionConfig)} - {"dim"}
    unknown = sorted(set(model) - known)
    if unknown:
        raise ValueError(
            f"{method}: unknown model settings {', '.join(f'model.{k}' for k in unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )


def _fingerprint(*parts: Any, tensors: tuple[torch.Tensor, ...]) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for tensor in tensors:
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def fit_bridge(
    method: str,
    audio: torch.Tensor,
    text: torch.Tensor,
    model: dict[str, Any] | None = None,
    training: TrainConfig | None = None,
    loss: dict[str, Any] | None = None,
    store: TrainingStateStore | None = None,
    device: str = "cpu",
    validation: ValidationSet | None = None,
) -> tuple[Bridge, list[dict[str, float]]]:
    """Fit one bridge on paired raw training embeddings (row i of ``audio`` matches ``text``).

    Normalisation statistics come from these (training) embeddings only. Returns the bridge
    (for diffusion bridges: the EMA weights, in eval mode) and its history: the loss terms
    every ``log_every`` steps and, with a ``validation`` set, the ``val_*`` figures of
    :func:`diffusion_link.core.validation.validate` every ``eval_every`` steps.
    """
    objective = training_objective(method, loss)  # bad settings fail before any work
    _check_model_keys(method, model or {})
    audio, text = torch.as_tensor(audio).float(), torch.as_tensor(text).float()
    dim = text.shape[-1]
    check_embeddings(text, dim, f"{method} training text")
    check_embeddings(audio, dim, f"{method} training audio")
    if len(audio) != len(text):
        raise ValueError(f"{len(audio)} audio rows but {len(text)} text rows: pairs must align")
    means = modality_means(audio, text)
    if method == "identity":
        return IdentityBridge(dim), []
    if method == "c3":
        return C3Bridge(dim, means["audio"], means["text"]), []
    training = training or TrainConfig()
    config = DiffusionConfig(dim=dim, **(model or {}))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(training.seed)
        bridge = BRIDGE_CLASSES[method](config, means["audio"], means["text"]).to(device)
    data = {"text": bridge.normalise(text.to(device), "text")}
    if method != "diffusion_bridge":  # Diffusion-Bridge never sees audio in training
        data["audio"] = bridge.normalise(audio.to(device), "audio")
    fingerprint = _fingerprint(
        method, asdict(config), asdict(training), loss, tensors=(audio, text)
    )
    if validation is not None:
        fingerprint = _fingerprint(
            fingerprint,
            validation.seed,
            tensors=(validation.audio, validation.text, torch.as_tensor(validation.pair_index)),
        )
    trainer = Trainer(
        bridge,
        objective,
        data,
        training,
        store,
        fingerprint,
        description=method,
        cuda_graph=True,
        validate=None if validation is None else lambda ema: validate(ema, validation),
    )
    result = trainer.run()
    return result.ema_model, result.history
