"""Wiring of ``decoder_training``: one train -> generate template per variant (namespace).

Which variants exist is configuration: the keys of ``decoder_training.variants`` in the run's
environment (``kedro run --env paper``: diffusion_link.project.hooks publishes it as ``KEDRO_ENV``), so the embedded
default can run a subset while ``conf/paper`` runs all six.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from kedro.pipeline import Node, Pipeline

from diffusion_link.pipelines.decoder_training.nodes import (
    ALL_VARIANTS,
    collect_generated_captions,
    generate_captions,
    plot_training_curves,
    train_decoder,
)
from diffusion_link.settings import CONFIG_LOADER_ARGS

logger = logging.getLogger(__name__)

SHARED = {"bridged_embeddings", "captions"}


def _conf_source() -> Path:
    for root in (Path.cwd(), Path(__file__).resolve().parents[4]):
        if (root / "conf" / "base").is_dir():
            return root / "conf"
    raise FileNotFoundError("no conf/base folder in the working directory or the project")


def configured_variants(env: str | None = None) -> list[str]:
    """The variant names of ``decoder_training.variants`` in ``env`` (default: KEDRO_ENV/local)."""
    from kedro.config import OmegaConfigLoader

    with warnings.catch_warnings():  # a second loader re-registers Kedro's resolvers: harmless
        warnings.simplefilter("ignore", UserWarning)
        loader = OmegaConfigLoader(
            conf_source=str(_conf_source()),
            env=env or os.environ.get("KEDRO_ENV"),
            **CONFIG_LOADER_ARGS,  # the project's own merge strategy (soft for parameters)
        )
        parameters = loader["parameters"]
    variants = parameters.get("decoder_training", {}).get("variants") or {}
    unknown = sorted(set(variants) - set(ALL_VARIANTS))
    if unknown:
        raise ValueError(f"unknown decoder_training variants {unknown}; known: {ALL_VARIANTS}")
    return [name for name in ALL_VARIANTS if name in variants]


def one_variant() -> Pipeline:
    """Train one decoder and caption the test audio with it (namespaced per variant)."""
    return Pipeline(
        [
            Node(
                train_decoder,
                [
                    "bridged_embeddings",
                    "captions",
                    "params:variant",
                    "params:decoder_training.settings",
                    "decoder_training_state",
                ],
                ["decoder", "training_history"],
                name="train_decoder",
            ),
            Node(
                generate_captions,
                [
                    "decoder",
                    "bridged_embeddings",
                    "params:variant",
                    "params:decoder_training.settings",
                ],
                "generated_captions",
                name="generate_captions",
            ),
        ]
    )


def create_pipeline(variants: list[str] | None = None, **kwargs) -> Pipeline:
    variants = configured_variants() if variants is None else list(variants)
    if not variants:
        logger.warning("decoder_training.variants is empty: the pipeline has no nodes")
        return Pipeline([])
    instances = sum(
        (
            Pipeline(
                one_variant(),
                namespace=name,
                inputs=SHARED,
                parameters={
                    "params:variant": f"params:decoder_training.variants.{name}",
                    "params:decoder_training.settings": "params:decoder_training.settings",
                },
            )
            for name in variants
        ),
        Pipeline([]),
    )
    return instances + Pipeline(
        [
            Node(
                collect_generated_captions,
                [f"{name}.generated_captions" for name in variants],
                "generated_captions",
                name="collect_generated_captions",
            ),
            Node(
                plot_training_curves,
                [f"{name}.training_history" for name in variants],
                ["decoder_training_curves", "decoder_training_history"],
                name="plot_decoder_training_curves",
            ),
        ]
    )
