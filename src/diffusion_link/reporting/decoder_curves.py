"""The caption decoders' training figure: loss per optimiser step and validation loss."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure


def training_curves_figure(histories: Sequence[pd.DataFrame]) -> Figure:
    """One panel per variant: training loss per step (and its running mean), validation loss.

    Each history has the columns step, loss, val_loss (NaN where not computed) and variant.
    """
    figure = Figure(figsize=(5 * max(1, len(histories)), 3.6), layout="constrained")
    axes = figure.subplots(1, max(1, len(histories)), squeeze=False)[0]
    for axis, history in zip(axes, histories, strict=False):
        window = max(1, len(history) // 20)
        smooth = history["loss"].rolling(window, min_periods=1).mean()
        axis.plot(history["step"], history["loss"], color="tab:blue", alpha=0.3, lw=0.8)
        axis.plot(history["step"], smooth, color="tab:blue", label=f"train (mean of {window})")
        val = history.dropna(subset=["val_loss"])
        axis.plot(val["step"], val["val_loss"], "o-", color="tab:orange", label="validation")
        axis.set(title=history["variant"].iloc[0], xlabel="optimiser step", ylabel="caption CE")
        axis.legend(fontsize="small")
    return figure
