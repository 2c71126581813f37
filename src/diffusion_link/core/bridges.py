"""The bridges compared in the paper's Table 1: one interface, one registry, one fitting routine.

Every bridge maps raw encoder embeddings of one modality to L2-normalised text-like embeddings.
:data:`BRIDGE_CLASSES` registers them by name in Table 1's order: the baselines ``identity``,
``c3``, ``diffusion_bridge`` and ``diffgap`` (:mod:`diffusion_link.core.baselines`) and the
method, ``diffusion_link`` (:class:`diffusion_link.core.model.DiffusionLink`).
:func:`fit_bridge` fits any of them on paired training embeddings; :func:`load_bridge` reads
any saved one back.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Annotated, Any, ClassVar, Protocol

import torch
from pydantic import AfterValidator, validate_call
from pydantic_core import PydanticCustomError

from diffusion_link.core.baselines import C3Bridge, DiffGap, DiffusionBridge, IdentityBridge
from diffusion_link.core.losses import Objective
from diffusion_link.core.model import (
    CONFIG_NAME,
    DiffusionConfig,
    DiffusionLink,
    DiffusionSettings,
)
from diffusion_link.core.normalisation import (
    check_embeddings,
    modality_means,
)
from diffusion_link.core.training import TrainConfig, Trainer, TrainingStateStore
from diffusion_link.core.validation import ValidationSet, validate


class Bridge(Protocol):
    """What every bridge offers: raw embeddings in, unit text-like embeddings out.

    ``objective`` is the factory of its training objective (None: fitted from the training
    means alone, no training); ``trains_on_audio`` says whether training sees the audio.
    """

    method: ClassVar[str]
    label: ClassVar[str]
    objective: ClassVar[Callable[..., Objective] | None]
    trains_on_audio: ClassVar[bool]
    dim: int  # the dimension of the embeddings it bridges

    @classmethod
    def from_means(cls, config: DiffusionConfig, means: Mapping[str, torch.Tensor]) -> Bridge:
        """The bridge for embeddings of ``config.dim``, from the training ``means``."""

    def bridge(self, embeddings: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Raw embeddings of one modality -> unit text-like embeddings."""

    def target_text(self, text: torch.Tensor) -> torch.Tensor:
        """Raw text embeddings in the space the bridge's outputs live in."""

    def to(self, device: torch.device | str) -> Bridge:
        """The bridge with its weights and statistics on ``device``."""

    def save_pretrained(self, directory: str | Path) -> None:
        """Write the bridge into ``directory``."""


# The registry: every bridge by its ``method`` name, in the paper's Table 1 order.
BRIDGE_CLASSES: dict[str, type[Bridge]] = {
    cls.method: cls for cls in (IdentityBridge, C3Bridge, DiffusionBridge, DiffGap, DiffusionLink)
}
# The registered names, a live view of the registry (a registered bridge appears in it).
BRIDGES = BRIDGE_CLASSES.keys()


def register_bridge(cls: type[Bridge]) -> type[Bridge]:
    """Add a bridge class to the registry under its ``method`` (usable as a class decorator)."""
    if cls.method in BRIDGE_CLASSES:
        raise ValueError(f"a bridge named {cls.method!r} is already registered")
    BRIDGE_CLASSES[cls.method] = cls
    return cls


def bridge_labels() -> dict[str, str]:
    """Each registered bridge's short label (its column in the report's tables)."""
    return {name: cls.label for name, cls in BRIDGE_CLASSES.items()}


def check_bridge_name(name: str) -> str:
    """``name`` if it is a registered bridge, else a ``ValueError`` listing the bridges."""
    if name not in BRIDGE_CLASSES:
        raise ValueError(f"unknown bridge {name!r}; choose from {', '.join(BRIDGES)}")
    return name


def _registered(name: str) -> str:
    if name not in BRIDGE_CLASSES:  # the message of a Literal, so errors read the same
        expected = ", ".join(repr(known) for known in BRIDGES)
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": expected}
        )
    return name


# A bridge's name in typed settings: any registered bridge (checked when validated).
BridgeName = Annotated[str, AfterValidator(_registered)]


def load_bridge(directory: str | Path, map_location: str = "cpu") -> Bridge:
    """Load any saved bridge, choosing the class from its config's ``method``."""
    config_path = Path(directory) / CONFIG_NAME
    if not config_path.is_file():
        raise FileNotFoundError(f"{directory} has no {CONFIG_NAME}: not a saved bridge")
    method = json.loads(config_path.read_text()).get("method")
    if method not in BRIDGE_CLASSES:
        raise ValueError(f"{config_path}: unknown bridge method {method!r}")
    return BRIDGE_CLASSES[method].from_pretrained(directory, map_location)


def training_objective(method: str, loss: dict[str, Any] | None = None) -> Callable | None:
    """The training objective of bridge ``method`` built from its ``loss`` settings.

    Returns None for the bridges that are not trained (identity, c3). An unknown setting or a
    value of the wrong type is a pydantic ``ValidationError`` located at that setting's key;
    settings for a bridge whose objective takes none are a ``ValueError``.
    """
    check_bridge_name(method)
    loss = loss or {}
    factory = BRIDGE_CLASSES[method].objective
    if loss and (factory is None or not inspect.signature(factory).parameters):
        raise ValueError(f"{method} takes no loss settings, got {sorted(loss)}")
    return None if factory is None else validate_call(factory)(**loss)


def _model_settings(method: str, model: DiffusionSettings | Mapping[str, Any] | None) -> dict:
    """The ``model`` settings as keyword arguments of :class:`DiffusionConfig` (keys checked)."""
    if isinstance(model, DiffusionSettings):
        return asdict(model)
    model = dict(model or {})
    known = {field.name for field in fields(DiffusionSettings)}
    unknown = sorted(set(model) - known)
    if unknown:
        raise ValueError(
            f"{method}: unknown model settings {', '.join(f'model.{k}' for k in unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return model


def _fingerprint(*parts: Any, tensors: tuple[torch.Tensor, ...]) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for tensor in tensors:
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def fit_bridge(
    method: str,
    audio: torch.Tensor,
    text: torch.Tensor,
    model: DiffusionSettings | Mapping[str, Any] | None = None,
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
    settings = _model_settings(method, model)
    audio, text = torch.as_tensor(audio).float(), torch.as_tensor(text).float()
    dim = text.shape[-1]
    check_embeddings(text, dim, f"{method} training text")
    check_embeddings(audio, dim, f"{method} training audio")
    if len(audio) != len(text):
        raise ValueError(f"{len(audio)} audio rows but {len(text)} text rows: pairs must align")
    means = modality_means(audio, text)
    cls = BRIDGE_CLASSES[method]
    config = DiffusionConfig(dim=dim, **settings)
    if objective is None:  # fitted from the training means alone
        return cls.from_means(config, means), []
    training = training or TrainConfig()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(training.seed)
        bridge = cls.from_means(config, means).to(device)
    data = {"text": bridge.normalise(text.to(device), "text")}
    if cls.trains_on_audio:
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
