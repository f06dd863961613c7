"""Notifications Lambda: alarm events (EventBridge → SQS) → in-app, e-mail, SMS, voice (thin handler).

Each SQS body is an EventBridge event ``{"source": "voltops.alarms", "detail-type": ...,
"detail": AlarmEvent}``. Partial batch failures (powertools ``BatchProcessor``): a record that
failed for a transient reason (storage, console push) is reported and redelivered, later
records are not held back; every send is deduplicated, so a redelivery never sends twice. A
malformed body never gets better by retrying: it is logged with the reason and dropped (not
reported), instead of cycling until the DLQ.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions import services
from shared.contracts.alarms import ALARM_EVENT_SOURCE, AlarmEvent, AlarmEventType

logger = Logger(service="notifications")


class MalformedEvent(ValueError):
    """The body is not an alarm event this function understands (permanent)."""


def parse_alarm_event(body: str) -> AlarmEvent:
    """The ``AlarmEvent`` inside an EventBridge envelope; :class:`MalformedEvent` with the reason."""
    try:
        envelope = json.loads(body)
    except ValueError as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from exc
    if not isinstance(envelope, dict):
        raise MalformedEvent("body is not a JSON object")
    if envelope.get("source") != ALARM_EVENT_SOURCE:
        raise MalformedEvent(f"source is {envelope.get('source')!r}, expected {ALARM_EVENT_SOURCE!r}")
    detail_type = envelope.get("detail-type")
    if detail_type not in {t.value for t in AlarmEventType}:
        raise MalformedEvent(f"unknown detail-type {detail_type!r}")
    try:
        event = AlarmEvent.model_validate(envelope.get("detail"))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "detail"
        raise MalformedEvent(f"detail is not an AlarmEvent: {where}: {first['msg']}") from exc
    if event.type.value != detail_type:
        raise MalformedEvent(f"detail-type {detail_type!r} does not match detail.type {event.type.value!r}")
    return event


def record_handler(record: SQSRecord) -> None:
    try:
        event = parse_alarm_event(record.body)
    except MalformedEvent as exc:
        logger.warning("malformed alarm event dropped", extra={"message_id": record.message_id, "reason": str(exc)})
        return
    outcome = services.notification_service().handle_event(event, time.time_ns() // 1_000_000)
    logger.info(
        "alarm event notified",
        extra={
            "event_id": event.event_id,
            "type": event.type.value,
            "alarm_id": event.alarm.alarm_id,
            "escalation": outcome.escalation,
            "results": [f"{d.channel.value}:{d.recipient}:{d.result}" for d in outcome.deliveries],
        },
    )


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    # A fresh processor per invocation: it keeps per-batch state.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
