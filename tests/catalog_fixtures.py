"""Catalog pieces for tests that run a pipeline on an in-memory catalog."""

from __future__ import annotations

from kedro.io import MemoryDataset


class KeptDataset(MemoryDataset):
    """A MemoryDataset the runner cannot release, so a test can read intermediate outputs."""

    def _release(self) -> None:
        pass
