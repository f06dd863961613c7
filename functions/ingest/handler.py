"""Ingest Lambda: uplink Kinesis stream → validate, dedupe, store (thin handler).

Triggered by the event source mapping with ReportBatchItemFailures: the failed record ids
returned here make Lambda retry from the first failed record (bisecting on repeated error,
then the on-failure destination), so a storage outage loses nothing.
"""

from __future__ import annotations

import base64
import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.metrics import PowertoolsIngestMetrics
from shared.dal.archive import S3Quarantine, S3RawArchive
from shared.dal.device_directory import DynamoDeviceDirectory
from shared.dal.telemetry_store import DynamoTelemetryStore
from shared.domain.telemetry.ingest import IngestService, StreamRecord
from shared.settings import get_settings

logger = Logger(service="ingest")


@cache
def _metrics() -> Metrics:
    return Metrics(namespace=get_settings().metrics_namespace, service="ingest")


@cache
def service() -> IngestService:
    """The wired service, built on first use (cold start) and kept for the warm container."""
    return IngestService(
        directory=DynamoDeviceDirectory(),
        store=DynamoTelemetryStore(),
        archive=S3RawArchive(),
        quarantine=S3Quarantine(),
        metrics=PowertoolsIngestMetrics(_metrics()),
        clock_ms=lambda: int(time.time() * 1000),
    )


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    records = [
        StreamRecord(record_id=r.kinesis.sequence_number, data=base64.b64decode(r.kinesis.data))
        for r in KinesisStreamEvent(event).records
    ]
    result = service().process(records)
    _metrics().flush_metrics()
    logger.info(
        "ingest batch",
        extra={
            "records": len(records),
            "stored": result.stored,
            "duplicates": result.duplicates,
            "quarantined": result.quarantined,
            "failed": len(result.failed_record_ids),
            "quarantine_reasons": result.quarantine_reasons,
        },
    )
    return {"batchItemFailures": [{"itemIdentifier": rid} for rid in result.failed_record_ids]}
