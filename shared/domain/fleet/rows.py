"""One fleet row per device from its registry record, latest states and open alarms (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.contracts.alarms import Alarm
from shared.contracts.telemetry import CoordinateSystem
from shared.contracts.topics import UpType
from shared.domain.devices.records import Device
from shared.domain.fleet.status import OFFLINE_AFTER_MS, ONLINE, operational_status
from shared.domain.fleet.views import FleetDeviceRow, FleetPosition
from shared.domain.telemetry.extremes import pack_extremes

#: Latest state of one device: message type → {body, derived, device_ts_ms, arrival_ms}.
LatestByType = Mapping[str, Mapping[str, Any]]


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


_TELEMETRY_FIELDS = ("state", "soc_pct", "pack_voltage_v", "current_a")
_POSITION_FIELDS = (
    "latitude_deg",
    "longitude_deg",
    "coordinate_system",
    "fix_valid",
    "speed_kmh",
    "heading_deg",
)


def compact(message_type: str, item: Mapping[str, Any]) -> dict[str, Any]:
    """What a row needs of one latest-state item: arrival and device time, the telemetry scalars and
    cell extremes (not the cell arrays: a 400-cell rack is kilobytes), the position fields."""
    out: dict[str, Any] = {"arrival_ms": item.get("arrival_ms"), "device_ts_ms": item.get("device_ts_ms")}
    body: Mapping[str, Any] = item.get("body") or {}
    if message_type == UpType.TELEMETRY.value:
        out["body"] = {k: body.get(k) for k in _TELEMETRY_FIELDS}
        out["derived"] = _cells(body, item.get("derived"))
    elif message_type == UpType.POSITION.value:
        out["body"] = {k: body[k] for k in _POSITION_FIELDS if k in body}
    return out


def group_latest(items: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    """Latest-state items of a tenant (each with thing_name and message_type) → thing → type → compacted
    item; ``items`` may be a stream, so a tenant's whole latest state is never held at once."""
    out: dict[str, dict[str, Mapping[str, Any]]] = {}
    for item in items:
        mtype = str(item["message_type"])
        out.setdefault(str(item["thing_name"]), {})[mtype] = compact(mtype, item)
    return out


def group_alarms(alarms: Iterable[Alarm]) -> dict[str, list[Alarm]]:
    out: dict[str, list[Alarm]] = {}
    for alarm in alarms:
        out.setdefault(alarm.thing_name, []).append(alarm)
    return out


def last_seen(latest: LatestByType) -> int | None:
    """Server arrival time of the newest latest-state message of any type (device clocks are not trusted)."""
    times = [int(v["arrival_ms"]) for v in latest.values() if v.get("arrival_ms") is not None]
    return max(times) if times else None


def valid_position(latest: LatestByType) -> FleetPosition | None:
    """The latest position if its fix is valid (a fix-less sample's coordinates mean nothing)."""
    pos = latest.get(UpType.POSITION.value)
    body = (pos or {}).get("body") or {}
    lat, lon = _num(body.get("latitude_deg")), _num(body.get("longitude_deg"))
    if pos is None or body.get("fix_valid", True) is not True or lat is None or lon is None:
        return None
    try:
        datum = CoordinateSystem(str(body.get("coordinate_system")))
    except ValueError:
        return None
    return FleetPosition(
        latitude_deg=lat,
        longitude_deg=lon,
        coordinate_system=datum,
        ts_ms=int(pos["device_ts_ms"]),
        speed_kmh=_num(body.get("speed_kmh")),
        heading_deg=_num(body.get("heading_deg")),
    )


_CELL_FIELDS = ("cell_count", "max_cell_voltage_v", "min_cell_voltage_v", "max_temperature_c")


def _cells(body: Mapping[str, Any], derived: Mapping[str, Any] | None) -> dict[str, Any]:
    """Cell and probe extremes: stored beside the sample at ingest; recomputed from the arrays
    (null entries are dropouts, skipped) when a stored sample has none."""
    if not derived or "cell_count" not in derived:
        derived = pack_extremes(body.get("cell_voltages_v") or [], body.get("probe_temperatures_c") or [])
    return {k: derived[k] for k in _CELL_FIELDS if k in derived}


def _worst(alarms: Sequence[Alarm]) -> Alarm | None:
    return max(alarms, key=lambda a: (int(a.level), a.raised_at_ms, a.alarm_id), default=None)


def fleet_row(
    device: Device,
    latest: LatestByType,
    open_alarms: Sequence[Alarm],
    now_ms: int,
    offline_after_ms: int = OFFLINE_AFTER_MS,
) -> FleetDeviceRow:
    telemetry = latest.get(UpType.TELEMETRY.value)
    body: Mapping[str, Any] = (telemetry or {}).get("body") or {}
    cells = _cells(body, (telemetry or {}).get("derived")) if telemetry is not None else {}
    state = body.get("state") if isinstance(body.get("state"), str) else None
    current = _num(body.get("current_a"))
    worst = _worst(open_alarms)
    worst_level = int(worst.level) if worst is not None else None
    seen = last_seen(latest)
    status = operational_status(
        registry_status=device.status,
        last_seen_ms=seen,
        reported_state=state,
        current_a=current,
        worst_level=worst_level,
        now_ms=now_ms,
        offline_after_ms=offline_after_ms,
    )
    return FleetDeviceRow(
        thing_name=device.thing_name,
        kind=device.kind,
        model_id=device.model_id,
        battery_code=device.battery_code,
        registry_status=device.status,
        status=status,
        online=status in ONLINE,
        last_seen_ms=seen,
        state=state,
        soc_pct=_num(body.get("soc_pct")),
        pack_voltage_v=_num(body.get("pack_voltage_v")),
        current_a=current,
        max_cell_voltage_v=_num(cells.get("max_cell_voltage_v")),
        min_cell_voltage_v=_num(cells.get("min_cell_voltage_v")),
        max_temperature_c=_num(cells.get("max_temperature_c")),
        cell_count=int(cells["cell_count"]) if telemetry is not None and "cell_count" in cells else None,
        worst_level=worst_level,
        active_alarms=len(open_alarms),
        worst_alarm_code=worst.code if worst is not None else None,
        position=valid_position(latest),
    )


def fleet_rows(
    devices: Iterable[Device],
    latest_items: Iterable[Mapping[str, Any]],
    open_alarms: Iterable[Alarm],
    now_ms: int,
    offline_after_ms: int = OFFLINE_AFTER_MS,
) -> list[FleetDeviceRow]:
    """Rows of every device, in registry order; latest states and alarms of unknown things are ignored."""
    latest = group_latest(latest_items)
    alarms = group_alarms(open_alarms)
    return [
        fleet_row(d, latest.get(d.thing_name, {}), alarms.get(d.thing_name, []), now_ms, offline_after_ms)
        for d in devices
    ]
