"""Wiring of the ``captioning`` pipeline (not part of ``__default__``: it needs your audio)."""

from kedro.pipeline import Node, Pipeline

from diffusion_link.pipelines.captioning.nodes import caption_audio_folder


def create_pipeline(**kwargs: object) -> Pipeline:
    """The audio folder's captions, by the chosen trained bridge and decoder."""
    return Pipeline(
        [
            Node(
                caption_audio_folder,
                ["trained_bridge_folders", "trained_decoder_folders", "params:captioning"],
                "captions_out",
                name="caption_audio_folder",
            )
        ]
    )
