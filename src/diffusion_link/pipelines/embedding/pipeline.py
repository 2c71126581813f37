"""Wiring of the ``embedding`` pipeline."""

from kedro.pipeline import Node, Pipeline

from diffusion_link.pipelines.embedding.nodes import (
    combine_text_embeddings,
    encode_shards,
    fit_gap_simulator_node,
    make_audio_embeddings,
)


def create_pipeline(**kwargs: object) -> Pipeline:
    """Shards of captions (and audio) to embeddings, combined; simulated audio where configured."""
    return Pipeline(
        [
            Node(
                encode_shards,
                ["clips", "captions", "params:embedding"],
                "embedding_shards",
                name="encode_shards",
            ),
            Node(
                combine_text_embeddings,
                ["embedding_shards", "captions", "params:embedding"],
                "text_embeddings",
                name="combine_text_embeddings",
            ),
            Node(
                fit_gap_simulator_node,
                ["text_embeddings", "params:embedding"],
                "gap_simulator_fit",
                name="fit_gap_simulator",
            ),
            Node(
                make_audio_embeddings,
                [
                    "embedding_shards",
                    "clips",
                    "text_embeddings",
                    "gap_simulator_fit",
                    "params:embedding",
                ],
                "audio_embeddings",
                name="make_audio_embeddings",
            ),
        ],
        namespace="embedding",
        inputs={"clips", "captions"},
        outputs={"embedding_shards", "text_embeddings", "gap_simulator_fit", "audio_embeddings"},
        parameters={"params:embedding"},
    )
