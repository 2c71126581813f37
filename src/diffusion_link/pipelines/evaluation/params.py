"""``params:evaluation``: the settings of the evaluation pipeline, validated by Kedro at start-up.

Each nested setting is the typed config of the module that uses it (the separability probe,
Figure 2, the convergence rule, the paper's numbers); this model only gathers them.
"""

from __future__ import annotations

from pydantic import PositiveInt

from diffusion_link.config import StrictModel
from diffusion_link.metrics.gap_tables import Separability
from diffusion_link.reporting.paper import PaperReference
from diffusion_link.reporting.training_report import ConvergenceRule
from diffusion_link.reporting.umap_figure import UmapSettings


class EvaluationParams(StrictModel):
    """``params:evaluation``."""

    dataset_name: str
    split: str = "test"
    train_split: str = "train"
    recall_at: list[PositiveInt] = [1, 5, 10]
    linear_separability: Separability = Separability()
    umap: UmapSettings = UmapSettings()
    convergence: ConvergenceRule = ConvergenceRule()
    constant_caption_candidates: PositiveInt = 200  # training captions searched (baseline)
    paper: PaperReference
