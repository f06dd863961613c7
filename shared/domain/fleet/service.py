"""The fleet read model behind ``/v1/fleet/*``: reads one tenant's registry, latest states and open
alarms, then derives statuses, counts, the trend and the table in memory.

Scale (D23): every request reads the whole tenant — fine to a few thousand devices, honest up to
:data:`MAX_DEVICES`, refused beyond with ``409 fleet_too_large`` rather than answering slowly or
partially. The production path is a maintained aggregate (counters per tenant/kind/status kept by
the ingest and alarm consumers) or a search index for the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from shared.contracts.alarms import Alarm, AlarmStatus
from shared.contracts.topics import UpType
from shared.domain.alarms.ports import AlarmQuery
from shared.domain.auth import Action, Principal, authorize
from shared.domain.devices.records import DeviceFilter
from shared.domain.errors import Conflict
from shared.domain.fleet.overview import alarm_counts, alarm_trend, device_counts, trend_window, worst_devices
from shared.domain.fleet.ports import FleetAlarms, FleetDevices, LatestStates
from shared.domain.fleet.query import (
    DeviceListParams,
    OverviewParams,
    PositionParams,
    parse_device_query,
    parse_hours,
    parse_kind,
    select,
)
from shared.domain.fleet.rows import fleet_rows
from shared.domain.fleet.status import OFFLINE_AFTER_MS
from shared.domain.fleet.views import FleetDeviceList, FleetDeviceRow, FleetOverview, FleetPositions, PositionItem

T = TypeVar("T")

#: Devices one request may aggregate; beyond, the request is refused (D23).
MAX_DEVICES = 20_000
#: Open alarms (active + acknowledged) one request may read; a region-wide outage raises one
#: loss-of-communication alarm per device, so this leaves room for a few per device.
MAX_OPEN_ALARMS = 50_000
#: Alarms one trend may count; beyond, the oldest hours are incomplete and the trend says so.
MAX_TREND_ALARMS = 50_000


@dataclass(frozen=True)
class FleetSnapshot:
    now_ms: int
    rows: list[FleetDeviceRow]
    open_alarms: list[Alarm]


class FleetView:
    def __init__(
        self,
        *,
        devices: FleetDevices,
        latest: LatestStates,
        alarms: FleetAlarms,
        clock_ms: Callable[[], int],
        offline_after_ms: int = OFFLINE_AFTER_MS,
        max_devices: int = MAX_DEVICES,
        max_open_alarms: int = MAX_OPEN_ALARMS,
        max_trend_alarms: int = MAX_TREND_ALARMS,
    ) -> None:
        self.devices = devices
        self.latest = latest
        self.alarms = alarms
        self.clock_ms = clock_ms
        self.offline_after_ms = offline_after_ms
        self.max_devices = max_devices
        self.max_open_alarms = max_open_alarms
        self.max_trend_alarms = max_trend_alarms

    # ---- endpoints ---------------------------------------------------------------------------------
    def overview(self, principal: Principal, params: OverviewParams) -> FleetOverview:
        authorize(principal, Action.READ)
        hours = parse_hours(params.hours)
        snap = self.snapshot(principal.tenant_id)
        raised, truncated = self._raised(principal.tenant_id, snap.now_ms, hours)
        return FleetOverview(
            generated_at_ms=snap.now_ms,
            devices=device_counts(snap.rows),
            alarms=alarm_counts(snap.open_alarms),
            trend=alarm_trend(raised, snap.now_ms, hours, truncated=truncated),
            worst_devices=worst_devices(snap.rows),
        )

    def device_list(self, principal: Principal, params: DeviceListParams) -> FleetDeviceList:
        authorize(principal, Action.READ)
        query = parse_device_query(params)
        return select(self.snapshot(principal.tenant_id).rows, query)

    def positions(self, principal: Principal, params: PositionParams) -> FleetPositions:
        """Every device whose latest position is a valid fix (inactive ones too: a revoked,
        stolen device's last position matters), optionally of one kind; by thing name."""
        authorize(principal, Action.READ)
        kind = parse_kind(params.kind)
        items = [
            PositionItem(
                thing_name=r.thing_name,
                kind=r.kind,
                status=r.status,
                worst_level=r.worst_level,
                latitude_deg=r.position.latitude_deg,
                longitude_deg=r.position.longitude_deg,
                coordinate_system=r.position.coordinate_system,
                ts_ms=r.position.ts_ms,
                speed_kmh=r.position.speed_kmh,
                heading_deg=r.position.heading_deg,
            )
            for r in sorted(self.snapshot(principal.tenant_id).rows, key=lambda r: r.thing_name)
            if r.position is not None and (kind is None or r.kind is kind)
        ]
        return FleetPositions(items=items)

    # ---- reading -----------------------------------------------------------------------------------
    def snapshot(self, tenant_id: str) -> FleetSnapshot:
        """One tenant's rows and open alarms (three reads, each on the tenant's own key)."""
        now = self.clock_ms()
        page = self.devices.query(tenant_id, DeviceFilter(), self.max_devices, None)
        if page.after is not None:
            raise _too_large("devices", self.max_devices)
        open_alarms = self._open_alarms(tenant_id)
        item_cap = self.max_devices * len(UpType)  # one latest item per device and message type
        latest = _capped(self.latest.latest_of_tenant(tenant_id, item_cap + 1), item_cap, "latest states")
        return FleetSnapshot(
            now_ms=now,
            rows=fleet_rows(page.items, latest, open_alarms, now, self.offline_after_ms),
            open_alarms=open_alarms,
        )

    def _open_alarms(self, tenant_id: str) -> list[Alarm]:
        """Active and acknowledged alarms (both are a condition nobody has cleared), by the status index."""
        out: list[Alarm] = []
        for status in (AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED):
            left = self.max_open_alarms - len(out)
            page = self.alarms.query(tenant_id, AlarmQuery(status=status), max(left, 1), None)
            if page.after is not None or len(page.items) > left:
                raise _too_large("open alarms", self.max_open_alarms)
            out.extend(page.items)
        return out

    def _raised(self, tenant_id: str, now_ms: int, hours: int) -> tuple[list[Alarm], bool]:
        """Alarms raised in the trend window (time index, newest first) and whether more were left unread."""
        from_ms, to_ms = trend_window(now_ms, hours)
        page = self.alarms.query(tenant_id, AlarmQuery(from_ms=from_ms, to_ms=to_ms - 1), self.max_trend_alarms, None)
        return page.items, page.after is not None


def _capped(items: Iterable[T], cap: int, what: str) -> Iterator[T]:
    """``items`` streamed through, refused once there are more than ``cap``."""
    for n, item in enumerate(items, 1):
        if n > cap:
            raise _too_large(what, cap)
        yield item


def _too_large(what: str, limit: int) -> Conflict:
    return Conflict(
        f"this tenant has more than {limit} {what}; the fleet view aggregates at most that many per request "
        "(see docs/decisions.md D23) — use the paginated lists (/v1/devices, /v1/alarms) instead",
        code="fleet_too_large",
        details={"what": what, "limit": limit},
    )
