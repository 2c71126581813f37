"""A figure dataset for pipeline tests: the project's MatplotlibDataset that also keeps the
figure it saved, so a test can read the figure object back."""

from __future__ import annotations

from matplotlib.figure import Figure

from diffusion_link.datasets import AtomicMatplotlibDataset


class KeptFigure(AtomicMatplotlibDataset):
    """The project's figure dataset, also keeping the saved figure for the test to read."""

    def save(self, data: Figure) -> None:
        super().save(data)
        self.figure = data

    def load(self) -> Figure:
        return self.figure
