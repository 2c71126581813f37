"""Kedro datasets this project needs that kedro-datasets does not provide."""

from diffusion_link.datasets.embedding_table import EmbeddingTableDataset

__all__ = ["EmbeddingTableDataset"]
