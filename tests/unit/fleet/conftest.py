"""In-memory fakes of the fleet read model's ports and builders of devices, latest states and alarms."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts.alarms import Alarm, AlarmLevel, AlarmStatus
from shared.contracts.devices import DeviceKind, DeviceStatus
from shared.domain.alarms.ports import AlarmPage, AlarmQuery
from shared.domain.auth import Principal, Role
from shared.domain.devices.records import Device, DeviceFilter, Page
from shared.domain.fleet.service import FleetView

#: 2026-01-01T00:00:00Z plus 30 min 15 s: mid-hour, so bucket alignment is visible.
NOW = 1_767_225_600_000 + 30 * 60_000 + 15_000
HOUR = 3_600_000
ACME, BOLT = "acme", "bolt"


def device(
    thing: str,
    kind: DeviceKind = DeviceKind.BATTERY_PACK,
    status: DeviceStatus = DeviceStatus.ACTIVE,
    tenant: str = ACME,
    model_id: str | None = None,
    battery_code: str | None = None,
) -> Device:
    return Device(
        tenant_id=tenant,
        thing_name=thing,
        kind=kind,
        model_id=model_id or ("lfp-16s280-ess" if kind is DeviceKind.BATTERY_PACK else "sl-cab-lfp-48s"),
        serial_number=f"SN-{thing}",
        battery_code=battery_code,
        status=status,
        created_at_ms=NOW - 86_400_000,
        updated_at_ms=NOW - 86_400_000,
    )


def telemetry(
    thing: str,
    arrival_ms: int = NOW - 10_000,
    *,
    derived: dict[str, Any] | None = None,
    tenant: str = ACME,
    **readings: Any,
) -> dict[str, Any]:
    """A latest-state item of type telemetry as ``latest_of_tenant`` returns it (no derived by default)."""
    body = {
        "kind": "battery_pack",
        "boot_id": "b",
        "seq": 1,
        "device_ts_ms": arrival_ms - 100,
        "pack_voltage_v": 52.8,
        "current_a": None,
        "soc_pct": 80.0,
        "cell_voltages_v": [3.3] * 16,
        "probe_temperatures_c": [25.0] * 4,
        "state": None,
        **readings,
    }
    return {
        "tenant": tenant,
        "thing_name": thing,
        "message_type": "telemetry",
        "body": body,
        "derived": derived,
        "device_ts_ms": arrival_ms - 100,
        "arrival_ms": arrival_ms,
    }


def position(
    thing: str,
    arrival_ms: int = NOW - 10_000,
    *,
    lat: float = 31.23,
    lon: float = 121.47,
    fix_valid: bool = True,
    datum: str = "GCJ-02",
    tenant: str = ACME,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "kind": "position",
        "boot_id": "b",
        "seq": 2,
        "device_ts_ms": arrival_ms - 100,
        "latitude_deg": lat,
        "longitude_deg": lon,
        "coordinate_system": datum,
        "fix_valid": fix_valid,
        "speed_kmh": 12.5,
        "heading_deg": 90.0,
        "altitude_m": None,
        **extra,
    }
    return {
        "tenant": tenant,
        "thing_name": thing,
        "message_type": "position",
        "body": body,
        "derived": None,
        "device_ts_ms": arrival_ms - 100,
        "arrival_ms": arrival_ms,
    }


def message(thing: str, message_type: str, arrival_ms: int, tenant: str = ACME) -> dict[str, Any]:
    """A latest event or ack: only its arrival matters to the fleet view."""
    return {
        "tenant": tenant,
        "thing_name": thing,
        "message_type": message_type,
        "body": {"kind": message_type},
        "derived": None,
        "device_ts_ms": arrival_ms - 100,
        "arrival_ms": arrival_ms,
    }


_alarm_ids = iter(range(10**6))


def alarm(
    thing: str,
    level: int = 1,
    status: AlarmStatus = AlarmStatus.ACTIVE,
    raised_at_ms: int = NOW - 60_000,
    code: str | None = None,
    tenant: str = ACME,
) -> Alarm:
    n = next(_alarm_ids)
    return Alarm(
        alarm_id=f"al-{n:024x}",
        tenant_id=tenant,
        thing_name=thing,
        device_kind=DeviceKind.BATTERY_PACK,
        rule_id=f"rule{n}",
        level=AlarmLevel(level),
        status=status,
        code=code or f"code_l{level}",
        rule_version="default@1",
        raised_at_ms=raised_at_ms,
        device_ts_ms=raised_at_ms,
        updated_at_ms=raised_at_ms,
    )


class FakeDevices:
    def __init__(self, devices: list[Device]) -> None:
        self.devices = devices
        self.calls: list[tuple[str, int]] = []

    def query(self, tenant_id: str, flt: DeviceFilter, limit: int, after: str | None) -> Page:
        self.calls.append((tenant_id, limit))
        rows = sorted((d for d in self.devices if d.tenant_id == tenant_id), key=lambda d: d.thing_name)
        return Page(items=rows[:limit], after=rows[limit - 1].thing_name if len(rows) > limit else None)


class FakeLatest:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.calls: list[tuple[str, int]] = []

    def latest_of_tenant(self, tenant_id: str, limit: int) -> list[dict[str, Any]]:
        self.calls.append((tenant_id, limit))
        mine = [{k: v for k, v in i.items() if k != "tenant"} for i in self.items if i["tenant"] == tenant_id]
        return mine[:limit]


class FakeAlarms:
    """The status index (``q.status``) or the time index (``from_ms``/``to_ms`` inclusive), newest first."""

    def __init__(self, alarms: list[Alarm]) -> None:
        self.alarms = alarms
        self.calls: list[tuple[str, AlarmQuery, int]] = []

    def query(self, tenant_id: str, q: AlarmQuery, limit: int, after: str | None) -> AlarmPage:
        self.calls.append((tenant_id, q, limit))
        rows = [
            a
            for a in self.alarms
            if a.tenant_id == tenant_id
            and (q.status is None or a.status is q.status)
            and (q.from_ms is None or a.raised_at_ms >= q.from_ms)
            and (q.to_ms is None or a.raised_at_ms <= q.to_ms)
        ]
        rows.sort(key=lambda a: (a.raised_at_ms, a.alarm_id), reverse=True)
        return AlarmPage(items=rows[:limit], after=rows[limit - 1].alarm_id if len(rows) > limit else None)


class Fleet:
    """A FleetView over fakes; ``now`` is the injected clock."""

    def __init__(self) -> None:
        self.devices = FakeDevices([])
        self.latest = FakeLatest([])
        self.alarms = FakeAlarms([])
        self.now = NOW

    def add(self, *things: Device | dict[str, Any] | Alarm) -> Fleet:
        for t in things:
            if isinstance(t, Device):
                self.devices.devices.append(t)
            elif isinstance(t, Alarm):
                self.alarms.alarms.append(t)
            else:
                self.latest.items.append(t)
        return self

    def view(self, **kw: Any) -> FleetView:
        return FleetView(devices=self.devices, latest=self.latest, alarms=self.alarms, clock_ms=lambda: self.now, **kw)


def principal(tenant: str = ACME, *roles: Role) -> Principal:
    return Principal(
        subject=f"s-{tenant}", username=f"u-{tenant}", tenant_id=tenant, roles=frozenset(roles or {Role.VIEWER})
    )


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()
