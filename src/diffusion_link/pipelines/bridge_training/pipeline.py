"""Wiring of ``bridge_training``: one train -> apply template per bridge (namespace)."""

from kedro.pipeline import Node, Pipeline

from diffusion_link.core.bridges import BRIDGES
from diffusion_link.pipelines.bridge_training.nodes import (
    apply_bridge,
    collect_bridged_embeddings,
    plot_training_curves,
    sweep_s_star,
    train_bridge,
    training_metrics,
)

SHARED = {"audio_embeddings", "text_embeddings"}


def one_bridge() -> Pipeline:
    """Train one bridge and bridge every split with it (namespaced per bridge)."""
    return Pipeline(
        [
            Node(
                train_bridge,
                [
                    "audio_embeddings",
                    "text_embeddings",
                    "training_state",
                    "params:bridge",
                    "params:bridge_training.settings",
                ],
                ["model", "training_history"],
                name="train",
            ),
            Node(
                apply_bridge,
                [
                    "model",
                    "audio_embeddings",
                    "text_embeddings",
                    "params:bridge",
                    "params:bridge_training.settings",
                ],
                "bridged_embeddings",
                name="apply",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """One train -> apply namespace per registered bridge, then the shared nodes."""
    bridges = sum(
        (
            Pipeline(
                one_bridge(),
                namespace=name,
                inputs=SHARED,
                parameters={
                    "params:bridge": f"params:bridge_training.bridges.{name}",
                    "params:bridge_training.settings": "params:bridge_training.settings",
                },
            )
            for name in BRIDGES
        ),
        Pipeline([]),
    )
    return bridges + Pipeline(
        [
            Node(
                collect_bridged_embeddings,
                [f"{name}.bridged_embeddings" for name in BRIDGES],
                "bridged_embeddings",
                name="collect_bridged_embeddings",
            ),
            Node(
                plot_training_curves,
                [f"{name}.training_history" for name in BRIDGES],
                ["bridge_training_curves", "bridge_training_history"],
                name="plot_training_curves",
            ),
            Node(
                training_metrics,
                "bridge_training_history",
                "bridge_training_metrics",
                name="bridge_training_metrics",
            ),
            Node(
                sweep_s_star,
                ["diffusion_link.model", "audio_embeddings", "params:bridge_training.settings"],
                "s_star_sweep",
                name="sweep_s_star",
            ),
        ]
    )
