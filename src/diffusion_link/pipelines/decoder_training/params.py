"""Parameters of ``decoder_training``: the shared settings and the variants, one model each.

The decoder's own configs (:mod:`diffusion_link.decoder.config`) are the field types of the LoRA,
optimiser, generation and ``accelerate`` settings: each setting and its default is defined
there once. The variant names come from one registry, :data:`VARIANTS` (``<mode>_<bridge>``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal, get_args

from pydantic import Field, NonNegativeFloat, PositiveInt, field_validator

from diffusion_link.config import StrictModel
from diffusion_link.decoder.config import (
    DEFAULT_PROMPT,
    AccelerateSettings,
    Activation,
    DecoderConfig,
    GenerationSettings,
    LaunchSettings,
    LoraSettings,
    Mode,
    OptimiserSettings,
    Precision,
    TrainSettings,
)

# A variant's bridge -> the ``bridge`` rows of ``bridged_embeddings`` it reads ("none": the raw
# encoder embeddings).
BRIDGE_ROWS = {
    "none": "identity",
    "diffusion_bridge": "diffusion_bridge",
    "diffusion_link": "diffusion_link",
}
DecoderBridge = Literal[tuple(BRIDGE_ROWS)]  # type: ignore[valid-type]


class VariantParams(StrictModel):
    """One variant: ``decoder_training.variants.<name>``."""

    mode: Mode
    bridge: DecoderBridge

    @property
    def name(self) -> str:
        """``<mode>_<bridge>``: the variant's namespace and name in the reports."""
        return f"{self.mode}_{self.bridge}"

    @property
    def rows(self) -> str:
        """The ``bridge`` value of the ``bridged_embeddings`` rows this variant reads."""
        return BRIDGE_ROWS[self.bridge]


# Every variant a run may configure, by name, in the report's order.
VARIANTS: dict[str, VariantParams] = {
    variant.name: variant
    for variant in (
        VariantParams(mode=mode, bridge=bridge) for mode in get_args(Mode) for bridge in BRIDGE_ROWS
    )
}
VariantName = Literal[tuple(VARIANTS)]  # type: ignore[valid-type]


class ZeroShotParams(StrictModel):
    """The zero-shot decoder: 1 linear layer -> m prefix vectors, then the instruction prompt."""

    prefix_length: PositiveInt = 1
    prompt: str = DEFAULT_PROMPT
    noise_std: NonNegativeFloat = 0.0  # Gaussian noise on the training embeddings

    def architecture(self) -> dict[str, object]:
        """The :class:`DecoderConfig` fields this mode sets."""
        return {"prefix_length": self.prefix_length, "prompt": self.prompt}


class SupervisedParams(StrictModel):
    """The supervised decoder: linear -> activation -> linear -> m prefix vectors, no prompt."""

    prefix_length: PositiveInt = 10
    head_hidden: PositiveInt | None = None  # None = the LLM's hidden size
    activation: Activation = "gelu"

    @property
    def noise_std(self) -> float:
        """No input noise: the supervised decoder trains on audio-driven embeddings."""
        return 0.0

    def architecture(self) -> dict[str, object]:
        """The :class:`DecoderConfig` fields this mode sets."""
        return {
            "prefix_length": self.prefix_length,
            "head_hidden": self.head_hidden,
            "activation": self.activation,
            "prompt": None,
        }


class DecoderSettings(StrictModel):
    """Shared by every variant: ``decoder_training.settings``."""

    model: str  # hub name or local folder
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Precision = "auto"
    train_split: str = "train"
    test_split: str = "test"
    train_subset: PositiveInt | None = None  # None = every training pair
    subset_seed: int = 0
    val_split: str | None = "val"  # pairs of the validation loss; None = no validation loss
    val_subset: PositiveInt | None = 256  # validation pairs (seeded subset); None = all
    max_caption_tokens: PositiveInt = 30
    lora: LoraSettings = Field(default_factory=LoraSettings)
    optimiser: OptimiserSettings = Field(default_factory=OptimiserSettings)
    zero_shot: ZeroShotParams = ZeroShotParams()
    supervised: SupervisedParams = SupervisedParams()
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    num_processes: PositiveInt = 1  # training processes in total (GPUs; CPU processes on CPU)
    accelerate: AccelerateSettings = Field(default_factory=AccelerateSettings)
    job_dir: str = "data/06_models/decoder_jobs"  # shared storage when on several machines
    progress_bar: bool = True

    def mode(self, variant: VariantParams) -> ZeroShotParams | SupervisedParams:
        """The settings of the variant's mode (``zero_shot`` or ``supervised``)."""
        return getattr(self, variant.mode)

    def decoder_config(self, variant: VariantParams, embedding_dim: int) -> DecoderConfig:
        """The architecture of ``variant``'s decoder for embeddings of ``embedding_dim``."""
        return DecoderConfig(
            base_model=self.model,
            mode=variant.mode,
            embedding_dim=embedding_dim,
            max_caption_tokens=self.max_caption_tokens,
            lora=self.lora,
            precision=self.precision,
            **self.mode(variant).architecture(),
        )

    def train_settings(self, variant: VariantParams) -> TrainSettings:
        """The optimiser, with the mode's input noise and the progress bar."""
        return TrainSettings(
            **asdict(self.optimiser),
            noise_std=self.mode(variant).noise_std,
            progress=self.progress_bar,
        )

    def launch(self) -> LaunchSettings:
        """How many processes, on how many machines (``accelerate launch``)."""
        return LaunchSettings(**asdict(self.accelerate), num_processes=self.num_processes)


class DecoderTrainingParams(StrictModel):
    """The whole ``decoder_training`` group: the shared settings and the variants to run."""

    settings: DecoderSettings
    variants: dict[VariantName, VariantParams] = {}

    @field_validator("variants")
    @classmethod
    def _names_say_what_runs(cls, variants: dict[str, VariantParams]) -> dict[str, VariantParams]:
        for name, variant in variants.items():
            if name != variant.name:
                raise ValueError(
                    f"variant {name!r} has mode {variant.mode!r} and bridge {variant.bridge!r}: "
                    f"its name must be {variant.name}"
                )
        return variants
