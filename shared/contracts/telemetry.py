"""Device → platform message contracts (pydantic; the single source of truth).

Conventions every device maker must follow (see ``events/README.md``):

* The tenant and the thing are **never** in the body: they come from the topic, which the
  broker only lets the thing publish to (IoT policy / local ACL).
* ``boot_id`` + ``seq`` (+ the thing) is the dedupe key: ``boot_id`` is random per boot
  (persisted nowhere), ``seq`` starts at 0 after each boot and grows by one per message,
  so the key survives reboots without the device keeping a counter on flash.
* ``device_ts_ms`` is the device clock in UTC epoch milliseconds; the platform keeps it
  beside its own arrival time and never trusts it blindly.
* A missing or invalid reading is ``null`` (JSON) — a sensor drop-out is never ``0``.
  Array positions are kept, so ``cell_voltages_v[6]`` is always cell 7.
* Current sign convention: **positive = discharge** (current leaving the pack), negative =
  charge.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_CELLS = 400
MAX_PROBES = 128

#: Plausibility bounds: a value outside them is a wire/encoding error, not a reading.
#: Limits of the *device model* (over-voltage etc.) are alarms, checked elsewhere.
CELL_VOLTAGE_V = (0.0, 10.0)
TEMPERATURE_C = (-60.0, 400.0)


class Contract(BaseModel):
    """Base of every wire contract: unknown fields are refused, so typos surface."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class UplinkHeader(Contract):
    """Fields every device → platform message carries."""

    boot_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Random id chosen at each boot (e.g. a UUID hex); part of the dedupe key.",
    )
    seq: int = Field(ge=0, lt=2**53, description="Message sequence number since boot, starting at 0.")
    device_ts_ms: int = Field(
        ge=946684800000,  # 2000-01-01: anything earlier is an unset RTC
        lt=4102444800000,  # 2100-01-01
        description="Device time of the sample, UTC epoch milliseconds (LCM-PF-5).",
    )


CellVoltage = Annotated[float, Field(ge=CELL_VOLTAGE_V[0], le=CELL_VOLTAGE_V[1])] | None
ProbeTemperature = Annotated[float, Field(ge=TEMPERATURE_C[0], le=TEMPERATURE_C[1])] | None


class OperatingState(StrEnum):
    IDLE = "idle"
    CHARGING = "charging"
    DISCHARGING = "discharging"
    FAULT = "fault"
    CUT_OFF = "cut_off"


class GbAlarm(Contract):
    """GB/T 32960 general alarm: flag word (bit 0 = LSB) and the maximum alarm level."""

    flags: int = Field(ge=0, le=0xFFFFFFFF, description="General alarm flag DWORD, bit 0 = LSB.")
    max_level: int = Field(ge=0, le=3, description="0 none, 1..3 as GB/T 32960 (3 = stop at once).")


class PackReadings(Contract):
    """Electrical and thermal readings of one battery pack (one message per pack per sample)."""

    pack_voltage_v: float | None = Field(default=None, ge=0, le=2000, description="Pack terminal voltage, V.")
    current_a: float | None = Field(
        default=None, ge=-3000, le=3000, description="Pack current, A; positive = discharge, negative = charge."
    )
    soc_pct: float | None = Field(default=None, ge=0, le=100, description="State of charge, %.")
    insulation_resistance_kohm: float | None = Field(
        default=None, ge=0, le=60000, description="Insulation resistance, kΩ."
    )
    cell_voltages_v: list[CellVoltage] = Field(
        default_factory=list,
        max_length=MAX_CELLS,
        description="Voltage of every series cell in order, V; null = no valid reading.",
    )
    probe_temperatures_c: list[ProbeTemperature] = Field(
        default_factory=list,
        max_length=MAX_PROBES,
        description="Temperature of every probe in order, °C; null = no valid reading.",
    )
    state: OperatingState | None = Field(default=None, description="Operating state reported by the BMS.")
    gb_alarm: GbAlarm | None = Field(default=None, description="Optional GB/T 32960 general alarm data.")


class BatteryPackTelemetry(UplinkHeader, PackReadings):
    """A battery pack's periodic sample (LCM-MON-1..3)."""

    kind: Literal["battery_pack"] = "battery_pack"


class StorageCabinetTelemetry(UplinkHeader, PackReadings):
    """A second-life storage cabinet: its pack plus the safety sensors (SLW-MON-1, SLW-EW)."""

    kind: Literal["storage_cabinet"] = "storage_cabinet"
    h2_ppm: float | None = Field(default=None, ge=0, le=1_000_000, description="Hydrogen concentration, ppm.")
    co_ppm: float | None = Field(default=None, ge=0, le=1_000_000, description="Carbon monoxide, ppm.")
    smoke_detected: bool | None = Field(default=None, description="Smoke detector state; null = detector fault.")
    flame_detected: bool | None = Field(default=None, description="Flame detector state; null = detector fault.")
    water_ingress: bool | None = Field(default=None, description="Water ingress sensor; null = sensor fault.")
    door_open: bool | None = Field(default=None, description="Cabinet door contact; null = sensor fault.")
    module_pressure_kpa: float | None = Field(
        default=None, ge=0, le=1000, description="Module enclosure absolute pressure, kPa."
    )
    breaker_closed: bool | None = Field(
        default=None, description="Main contactor/breaker state (distribution equipment, SLW-MON-1)."
    )


Telemetry = Annotated[BatteryPackTelemetry | StorageCabinetTelemetry, Field(discriminator="kind")]


class CoordinateSystem(StrEnum):
    WGS84 = "WGS-84"
    GCJ02 = "GCJ-02"


class Position(UplinkHeader):
    """A GNSS fix (SLW-MON-3, PBR-D-4)."""

    kind: Literal["position"] = "position"
    latitude_deg: float = Field(ge=-90, le=90, description="Latitude, degrees (north positive).")
    longitude_deg: float = Field(ge=-180, le=180, description="Longitude, degrees (east positive).")
    coordinate_system: CoordinateSystem = Field(description="Datum of the coordinates: WGS-84 or GCJ-02.")
    fix_valid: bool = Field(default=True, description="False when the receiver has no valid fix.")
    speed_kmh: float | None = Field(default=None, ge=0, le=500, description="Ground speed, km/h.")
    heading_deg: float | None = Field(default=None, ge=0, lt=360, description="Course over ground, degrees.")
    altitude_m: float | None = Field(default=None, ge=-500, le=10000, description="Altitude, m.")


class BootEvent(UplinkHeader):
    kind: Literal["event"] = "event"
    event: Literal["boot"] = "boot"
    firmware_version: str = Field(min_length=1, max_length=32)
    reset_reason: str | None = Field(default=None, max_length=64, description="Code, e.g. power_on, watchdog.")


class FaultEvent(UplinkHeader):
    kind: Literal["event"] = "event"
    event: Literal["fault"] = "fault"
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.]+$", description="Fault code.")
    active: bool = Field(description="True when the fault starts, false when it clears.")
    params: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="Code parameters (rendered in the reader's language)."
    )


class StateChangeEvent(UplinkHeader):
    kind: Literal["event"] = "event"
    event: Literal["state_change"] = "state_change"
    from_state: OperatingState
    to_state: OperatingState
    cause: str | None = Field(default=None, max_length=64, description="Code, e.g. command:cut_off.")


DeviceEvent = Annotated[BootEvent | FaultEvent | StateChangeEvent, Field(discriminator="event")]


class CommandName(StrEnum):
    CUT_OFF = "cut_off"
    STOP_CHARGE = "stop_charge"
    STOP_DISCHARGE = "stop_discharge"
    SET_REPORTING_INTERVAL = "set_reporting_interval"
    RESTART = "restart"
    FAULT_RESET = "fault_reset"
    SET_PARAMETERS = "set_parameters"


class Command(Contract):
    """Platform → device command on the ``down/cmd`` topic."""

    command_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: CommandName
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    issued_at_ms: int = Field(ge=0, description="Platform time of issue, UTC epoch ms.")
    expires_at_ms: int = Field(ge=0, description="Never execute at or after this time, UTC epoch ms.")
    idempotency_key: str = Field(min_length=1, max_length=128)

    @model_validator(mode="after")
    def _expiry_after_issue(self) -> Command:
        if self.expires_at_ms <= self.issued_at_ms:
            raise ValueError("expires_at_ms must be after issued_at_ms")
        return self


class AckStatus(StrEnum):
    EXECUTED = "executed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"


class CommandAck(UplinkHeader):
    """Device → platform acknowledgement of a command (``up/ack``)."""

    kind: Literal["ack"] = "ack"
    command_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    status: AckStatus
    reason: str | None = Field(default=None, max_length=64, description="Code, e.g. expired, unknown_command.")


#: Which contract is expected on which uplink message type.
UPLINK_CONTRACTS = {
    "telemetry": Telemetry,
    "position": Position,
    "event": DeviceEvent,
    "ack": CommandAck,
}
