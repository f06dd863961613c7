"""Command records: what the platform sent to a device, why, and what became of it.

The wire message is :class:`shared.contracts.telemetry.Command`; this is the platform's record
of it (SLW-CTL-1/2, SLW-IF-1): one per command id, tracked sent → acked/rejected/failed/expired.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from shared.contracts.alarms import ParamValue, TriggerSample
from shared.contracts.telemetry import CommandName, Contract


class CommandStatus(StrEnum):
    PENDING = "pending"  # recorded, not yet on the wire (a publish failure leaves it here; retried)
    SENT = "sent"  # published to the device's command topic, QoS 1
    ACKED = "acked"  # the device executed it
    REJECTED = "rejected"  # the device refused it (reason code)
    FAILED = "failed"  # the device tried and failed, or publishing failed for good
    EXPIRED = "expired"  # no ack before expiry, or the device reported it arrived too late


FINAL_STATUSES = frozenset({CommandStatus.ACKED, CommandStatus.REJECTED, CommandStatus.FAILED, CommandStatus.EXPIRED})


class CommandOrigin(Contract):
    """What caused the command: an operator (with a reason) or an alarm rule (with its evidence)."""

    type: Literal["operator", "alarm"]
    user: str | None = None
    alarm_id: str | None = None
    rule_id: str | None = None
    rule_version: str | None = None
    samples: list[TriggerSample] = Field(default_factory=list)


class CommandRecord(Contract):
    command_id: str
    tenant_id: str
    thing_name: str
    name: CommandName
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    reason: str = Field(max_length=500)
    origin: CommandOrigin
    idempotency_key: str
    issued_at_ms: int
    expires_at_ms: int
    ack_deadline_ms: int = Field(description="No ack by then: the alarm escalates (automatic commands).")
    status: CommandStatus
    sent_at_ms: int | None = None
    acked_at_ms: int | None = None
    ack_status: str | None = None
    ack_reason: str | None = None
    detail: dict[str, ParamValue] = Field(default_factory=dict)
    updated_at_ms: int
