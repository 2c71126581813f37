"""The decoders' training figure: one panel per variant, training and validation loss."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diffusion_link.reporting.decoder_curves import training_curves_figure


def _history(variant: str, steps: int, every: int) -> pd.DataFrame:
    step = np.arange(1, steps + 1)
    val = np.where(step % every == 0, 2.0 / step, np.nan)
    return pd.DataFrame(
        {"step": step, "loss": 3.0 / step, "lr": 1e-3, "val_loss": val, "variant": variant}
    )


def test_one_panel_per_variant_with_training_mean_and_validation_lines():
    figure = training_curves_figure([_history("zero_shot_none", 40, 10), _history("b", 6, 3)])
    assert [axis.get_title() for axis in figure.axes] == ["zero_shot_none", "b"]
    first, second = figure.axes
    assert [len(line.get_xdata()) for line in first.get_lines()] == [40, 40, 4]
    assert [len(line.get_xdata()) for line in second.get_lines()] == [6, 6, 2]
    assert first.get_legend().get_texts()[0].get_text() == "train (mean of 2)"
