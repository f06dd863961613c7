"""Alarms Lambda: the uplink Kinesis stream (a second consumer beside ingest) → rule
evaluation → alarms, protective commands, events (thin handler; ARC-3, LCM-AL-1).

It reads the same records as ingest with its own checkpoint, so alarms never wait for
history writes and a storage hiccup in ingest never delays a cut-off. Records ingest would
quarantine are skipped here (ingest keeps them with the reason). A device whose evaluation
fails makes the batch report its first record as failed: Lambda retries from there, and
everything already done is recognised (engine state, deterministic ids).
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import services
from shared.domain.telemetry.validation import DeviceInfo, Rejected, ValidMessage, decode_rule_output, validate

logger = Logger(service="alarms")


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    directory = services.device_directory()
    valid: list[tuple[DeviceInfo, ValidMessage]] = []
    first_record: dict[tuple[str, str], str] = {}
    skipped = 0
    for record in KinesisStreamEvent(event).records:
        try:
            msg = validate(decode_rule_output(base64.b64decode(record.kinesis.data)), directory)
        except Rejected:
            skipped += 1  # ingest quarantines it with the reason
            continue
        info = directory.get(msg.tenant_id, msg.thing_name)
        if info is None:  # pragma: no cover - validate() already checked it
            continue
        first_record.setdefault((msg.tenant_id, msg.thing_name), record.kinesis.sequence_number)
        valid.append((info, msg))
    result = services.alarm_pipeline().process(valid)
    logger.info(
        "alarm batch",
        extra={
            "messages": len(valid),
            "skipped_invalid": skipped,
            "evaluated": result.evaluated,
            "late": result.late,
            "raised": result.raised,
            "cleared": result.cleared,
            "commands": result.commands,
            "acks": result.acks,
            "state_writes": result.state_writes,
            "failed_devices": len(result.failed_devices),
        },
    )
    return {"batchItemFailures": [{"itemIdentifier": first_record[d]} for d in result.failed_devices]}
