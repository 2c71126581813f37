"""Nodes of ``decoder_training``: train one caption decoder per variant and caption the test audio.

One template (train -> generate) is instantiated per variant under its own namespace, each reading
``params:decoder_training.variants.<name>`` (mode, bridge); the shared settings (LLM, LoRA,
optimiser, generation) are ``params:decoder_training.settings``. The model work lives in
:mod:`diffusion_link.decoder.model`; these nodes select rows and translate parameters.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Literal

import pandas as pd
import torch
from matplotlib.figure import Figure
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    field_validator,
)

from diffusion_link.core.training import TrainingStateStore
from diffusion_link.data.embeddings import embedding_matrix
from diffusion_link.decoder.launch import Job, LaunchSettings, train_in_processes
from diffusion_link.decoder.model import (
    DEFAULT_PROMPT,
    CaptionDecoder,
    DecoderConfig,
    GenerationSettings,
)
from diffusion_link.decoder.trainer import TrainSettings

logger = logging.getLogger(__name__)

# Which ``bridged_embeddings`` rows each variant's bridge reads ("none" = the raw encoder).
BRIDGE_ROWS = {
    "none": "identity",
    "diffusion_bridge": "diffusion_bridge",
    "diffusion_link": "diffusion_link",
}

# Every variant a run may configure: <mode>_<bridge>, in the report's order.
ALL_VARIANTS = tuple(
    f"{mode}_{bridge}"
    for mode in ("zero_shot", "supervised")
    for bridge in ("none", "diffusion_bridge", "diffusion_link")
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VariantParams(_Strict):
    """One variant: ``decoder_training.variants.<name>``."""

    mode: Literal["zero_shot", "supervised"]
    bridge: Literal["none", "diffusion_bridge", "diffusion_link"]


class LoraParams(_Strict):
    r: PositiveInt = 8
    alpha: PositiveInt = 32
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = ["q_proj", "v_proj"]


class OptimiserParams(_Strict):
    lr: float = Field(5e-6, gt=0.0)  # peak learning rate (AdamW)
    warmup_epochs: NonNegativeFloat = 2.0
    epochs: float = Field(50.0, gt=0.0)
    batch_size: PositiveInt = 4
    grad_accumulation: PositiveInt = 1
    weight_decay: NonNegativeFloat = 0.0
    head_lr_scale: float = Field(1.0, gt=0.0)  # prefix head lr = lr x this
    seed: int = 0
    log_every: PositiveInt = 10
    checkpoint_every: PositiveInt = 50  # optimiser steps between saved training states
    eval_every: PositiveInt = 50  # optimiser steps between validation losses (and the last)
    val_batch_size: PositiveInt = 32  # pairs per forward pass of the validation loss


class AccelerateParams(_Strict):
    """``accelerate launch`` options for several machines (one machine needs none of them)."""

    num_machines: PositiveInt = 1
    main_process_ip: str | None = None  # machine 0's address
    main_process_port: PositiveInt | None = None  # None = a free port
    extra_args: list[str] = []  # more `accelerate launch` options, e.g. ["--gpu_ids", "0,1"]


class ZeroShotParams(_Strict):
    prefix_length: PositiveInt = 1
    prompt: str = DEFAULT_PROMPT
    noise_std: NonNegativeFloat = 0.0  # Gaussian noise on the training embeddings


class SupervisedParams(_Strict):
    prefix_length: PositiveInt = 10
    head_hidden: PositiveInt | None = None  # None = the LLM's hidden size
    activation: Literal["gelu", "relu", "tanh", "silu"] = "gelu"


class GenerationParams(_Strict):
    num_beams: PositiveInt = 1  # 1 = greedy
    max_new_tokens: PositiveInt = 30
    min_new_tokens: NonNegativeInt = 0  # > 0: no EOS before this many tokens
    batch_size: PositiveInt = 64
    no_repeat_ngram_size: NonNegativeInt = 0  # 0 = off


class DecoderSettings(_Strict):
    """Shared by every variant: ``decoder_training.settings``."""

    model: str  # hub name or local folder
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    train_split: str = "train"
    test_split: str = "test"
    train_subset: PositiveInt | None = None  # None = every training pair
    subset_seed: int = 0
    val_split: str | None = "val"  # pairs of the validation loss; None = no validation loss
    val_subset: PositiveInt | None = 256  # validation pairs (seeded subset); None = all
    max_caption_tokens: PositiveInt = 30
    lora: LoraParams = LoraParams()
    optimiser: OptimiserParams = OptimiserParams()
    zero_shot: ZeroShotParams = ZeroShotParams()
    supervised: SupervisedParams = SupervisedParams()
    generation: GenerationParams = GenerationParams()
    num_processes: PositiveInt = 1  # training processes in total (GPUs; CPU processes on CPU)
    accelerate: AccelerateParams = AccelerateParams()
    job_dir: str = "data/06_models/decoder_jobs"  # shared storage when on several machines
    progress_bar: bool = True


class DecoderTrainingParams(_Strict):
    """The whole ``decoder_training`` group: the shared settings and the variants to run."""

    settings: DecoderSettings
    variants: dict[Literal[ALL_VARIANTS], VariantParams] = {}

    @field_validator("variants")
    @classmethod
    def _names_say_what_runs(cls, variants: dict[str, VariantParams]) -> dict[str, VariantParams]:
        for name, variant in variants.items():
            if name != f"{variant.mode}_{variant.bridge}":
                raise ValueError(
                    f"variant {name!r} has mode {variant.mode!r} and bridge {variant.bridge!r}: "
                    f"its name must be {variant.mode}_{variant.bridge}"
                )
        return variants


def _rows(bridged_embeddings: pd.DataFrame, bridge: str, source: str, split: str) -> pd.DataFrame:
    rows = BRIDGE_ROWS[bridge]
    table = bridged_embeddings[
        (bridged_embeddings["bridge"] == rows)
        & (bridged_embeddings["source"] == source)
        & (bridged_embeddings["split"] == split)
    ]
    if table.empty:
        raise ValueError(
            f"bridged_embeddings has no {source!r} rows of bridge {rows!r} in split {split!r}"
        )
    return table


def split_pairs(
    bridged_embeddings: pd.DataFrame,
    captions: pd.DataFrame,
    variant: VariantParams,
    split: str,
    subset: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """(embedding, caption) pairs of ``split``: zero-shot from TEXT rows, supervised from AUDIO.

    ``subset``: at most that many pairs, a seeded sample.
    """
    texts = captions[captions["split"] == split][["clip_id", "caption_id", "caption"]]
    if variant.mode == "zero_shot":
        rows = _rows(bridged_embeddings, variant.bridge, "text", split)
        pairs = rows.drop(columns="clip_id").merge(
            texts.astype({"caption_id": str}),
            on="caption_id",
            how="inner",
        )
    else:
        rows = _rows(bridged_embeddings, variant.bridge, "audio", split)
        pairs = rows.drop(columns="caption_id").merge(texts, on="clip_id", how="inner")
    if pairs.empty:
        raise ValueError(f"no {split!r} embeddings could be paired with a caption")
    if subset is not None and subset < len(pairs):
        pairs = pairs.sample(n=subset, random_state=seed)
    return pairs.reset_index(drop=True)


def training_pairs(
    bridged_embeddings: pd.DataFrame,
    captions: pd.DataFrame,
    variant: VariantParams,
    settings: DecoderSettings,
) -> pd.DataFrame:
    """The training pairs of ``variant``: ``settings.train_split``, ``train_subset`` of them."""
    return split_pairs(
        bridged_embeddings,
        captions,
        variant,
        settings.train_split,
        settings.train_subset,
        settings.subset_seed,
    )


def validation_pairs(
    bridged_embeddings: pd.DataFrame,
    captions: pd.DataFrame,
    variant: VariantParams,
    settings: DecoderSettings,
) -> pd.DataFrame | None:
    """The validation-loss pairs of ``variant``, built as its training pairs, from ``val_split``."""
    if settings.val_split is None:
        return None
    return split_pairs(
        bridged_embeddings,
        captions,
        variant,
        settings.val_split,
        settings.val_subset,
        settings.subset_seed,
    )


def decoder_config(
    variant: VariantParams, settings: DecoderSettings, embedding_dim: int
) -> DecoderConfig:
    common = {
        "base_model": settings.model,
        "mode": variant.mode,
        "embedding_dim": embedding_dim,
        "max_caption_tokens": settings.max_caption_tokens,
        "lora": settings.lora.model_dump(),
        "precision": settings.precision,
    }
    if variant.mode == "zero_shot":
        zs = settings.zero_shot
        return DecoderConfig(**common, prefix_length=zs.prefix_length, prompt=zs.prompt)
    sup = settings.supervised
    return DecoderConfig(
        **common,
        prefix_length=sup.prefix_length,
        head_hidden=sup.head_hidden,
        activation=sup.activation,
        prompt=None,
    )


def _job(variant: VariantParams, settings: DecoderSettings, dim: int, state: Path) -> Job:
    noise_std = settings.zero_shot.noise_std if variant.mode == "zero_shot" else 0.0
    return Job(
        config=decoder_config(variant, settings, dim),
        settings=TrainSettings(
            **settings.optimiser.model_dump(),  # the same fields, validated above
            noise_std=noise_std,
            progress=settings.progress_bar,
        ),
        device=settings.device,
        state_path=str(state),
    )


def _launch(settings: DecoderSettings) -> LaunchSettings:
    accelerate = settings.accelerate
    return LaunchSettings(
        num_processes=settings.num_processes,
        num_machines=accelerate.num_machines,
        main_process_ip=accelerate.main_process_ip,
        main_process_port=accelerate.main_process_port,
        extra_args=tuple(accelerate.extra_args),
    )


def _log_reports(name: str, reports: list[dict]) -> None:
    for report in reports:
        logger.info(
            "%s rank %d/%d on %s: steps %d (resumed from %d), %d rows, final loss %.4f",
            name,
            report["rank"],
            report["world_size"],
            report["device"],
            report["steps"],
            report["resumed_from"],
            report["rows_seen"],
            report["final_loss"],
        )


def _tensor(pairs: pd.DataFrame) -> torch.Tensor:
    return torch.from_numpy(embedding_matrix(pairs))


def train_decoder(
    bridged_embeddings: pd.DataFrame,
    captions: pd.DataFrame,
    variant: VariantParams,
    settings: DecoderSettings,
    training_state: TrainingStateStore,
) -> tuple[CaptionDecoder, pd.DataFrame]:
    """Fit head + LoRA of one variant under ``accelerate launch`` (1..N processes), resumably.

    Returns the decoder and its training history (step, loss, lr, val_loss, variant); the
    validation loss comes from ``val_split``'s pairs, built as the training pairs are.
    """
    variant = VariantParams.model_validate(variant)
    settings = DecoderSettings.model_validate(settings)
    pairs = training_pairs(bridged_embeddings, captions, variant, settings)
    val = validation_pairs(bridged_embeddings, captions, variant, settings)
    validation = None if val is None else (_tensor(val), val["caption"].tolist())
    embeddings = _tensor(pairs)
    job = _job(variant, settings, embeddings.shape[1], training_state.path)
    name = f"{variant.mode}_{variant.bridge}"
    started = time.perf_counter()
    decoder, reports = train_in_processes(
        job,
        embeddings,
        pairs["caption"].tolist(),
        Path(settings.job_dir) / name,
        _launch(settings),
        validation,
    )
    _log_reports(name, reports)
    logger.info(
        "%s decoder trained on %d pairs in %.1f s", name, len(pairs), time.perf_counter() - started
    )
    return decoder, history_table(decoder.history, name)


def history_table(history: list[dict[str, float]], variant: str) -> pd.DataFrame:
    """One row per optimiser step: step, loss, lr, val_loss (NaN where not computed), variant."""
    table = pd.DataFrame(history, columns=["step", "loss", "lr", "val_loss"])
    return table.astype(float).astype({"step": int}).assign(variant=variant)


def plot_training_curves(*histories: pd.DataFrame) -> tuple[Figure, pd.DataFrame]:
    """One panel per variant: training loss per step (and its running mean), validation loss."""
    figure = Figure(figsize=(5 * max(1, len(histories)), 3.6), layout="constrained")
    axes = figure.subplots(1, max(1, len(histories)), squeeze=False)[0]
    for axis, history in zip(axes, histories, strict=False):
        window = max(1, len(history) // 20)
        smooth = history["loss"].rolling(window, min_periods=1).mean()
        axis.plot(history["step"], history["loss"], color="tab:blue", alpha=0.3, lw=0.8)
        axis.plot(history["step"], smooth, color="tab:blue", label=f"train (mean of {window})")
        val = history.dropna(subset=["val_loss"])
        axis.plot(val["step"], val["val_loss"], "o-", color="tab:orange", label="validation")
        axis.set(title=history["variant"].iloc[0], xlabel="optimiser step", ylabel="caption CE")
        axis.legend(fontsize="small")
    return figure, pd.concat(histories, ignore_index=True)


def generate_captions(
    decoder: CaptionDecoder,
    bridged_embeddings: pd.DataFrame,
    variant: VariantParams,
    settings: DecoderSettings,
) -> pd.DataFrame:
    """One caption per test clip, from the audio-driven text-like embedding of the variant."""
    variant = VariantParams.model_validate(variant)
    settings = DecoderSettings.model_validate(settings)
    rows = _rows(bridged_embeddings, variant.bridge, "audio", settings.test_split)
    gen = settings.generation
    started = time.perf_counter()
    captions = decoder.generate(
        torch.from_numpy(embedding_matrix(rows)),
        GenerationSettings(
            num_beams=gen.num_beams,
            max_new_tokens=gen.max_new_tokens,
            min_new_tokens=gen.min_new_tokens,
            batch_size=gen.batch_size,
            no_repeat_ngram_size=gen.no_repeat_ngram_size,
        ),
    )
    elapsed = time.perf_counter() - started
    logger.info(
        "%s/%s: %d %s captions in %.1f s (%.1f/s)",
        variant.mode,
        variant.bridge,
        len(captions),
        settings.test_split,
        elapsed,
        len(captions) / max(elapsed, 1e-9),
    )
    empty = sum(not c for c in captions)
    if empty:
        logger.warning(
            "%s/%s: %d generated captions are empty", variant.mode, variant.bridge, empty
        )
    return pd.DataFrame(
        {
            "clip_id": rows["clip_id"].to_numpy(),
            "mode": variant.mode,
            "bridge": variant.bridge,
            "caption": captions,
        }
    )


def collect_generated_captions(*tables: pd.DataFrame) -> pd.DataFrame:
    """Every variant's captions in one table (clip_id, mode, bridge, caption)."""
    return pd.concat(tables, ignore_index=True)[["clip_id", "mode", "bridge", "caption"]]
