"""The paper's own numbers, shown beside this run's in the report (never computed here)."""

from __future__ import annotations

from pydantic import Field, PositiveInt
from pydantic.dataclasses import dataclass

from diffusion_link.config import STRICT
from diffusion_link.core.bridges import BridgeName
from diffusion_link.metrics.gap_tables import Table1Row


@dataclass(frozen=True, config=STRICT)
class PaperReference:
    """The paper's own numbers (AudioCaps test, LAION-CLAP): shown beside this run's only."""

    source: str
    n_test_clips: PositiveInt
    n_train_captions: PositiveInt
    table_1: dict[Table1Row, dict[BridgeName, float]]
    table_2: dict[int, float]
    table_4: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict)
    """Tables 3-4 (captioning): mode -> bridge -> metric."""
