"""The ``bridge_training`` parameter group: one entry per registered bridge and shared settings.

A bridge's ``model`` and ``training`` settings are the method's own configs
(:class:`~diffusion_link.core.model.DiffusionSettings`,
:class:`~diffusion_link.core.training.TrainConfig`): each setting and its default is defined
there once. The values that run are in ``conf/<env>/parameters_bridge_training.yml``.
"""

from __future__ import annotations

from typing import Any

from pydantic import PositiveInt, ValidationInfo, field_validator, model_validator

from diffusion_link.config import StrictModel
from diffusion_link.core.bridges import BRIDGES, BridgeName, training_objective
from diffusion_link.core.model import DiffusionSettings
from diffusion_link.core.schedule import check_inference_steps
from diffusion_link.core.training import TrainConfig
from diffusion_link.core.validation import VALIDATION_METRICS


class BridgeParams(StrictModel):
    """One bridge's group: ``bridge_training.bridges.<name>``."""

    method: BridgeName
    model: DiffusionSettings = DiffusionSettings()
    training: TrainConfig = TrainConfig()
    loss: dict[str, Any] = {}  # the keyword arguments of the bridge's objective (core/losses.py)
    seed: int = 0  # inference noise

    @field_validator("training")
    @classmethod
    def _monitor_is_validated(cls, training: TrainConfig) -> TrainConfig:
        """The pipeline validates with :func:`~diffusion_link.core.validation.validate`."""
        if training.monitor not in VALIDATION_METRICS:
            raise ValueError(
                f"monitor {training.monitor!r} is not a validation figure; "
                f"choose from {', '.join(VALIDATION_METRICS)}"
            )
        return training

    @field_validator("loss")
    @classmethod
    def _loss_fits_the_objective(cls, loss: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "method" in info.data:  # else the method itself is the error
            training_objective(info.data["method"], loss)
        return loss


class SweepParams(StrictModel):
    """Table 2's sweep of Diffusion-Link's s*: ``bridge_training.settings.s_star_sweep``."""

    split: str = "test"
    s_stars: list[PositiveInt] = [100, 200, 300, 400, 500]
    steps: PositiveInt = 5
    seed: int = 0


class BridgeSettings(StrictModel):
    """Settings shared by every bridge: ``bridge_training.settings``."""

    train_split: str = "train"
    validation_split: str | None = "val"  # scored while training (None: no validation)
    device: str = "auto"
    s_star_sweep: SweepParams = SweepParams()


class BridgeTrainingParams(StrictModel):
    """The whole ``bridge_training`` group: every registered bridge and the shared settings."""

    bridges: dict[BridgeName, BridgeParams]
    settings: BridgeSettings = BridgeSettings()

    @field_validator("bridges")
    @classmethod
    def _every_bridge_once(cls, bridges: dict[str, BridgeParams]) -> dict[str, BridgeParams]:
        missing = [name for name in BRIDGES if name not in bridges]
        if missing:
            raise ValueError(
                f"missing bridges {missing}: the pipeline trains all of {tuple(BRIDGES)}"
            )
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
