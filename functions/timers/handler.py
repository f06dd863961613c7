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
from shared.contracts.alarms import MIN_SILENCE_S
from shared.dal.alarms import shards

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
    pipeline = services.alarm_pipeline()
    directory = services.device_directory()
    min_after = MIN_SILENCE_S  # the shortest silence a rule may set; the engine decides per rule
    sweep(
        "silence_alarms",
        lambda: sum(pipeline.sweep_silence(s, now_ms, min_after, directory.get) for s in shards()),
    )
    if errors:
        raise RuntimeError(f"sweeps failed: {', '.join(errors)}")
    return counts


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    counts = run_sweeps(int(time.time() * 1000))
    logger.info("timers", extra=counts)
    return counts
