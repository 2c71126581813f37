"""Kedro datasets for trained bridges and for resumable training state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError

from diffusion_link.core.bridges import Bridge, load_bridge
from diffusion_link.core.training import TrainingStateStore
from diffusion_link.datasets.pretrained_folder import PretrainedFolderDataset


class BridgeCheckpointDataset(PretrainedFolderDataset[Bridge]):
    """A bridge saved with ``save_pretrained`` (safetensors + config.json) in a local folder."""

    def load(self) -> Bridge:
        """The saved bridge of this version, whatever its method."""
        return load_bridge(Path(self._get_load_path()))


class TrainingStateDataset(AbstractDataset[None, TrainingStateStore]):
    """Loads a handle on a training-state file that the training node reads and replaces.

    Training writes its state every N steps while the node runs, so the node receives the
    store rather than a loaded value; the path still lives in the catalog.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> TrainingStateStore:
        """The store the training loop reads and writes its state through."""
        return TrainingStateStore(self._filepath)

    def save(self, data: None) -> None:
        """Refused: the training loop writes the state itself."""
        raise DatasetError("training state is written by the training loop, not through save()")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
