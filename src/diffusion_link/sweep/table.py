"""A sweep's comparison table and plot: pure functions of the points and their runs' metrics.

One row per point: its overrides (under their short names), its MLflow run and whether it ran
or was skipped, and the headline metrics its run recorded (:data:`HEADLINES`, for the swept
bridge; a column only where some run has it), plus any chosen ``--metric``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from diffusion_link.sweep.grid import short_names

DEFAULT_BRIDGE = "diffusion_link"
BRIDGES_PREFIX = "bridge_training.bridges."
# Column -> MLflow metric name ({bridge}: the swept bridge). Table 1's matched audio->text and
# text->text cosines and audio->text R@1 (evaluation), Table 2 at s*=100 (evaluation), and the
# last validation a->t cosine logged while training (bridge_training).
HEADLINES = {
    "matched_audio_text": "evaluation.modality_gap.{bridge}.matched_audio_text",
    "matched_text_text": "evaluation.modality_gap.{bridge}.matched_text_text",
    "recall_at_1": "evaluation.modality_gap.{bridge}.recall_at_1",
    "s_star_100": "evaluation.s_star_sweep.100",
    "val_matched_audio_text": "bridge_training.{bridge}.val_matched_audio_text",
}


@dataclass(frozen=True)
class PointResult:
    """One point of a sweep: its overrides, its MLflow run, whether it ran now or was skipped
    (an earlier FINISHED run with the same digest), and its run's metrics (latest values)."""

    point: dict[str, Any]
    run_id: str
    skipped: bool
    metrics: dict[str, float]


def swept_bridge(keys: Sequence[str]) -> str:
    """The bridge the grid's keys configure (``bridge_training.bridges.<bridge>...``) when
    they name exactly one, else Diffusion-Link."""
    bridges = {
        k.removeprefix(BRIDGES_PREFIX).split(".")[0] for k in keys if k.startswith(BRIDGES_PREFIX)
    }
    return bridges.pop() if len(bridges) == 1 else DEFAULT_BRIDGE


def headline_metrics(bridge: str, extra: str | None = None) -> dict[str, str]:
    """Column -> MLflow metric name for the table: :data:`HEADLINES` for ``bridge``, and
    ``extra`` (a metric name, or one of the columns) when not among them."""
    columns = {column: name.format(bridge=bridge) for column, name in HEADLINES.items()}
    if extra is not None and extra not in columns and extra not in columns.values():
        columns[extra] = extra
    return columns


def metric_column(metric: str, columns: Mapping[str, str]) -> str:
    """The table column of ``metric`` (a column name, or the MLflow name of one)."""
    if metric in columns:
        return metric
    return next(column for column, name in columns.items() if name == metric)


def comparison_table(results: Sequence[PointResult], columns: Mapping[str, str]) -> pd.DataFrame:
    """One row per point: its overrides (short names), ``run_id``, ``status`` (ran/skipped),
    then each metric of ``columns`` (column -> MLflow name) that some run recorded."""
    names = short_names(list(results[0].point)) if results else {}
    present = [c for c, name in columns.items() if any(name in r.metrics for r in results)]
    rows = [
        {
            **{names[key]: value for key, value in result.point.items()},
            "run_id": result.run_id,
            "status": "skipped" if result.skipped else "ran",
            **{column: result.metrics.get(columns[column], math.nan) for column in present},
        }
        for result in results
    ]
    return pd.DataFrame(rows, columns=[*names.values(), "run_id", "status", *present])


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a GitHub markdown table (floats to 4 decimals, missing values as ``-``)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "-" if math.isnan(value) else f"{value:.4f}"
        return str(value).replace("|", "\\|")

    lines = [
        "| " + " | ".join(frame.columns) + " |",
        "|" + "|".join("---" for _ in frame.columns) + "|",
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)),
    ]
    return "\n".join(lines) + "\n"


def metric_plot(frame: pd.DataFrame, metric: str, against: str, others: Sequence[str]) -> Figure:
    """``metric`` against the swept column ``against``: one line per combination of the other
    swept columns ``others`` (numeric values on a numeric axis, any others as categories)."""
    figure = Figure(figsize=(6, 3.5), layout="constrained")
    axes = figure.subplots()
    numeric = pd.api.types.is_numeric_dtype(frame[against]) and not pd.api.types.is_bool_dtype(
        frame[against]
    )
    positions = {value: i for i, value in enumerate(dict.fromkeys(frame[against].map(str)))}
    groups = frame.groupby(list(others), sort=False) if others else [((), frame)]
    for values, group in groups:
        group = group.sort_values(against) if numeric else group
        x = group[against] if numeric else group[against].map(str).map(positions)
        label = ", ".join(f"{k}={v}" for k, v in zip(others, values, strict=True)) or metric
        axes.plot(x, group[metric], "o-", label=label)
    if not numeric:
        axes.set_xticks(list(positions.values()), list(positions))
    axes.set(xlabel=against, ylabel=metric, title=f"{metric} against {against}")
    axes.legend(fontsize="small")
    return figure
