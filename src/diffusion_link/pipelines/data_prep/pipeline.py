"""Wiring of ``data_prep``: read captions, probe audio, build the manifest."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from .nodes import build_manifest, probe_audio, read_captions


def create_pipeline(**kwargs) -> Pipeline:
    """Three nodes; the outputs are ``clips``, ``captions`` and ``data_quality``."""
    return Pipeline(
        [
            Node(
                read_captions,
                "params:data_prep",
                ["audiocaps_caption_rows", "audiocaps_text_quality"],
                name="read_captions",
            ),
            Node(
                probe_audio,
                ["audiocaps_caption_rows", "params:data_prep"],
                ["audiocaps_audio_probes", "audiocaps_audio_quality"],
                name="probe_audio",
            ),
            Node(
                build_manifest,
                [
                    "audiocaps_caption_rows",
                    "audiocaps_text_quality",
                    "audiocaps_audio_probes",
                    "audiocaps_audio_quality",
                    "params:data_prep",
                ],
                ["clips", "captions", "data_quality"],
                name="build_manifest",
            ),
        ]
    )
