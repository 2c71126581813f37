"""Base of the Kedro datasets for models saved as a folder by ``save_pretrained``."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, Generic, TypeVar

from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

Model = TypeVar("Model")


class PretrainedFolderDataset(AbstractVersionedDataset[Model, Model], Generic[Model]):
    """A model that writes itself with ``save_pretrained(folder)`` (atomically) to a local folder.

    Subclasses implement ``load``. Versioned folders are never overwritten.
    """

    def __init__(
        self, filepath: str, version: Version | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        self.metadata = metadata
        super().__init__(filepath=PurePosixPath(filepath), version=version)

    def save(self, data: Model) -> None:
        """Save ``data`` into this version's folder with its ``save_pretrained``."""
        data.save_pretrained(Path(self._get_save_path()))

    def _exists(self) -> bool:
        try:
            path = self._get_load_path()
        except DatasetError:
            return False
        return Path(path).is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "version": self._version}
