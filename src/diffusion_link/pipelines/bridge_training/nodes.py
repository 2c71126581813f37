"""Nodes of the ``bridge_training`` pipeline: fit each bridge, apply it, sweep s*.

One template (train -> apply) is instantiated per bridge under its own namespace, each reading
``params:bridge_training.bridges.<name>``; the shared ones are ``params:bridge_training.settings``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import matplotlib
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from diffusion_link.core.bridges import BRIDGES, Bridge, fit_bridge, training_objective
from diffusion_link.core.model import check_inference_steps
from diffusion_link.core.pairs import validation_set
from diffusion_link.core.training import TrainConfig, TrainingStateStore
from diffusion_link.core.validation import VALIDATION_METRICS
from diffusion_link.data.embeddings import embedding_matrix, with_embeddings
from diffusion_link.reporting.figures import training_curves

matplotlib.use("Agg")
logger = logging.getLogger(__name__)

BridgeName = Literal["identity", "c3", "diffusion_bridge", "diffgap", "diffusion_link"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelParams(_Strict):
    width: PositiveInt | None = None
    num_blocks: PositiveInt = 3
    time_dim: PositiveInt | None = None
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    T: PositiveInt = 1000
    schedule_s: float = Field(0.008, gt=0.0)
    norm_scale: float = Field(5.0, gt=0.0)
    s_star: PositiveInt = 100
    ddim_steps: PositiveInt = 5

    @model_validator(mode="after")
    def _steps_possible(self) -> ModelParams:
        check_inference_steps(self.s_star, self.ddim_steps, self.T)
        return self


class TrainingParams(_Strict):
    steps: PositiveInt = 3000
    batch_size: PositiveInt = 128
    lr: float = Field(1e-4, gt=0.0)
    schedule: Literal["step", "cosine"] = "step"
    lr_decay: float = Field(0.97, gt=0.0, le=1.0)
    lr_decay_every: PositiveInt = 200
    warmup_steps: NonNegativeInt = 0
    ema_decay: float = Field(0.995, ge=0.0, lt=1.0)
    seed: int = 0
    checkpoint_every: PositiveInt = 500
    log_every: PositiveInt = 25
    eval_every: PositiveInt = 100
    patience: NonNegativeInt = 0
    monitor: Literal[VALIDATION_METRICS] = "val_matched_audio_text"
    min_delta: float = Field(0.0, ge=0.0)


class BridgeParams(_Strict):
    """One bridge's group: ``bridge_training.bridges.<name>``."""

    method: BridgeName
    model: ModelParams = ModelParams()
    training: TrainingParams = TrainingParams()
    loss: dict[str, Any] = {}  # the keyword arguments of the method's objective (bridges.py)
    seed: int = 0  # inference noise

    @field_validator("loss")
    @classmethod
    def _loss_fits_the_objective(cls, loss: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "method" in info.data:  # else the method itself is the error
            training_objective(info.data["method"], loss)
        return loss


class SweepParams(_Strict):
    split: str = "test"
    s_stars: list[PositiveInt] = [100, 200, 300, 400, 500]
    steps: PositiveInt = 5
    seed: int = 0


class BridgeSettings(_Strict):
    """Settings shared by every bridge: ``bridge_training.settings``."""

    train_split: str = "train"
    validation_split: str | None = "val"  # scored while training (None: no validation)
    device: str = "auto"
    s_star_sweep: SweepParams = SweepParams()


class BridgeTrainingParams(_Strict):
    """The whole ``bridge_training`` group: every bridge of ``BRIDGES`` and the shared settings."""

    bridges: dict[BridgeName, BridgeParams]
    settings: BridgeSettings = BridgeSettings()

    @field_validator("bridges")
    @classmethod
    def _every_bridge_once(cls, bridges: dict[str, BridgeParams]) -> dict[str, BridgeParams]:
        missing = [name for name in BRIDGES if name not in bridges]
        if missing:
            raise ValueError(f"missing bridges {missing}: the pipeline trains all of {BRIDGES}")
        for name, bridge in bridges.items():
            if bridge.method != name:
                raise ValueError(f"{name}.method is {bridge.method!r}; it must be {name!r}")
        return bridges

    @model_validator(mode="after")
    def _sweep_possible(self) -> BridgeTrainingParams:
        """The s* sweep runs Diffusion-Link's model: each s* must fit its T and the DDIM steps."""
        sweep, link = self.settings.s_star_sweep, self.bridges.get("diffusion_link")
        for s_star in sweep.s_stars if link is not None else ():
            try:
                check_inference_steps(s_star, sweep.steps, link.model.T)
            except ValueError as error:
                raise ValueError(f"settings.s_star_sweep: {error}") from None
        return self


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def paired_split(
    audio_embeddings: pd.DataFrame, text_embeddings: pd.DataFrame, split: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(audio, text) tensors of one split, one row per caption paired with its clip's audio."""
    text = text_embeddings[text_embeddings["split"] == split]
    clip_ids = pd.Index(audio_embeddings["clip_id"])
    index = clip_ids.get_indexer(text["clip_id"])
    paired = index >= 0
    if not paired.any():
        raise ValueError(f"no {split!r} captions have an audio embedding: nothing to train on")
    if not paired.all():
        logger.info("%d %s captions have no audio embedding; left out", (~paired).sum(), split)
    audio = torch.from_numpy(embedding_matrix(audio_embeddings)[index[paired]])
    return audio, torch.from_numpy(embedding_matrix(text)[paired])


def train_bridge(
    audio_embeddings: pd.DataFrame,
    text_embeddings: pd.DataFrame,
    training_state: TrainingStateStore,
    bridge: BridgeParams,
    settings: BridgeSettings,
) -> tuple[Bridge, pd.DataFrame]:
    """Fit one bridge on the training split; returns it and its loss history."""
    bridge = BridgeParams.model_validate(bridge)
    settings = BridgeSettings.model_validate(settings)
    audio, text = paired_split(audio_embeddings, text_embeddings, settings.train_split)
    logger.info("Fitting %s on %d %s pairs", bridge.method, len(text), settings.train_split)
    validation = None
    if settings.validation_split is not None:
        validation = validation_set(
            audio_embeddings, text_embeddings, settings.validation_split, bridge.seed
        )
    model, history = fit_bridge(
        bridge.method,
        audio,
        text,
        model=bridge.model.model_dump(),
        training=TrainConfig(**bridge.training.model_dump()),
        loss=bridge.loss,
        store=training_state,
        device=_device(settings.device),
        validation=validation,
    )
    return model, pd.DataFrame(history).assign(bridge=bridge.method)


def _bridge_rows(
    model: Bridge, table: pd.DataFrame, modality: str, seed: int, device: str
) -> np.ndarray:
    if table.empty:
        return np.zeros((0, int(table.attrs.get("dim", 0))), dtype=np.float32)
    generator = torch.Generator(device=device).manual_seed(seed)
    embeddings = torch.from_numpy(embedding_matrix(table)).to(device)
    return model.bridge(embeddings, modality=modality, generator=generator).cpu().numpy()


def apply_bridge(
    model: Bridge,
    audio_embeddings: pd.DataFrame,
    text_embeddings: pd.DataFrame,
    bridge: BridgeParams,
    settings: BridgeSettings,
) -> pd.DataFrame:
    """Text-like embeddings of every split, from audio (t<-a) and from text (t<-t)."""
    bridge = BridgeParams.model_validate(bridge)
    device = _device(BridgeSettings.model_validate(settings).device)
    if hasattr(model, "to"):
        model = model.to(device)
    audio = with_embeddings(
        audio_embeddings[["clip_id", "split"]].assign(caption_id=None, source="audio"),
        _bridge_rows(model, audio_embeddings, "audio", bridge.seed, device),
        {},
    )
    text = with_embeddings(
        text_embeddings[["clip_id", "caption_id", "split"]].assign(source="text"),
        _bridge_rows(model, text_embeddings, "text", bridge.seed + 1, device),
        {},
    )
    table = pd.concat([audio, text], ignore_index=True).assign(bridge=bridge.method)
    table = table[["bridge", "source", "split", "clip_id", "caption_id", "embedding"]]
    table.attrs = {
        **{
            k: v
            for k, v in audio_embeddings.attrs.items()
            if k not in ("modality", "split_statistics")
        },
        "bridge": bridge.method,
    }
    return table


def collect_bridged_embeddings(*tables: pd.DataFrame) -> pd.DataFrame:
    """All bridges' text-like embeddings in one table (bridge, source, split, ids)."""
    combined = pd.concat(tables, ignore_index=True)
    combined.attrs = {k: v for k, v in tables[0].attrs.items() if k != "bridge"}
    combined.attrs["bridges"] = [t.attrs["bridge"] for t in tables]
    return combined


def sweep_s_star(
    model: Bridge, audio_embeddings: pd.DataFrame, settings: BridgeSettings
) -> pd.DataFrame:
    """Table 2: Diffusion-Link's text-like embeddings of one split's audio at each s*."""
    settings = BridgeSettings.model_validate(settings)
    sweep = settings.s_star_sweep
    audio = audio_embeddings[audio_embeddings["split"] == sweep.split]
    if audio.empty:
        raise ValueError(f"s* sweep: no audio embeddings in split {sweep.split!r}")
    device = _device(settings.device)
    model = model.to(device)
    tables = []
    for s_star in sweep.s_stars:
        check_inference_steps(s_star, sweep.steps, model.config.T)
        generator = torch.Generator(device=device).manual_seed(sweep.seed)
        embeddings = torch.from_numpy(embedding_matrix(audio)).to(device)
        out = model.bridge(embeddings, s_star=s_star, steps=sweep.steps, generator=generator)
        ids = audio[["clip_id", "split"]].assign(s_star=s_star)
        tables.append(with_embeddings(ids, out.cpu().numpy(), {}))
    table = pd.concat(tables, ignore_index=True)
    table.attrs = {
        **{
            k: v
            for k, v in audio_embeddings.attrs.items()
            if k not in ("modality", "split_statistics")
        },
        "bridge": model.method,
        "ddim_steps": sweep.steps,
    }
    return table


def plot_training_curves(*histories: pd.DataFrame) -> tuple[Figure, pd.DataFrame]:
    """Every trained bridge's loss terms and validation figures: one figure and one table."""
    trained = [h for h in histories if not h.empty]
    curves = pd.concat(trained, ignore_index=True) if trained else pd.DataFrame()
    return training_curves(trained), curves
