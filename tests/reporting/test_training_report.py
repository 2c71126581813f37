"""The report's training section: steps, kept weights, validation figures, convergence."""

import numpy as np
import pandas as pd

from diffusion_link.core.validation import VALIDATION_METRICS
from diffusion_link.reporting.training_report import training_markdown, training_summary


def history(bridge: str, values: list[float], kept: list[int]) -> pd.DataFrame:
    steps = [100 * (i + 1) for i in range(len(values))]
    losses = pd.DataFrame({"step": steps, "loss": np.linspace(1, 0.1, len(values))})
    evaluations = pd.DataFrame({"step": steps, "kept_step": kept})
    for metric in VALIDATION_METRICS:
        evaluations[metric] = values
    return pd.concat([losses, evaluations], ignore_index=True).assign(bridge=bridge)


def test_summary_reads_the_kept_step_and_applies_the_rule():
    plateau = history("diffusion_link", [0.3, 0.5, 0.6, 0.61, 0.612], [100, 200, 300, 400, 400])
    rising = history("diffgap", [0.1, 0.2, 0.3, 0.4, 0.5], [100, 200, 300, 400, 500])
    untrained = pd.DataFrame({"step": [10], "loss": [1.0], "bridge": ["c3"]})
    summary = training_summary(pd.concat([plateau, rising, untrained], ignore_index=True))
    link = summary["diffusion_link"]
    assert link["steps"] == 500 and link["kept_step"] == 400 and link["converged"] is True
    assert link["validation"]["val_matched_audio_text"] == 0.61  # at the kept step
    assert summary["diffgap"]["converged"] is False
    assert summary["c3"] == {"steps": 10, "kept_step": None, "validation": {}, "converged": None}
    lines = training_markdown(summary, {"diffusion_link": "DL"}, "rule.", simulated=True)
    assert "| DL | 500 | 400 | 0.610 | 0.610 | 0.610 | 0.610 | yes |" in lines
    assert any("synthetic gap" in line for line in lines)
