"""Ingest metrics through Powertools (CloudWatch embedded metric format on stdout)."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit


class PowertoolsIngestMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def count(self, name: str, value: int = 1) -> None:
        if value:
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
