"""Kedro datasets this project needs that kedro-datasets does not provide."""

from diffusion_link.datasets.atomic_save import (
    AtomicCSVDataset,
    AtomicJSONDataset,
    AtomicMatplotlibDataset,
    AtomicParquetDataset,
    AtomicTextDataset,
)
from diffusion_link.datasets.bridge_checkpoint import BridgeCheckpointDataset, TrainingStateDataset
from diffusion_link.datasets.decoder_checkpoint import DecoderCheckpointDataset
from diffusion_link.datasets.embedding_table import EmbeddingTableDataset
from diffusion_link.datasets.mlflow_metrics import MlflowMetricsBatchDataset
from diffusion_link.datasets.model_folders import ModelFolders, ModelFoldersDataset

__all__ = [
    "AtomicCSVDataset",
    "AtomicJSONDataset",
    "AtomicMatplotlibDataset",
    "AtomicParquetDataset",
    "AtomicTextDataset",
    "BridgeCheckpointDataset",
    "DecoderCheckpointDataset",
    "EmbeddingTableDataset",
    "MlflowMetricsBatchDataset",
    "ModelFolders",
    "ModelFoldersDataset",
    "TrainingStateDataset",
]
