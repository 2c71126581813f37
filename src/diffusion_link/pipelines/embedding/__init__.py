"""The ``embedding`` pipeline: frozen encoders turn clips and captions into embeddings."""

from diffusion_link.pipelines.embedding.pipeline import create_pipeline

__all__ = ["create_pipeline"]
