"""Unit tests of the simulator's fault scenarios, command handling and fleet file."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from device_sdk.commands import CommandRejected
from device_sdk.simulate.catalog import example_model as make_model
from device_sdk.simulate.device import DeviceSpec, SimulatedDevice
from device_sdk.simulate.fleet import FleetEntry, load_fleet_file
from device_sdk.simulate.scenarios import ThermalRunaway, parse_scenario
from shared.contracts.devices import DeviceKind
from shared.contracts.telemetry import (
    BatteryPackTelemetry,
    Command,
    CommandName,
    OperatingState,
    StateChangeEvent,
    StorageCabinetTelemetry,
)

H2_PREWARNING_PPM = 40.0  # 0.1 %LEL, the lowest first-stage threshold of DB63/T 2286 (domain.md §2.2)


def cabinet(seed: int = 1, **spec: object) -> SimulatedDevice:
    model = make_model(DeviceKind.STORAGE_CABINET, cells=16, probes=8, capacity_ah=100.0)
    return SimulatedDevice(DeviceSpec("acme", "cab-1", model, seed=seed, **spec))  # type: ignore[arg-type]


def cmd(name: CommandName, **params: str | int | float | bool) -> Command:
    return Command(command_id="c1", name=name, params=params, issued_at_ms=1, expires_at_ms=2, idempotency_key="k1")


def runaway_criterion_time(
    samples: Sequence[StorageCabinetTelemetry | BatteryPackTelemetry], cell: int, probe: int, v_initial: float
) -> float | None:
    """First sample time (s) at which GB 38031 C.5.3.7 (a AND c) holds: the trigger cell's voltage
    is more than 25 % below its initial value and dT/dt ≥ 1 °C/s has held for more than 3 s."""
    run_start: int | None = None
    for prev, cur in itertools.pairwise(samples):
        t_prev, t_cur = prev.probe_temperatures_c[probe], cur.probe_temperatures_c[probe]
        dt = (cur.device_ts_ms - prev.device_ts_ms) / 1000
        if t_prev is not None and t_cur is not None and (t_cur - t_prev) / dt >= 1.0:
            run_start = prev.device_ts_ms if run_start is None else run_start
        else:
            run_start = None
        v = cur.cell_voltages_v[cell]
        if (
            run_start is not None
            and (cur.device_ts_ms - run_start) / 1000 > 3.0
            and v is not None
            and v < 0.75 * v_initial
        ):
            return cur.device_ts_ms / 1000
    return None


def test_thermal_runaway_sequence_gas_first_then_criterion() -> None:
    """SLW-MON-1, LCM-MON-1, LCM-MON-3: H2 rises first, then CO, then one cell heats at ≥ 1 °C/s for
    more than 3 s while its voltage collapses by more than 25 % (GB 38031 C.5.3.7 a AND c),
    then smoke, then flame — the order of domain.md §2, the gas lead compressed to seconds."""
    dev = cabinet()
    dev.step(5)
    sc = ThermalRunaway(gas_lead_s=20)
    dev.inject(sc)
    cell = dev.scenario_cell("thermal_runaway")
    assert cell is not None
    probe = dev.pack.probe_of_cell[cell]
    v0 = dev.pack.cell_voltages()[cell]
    msgs = dev.step(60)
    tele = [m for m in msgs if isinstance(m, StorageCabinetTelemetry)]

    def first(pred) -> float:  # type: ignore[no-untyped-def]
        return next(m.device_ts_ms / 1000 for m in tele if pred(m))

    t_h2 = first(lambda m: m.h2_ppm is not None and m.h2_ppm >= H2_PREWARNING_PPM)
    t_co = first(lambda m: m.co_ppm is not None and m.co_ppm >= 50)
    t_tr = runaway_criterion_time(tele, cell, probe, v0)
    t_smoke = first(lambda m: m.smoke_detected)
    t_flame = first(lambda m: m.flame_detected)
    assert t_tr is not None, "the runaway criterion was never met"
    assert t_h2 < t_co < t_tr < t_flame
    assert t_smoke < t_flame
    assert t_tr - t_h2 >= sc.gas_lead_s * 0.8  # the pre-warning leads by about the configured gas lead
    # the BMS reacts: fault state, contactor open, breaker reported open
    assert tele[-1].state is OperatingState.FAULT and tele[-1].current_a == 0
    assert tele[-1].breaker_closed is False
    assert any(isinstance(m, StateChangeEvent) and m.to_state is OperatingState.FAULT for m in msgs)
    # only the trigger cell collapsed
    others = [v for i, v in enumerate(tele[-1].cell_voltages_v) if i != cell]
    assert all(v is not None and v > 0.9 * v0 for v in others)


def test_thermal_runaway_in_a_pack_without_gas_sensors() -> None:
    """LCM-MON-1, LCM-MON-3: a pack (no gas sensors) still shows the temperature and voltage criterion."""
    model = make_model(DeviceKind.BATTERY_PACK, chemistry="NMC", cells=12, probes=3)
    dev = SimulatedDevice(DeviceSpec("acme", "p-1", model, seed=2))
    dev.step(3)
    dev.inject({"name": "thermal_runaway", "gas_lead_s": 5, "co_delay_s": 2, "cell_index": 4})
    v0 = dev.pack.cell_voltages()[4]
    tele = [m for m in dev.step(30) if isinstance(m, BatteryPackTelemetry)]
    assert runaway_criterion_time(tele, 4, dev.pack.probe_of_cell[4], v0) is not None


def test_sensor_dropout_gives_null_never_zero() -> None:
    """LCM-MON-1, LCM-MON-3, SLW-IF-1: dropped-out sensors read null; positions are kept; nothing reads 0."""
    dev = cabinet()
    dev.step(2)
    dev.inject("sensor_dropout")
    tele = [m for m in dev.step(5) if isinstance(m, StorageCabinetTelemetry)]
    for m in tele:
        assert len(m.cell_voltages_v) == 16 and len(m.probe_temperatures_c) == 8
        assert None in m.cell_voltages_v and None in m.probe_temperatures_c
        assert m.h2_ppm is None and m.co_ppm is None
        assert 0 not in m.cell_voltages_v and 0 not in m.probe_temperatures_c
    dropped = {i for i, v in enumerate(tele[0].cell_voltages_v) if v is None}
    assert all({i for i, v in enumerate(m.cell_voltages_v) if v is None} == dropped for m in tele)
    dev.clear_scenarios()
    after = [m for m in dev.step(2) if isinstance(m, StorageCabinetTelemetry)]
    assert None not in after[-1].cell_voltages_v and after[-1].h2_ppm is not None


def test_cell_overvoltage_drifts_above_max() -> None:
    """LCM-MON-1: the cell_overvoltage scenario drives one cell above the model's maximum voltage."""
    dev = cabinet(initial_soc=0.6)
    v_max = dev.pack.limits.cell_voltage_max_v
    dev.inject({"name": "cell_overvoltage", "cell_index": 3})
    tele = [m for m in dev.step(120) if isinstance(m, StorageCabinetTelemetry)]
    last = tele[-1].cell_voltages_v
    assert last[3] is not None and last[3] > v_max
    assert all(v is not None and v < v_max for i, v in enumerate(last) if i != 3)


def test_weak_cell_sags_most_under_load() -> None:
    """LCM-MON-1: a weak cell (low capacity, high resistance) is the lowest cell under discharge."""
    dev = cabinet(initial_soc=0.8)
    dev.inject({"name": "weak_cell", "cell_index": 5})
    from device_sdk.simulate.pack import Phase

    dev.pack.duty.phase, dev.pack.duty.setpoint_a, dev.pack.duty.left_s = Phase.DISCHARGE, 50.0, 1e9
    tele = [m for m in dev.step(300) if isinstance(m, StorageCabinetTelemetry)]
    volts = tele[-1].cell_voltages_v
    assert volts.index(min(v for v in volts if v is not None)) == 5


def test_cut_off_command_zeroes_current() -> None:
    """SLW-IF-1, LCM-MON-2: cut_off opens the contactor: current 0 and state cut_off until fault_reset."""
    dev = cabinet(initial_soc=0.5)
    from device_sdk.simulate.pack import Phase

    dev.pack.duty.phase, dev.pack.duty.setpoint_a, dev.pack.duty.left_s = Phase.DISCHARGE, 40.0, 1e9
    before = [m for m in dev.step(3) if isinstance(m, StorageCabinetTelemetry)]
    assert before[-1].current_a and before[-1].current_a > 0
    dev.handle_command(cmd(CommandName.CUT_OFF))
    msgs = dev.step(30)
    tele = [m for m in msgs if isinstance(m, StorageCabinetTelemetry)]
    assert all(m.current_a == 0 and m.state is OperatingState.CUT_OFF for m in tele)
    assert tele[-1].breaker_closed is False
    change = [m for m in msgs if isinstance(m, StateChangeEvent)]
    assert change and change[0].to_state is OperatingState.CUT_OFF and change[0].cause == "command:cut_off"
    dev.handle_command(cmd(CommandName.FAULT_RESET))
    tele = [m for m in dev.step(3) if isinstance(m, StorageCabinetTelemetry)]
    assert tele[-1].state is not OperatingState.CUT_OFF


def test_stop_charge_and_stop_discharge() -> None:
    """SLW-IF-1: stop_charge blocks charging current, stop_discharge blocks discharging current."""
    from device_sdk.simulate.pack import Phase

    dev = cabinet(initial_soc=0.3)
    dev.pack.duty.phase, dev.pack.duty.setpoint_a, dev.pack.duty.left_s = Phase.CHARGE, -30.0, 1e9
    dev.step(2)
    assert dev.pack.current_a < 0
    dev.handle_command(cmd(CommandName.STOP_CHARGE))
    assert all(
        m.current_a is not None and m.current_a >= 0 for m in dev.step(20) if isinstance(m, StorageCabinetTelemetry)
    )
    dev = cabinet(initial_soc=0.7)
    dev.pack.duty.phase, dev.pack.duty.setpoint_a, dev.pack.duty.left_s = Phase.DISCHARGE, 30.0, 1e9
    dev.step(2)
    dev.handle_command(cmd(CommandName.STOP_DISCHARGE))
    assert all(
        m.current_a is not None and m.current_a <= 0 for m in dev.step(20) if isinstance(m, StorageCabinetTelemetry)
    )


def test_set_reporting_interval_and_rejections() -> None:
    """SLW-IF-1: set_reporting_interval changes the report rate; bad params and unsupported commands are rejected."""
    dev = cabinet()
    dev.step(1)
    dev.handle_command(cmd(CommandName.SET_REPORTING_INTERVAL, interval_ms=250))
    assert len([m for m in dev.step(5) if isinstance(m, StorageCabinetTelemetry)]) == 20
    for bad in ({"interval_ms": "fast"}, {"interval_ms": 10}, {}, {"interval_ms": True}):
        with pytest.raises(CommandRejected):
            dev.handle_command(cmd(CommandName.SET_REPORTING_INTERVAL, **bad))  # type: ignore[arg-type]
    with pytest.raises(CommandRejected, match="no_parameters"):
        dev.handle_command(cmd(CommandName.SET_PARAMETERS))


def test_scenario_parsing() -> None:
    """LCM-PF-2: scenarios come by name or as a dict with options; unknown names/options are refused."""
    assert parse_scenario("weak_cell").name == "weak_cell"
    tr = parse_scenario({"name": "thermal_runaway", "gas_lead_s": 90})
    assert isinstance(tr, ThermalRunaway) and tr.gas_lead_s == 90
    with pytest.raises(ValueError, match="unknown scenario"):
        parse_scenario("meteor_strike")
    with pytest.raises(ValueError, match="unknown option"):
        parse_scenario({"name": "weak_cell", "bogus": 1})
    with pytest.raises(ValueError, match="gas before heat"):
        parse_scenario({"name": "thermal_runaway", "gas_lead_s": 3, "co_delay_s": 6})


def test_fleet_file(tmp_path: Path) -> None:
    """LCM-PF-2, ARC-2: the fleet file lists devices of several kinds with their model, credentials and scenario."""
    pack = make_model(DeviceKind.BATTERY_PACK, has_gnss=True)
    cab = make_model(DeviceKind.STORAGE_CABINET, chemistry="NMC")
    rows: list[dict[str, Any]] = [
        {"tenant_id": "acme", "thing_name": "p-1", "kind": "battery_pack", "model": pack.model_dump(mode="json"),
         "cert_path": "p.pem", "key_path": "p.key", "has_gnss": True},
        {"tenant_id": "acme", "thing_name": "c-1", "kind": "storage_cabinet", "model": cab.model_dump(mode="json"),
         "cert_path": "c.pem", "key_path": "c.key", "scenario": "thermal_runaway"},
    ]  # fmt: skip
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(rows))
    entries = load_fleet_file(path)
    assert [e.thing_name for e in entries] == ["p-1", "c-1"]
    dev = SimulatedDevice(entries[1].spec())
    assert "thermal_runaway" in dev.scenarios
    path.write_text(json.dumps([rows[0], rows[0]]))
    with pytest.raises(ValueError, match="twice"):
        load_fleet_file(path)
    with pytest.raises(ValueError, match="does not match"):
        FleetEntry.model_validate({**rows[0], "kind": "storage_cabinet"})
