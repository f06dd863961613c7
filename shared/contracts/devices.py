"""Device registry contracts: device models, devices, battery identities (API and storage shapes)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from shared.contracts.telemetry import MAX_CELLS, MAX_PROBES, Contract


class DeviceKind(StrEnum):
    BATTERY_PACK = "battery_pack"
    STORAGE_CABINET = "storage_cabinet"


class DeviceStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    DECOMMISSIONED = "decommissioned"


class ModelLimits(Contract):
    """Operating limits from the maker's datasheet; alarm rules and charts read them."""

    cell_voltage_min_v: float = Field(gt=0, le=10, description="Minimum cell voltage, V.")
    cell_voltage_max_v: float = Field(gt=0, le=10, description="Maximum cell voltage, V.")
    pack_voltage_min_v: float = Field(gt=0, le=2000, description="Minimum pack voltage, V.")
    pack_voltage_max_v: float = Field(gt=0, le=2000, description="Maximum pack voltage, V.")
    temperature_min_c: float = Field(ge=-60, le=100, description="Minimum operating temperature, °C.")
    max_operating_temperature_c: float = Field(
        ge=0, le=200, description="Maker's maximum operating temperature, °C (GB 38031 C.5.3.7 b)."
    )
    max_charge_current_a: float = Field(gt=0, le=3000, description="Maximum charge current (magnitude), A.")
    max_discharge_current_a: float = Field(gt=0, le=3000, description="Maximum discharge current, A.")

    @model_validator(mode="after")
    def _ordered(self) -> ModelLimits:
        if self.cell_voltage_min_v >= self.cell_voltage_max_v:
            raise ValueError("cell_voltage_min_v must be below cell_voltage_max_v")
        if self.pack_voltage_min_v >= self.pack_voltage_max_v:
            raise ValueError("pack_voltage_min_v must be below pack_voltage_max_v")
        if self.temperature_min_c >= self.max_operating_temperature_c:
            raise ValueError("temperature_min_c must be below max_operating_temperature_c")
        return self


class DeviceModel(Contract):
    """A device model in the registry (LCM-PF-2: many battery and device types)."""

    model_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: DeviceKind
    manufacturer: str = Field(min_length=1, max_length=64)
    chemistry: str = Field(min_length=1, max_length=16, description="e.g. LFP, NMC.")
    nominal_capacity_ah: float = Field(gt=0, le=10000, description="Nominal capacity, Ah.")
    cell_count: int = Field(ge=1, le=MAX_CELLS, description="Series cells reported per message.")
    probe_count: int = Field(ge=0, le=MAX_PROBES, description="Temperature probes reported per message.")
    limits: ModelLimits
    firmware_versions: list[str] = Field(default_factory=list, max_length=100)
    has_gnss: bool = Field(default=False, description="Mobile pack that reports positions.")


class BatteryIdentity(Contract):
    """Global identity of a battery (GB/T 34014 code) and one ownership period."""

    battery_code: str = Field(min_length=1, max_length=64)
    tenant_id: str
    thing_name: str
    owned_from_ms: int
    owned_until_ms: int | None = None
