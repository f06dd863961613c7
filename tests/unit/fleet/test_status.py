"""Operational status of a device: registry status, silence, faults, reported state, current sign."""

from __future__ import annotations

import pytest

from shared.contracts.devices import DeviceStatus
from shared.domain.fleet.status import OFFLINE_AFTER_MS, ONLINE, FleetStatus, operational_status

NOW = 1_767_225_600_000


def status(
    *,
    registry: DeviceStatus = DeviceStatus.ACTIVE,
    seen_ago_ms: int | None = 1_000,
    state: str | None = None,
    current: float | None = None,
    level: int | None = None,
    offline_after_ms: int = OFFLINE_AFTER_MS,
) -> FleetStatus:
    return operational_status(
        registry_status=registry,
        last_seen_ms=None if seen_ago_ms is None else NOW - seen_ago_ms,
        reported_state=state,
        current_a=current,
        worst_level=level,
        now_ms=NOW,
        offline_after_ms=offline_after_ms,
    )


@pytest.mark.parametrize("registry", [DeviceStatus.REVOKED, DeviceStatus.DECOMMISSIONED])
def test_a_device_not_active_in_the_registry_is_inactive_whatever_it_sends(registry):
    """LCM-MON-4, SLW-WEB-4: revoked or decommissioned → inactive, even with fresh data, a fault and a level-3
    alarm; never online."""
    assert status(registry=registry, state="fault", level=3) is FleetStatus.INACTIVE
    assert status(registry=registry, seen_ago_ms=None) is FleetStatus.INACTIVE
    assert FleetStatus.INACTIVE not in ONLINE


def test_silence_beyond_the_offline_window_is_offline_and_the_window_is_a_parameter():
    """LCM-MON-4, EVC-MON-1: no uplink message for more than OFFLINE_AFTER_MS (300 s by default), or never, is
    offline — even if the last sample said fault; exactly at the window it is still online; the window is
    configurable."""
    assert OFFLINE_AFTER_MS == 300_000
    assert status(seen_ago_ms=None) is FleetStatus.OFFLINE
    assert status(seen_ago_ms=300_001, state="fault", level=3) is FleetStatus.OFFLINE
    assert status(seen_ago_ms=300_000, state="charging") is FleetStatus.CHARGING
    assert status(seen_ago_ms=60_001, offline_after_ms=60_000) is FleetStatus.OFFLINE
    assert status(seen_ago_ms=-5_000) is FleetStatus.IDLE  # arrival after the clock was read: still online
    assert FleetStatus.OFFLINE not in ONLINE


@pytest.mark.parametrize(
    ("state", "level", "expected"),
    [
        ("fault", None, FleetStatus.FAULT),
        ("cut_off", None, FleetStatus.FAULT),
        ("charging", 3, FleetStatus.FAULT),
        (None, 3, FleetStatus.FAULT),
        ("charging", 2, FleetStatus.CHARGING),
        ("discharging", 0, FleetStatus.DISCHARGING),
        ("idle", 1, FleetStatus.IDLE),
    ],
)
def test_fault_comes_from_the_bms_state_or_a_level_3_alarm(state, level, expected):
    """LCM-MON-4, SLW-WEB-5: BMS state fault or cut_off, or an open level-3 alarm, is fault (online); lower
    levels leave the reported state."""
    assert status(state=state, level=level) is expected
    assert expected in ONLINE


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (0.51, FleetStatus.DISCHARGING),
        (120.0, FleetStatus.DISCHARGING),
        (-0.51, FleetStatus.CHARGING),
        (-80.0, FleetStatus.CHARGING),
        (0.5, FleetStatus.IDLE),
        (-0.5, FleetStatus.IDLE),
        (0.0, FleetStatus.IDLE),
        (None, FleetStatus.IDLE),
    ],
)
def test_without_a_reported_state_the_current_sign_decides_with_a_dead_band(current, expected):
    """LCM-MON-4: no BMS state → positive current (leaving the pack) is discharging, negative charging, within
    ±0.5 A (or no current reading) idle."""
    assert status(current=current) is expected


def test_the_reported_state_wins_over_the_current_sign():
    """LCM-MON-4: the BMS's own state is trusted over a current reading."""
    assert status(state="idle", current=-50.0) is FleetStatus.IDLE
    assert status(state="unknown_state", current=-50.0) is FleetStatus.CHARGING
