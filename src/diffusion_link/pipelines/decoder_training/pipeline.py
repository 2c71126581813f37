"""Wiring of ``decoder_training``: one train -> generate template per variant (namespace).

Pure wiring: :func:`create_pipeline` builds a namespace for every variant of
:data:`~diffusion_link.pipelines.decoder_training.params.VARIANTS` (or for the names it is
given) and the nodes that collect their captions and curves. Which variants a run trains is
chosen in :mod:`diffusion_link.pipeline_registry`.
"""

from __future__ import annotations

from collections.abc import Iterable

from kedro.pipeline import Node, Pipeline

from diffusion_link.pipelines.decoder_training.nodes import (
    collect_generated_captions,
    generate_captions,
    plot_training_curves,
    train_decoder,
    training_metrics,
)
from diffusion_link.pipelines.decoder_training.params import VARIANTS

SHARED = {"bridged_embeddings", "captions"}
SETTINGS = "params:decoder_training.settings"


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
                    SETTINGS,
                    "decoder_training_state",
                ],
                ["decoder", "training_history"],
                name="train_decoder",
            ),
            Node(
                generate_captions,
                ["decoder", "bridged_embeddings", "params:variant", SETTINGS],
                "generated_captions",
                name="generate_captions",
            ),
        ]
    )


def variant_pipeline(name: str) -> Pipeline:
    """The template under the namespace ``name``, reading ``decoder_training.variants.<name>``."""
    return Pipeline(
        one_variant(),
        namespace=name,
        inputs=SHARED,
        parameters={
            "params:variant": f"params:decoder_training.variants.{name}",
            SETTINGS: SETTINGS,
        },
    )


def create_pipeline(variants: Iterable[str] = tuple(VARIANTS), **kwargs) -> Pipeline:
    """The variants ``variants`` (default: every one, in the report's order), then collected."""
    names = list(dict.fromkeys(variants))
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise ValueError(f"unknown decoder_training variants {unknown}; known: {list(VARIANTS)}")
    if not names:
        return Pipeline([])
    collect = Pipeline(
        [
            Node(
                collect_generated_captions,
                [f"{name}.generated_captions" for name in names],
                "generated_captions",
                name="collect_generated_captions",
            ),
            Node(
                plot_training_curves,
                [f"{name}.training_history" for name in names],
                ["decoder_training_curves", "decoder_training_history"],
                name="plot_decoder_training_curves",
            ),
            Node(
                training_metrics,
                "decoder_training_history",
                "decoder_training_metrics",
                name="decoder_training_metrics",
            ),
        ]
    )
    return sum((variant_pipeline(name) for name in names), Pipeline([])) + collect
