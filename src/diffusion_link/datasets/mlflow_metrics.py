"""kedro-mlflow's metrics history dataset, logged in batches.

``kedro_mlflow.io.metrics.MlflowMetricsHistoryDataset`` logs one value per request, about
8 ms each on a local SQLite store: a default run's training curves (thousands of values) would
take tens of seconds. This subclass logs the same metrics, with the same names, prefix, steps
and on/off switch, in requests of MLflow's largest batch.
"""

from __future__ import annotations

import time
from itertools import chain

from kedro.io import DatasetError
from kedro_mlflow.io.metrics import MlflowMetricsHistoryDataset
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import MAX_METRICS_PER_BATCH

MetricsHistory = dict[str, dict[str, float] | list[dict[str, float]]]


class MlflowMetricsBatchDataset(MlflowMetricsHistoryDataset):
    """``MlflowMetricsHistoryDataset`` whose save sends the values in batches.

    Give every catalog entry a ``prefix``: kedro-mlflow's hook replaces an entry without one by
    its own class.
    """

    def _save(self, data: MetricsHistory) -> None:
        """Log ``{name: {"value", "step"} | [{"value", "step"}, ...]}`` in the run."""
        if not self._logging_activated:
            return
        try:
            run_id = self.run_id
        except DatasetError as error:
            raise DatasetError(
                f"no MLflow run to log the metrics {sorted(data)[:3]}... in: save them "
                "during a tracked `kedro run`"
            ) from error
        stamp = int(time.time() * 1000)
        metrics = [
            Metric(key, float(value), stamp, int(step))
            for key, value, step in chain.from_iterable(
                self._build_args_list_from_metric_item(k, v) for k, v in data.items()
            )
        ]
        client = MlflowClient()
        for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metrics[start : start + MAX_METRICS_PER_BATCH])
