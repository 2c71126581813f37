"""What a run records in MLflow as metrics: its training curves and the report's numbers.

Pure functions from the pipelines' own outputs to kedro-mlflow's metrics format,
``{name: [{"step": s, "value": v}, ...]}`` (:class:`~diffusion_link.datasets.MlflowMetricsBatchDataset`
logs them). A name keeps the report's or history's own words, joined by dots, with any
character MLflow refuses in a metric name replaced by ``_``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

MetricsHistory = dict[str, list[dict[str, float]]]

# The sections of report.json whose numbers are metrics (the rest is what the run was).
REPORT_SECTIONS = ("modality_gap", "s_star_sweep", "captioning", "training")
_REFUSED = re.compile(r"[^\w\-. /]")  # MLflow: alphanumerics, _ - . space /


def metric_name(*parts: object) -> str:
    """The dotted metric name of ``parts``, with characters MLflow refuses replaced by ``_``."""
    return _REFUSED.sub("_", ".".join(str(part) for part in parts))


def history_metrics(history: pd.DataFrame, key: str) -> MetricsHistory:
    """Each numeric column of a training ``history`` as a step-indexed metric per value of
    its ``key`` column (a bridge, a decoder variant): ``<value>.<column>``. Empty cells (a
    column a row does not have, e.g. validation figures between evaluations) are skipped."""
    metrics: MetricsHistory = {}
    columns = [c for c in history.select_dtypes("number").columns if c not in ("step", key)]
    for row in history.itertuples(index=False):
        record = row._asdict()
        for column in columns:
            value = record[column]
            if pd.notna(value) and math.isfinite(value):
                metrics.setdefault(metric_name(record[key], column), []).append(
                    {"step": int(record["step"]), "value": float(value)}
                )
    return metrics


def report_metrics(report: Mapping[str, Any]) -> MetricsHistory:
    """Every finite number of report.json's result sections (:data:`REPORT_SECTIONS`), under
    its dotted path (``modality_gap.diffusion_link.matched_audio_text``...), at step 0.
    Booleans are not metrics; ``None`` (an unavailable number) is left out."""
    metrics: MetricsHistory = {}

    def visit(value: Any, path: tuple[str, ...]) -> None:
        if isinstance(value, Mapping):
            for key, child in value.items():
                visit(child, (*path, str(key)))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value):
                metrics[metric_name(*path)] = [{"step": 0, "value": float(value)}]

    for section in REPORT_SECTIONS:
        visit(report.get(section, {}), (section,))
    return metrics
