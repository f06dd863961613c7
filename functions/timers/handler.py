"""Timers Lambda (EventBridge schedule, every minute; locally the local stack's clock):
notification escalations that are due, commands whose ack is overdue, devices gone silent.

Each sweep is independent and idempotent; one failing sweep does not stop the others, but
the invocation fails afterwards so the failure is visible (errors alarm) and retried.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import services

logger = Logger(service="timers")


def run_sweeps(now_ms: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    errors: list[str] = []

    def sweep(name: str, fn: Any) -> None:
        try:
            counts[name] = int(fn())
        except Exception:
            logger.exception("sweep %s failed", name)
            errors.append(name)

    sweep("commands_overdue", lambda: len(services.command_service().sweep(now_ms)))
    sweep("escalations", lambda: services.notification_service().escalate_due(now_ms))
    sweep("silence_alarms", lambda: services.alarm_pipeline().sweep_silence(now_ms, services.device_directory().get))
    if errors:
        raise RuntimeError(f"sweeps failed: {', '.join(errors)}")
    return counts


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    counts = run_sweeps(int(time.time() * 1000))
    logger.info("timers", extra=counts)
    return counts
