"""A device's operational status: one value from registry status, latest messages and active alarms (pure)."""

from __future__ import annotations

from enum import StrEnum

from shared.contracts.alarms import AlarmLevel
from shared.contracts.devices import DeviceStatus
from shared.contracts.telemetry import OperatingState

#: A device that sent nothing (any uplink type) for longer than this is offline.
OFFLINE_AFTER_MS = 300_000
#: |current| at or below this is idle when the BMS reports no state (sensor offset, standby draw).
CURRENT_DEAD_BAND_A = 0.5


class FleetStatus(StrEnum):
    CHARGING = "charging"
    DISCHARGING = "discharging"
    IDLE = "idle"
    FAULT = "fault"
    OFFLINE = "offline"
    #: Registry status revoked or decommissioned: counted apart, never online.
    INACTIVE = "inactive"


ONLINE = frozenset({FleetStatus.CHARGING, FleetStatus.DISCHARGING, FleetStatus.IDLE, FleetStatus.FAULT})

#: Sort order of ``sort=status`` (ascending = most urgent first).
STATUS_RANK: dict[FleetStatus, int] = {
    FleetStatus.FAULT: 0,
    FleetStatus.OFFLINE: 1,
    FleetStatus.DISCHARGING: 2,
    FleetStatus.CHARGING: 3,
    FleetStatus.IDLE: 4,
    FleetStatus.INACTIVE: 5,
}

_FAULT_STATES = {OperatingState.FAULT.value, OperatingState.CUT_OFF.value}
_RUNNING_STATES = {
    OperatingState.CHARGING.value: FleetStatus.CHARGING,
    OperatingState.DISCHARGING.value: FleetStatus.DISCHARGING,
    OperatingState.IDLE.value: FleetStatus.IDLE,
}


def operational_status(
    *,
    registry_status: DeviceStatus,
    last_seen_ms: int | None,
    reported_state: str | None,
    current_a: float | None,
    worst_level: int | None,
    now_ms: int,
    offline_after_ms: int = OFFLINE_AFTER_MS,
) -> FleetStatus:
    """The status rules, in order:

    1. registry status not active → ``inactive``;
    2. no uplink message of any type within ``offline_after_ms`` (or never) → ``offline``;
    3. BMS state ``fault`` or ``cut_off``, or an active alarm of level 3 → ``fault``;
    4. BMS state charging / discharging / idle → that state;
    5. no state: the current's sign (positive = discharge, as the contract says) outside a
       ±0.5 A dead band → discharging / charging, else (or no current either) ``idle``.
    """
    if registry_status is not DeviceStatus.ACTIVE:
        return FleetStatus.INACTIVE
    if last_seen_ms is None or now_ms - last_seen_ms > offline_after_ms:
        return FleetStatus.OFFLINE
    if reported_state in _FAULT_STATES or (worst_level is not None and worst_level >= AlarmLevel.LEVEL_3):
        return FleetStatus.FAULT
    if reported_state in _RUNNING_STATES:
        return _RUNNING_STATES[reported_state]
    if current_a is not None and current_a > CURRENT_DEAD_BAND_A:
        return FleetStatus.DISCHARGING
    if current_a is not None and current_a < -CURRENT_DEAD_BAND_A:
        return FleetStatus.CHARGING
    return FleetStatus.IDLE
