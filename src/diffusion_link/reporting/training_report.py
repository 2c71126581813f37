"""What the report says about training: each bridge's steps, kept weights, validation figures,
and whether it converged by the rule of :func:`diffusion_link.core.validation.converged`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from diffusion_link.core.validation import VALIDATION_METRICS, converged


def training_summary(
    history: pd.DataFrame,
    metric: str = "val_matched_audio_text",
    last_fraction: float = 0.2,
    tolerance: float = 0.01,
) -> dict[str, dict[str, Any]]:
    """Per bridge of a ``bridge_training_history`` table: ``steps`` trained, ``kept_step``
    (whose EMA weights were kept), the ``validation`` figures at that step, and ``converged``
    (None when the bridge was not validated)."""
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
                converged=converged(evaluated["step"], evaluated[metric], last_fraction, tolerance),
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
