"""Ports of the alarm service (implemented in ``shared.dal`` / ``shared.domain.commands``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from shared.contracts.alarms import Alarm, AlarmRule, AlarmStatus, TimelineEntry
from shared.contracts.commands import CommandOrigin, CommandRecord
from shared.contracts.devices import DeviceKind
from shared.contracts.telemetry import CommandAck, CommandName


@dataclass(frozen=True)
class StoredState:
    """The engine state of one device as stored: JSON body and its version (0 = never stored)."""

    state: dict[str, Any] | None
    version: int


@dataclass(frozen=True)
class AlarmQuery:
    status: AlarmStatus | None = None
    thing_name: str | None = None
    level_min: int | None = None
    rule_id: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None


@dataclass(frozen=True)
class AlarmPage:
    items: list[Alarm]
    after: str | None


class AlarmStore(Protocol):
    def create(self, alarm: Alarm) -> bool: ...

    def get(self, tenant_id: str, alarm_id: str) -> Alarm | None: ...

    def replace(self, alarm: Alarm, *, expected_updated_at_ms: int) -> None: ...

    def query(self, tenant_id: str, q: AlarmQuery, limit: int, after: str | None) -> AlarmPage: ...

    def add_timeline(self, tenant_id: str, entry: TimelineEntry) -> None: ...

    def timeline(self, tenant_id: str, alarm_id: str, limit: int = 500) -> list[TimelineEntry]: ...

    def claim_active(self, tenant_id: str, thing_name: str, rule_id: str, alarm_id: str, now_ms: int) -> str: ...

    def active_alarm_id(self, tenant_id: str, thing_name: str, rule_id: str) -> str | None: ...

    def release_active(self, tenant_id: str, thing_name: str, rule_id: str, alarm_id: str) -> None: ...

    def load_state(self, tenant_id: str, thing_name: str) -> StoredState: ...

    def state_version(self, tenant_id: str, thing_name: str) -> int: ...

    def save_state(
        self,
        tenant_id: str,
        thing_name: str,
        state: dict[str, Any],
        *,
        expected_version: int,
        last_seen_ms: int | None,
        now_ms: int,
    ) -> int: ...

    def silent_devices(self, seen_before_ms: int, limit_per_shard: int = 500) -> list[tuple[str, str]]: ...


class RuleSource(Protocol):
    """Effective (enabled, kind-filtered) rules of a device and their version label."""

    def effective(
        self, tenant_id: str, thing_name: str, kind: DeviceKind, model_id: str | None
    ) -> tuple[str, tuple[AlarmRule, ...]]: ...


class CommandIssuer(Protocol):
    """The part of ``shared.domain.commands.CommandService`` the alarm pipeline uses."""

    def issue(
        self,
        *,
        tenant_id: str,
        thing_name: str,
        name: CommandName,
        params: dict[str, Any],
        reason: str,
        origin: CommandOrigin,
        idempotency_key: str,
        ttl_s: int = 30,
        ack_timeout_s: int = 15,
    ) -> CommandRecord: ...

    def record_ack(self, tenant_id: str, thing_name: str, ack: CommandAck, arrival_ms: int) -> CommandRecord | None: ...
