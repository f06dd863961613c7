"""The fleet overview: device counts, open-alarm counts, the hourly alarm trend and the worst devices (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from shared.contracts.alarms import Alarm, AlarmStatus
from shared.contracts.devices import DeviceKind
from shared.domain.fleet.status import ONLINE, FleetStatus
from shared.domain.fleet.views import (
    HOUR_MS,
    LEVEL_KEYS,
    AlarmCounts,
    AlarmTrend,
    DeviceCounts,
    FleetDeviceRow,
    TrendBucket,
)

WORST_DEVICES = 10


def _levels() -> dict[str, int]:
    return dict.fromkeys(LEVEL_KEYS, 0)


def device_counts(rows: Iterable[FleetDeviceRow]) -> DeviceCounts:
    """Totals per kind, status and both; every kind and status present (zeros), so charts keep their keys."""
    statuses = [s.value for s in FleetStatus]
    by_kind = {k.value: 0 for k in DeviceKind}
    by_status = dict.fromkeys(statuses, 0)
    by_kind_status = {k.value: dict.fromkeys(statuses, 0) for k in DeviceKind}
    total = online = 0
    for r in rows:
        total += 1
        online += r.status in ONLINE
        by_kind[r.kind.value] += 1
        by_status[r.status.value] += 1
        by_kind_status[r.kind.value][r.status.value] += 1
    return DeviceCounts(total=total, online=online, by_kind=by_kind, by_status=by_status, by_kind_status=by_kind_status)


def alarm_counts(open_alarms: Iterable[Alarm]) -> AlarmCounts:
    """Open alarms (active or acknowledged) per level; ``unacknowledged`` = still active."""
    by_level = _levels()
    total = unacknowledged = 0
    for a in open_alarms:
        total += 1
        by_level[str(int(a.level))] += 1
        unacknowledged += a.status is AlarmStatus.ACTIVE
    return AlarmCounts(active_total=total, active_by_level=by_level, unacknowledged=unacknowledged)


def trend_window(now_ms: int, hours: int) -> tuple[int, int]:
    """[from_ms, to_ms) of ``hours`` buckets aligned to the UTC hour, the last one holding ``now_ms``.

    Epoch milliseconds are UTC and an hour divides a day, so flooring to a multiple of an hour
    is the UTC hour boundary."""
    to_ms = (now_ms // HOUR_MS + 1) * HOUR_MS
    return to_ms - hours * HOUR_MS, to_ms


def alarm_trend(raised: Iterable[Alarm], now_ms: int, hours: int, *, truncated: bool = False) -> AlarmTrend:
    """Alarms raised per hour and level (whatever their status now); every bucket and level present."""
    from_ms, to_ms = trend_window(now_ms, hours)
    buckets = [TrendBucket(start_ms=from_ms + i * HOUR_MS, by_level=_levels()) for i in range(hours)]
    for a in raised:
        if from_ms <= a.raised_at_ms < to_ms:
            buckets[(a.raised_at_ms - from_ms) // HOUR_MS].by_level[str(int(a.level))] += 1
    return AlarmTrend(bucket_ms=HOUR_MS, from_ms=from_ms, to_ms=to_ms, buckets=buckets, truncated=truncated)


def worst_devices(rows: Sequence[FleetDeviceRow], limit: int = WORST_DEVICES) -> list[FleetDeviceRow]:
    """Devices that need attention (open alarms, or status fault/offline): worst level, then more
    open alarms, then most recently seen first; ties by thing name."""
    candidates = [r for r in rows if r.active_alarms > 0 or r.status in (FleetStatus.FAULT, FleetStatus.OFFLINE)]
    candidates.sort(
        key=lambda r: (
            -(r.worst_level if r.worst_level is not None else -1),
            -r.active_alarms,
            -(r.last_seen_ms if r.last_seen_ms is not None else -1),
            r.thing_name,
        )
    )
    return candidates[:limit]
