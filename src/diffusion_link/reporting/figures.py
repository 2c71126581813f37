"""Figures of training: each trained bridge's loss terms and validation figures against the step."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from diffusion_link.core.validation import VALIDATION_METRICS

_NOT_LOSSES = {"step", "lr", "bridge", "kept_step", *VALIDATION_METRICS}


def training_curves(histories: list[pd.DataFrame]) -> Figure:
    """One column per bridge: its loss terms (log scale, top) and, when it was validated, the
    ``val_*`` figures with the step whose EMA weights were kept marked (bottom)."""
    columns = max(1, len(histories))
    figure = Figure(figsize=(5 * columns, 6.4), layout="constrained")
    axes = figure.subplots(2, columns, squeeze=False)
    for column, history in enumerate(histories):
        losses, validation = axes[0][column], axes[1][column]
        for name in sorted(set(history.columns) - _NOT_LOSSES):
            rows = history.dropna(subset=[name])
            losses.plot(rows["step"], rows[name], label=name)
        bridge = str(history["bridge"].iloc[0])
        losses.set(title=bridge, xlabel="step", yscale="log")
        losses.legend(fontsize="small")
        evaluated = [m for m in VALIDATION_METRICS if m in history.columns]
        for name in evaluated:
            rows = history.dropna(subset=[name])
            validation.plot(rows["step"], rows[name], marker=".", label=name[4:])
        if evaluated:
            kept = history["kept_step"].dropna().iloc[-1]
            validation.axvline(kept, color="grey", linestyle=":", label=f"kept (step {kept:.0f})")
            validation.legend(fontsize="small")
        validation.set(title=f"{bridge}: validation", xlabel="step")
        if not evaluated:
            validation.text(0.5, 0.5, "not validated", ha="center", transform=validation.transAxes)
    return figure
