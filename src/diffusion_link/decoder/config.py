"""The caption decoder's typed settings: architecture, LoRA, optimiser, training, generation.

Each is a frozen pydantic dataclass (:data:`diffusion_link.config.STRICT`: unknown keys are
errors) and the one definition of its settings and defaults: the Kedro parameter models of
``pipelines/decoder_training/params.py`` use them as field types instead of restating them.
Plain PyTorch and pydantic: nothing here imports Kedro.
"""

from __future__ import annotations

from dataclasses import asdict, field
from typing import Any, Literal

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveInt
from pydantic.dataclasses import dataclass
from torch import nn

from diffusion_link.config import STRICT

Mode = Literal["zero_shot", "supervised"]
# The paper's m, soft-prefix vectors per embedding, when a config does not set it.
PAPER_PREFIX_LENGTH: dict[str, int] = {"zero_shot": 1, "supervised": 10}
Precision = Literal["auto", "bf16", "fp32"]  # auto: bf16 on a GPU or a bf16-capable CPU
DEFAULT_PROMPT = "Describe the audio you hear in one sentence."

# The supervised head's activations, by name.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}
Activation = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]


@dataclass(frozen=True, config=STRICT)
class LoraSettings:
    """The LoRA adapter on the LLM (peft): rank, scale, dropout and the modules it wraps."""

    r: PositiveInt = 8
    alpha: PositiveInt = 32
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])


@dataclass(frozen=True, config=STRICT)
class DecoderConfig:
    """Everything that defines a decoder's architecture (saved with it)."""

    base_model: str
    mode: Mode
    embedding_dim: PositiveInt
    prefix_length: PositiveInt | None = None  # None: 1 zero-shot, 10 supervised
    head_hidden: PositiveInt | None = None  # supervised head's middle width; None = LLM hidden
    activation: Activation = "gelu"
    prompt: str | None = DEFAULT_PROMPT  # zero-shot only; supervised uses no prompt
    max_caption_tokens: PositiveInt = 30
    lora: LoraSettings = field(default_factory=LoraSettings)
    precision: Precision = "auto"

    @property
    def num_prefix(self) -> int:
        """``m``, the number of soft-prefix vectors."""
        return self.prefix_length or PAPER_PREFIX_LENGTH[self.mode]

    @property
    def instruction(self) -> str | None:
        """The prompt after the prefix (zero-shot only), or None."""
        return self.prompt if self.mode == "zero_shot" and self.prompt else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :class:`DecoderConfig` accepts back."""
        return asdict(self)


@dataclass(frozen=True, config=STRICT)
class OptimiserSettings:
    """AdamW with linear warm-up (epochs) then cosine decay to 0; batches, logging, states."""

    lr: float = Field(1e-4, gt=0.0)  # the peak of warm-up then cosine decay (LoRA)
    warmup_epochs: NonNegativeFloat = 0.0
    epochs: float = Field(1.0, gt=0.0)
    batch_size: PositiveInt = 8  # per process: the global batch is batch_size x processes
    grad_accumulation: PositiveInt = 1
    weight_decay: NonNegativeFloat = 0.0
    head_lr_scale: float = Field(1.0, gt=0.0)  # the prefix head's learning rate = lr x this
    seed: int = 0
    log_every: PositiveInt = 10
    checkpoint_every: PositiveInt = 50  # optimiser steps between saved training states
    eval_every: PositiveInt = 50  # optimiser steps between validation losses (and the last)
    val_batch_size: PositiveInt = 32  # pairs per forward pass of the validation loss


@dataclass(frozen=True, config=STRICT)
class TrainSettings(OptimiserSettings):
    """One training run: the optimiser, plus input noise and the progress bar."""

    noise_std: NonNegativeFloat = 0.0  # Gaussian noise on the input embedding (zero-shot)
    progress: bool = True


@dataclass(frozen=True, config=STRICT)
class GenerationSettings:
    """Decoding of captions: greedy or beam search, lengths and batch size."""

    num_beams: PositiveInt = 1  # 1 = greedy
    max_new_tokens: PositiveInt = 30
    min_new_tokens: NonNegativeInt = 0  # > 0: no EOS before this many tokens (no empty captions)
    batch_size: PositiveInt = 64
    no_repeat_ngram_size: NonNegativeInt = 0  # > 0: never repeat an n-gram of this size


@dataclass(frozen=True, config=STRICT)
class AccelerateSettings:
    """``accelerate launch`` options for several machines (one machine needs none of them)."""

    num_machines: PositiveInt = 1  # the Kedro run is machine 0; the others run worker_command
    main_process_ip: str | None = None  # machine 0's address (several machines)
    main_process_port: PositiveInt | None = None  # None: a free port on this machine
    extra_args: tuple[str, ...] = ()  # more `accelerate launch` options, e.g. ("--gpu_ids", "0,1")


@dataclass(frozen=True, config=STRICT)
class LaunchSettings(AccelerateSettings):
    """How many processes and machines; the options of ``accelerate launch`` that matter here."""

    num_processes: PositiveInt = 1  # in total, over every machine

    def __post_init__(self) -> None:
        """The same number of processes on every machine; machine 0's address when several."""
        if self.num_processes % self.num_machines:
            raise ValueError(
                f"num_processes ({self.num_processes}) must be a multiple of num_machines "
                f"({self.num_machines}): the same number of processes on every machine"
            )
        if self.num_machines > 1 and not self.main_process_ip:
            raise ValueError("several machines need main_process_ip (machine 0's address)")
