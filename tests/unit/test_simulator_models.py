"""Unit tests of the simulator's physics: OCV, coulomb counting, ageing, thermal, duty cycle, GNSS."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from device_sdk.simulate.catalog import example_model
from device_sdk.simulate.cell import Cell, CellParams, Chemistry, ocv, soc_from_ocv
from device_sdk.simulate.device import DeviceSpec, SimulatedDevice
from device_sdk.simulate.gps import SHENZHEN
from device_sdk.simulate.pack import PackSim
from shared.contracts.devices import DeviceKind, DeviceModel
from shared.contracts.telemetry import BatteryPackTelemetry, BootEvent, OperatingState, Position


def make_model(
    kind: DeviceKind = DeviceKind.BATTERY_PACK,
    chemistry: str = "LFP",
    cells: int = 16,
    probes: int = 4,
    capacity: float = 50.0,
    has_gnss: bool = False,
) -> DeviceModel:
    return example_model(kind, chemistry, cells, probes, capacity, has_gnss)


@pytest.mark.parametrize("chem", list(Chemistry))
def test_ocv_is_strictly_increasing_and_invertible(chem: Chemistry) -> None:
    """LCM-MON-1, LCM-PF-2: OCV rises monotonically with SOC for LFP and NMC (also beyond 0..1)."""
    grid = [i / 1000 for i in range(-50, 1051)]
    volts = [ocv(chem, s) for s in grid]
    assert all(b > a for a, b in itertools.pairwise(volts) if a > 0)
    for s in (0.05, 0.33, 0.5, 0.77, 0.99):
        assert soc_from_ocv(chem, ocv(chem, s)) == pytest.approx(s, abs=1e-9)
    # LFP is flat in the middle, NMC slopes: the reason both curves exist.
    mid_slope = ocv(chem, 0.7) - ocv(chem, 0.3)
    assert (mid_slope < 0.1) if chem is Chemistry.LFP else (mid_slope > 0.2)


def test_chemistry_names() -> None:
    """LCM-PF-2: datasheet chemistry names map to a curve; unknown ones are refused loudly."""
    assert Chemistry.parse("LiFePO4") is Chemistry.LFP
    assert Chemistry.parse("ncm") is Chemistry.NMC
    with pytest.raises(ValueError, match="no OCV curve"):
        Chemistry.parse("lead-acid")


def test_coulomb_counting() -> None:
    """LCM-MON-2: SOC falls by exactly I·t / capacity; charging (negative current) raises it."""
    cell = Cell(CellParams.fresh(Chemistry.NMC, 100.0), soc=0.8)
    for _ in range(360):
        cell.step(10.0, 1.0)  # 10 A for 360 s = 1 Ah = 1 % of 100 Ah
    assert cell.soc == pytest.approx(0.79, abs=1e-12)
    cell.step(-50.0, 72.0)  # 1 Ah back in
    assert cell.soc == pytest.approx(0.80, abs=1e-12)


def test_terminal_voltage_sags_under_load_and_relaxes() -> None:
    """LCM-MON-1: R0 gives an instant drop under load; the RC pair adds a slow one that relaxes at rest."""
    cell = Cell(CellParams.fresh(Chemistry.NMC, 50.0), soc=0.5)
    rest = cell.terminal_voltage(0.0)
    loaded_now = cell.terminal_voltage(50.0)
    assert rest - loaded_now == pytest.approx(50.0 * cell.params.r0_ohm, rel=1e-9)
    for _ in range(120):
        cell.step(50.0, 1.0)
    assert cell.terminal_voltage(50.0) < loaded_now  # polarisation built up
    for _ in range(600):
        cell.step(0.0, 1.0)
    assert cell.v1 == pytest.approx(0.0, abs=1e-4)


def test_ageing_lowers_capacity_and_raises_resistance() -> None:
    """LCM-PF-2: an older cell has less capacity and more resistance; cycling lowers SOH."""
    fresh = CellParams.fresh(Chemistry.LFP, 100.0)
    old = fresh.aged(0.8)
    assert old.capacity_ah == pytest.approx(80.0)
    assert old.r0_ohm > fresh.r0_ohm * 1.5 and old.r1_ohm > fresh.r1_ohm
    assert old.aged(1.0).capacity_ah == pytest.approx(fresh.capacity_ah)
    cell = Cell(fresh, 0.5)
    cell.throughput_ah = 2 * 100.0 * 100  # 100 equivalent full cycles
    cell.apply_cycle_ageing()
    assert cell.params.soh < 1.0 and cell.params.capacity_ah < 100.0


def test_pack_cells_spread_deterministically() -> None:
    """LCM-MON-1, LCM-PF-2: a pack built from a device model has cell_count cells and probe_count probes,
    each cell a little different, identical for the same seed."""
    model = make_model(cells=24, probes=6)
    a, b = PackSim(model, random.Random(7)), PackSim(model, random.Random(7))
    assert len(a.cells) == 24 and len(a.probes) == 6
    caps = [c.params.capacity_ah for c in a.cells]
    assert len(set(caps)) == 24
    assert caps == [c.params.capacity_ah for c in b.cells]
    assert PackSim(model, random.Random(8)).cells[0].params.capacity_ah != caps[0]


def test_same_seed_same_messages() -> None:
    """LCM-PF-5: the simulator is deterministic: the same seed gives the same messages, byte for byte."""
    spec = DeviceSpec("acme", "pack-1", make_model(has_gnss=True), seed=42)
    runs = [[m.model_dump_json() for m in SimulatedDevice(spec).step(120)] for _ in range(2)]
    assert runs[0] == runs[1]
    other = [m.model_dump_json() for m in SimulatedDevice(DeviceSpec("acme", "pack-1", spec.model, seed=43)).step(120)]
    assert other != runs[0]


def test_step_emits_boot_then_telemetry_each_interval() -> None:
    """LCM-MON-1..3, LCM-PF-5: boot event first, then one telemetry per interval with ms timestamps
    and seq growing by one, each with every cell voltage, the current and every probe temperature."""
    dev = SimulatedDevice(DeviceSpec("acme", "pack-1", make_model(cells=20, probes=5), seed=1))
    msgs = dev.step(10.0)
    assert isinstance(msgs[0], BootEvent)
    tele = [m for m in msgs if isinstance(m, BatteryPackTelemetry)]
    assert len(tele) == 10
    assert [m.device_ts_ms - dev.start_ms for m in tele] == [1000 * i for i in range(1, 11)]
    assert [m.seq for m in msgs] == list(range(len(msgs)))
    assert all(len(m.cell_voltages_v) == 20 and len(m.probe_temperatures_c) == 5 for m in tele)
    assert all(m.current_a is not None and m.soc_pct is not None for m in tele)
    # pack voltage ≈ sum of the cells
    last = tele[-1]
    assert last.pack_voltage_v == pytest.approx(sum(v for v in last.cell_voltages_v if v is not None), abs=0.05)


def test_duty_cycle_charges_and_discharges_and_soc_follows_current() -> None:
    """LCM-MON-2, SLW-MON-1: over a few simulated hours the pack charges, discharges and rests, and
    the SOC change equals the integral of the reported current (coulomb counting end to end)."""
    model = make_model(capacity=20.0)
    dev = SimulatedDevice(
        DeviceSpec("acme", "pack-2", model, seed=3, soh=1.0), reporting_interval_ms=60_000, max_substep_s=10.0
    )
    tele = [m for m in dev.step(6 * 3600) if isinstance(m, BatteryPackTelemetry)]
    currents = [m.current_a for m in tele if m.current_a is not None]
    assert min(currents) < 0 < max(currents)
    states = {m.state for m in tele}
    assert {OperatingState.CHARGING, OperatingState.DISCHARGING} <= states
    socs = [m.soc_pct for m in tele if m.soc_pct is not None]
    assert max(socs) - min(socs) > 30
    assert all(0 <= s <= 100 for s in socs)
    # integrate the (piecewise constant) true current over 60 s with 1 s steps
    dev2 = SimulatedDevice(DeviceSpec("acme", "pack-3", model, seed=5, soh=1.0))
    dev2.step(1.0)
    soc0, ah = dev2.pack.soc, 0.0
    for _ in range(600):
        dev2.step(1.0)
        ah += dev2.pack.current_a / 3600.0
    cap = sum(c.params.capacity_ah for c in dev2.pack.cells) / len(dev2.pack.cells)
    assert dev2.pack.soc == pytest.approx(soc0 - ah / cap, abs=0.002)


def test_i2r_heating_and_cooling() -> None:
    """LCM-MON-3: probes warm above ambient under sustained current (I²R) and cool back at rest."""
    model = make_model(capacity=10.0, probes=2)
    pack = PackSim(model, random.Random(1), ambient_c=20.0, initial_soc=0.9)
    for p in pack.probes:
        p.temperature_c = 20.0
    pack.duty.setpoint_a, pack.duty.left_s = 20.0, 1e9  # force 2C discharge
    from device_sdk.simulate.pack import Phase

    pack.duty.phase = Phase.DISCHARGE
    for _ in range(90):
        pack.step(10.0)
    hot = max(pack.probe_temperatures())
    assert hot > 20.3
    pack.cut_off = True
    for _ in range(4 * 360):
        pack.step(10.0)
    assert max(pack.probe_temperatures()) < hot
    assert max(pack.probe_temperatures()) == pytest.approx(20.0, abs=0.5)


def test_gnss_track_near_shenzhen_moves_only_when_riding() -> None:
    """SLW-MON-3, PBR-D-4: a mobile pack reports WGS-84 positions near Shenzhen that move while it
    is discharging (riding) and stay put while it is cut off."""
    model = make_model(has_gnss=True, capacity=20.0)
    dev = SimulatedDevice(DeviceSpec("acme", "bike-1", model, seed=11, initial_soc=0.9), position_interval_ms=5000)
    msgs = dev.step(1800)
    fixes = [m for m in msgs if isinstance(m, Position)]
    assert len(fixes) == 1800 // 5 + 1
    assert all(m.coordinate_system.value == "WGS-84" for m in fixes)
    for f in fixes:
        assert abs(f.latitude_deg - SHENZHEN[0]) < 0.1 and abs(f.longitude_deg - SHENZHEN[1]) < 0.1
    assert any((f.speed_kmh or 0) > 5 for f in fixes)
    dev.pack.cut_off = True
    parked = [m for m in dev.step(60) if isinstance(m, Position)]

    def dist_m(a: Position, b: Position) -> float:
        dy = (a.latitude_deg - b.latitude_deg) * 111_320
        dx = (a.longitude_deg - b.longitude_deg) * 111_320 * math.cos(math.radians(a.latitude_deg))
        return math.hypot(dx, dy)

    assert all(dist_m(parked[0], p) < 20 for p in parked)  # only receiver noise
    assert all(p.speed_kmh == 0 for p in parked)
