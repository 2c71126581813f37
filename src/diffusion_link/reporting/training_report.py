"""What the report says about training: each bridge's steps, kept weights, validation figures,
and whether it converged by the rule of :func:`diffusion_link.core.validation.converged`."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import Field
from pydantic.dataclasses import dataclass

from diffusion_link.config import STRICT
from diffusion_link.core.validation import VALIDATION_METRICS, converged


@dataclass(frozen=True, config=STRICT)
class ConvergenceRule:
    """The convergence rule: ``metric`` moves by less than ``tolerance`` (max - min) over the
    evaluations in the last ``last_fraction`` of a bridge's training."""

    metric: Literal[VALIDATION_METRICS] = "val_matched_audio_text"
    last_fraction: float = Field(0.2, gt=0.0, le=1.0)
    tolerance: float = Field(0.01, gt=0.0)

    def describe(self) -> str:
        """The rule in words, as the report states it."""
        return (
            f"Converged: `{self.metric}` moves by less than {self.tolerance} (max - min) over the "
            f"evaluations in the last {self.last_fraction:.0%} of the bridge's training. "
            "Validation figures are those of the kept EMA weights."
        )


def training_summary(
    history: pd.DataFrame, rule: ConvergenceRule | None = None
) -> dict[str, dict[str, Any]]:
    """Per bridge of a ``bridge_training_history`` table: ``steps`` trained, ``kept_step``
    (whose EMA weights were kept), the ``validation`` figures at that step, and ``converged``
    by ``rule`` (default: :class:`ConvergenceRule`'s; None when the bridge was not validated)."""
    rule = rule or ConvergenceRule()
    metric = rule.metric
    summary: dict[str, dict[str, Any]] = {}
    for bridge, rows in history.groupby("bridge", sort=False):
        entry: dict[str, Any] = {
            "steps": int(rows["step"].max()),
            "kept_step": None,
            "validation": {},
            "converged": None,
        }
        evaluated = rows.dropna(subset=[metric]) if metric in rows else rows.iloc[:0]
        if not evaluated.empty:
            kept = int(evaluated["kept_step"].iloc[-1])
            kept_row = evaluated[evaluated["step"] == kept].iloc[-1]
            entry.update(
                kept_step=kept,
                validation={m: float(kept_row[m]) for m in VALIDATION_METRICS},
                converged=converged(
                    evaluated["step"], evaluated[metric], rule.last_fraction, rule.tolerance
                ),
            )
        summary[str(bridge)] = entry
    return summary


def training_markdown(
    summary: dict[str, dict[str, Any]],
    labels: dict[str, str],
    rule: str,
    simulated: bool,
) -> list[str]:
    """The report's "Training" section: one row per trained bridge."""
    lines = ["## Training (bridge_training, validation split)", "", rule, ""]
    if simulated:
        lines += [
            "On simulated audio a converged bridge has converged on this synthetic gap only; "
            "real CLAP embeddings at paper scale need their own check (the same curves are "
            "written there).",
            "",
        ]
    header = ["bridge", "steps", "kept step", *(m[4:] for m in VALIDATION_METRICS), "converged"]
    rows = []
    for bridge, entry in summary.items():
        figures = entry["validation"]
        rows.append(
            [
                labels.get(bridge, bridge),
                str(entry["steps"]),
                "n/a" if entry["kept_step"] is None else str(entry["kept_step"]),
                *(
                    f"{round(figures[m], 3) + 0.0:.3f}" if m in figures else "n/a"
                    for m in VALIDATION_METRICS
                ),
                {True: "yes", False: "**no**", None: "not validated"}[entry["converged"]],
            ]
        )
    lines += [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]
    return lines
