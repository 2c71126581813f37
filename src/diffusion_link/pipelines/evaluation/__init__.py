"""The ``evaluation`` pipeline: the paper's Tables 1-2 and Figure 2, and one report."""

from diffusion_link.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
