"""What the fleet endpoints return (pydantic; the OpenAPI document is derived from these shapes).

The console codes against these exact field names; add fields, never rename or drop one.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.contracts.devices import DeviceKind, DeviceStatus
from shared.contracts.telemetry import CoordinateSystem
from shared.domain.fleet.status import FleetStatus

#: Alarm levels as JSON object keys ("0" pre-warning .. "3"), always all four.
LEVEL_KEYS = ("0", "1", "2", "3")
HOUR_MS = 3_600_000


class FleetPosition(BaseModel):
    latitude_deg: float
    longitude_deg: float
    coordinate_system: CoordinateSystem = Field(description="Datum of the coordinates: WGS-84 or GCJ-02.")
    ts_ms: int = Field(description="Device time of the fix, UTC epoch ms.")
    speed_kmh: float | None
    heading_deg: float | None


class FleetDeviceRow(BaseModel):
    """One device of the fleet table: registry, derived status, latest readings, active alarms, position."""

    thing_name: str
    kind: DeviceKind
    model_id: str
    battery_code: str | None = Field(description="GB/T 34014 code of the battery, when registered with one.")
    registry_status: DeviceStatus
    status: FleetStatus = Field(description="Operational status: charging|discharging|idle|fault|offline|inactive.")
    online: bool = Field(description="Neither offline nor inactive.")
    last_seen_ms: int | None = Field(description="Server arrival time of the newest latest-state message, any type.")
    state: str | None = Field(description="Operating state the BMS last reported (null when it reports none).")
    soc_pct: float | None
    pack_voltage_v: float | None
    current_a: float | None = Field(description="A; positive = discharge, negative = charge.")
    max_cell_voltage_v: float | None = Field(description="Over the valid cells of the latest sample (null = dropout).")
    min_cell_voltage_v: float | None
    max_temperature_c: float | None
    cell_count: int | None = Field(description="Cells in the latest sample (including dropouts); null: no telemetry.")
    worst_level: int | None = Field(description="Highest level of the device's open alarms; null: none.")
    active_alarms: int = Field(description="Open alarms (active or acknowledged, not yet cleared).")
    worst_alarm_code: str | None = Field(description="Code of the worst open alarm (newest on a tie).")
    position: FleetPosition | None = Field(description="Latest position if that fix is valid.")


class FleetDeviceList(BaseModel):
    items: list[FleetDeviceRow]
    total: int = Field(description="Rows matching every filter.")
    page: int
    page_size: int
    counts_by_status: dict[str, int] = Field(
        description="Rows per status matching every filter except status (what each status chip would show); "
        "every status is present."
    )


class DeviceCounts(BaseModel):
    total: int = Field(description="Every registered device, inactive ones included.")
    online: int
    by_kind: dict[str, int] = Field(description="Every kind is present.")
    by_status: dict[str, int] = Field(description="Every status is present.")
    by_kind_status: dict[str, dict[str, int]] = Field(description="Every kind × every status.")


class AlarmCounts(BaseModel):
    active_total: int = Field(description="Open alarms: active or acknowledged, not yet cleared.")
    active_by_level: dict[str, int] = Field(description='Open alarms per level, keys "0".."3".')
    unacknowledged: int = Field(description="Open alarms nobody acknowledged yet (status active).")


class TrendBucket(BaseModel):
    start_ms: int
    by_level: dict[str, int] = Field(description='Alarms raised in the bucket per level, keys "0".."3".')


class AlarmTrend(BaseModel):
    bucket_ms: int = HOUR_MS
    from_ms: int = Field(description="Start of the first bucket (aligned to the UTC hour).")
    to_ms: int = Field(description="End (exclusive) of the last bucket, the current hour.")
    buckets: list[TrendBucket]
    truncated: bool = Field(
        default=False, description="True when the window held more alarms than one request reads (older are missing)."
    )


class FleetOverview(BaseModel):
    generated_at_ms: int
    devices: DeviceCounts
    alarms: AlarmCounts
    trend: AlarmTrend
    worst_devices: list[FleetDeviceRow] = Field(
        description="Up to 10 devices with open alarms or status fault/offline: worst level, then alarm count, "
        "then most recently seen first."
    )


class PositionItem(BaseModel):
    thing_name: str
    kind: DeviceKind
    status: FleetStatus
    worst_level: int | None
    latitude_deg: float
    longitude_deg: float
    coordinate_system: CoordinateSystem
    ts_ms: int
    speed_kmh: float | None
    heading_deg: float | None


class FleetPositions(BaseModel):
    items: list[PositionItem]
