"""Example device models for simulations, demos and tests (plausible datasheet values)."""

from __future__ import annotations

from shared.contracts.devices import DeviceKind, DeviceModel, ModelLimits

#: Cell voltage window (min, max) per chemistry, V.
_CELL_WINDOW = {"LFP": (2.5, 3.65), "NMC": (3.0, 4.2)}


def example_model(
    kind: DeviceKind = DeviceKind.BATTERY_PACK,
    chemistry: str = "LFP",
    cells: int = 16,
    probes: int = 4,
    capacity_ah: float = 50.0,
    has_gnss: bool = False,
    model_id: str | None = None,
) -> DeviceModel:
    """A device model with limits derived from the chemistry's cell window (charge ≤ 1C, discharge ≤ 2C)."""
    v_min, v_max = _CELL_WINDOW[chemistry]
    return DeviceModel(
        model_id=model_id or f"sim-{kind.value}-{chemistry.lower()}-{cells}s",
        kind=kind,
        manufacturer="SimCo",
        chemistry=chemistry,
        nominal_capacity_ah=capacity_ah,
        cell_count=cells,
        probe_count=probes,
        has_gnss=has_gnss,
        firmware_versions=["1.0.0"],
        limits=ModelLimits(
            cell_voltage_min_v=v_min,
            cell_voltage_max_v=v_max,
            pack_voltage_min_v=round(v_min * cells, 2),
            pack_voltage_max_v=round(v_max * cells, 2),
            temperature_min_c=-20,
            max_operating_temperature_c=60,
            max_charge_current_a=capacity_ah,
            max_discharge_current_a=2 * capacity_ah,
        ),
    )


#: A 48 V LFP swap battery for e-bikes (mobile, GNSS).
SWAP_PACK_48V = example_model(DeviceKind.BATTERY_PACK, "LFP", 16, 4, 30.0, has_gnss=True, model_id="sim-swap-48v")
#: A second-life NMC storage cabinet, 14S with gas/smoke/flame sensors.
STORAGE_CABINET_NMC = example_model(DeviceKind.STORAGE_CABINET, "NMC", 14, 8, 100.0, model_id="sim-cabinet-nmc")
