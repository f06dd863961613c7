"""The overview's parts: device counts, open-alarm counts, the hourly trend, the worst devices."""

from __future__ import annotations

import pytest

from shared.contracts.alarms import AlarmStatus
from shared.contracts.devices import DeviceKind, DeviceStatus
from shared.domain.fleet.overview import alarm_counts, alarm_trend, device_counts, trend_window, worst_devices
from shared.domain.fleet.rows import fleet_rows
from tests.unit.fleet.conftest import HOUR, NOW, alarm, device, telemetry

STATUSES = ["charging", "discharging", "idle", "fault", "offline", "inactive"]
HOUR_START = NOW - NOW % HOUR


def test_device_counts_have_every_kind_and_status_even_when_zero():
    """LCM-MON-4, SLW-WEB-4, EVC-MON-1: totals by kind, status and kind × status; every key present with 0;
    online counts charging, discharging, idle and fault, never offline or inactive."""
    rows = fleet_rows(
        [
            device("p-1"),
            device("p-2"),
            device("p-3", status=DeviceStatus.REVOKED),
            device("c-1", DeviceKind.STORAGE_CABINET),
        ],
        [
            telemetry("p-1", state="charging"),
            telemetry("p-3", state="charging"),
            telemetry("c-1", state="fault"),
        ],
        [],
        NOW,
    )
    counts = device_counts(rows)
    assert counts.model_dump() == {
        "total": 4,
        "online": 2,
        "by_kind": {"battery_pack": 3, "storage_cabinet": 1},
        "by_status": {"charging": 1, "discharging": 0, "idle": 0, "fault": 1, "offline": 1, "inactive": 1},
        "by_kind_status": {
            "battery_pack": {"charging": 1, "discharging": 0, "idle": 0, "fault": 0, "offline": 1, "inactive": 1},
            "storage_cabinet": {"charging": 0, "discharging": 0, "idle": 0, "fault": 1, "offline": 0, "inactive": 0},
        },
    }
    empty = device_counts([])
    assert empty.total == 0 and list(empty.by_status) == STATUSES
    assert empty.by_kind == {"battery_pack": 0, "storage_cabinet": 0}


def test_alarm_counts_per_level_and_unacknowledged():
    """LCM-MON-4, SLW-WEB-4: open alarms (active or acknowledged) per level, keys "0".."3" always present;
    unacknowledged counts those still active."""
    counts = alarm_counts(
        [alarm("a", 3), alarm("a", 1, AlarmStatus.ACKNOWLEDGED), alarm("b", 1), alarm("c", 0, AlarmStatus.ACKNOWLEDGED)]
    )
    assert counts.model_dump() == {
        "active_total": 4,
        "active_by_level": {"0": 1, "1": 2, "2": 0, "3": 1},
        "unacknowledged": 2,
    }
    assert alarm_counts([]).model_dump() == {
        "active_total": 0,
        "active_by_level": {"0": 0, "1": 0, "2": 0, "3": 0},
        "unacknowledged": 0,
    }


@pytest.mark.parametrize("hours", [1, 24, 168])
def test_trend_window_is_aligned_to_the_utc_hour_and_ends_with_the_current_hour(hours):
    """LCM-MON-4: buckets start on whole UTC hours; the last one is the hour holding now."""
    from_ms, to_ms = trend_window(NOW, hours)
    assert to_ms == HOUR_START + HOUR and from_ms == to_ms - hours * HOUR
    assert from_ms % HOUR == 0 and from_ms < NOW < to_ms
    assert trend_window(HOUR_START, 1) == (HOUR_START, HOUR_START + HOUR)  # exactly on the hour


def test_trend_counts_alarms_raised_per_hour_and_level_whatever_their_status_now():
    """LCM-MON-4, SLW-WEB-4: alarms raised per hour by level; every bucket and every level present (zeros);
    cleared alarms count where they were raised; the window's edges are [from, to)."""
    from_ms, to_ms = trend_window(NOW, 24)
    raised = [
        alarm("a", 3, raised_at_ms=NOW - 1),  # current hour
        alarm("a", 1, AlarmStatus.CLEARED, raised_at_ms=HOUR_START),  # first ms of the current hour
        alarm("b", 1, AlarmStatus.ACKNOWLEDGED, raised_at_ms=HOUR_START - 1),  # last ms of the previous hour
        alarm("c", 0, raised_at_ms=from_ms),  # first bucket
        alarm("c", 2, raised_at_ms=from_ms - 1),  # before the window
        alarm("c", 2, raised_at_ms=to_ms),  # after it (clock skew)
    ]
    trend = alarm_trend(raised, NOW, 24)
    assert (trend.bucket_ms, trend.from_ms, trend.to_ms, trend.truncated) == (HOUR, from_ms, to_ms, False)
    assert [b.start_ms for b in trend.buckets] == [from_ms + i * HOUR for i in range(24)]
    assert all(list(b.by_level) == ["0", "1", "2", "3"] for b in trend.buckets)
    assert trend.buckets[-1].by_level == {"0": 0, "1": 1, "2": 0, "3": 1}
    assert trend.buckets[-2].by_level == {"0": 0, "1": 1, "2": 0, "3": 0}
    assert trend.buckets[0].by_level == {"0": 1, "1": 0, "2": 0, "3": 0}
    assert sum(sum(b.by_level.values()) for b in trend.buckets) == 4
    assert alarm_trend([], NOW, 1, truncated=True).model_dump() == {
        "bucket_ms": HOUR,
        "from_ms": HOUR_START,
        "to_ms": HOUR_START + HOUR,
        "buckets": [{"start_ms": HOUR_START, "by_level": {"0": 0, "1": 0, "2": 0, "3": 0}}],
        "truncated": True,
    }


def test_worst_devices_need_attention_and_are_ranked():
    """LCM-MON-4, SLW-WEB-4: only devices with open alarms or status fault/offline; worst level first, then more
    open alarms, then most recently seen; at most 10."""
    devices = [device(f"d-{i:02d}") for i in range(14)]
    latest = [telemetry(f"d-{i:02d}", NOW - 1_000 * i, state="idle") for i in range(14)]
    latest[5] = telemetry("d-05", NOW - 1_000, state="fault")  # fault without alarms
    latest[6] = telemetry("d-06", NOW - 900_000, state="idle")  # offline
    del latest[7]  # never seen: offline
    alarms = [
        alarm("d-01", 1),
        alarm("d-02", 3),
        alarm("d-03", 1),
        alarm("d-03", 1),
        alarm("d-04", 1),
        alarm("d-08", 0),
    ]
    rows = fleet_rows(devices, latest, alarms, NOW)
    ranked = worst_devices(rows)
    assert [r.thing_name for r in ranked] == ["d-02", "d-03", "d-01", "d-04", "d-08", "d-05", "d-06", "d-07"]
    many = fleet_rows(devices, [], [], NOW)  # all 14 offline
    assert [r.thing_name for r in worst_devices(many)] == [f"d-{i:02d}" for i in range(10)]
