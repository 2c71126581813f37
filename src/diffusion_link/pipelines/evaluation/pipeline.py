"""Wiring of ``evaluation``: gap metrics of every bridge, the s* table, the UMAP, the per-clip
caption results, the provenance and the report."""

from kedro.pipeline import Node, Pipeline

from diffusion_link.core.bridges import BRIDGES
from diffusion_link.pipelines.evaluation.nodes import (
    PROVENANCE_PARAMETERS,
    PROVENANCE_TABLES,
    build_report,
    captioning_metrics,
    draw_agreements,
    modality_gap_metrics,
    plot_umap,
    run_provenance,
    s_star_table,
    summarise_training,
)
from diffusion_link.reporting.tracked_metrics import report_metrics


def create_pipeline(**kwargs: object) -> Pipeline:
    """The evaluation: Tables 1-4 of every bridge, Figure 2, draw agreement, training, the
    per-clip caption results, provenance, report."""
    return Pipeline(
        [
            Node(
                modality_gap_metrics,
                [
                    "text_embeddings",
                    "bridged_embeddings",
                    "params:evaluation",
                    *(f"{name}.model" for name in BRIDGES),
                ],
                "modality_gap_metrics",
                name="modality_gap_metrics",
            ),
            Node(
                s_star_table,
                ["text_embeddings", "s_star_sweep", "diffusion_link.model"],
                "s_star_table",
                name="s_star_table",
            ),
            Node(
                plot_umap,
                [
                    "audio_embeddings",
                    "text_embeddings",
                    "bridged_embeddings",
                    "params:evaluation",
                    "diffusion_link.model",
                ],
                "umap_figure",
                name="plot_umap",
            ),
            Node(
                captioning_metrics,
                ["generated_captions", "captions", "params:evaluation"],
                ["captioning_metrics", "caption_results"],
                name="captioning_metrics",
            ),
            Node(
                draw_agreements,
                [
                    "audio_embeddings",
                    "params:evaluation",
                    *(f"{name}.model" for name in BRIDGES),
                ],
                "draw_agreement",
                name="draw_agreement",
            ),
            Node(
                summarise_training,
                ["bridge_training_history", "params:evaluation"],
                "training_summary",
                name="summarise_training",
            ),
            Node(
                run_provenance,
                [
                    "run_context",
                    "captioning_metrics",
                    *PROVENANCE_TABLES,
                    *(f"params:{group}" for group in PROVENANCE_PARAMETERS),
                ],
                "provenance",
                name="provenance",
            ),
            Node(
                build_report,
                [
                    "modality_gap_metrics",
                    "s_star_table",
                    "text_embeddings",
                    "audio_embeddings",
                    "params:evaluation",
                    "captioning_metrics",
                    "training_summary",
                    "draw_agreement",
                    "caption_results",
                    "provenance",
                ],
                ["report_md", "report_json"],
                name="build_report",
            ),
            Node(report_metrics, "report_json", "evaluation_metrics", name="evaluation_metrics"),
        ]
    )
