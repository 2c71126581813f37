"""A read-only Kedro dataset: where the latest trained version of each named model lives.

The versioned model entries (``{bridge}.model``, ``{variant}.decoder``) save each model to
``<root>/<name>/<version>/<name>/``; which name a ``captioning`` run needs is a parameter, so
the node gets this index of the folders and picks the model by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError


@dataclass(frozen=True)
class ModelFolders:
    """The trained versions under ``root`` (``<root>/<name>/<version>/<name>/``)."""

    root: Path

    def latest(self, name: str) -> tuple[Path, str]:
        """The folder of ``name``'s latest complete version, and that version.

        Versions are Kedro's sortable time stamps; a folder still being written has another
        name (``.<name>.partial-*``), so only complete versions are found.
        """
        versions = sorted(
            (p for p in (self.root / name).glob(f"*/{name}") if p.is_dir()), reverse=True
        )
        if not versions:
            raise FileNotFoundError(
                f"no trained {name!r} under {self.root / name}: train it first, or give its folder"
            )
        return versions[0], versions[0].parent.name

    def choose(self, name: str, folder: str | Path | None) -> tuple[Path, str]:
        """``folder`` when given (version ``"explicit"``), else ``name``'s latest version."""
        if folder is not None:
            return Path(folder), "explicit"
        return self.latest(name)


class ModelFoldersDataset(AbstractDataset[None, ModelFolders]):
    """Loads the :class:`ModelFolders` index of ``filepath``; reads no weights, saves nothing.

    Args:
        filepath: the folder of a versioned model entry's versions, without its name (e.g.
            ``data/06_models/bridges`` for ``data/06_models/bridges/{bridge}``).
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> ModelFolders:
        """The index of the trained versions under ``filepath``."""
        return ModelFolders(self._filepath)

    def save(self, data: None) -> None:
        """Refused: models are saved by their own catalog entries."""
        raise DatasetError("ModelFoldersDataset is read-only: models save through their entries")

    def _exists(self) -> bool:
        return self._filepath.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
