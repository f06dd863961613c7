"""The built-in device model catalogue, seeded into the tenant-independent ``_platform`` partition.

Values follow the datasheets of common Chinese cells and packs (LFP 3.2 V nominal, 2.5-3.65 V
window; NMC 3.0-4.2 V); makers are illustrative names. Tenants add their own models beside
these (``POST /v1/device-models``); a tenant model can never shadow a platform model id.
"""

from __future__ import annotations

from shared.contracts.devices import DeviceKind, DeviceModel, ModelLimits

#: Partition key of the built-in catalogue in the device models table.
PLATFORM_SCOPE = "_platform"


def _lfp(cells: int, *, t_max: float, charge_a: float, discharge_a: float) -> ModelLimits:
    return ModelLimits(
        cell_voltage_min_v=2.5,
        cell_voltage_max_v=3.65,
        pack_voltage_min_v=round(2.5 * cells, 1),
        pack_voltage_max_v=round(3.65 * cells, 1),
        temperature_min_c=-20,
        max_operating_temperature_c=t_max,
        max_charge_current_a=charge_a,
        max_discharge_current_a=discharge_a,
    )


def _nmc(cells: int, *, t_max: float, charge_a: float, discharge_a: float) -> ModelLimits:
    return ModelLimits(
        cell_voltage_min_v=3.0,
        cell_voltage_max_v=4.2,
        pack_voltage_min_v=round(3.0 * cells, 1),
        pack_voltage_max_v=round(4.2 * cells, 1),
        temperature_min_c=-30,
        max_operating_temperature_c=t_max,
        max_charge_current_a=charge_a,
        max_discharge_current_a=discharge_a,
    )


BUILT_IN_MODELS: tuple[DeviceModel, ...] = (
    DeviceModel(
        model_id="lfp-16s280-ess",
        kind=DeviceKind.BATTERY_PACK,
        manufacturer="Hengyuan Energy",
        chemistry="LFP",
        nominal_capacity_ah=280,
        cell_count=16,
        probe_count=8,
        limits=_lfp(16, t_max=55, charge_a=140, discharge_a=280),
        firmware_versions=["2.3.1", "2.4.0"],
    ),
    DeviceModel(
        model_id="nmc-96s150-ev",
        kind=DeviceKind.BATTERY_PACK,
        manufacturer="Jiangnan Power",
        chemistry="NMC",
        nominal_capacity_ah=150,
        cell_count=96,
        probe_count=32,
        limits=_nmc(96, t_max=55, charge_a=150, discharge_a=450),
        firmware_versions=["5.1.0", "5.2.3"],
        has_gnss=True,
    ),
    DeviceModel(
        model_id="lfp-100s206-bus",
        kind=DeviceKind.BATTERY_PACK,
        manufacturer="Jiangnan Power",
        chemistry="LFP",
        nominal_capacity_ah=206,
        cell_count=100,
        probe_count=24,
        limits=_lfp(100, t_max=55, charge_a=206, discharge_a=412),
        firmware_versions=["3.0.2"],
        has_gnss=True,
    ),
    DeviceModel(
        model_id="lfp-400s280-rack",
        kind=DeviceKind.BATTERY_PACK,
        manufacturer="Hengyuan Energy",
        chemistry="LFP",
        nominal_capacity_ah=280,
        cell_count=400,
        probe_count=128,
        limits=_lfp(400, t_max=50, charge_a=140, discharge_a=140),
        firmware_versions=["1.8.0"],
    ),
    DeviceModel(
        model_id="nmc-13s30-swap",
        kind=DeviceKind.BATTERY_PACK,
        manufacturer="Xiaoqi Mobility",
        chemistry="NMC",
        nominal_capacity_ah=30,
        cell_count=13,
        probe_count=4,
        limits=_nmc(13, t_max=60, charge_a=15, discharge_a=40),
        firmware_versions=["1.2.7"],
        has_gnss=True,
    ),
    DeviceModel(
        model_id="ess-cab-215-240s",
        kind=DeviceKind.STORAGE_CABINET,
        manufacturer="Hengyuan Energy",
        chemistry="LFP",
        nominal_capacity_ah=280,
        cell_count=240,
        probe_count=96,
        limits=_lfp(240, t_max=50, charge_a=140, discharge_a=140),
        firmware_versions=["4.0.1", "4.1.0"],
    ),
    DeviceModel(
        model_id="sl-cab-lfp-48s",
        kind=DeviceKind.STORAGE_CABINET,
        manufacturer="Lvxun Second Life",
        chemistry="LFP",
        nominal_capacity_ah=100,
        cell_count=48,
        probe_count=16,
        limits=_lfp(48, t_max=45, charge_a=50, discharge_a=100),
        firmware_versions=["0.9.4"],
    ),
)
