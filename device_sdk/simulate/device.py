"""One simulated device: pack physics + cabinet sensors + GNSS + scenarios + command handling.

Pure and deterministic for a given seed: :meth:`SimulatedDevice.step` advances simulated time
and returns the contract messages the device would publish in that time (boot event, state
changes, telemetry every reporting interval, positions). No MQTT here; the fleet runner hands
the messages to a :class:`~device_sdk.client.DeviceClient`.
"""

from __future__ import annotations

import hashlib
import random
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from device_sdk.commands import CommandRejected
from device_sdk.header import HeaderSource
from device_sdk.simulate.cell import CellParams
from device_sdk.simulate.gps import RouteWalker
from device_sdk.simulate.pack import PackSim
from device_sdk.simulate.scenarios import (
    CellOvervoltage,
    Scenario,
    SensorDropout,
    ThermalRunaway,
    WeakCell,
    parse_scenario,
)
from shared.contracts.devices import DeviceKind, DeviceModel, ModelLimits
from shared.contracts.telemetry import (
    CELL_VOLTAGE_V,
    TEMPERATURE_C,
    BatteryPackTelemetry,
    BootEvent,
    Command,
    CommandName,
    CoordinateSystem,
    OperatingState,
    Position,
    StateChangeEvent,
    StorageCabinetTelemetry,
    UplinkHeader,
)

#: 2025-01-01T00:00:00Z: the default simulated start (tests); the fleet runner uses wall time.
DEFAULT_START_MS = 1_735_689_600_000
#: Reporting interval bounds accepted from ``set_reporting_interval``.
MIN_INTERVAL_MS, MAX_INTERVAL_MS = 100, 3_600_000
#: The longest physics sub-step; shorter ones are taken at report boundaries.
_MAX_SUBSTEP_S = 1.0
_ATMOSPHERE_KPA = 101.3


@dataclass(frozen=True)
class DeviceSpec:
    """Everything that defines one simulated device (a fleet-file row without the credentials)."""

    tenant_id: str
    thing_name: str
    model: DeviceModel
    kind: DeviceKind | None = None  # default: the model's kind
    has_gnss: bool | None = None  # default: the model's has_gnss
    seed: int | None = None  # default: derived from the thing name, stable across runs
    soh: float | None = None  # default: 0.95 packs, 0.8 second-life cabinets
    ambient_c: float = 25.0
    initial_soc: float | None = None
    scenario: str | Mapping[str, Any] | None = None

    @property
    def effective_kind(self) -> DeviceKind:
        return self.kind or self.model.kind

    @property
    def effective_seed(self) -> int:
        return self.seed if self.seed is not None else zlib.crc32(f"{self.tenant_id}/{self.thing_name}".encode())


#: ``set_parameters`` keys → (ModelLimits field, lowest, highest, lowest excluded); the same
#: ranges as the platform's check (``shared.domain.commands.params``).
_PROTECTION_PARAMETERS: dict[str, tuple[str, float, float, bool]] = {
    "max_charge_current_a": ("max_charge_current_a", 0.0, 3000.0, True),
    "max_discharge_current_a": ("max_discharge_current_a", 0.0, 3000.0, True),
    "max_temperature_c": ("max_operating_temperature_c", 0.0, 120.0, False),
    "min_temperature_c": ("temperature_min_c", -40.0, 40.0, False),
}


def _ramp(x: float) -> float:
    """0 before 0, quadratic rise, 1 after 1: a gas plume building up."""
    return 0.0 if x <= 0 else 1.0 if x >= 1 else x * x


class SimulatedDevice:
    """A battery pack or storage cabinet that obeys commands and can be given faults."""

    def __init__(
        self,
        spec: DeviceSpec,
        headers: HeaderSource | None = None,
        *,
        start_ms: int = DEFAULT_START_MS,
        reporting_interval_ms: int = 1000,
        position_interval_ms: int = 10_000,
        firmware_version: str | None = None,
        max_substep_s: float = _MAX_SUBSTEP_S,
    ) -> None:
        self.spec = spec
        self.kind = spec.effective_kind
        self.has_gnss = spec.model.has_gnss if spec.has_gnss is None else spec.has_gnss
        seed = spec.effective_seed
        # Separate streams so, e.g., turning on sensor noise never changes the physics.
        self._rng = random.Random(seed)
        self._noise = random.Random(seed ^ 0x5EED)
        self._scenario_rng = random.Random(seed ^ 0xFA17)
        soh = spec.soh if spec.soh is not None else (0.8 if self.kind is DeviceKind.STORAGE_CABINET else 0.95)
        self.pack = PackSim(
            spec.model,
            self._rng,
            soh=soh,
            ambient_c=spec.ambient_c,
            initial_soc=spec.initial_soc,
            mobile=self.has_gnss,
        )
        self.route = RouteWalker(random.Random(seed ^ 0x6E55)) if self.has_gnss else None
        self.headers = headers or HeaderSource(boot_id=f"sim{seed:08x}", clock_ms=lambda: self.now_ms)
        self.firmware_version = firmware_version or (spec.model.firmware_versions or ["sim-1.0.0"])[-1]
        self.start_ms = start_ms
        # Physics steps never exceed this; 1 s resolves the runaway ramps, long runs may use more.
        self.max_substep_s = max_substep_s
        self.reporting_interval_ms = reporting_interval_ms
        self.position_interval_ms = position_interval_ms
        self._t_s = 0.0
        self._next_report_s = reporting_interval_ms / 1000.0
        self._next_position_s = 0.0
        self._booted = False
        self._last_state = self.pack.state
        self._lock = threading.RLock()
        self._pending: list[UplinkHeader] = []

        # Scenario state
        self.scenarios: dict[str, tuple[Scenario, float, int]] = {}  # name -> (options, t0, cell index)
        self._dropout_cells: set[int] = set()
        self._dropout_probes: set[int] = set()
        self._gas_dropout = False
        self._runaway_initial_v: float | None = None
        # Cabinet safety sensors (baselines)
        self.h2_ppm = self._noise.uniform(0.5, 2.0)
        self.co_ppm = self._noise.uniform(1.0, 3.0)
        self.smoke = False
        self.flame = False
        self.module_pressure_kpa = _ATMOSPHERE_KPA
        if spec.scenario is not None:
            self.inject(spec.scenario)

    # ---- time ---------------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        """Simulated device time, UTC epoch ms."""
        return self.start_ms + round(self._t_s * 1000)

    @property
    def elapsed_s(self) -> float:
        """Simulated seconds since start."""
        return self._t_s

    # ---- scenarios ------------------------------------------------------------------------------

    def inject(self, scenario: str | Mapping[str, Any] | Scenario) -> Scenario:
        """Switch a fault scenario on from now; returns the parsed scenario."""
        sc = parse_scenario(scenario)
        with self._lock:
            n = len(self.pack.cells)
            index = getattr(sc, "cell_index", None)
            if index is None:
                index = self._scenario_rng.randrange(n)
            if not 0 <= index < n:
                raise ValueError(f"cell_index {index} out of range 0..{n - 1}")
            self.scenarios[sc.name] = (sc, self._t_s, index)
            if isinstance(sc, WeakCell):
                cell = self.pack.cells[index]
                p = cell.params
                cell.params = CellParams(
                    p.chemistry,
                    p.capacity_ah * sc.capacity_factor,
                    p.r0_ohm * sc.resistance_factor,
                    p.r1_ohm * sc.resistance_factor,
                    p.c1_f / sc.resistance_factor,
                    p.soh * sc.capacity_factor,
                )
            elif isinstance(sc, SensorDropout):
                k_cells = max(1, round(sc.fraction * n))
                self._dropout_cells = set(self._scenario_rng.sample(range(n), k_cells))
                n_probes = len(self.pack.probes)
                if n_probes:
                    k_probes = max(1, round(sc.fraction * n_probes))
                    self._dropout_probes = set(self._scenario_rng.sample(range(n_probes), k_probes))
                self._gas_dropout = sc.include_gas
            elif isinstance(sc, ThermalRunaway):
                self._runaway_initial_v = self.pack.cell_voltages()[index]
            return sc

    def clear_scenarios(self) -> None:
        """Stop sensor dropout and further drift; physical damage (a weak or burnt cell) stays."""
        with self._lock:
            self.scenarios.clear()
            self._dropout_cells.clear()
            self._dropout_probes.clear()
            self._gas_dropout = False
            self.pack.forced_rate = [0.0] * len(self.pack.probes)

    def scenario_cell(self, name: str) -> int | None:
        """The cell a running scenario acts on (e.g. the runaway trigger cell)."""
        entry = self.scenarios.get(name)
        return entry[2] if entry else None

    def _apply_scenarios(self, dt_s: float) -> None:
        ov = self.scenarios.get(CellOvervoltage.name)
        if ov is not None:
            sc, _, i = ov
            assert isinstance(sc, CellOvervoltage)
            cell = self.pack.cells[i]
            if cell.terminal_voltage(0.0) < self.pack.limits.cell_voltage_max_v + sc.max_overshoot_v:
                cell.soc += sc.drift_soc_per_s * dt_s
        tr = self.scenarios.get(ThermalRunaway.name)
        if tr is not None:
            self._apply_runaway(tr[0], self._t_s - tr[1], tr[2])

    def _apply_runaway(self, sc: Scenario, rel_s: float, cell_index: int) -> None:
        assert isinstance(sc, ThermalRunaway)
        self.h2_ppm = max(self.h2_ppm, sc.h2_peak_ppm * _ramp(rel_s / sc.gas_rise_time_s))
        self.co_ppm = max(self.co_ppm, sc.co_peak_ppm * _ramp((rel_s - sc.co_delay_s) / sc.gas_rise_time_s))
        heat_s = rel_s - sc.gas_lead_s
        if heat_s < 0 or not self.pack.probes:
            if heat_s >= 0:
                self._collapse(sc, heat_s, cell_index)
            return
        j = self.pack.probe_of_cell[cell_index]
        rates = [0.0] * len(self.pack.probes)
        if self.pack.probes[j].temperature_c < sc.max_temperature_c:
            rates[j] = sc.heating_rate_c_per_s
            for k in (j - 1, j + 1):  # propagation to the neighbouring blocks
                if 0 <= k < len(rates):
                    rates[k] = sc.heating_rate_c_per_s * sc.neighbour_heating_fraction
        self.pack.forced_rate = rates
        self._collapse(sc, heat_s, cell_index)
        if heat_s >= sc.vent_after_s:
            # Venting: a pressure spike that decays back towards ambient.
            self.module_pressure_kpa = _ATMOSPHERE_KPA + 25.0 * max(0.0, 1 - (heat_s - sc.vent_after_s) / 30.0)
        self.smoke = self.smoke or heat_s >= sc.smoke_after_s
        self.flame = self.flame or heat_s >= sc.flame_after_s

    def _collapse(self, sc: ThermalRunaway, heat_s: float, cell_index: int) -> None:
        x = (heat_s - sc.collapse_start_s) / sc.collapse_duration_s
        if x <= 0:
            return
        frac = min(1.0, x)
        self.pack.cells[cell_index].collapse_factor = 1.0 - frac * (1.0 - sc.collapse_to_fraction)
        if not self.pack.fault:
            self.pack.fault = True  # the BMS sees the collapse and opens the contactor

    # ---- commands -------------------------------------------------------------------------------

    def handle_command(self, cmd: Command) -> None:
        """Execute a platform command (a :class:`~device_sdk.client.DeviceClient` handler).

        Raises :class:`CommandRejected` for commands this device does not support or bad params.
        Protective latches (cut-off, charge/discharge inhibits, fault) survive a ``restart``; only
        ``fault_reset`` clears them.
        """
        with self._lock:
            if cmd.name is CommandName.CUT_OFF:
                self.pack.cut_off = True
                self.pack.current_a = 0.0
            elif cmd.name is CommandName.STOP_CHARGE:
                self.pack.charge_inhibited = True
                self.pack.current_a = max(0.0, self.pack.current_a)
            elif cmd.name is CommandName.STOP_DISCHARGE:
                self.pack.discharge_inhibited = True
                self.pack.current_a = min(0.0, self.pack.current_a)
            elif cmd.name is CommandName.SET_REPORTING_INTERVAL:
                value = cmd.params.get("interval_ms")
                if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
                    raise CommandRejected("invalid_interval_ms")
                if not MIN_INTERVAL_MS <= int(value) <= MAX_INTERVAL_MS:
                    raise CommandRejected("interval_ms_out_of_range")
                self.set_reporting_interval(int(value))
            elif cmd.name is CommandName.FAULT_RESET:
                if self.scenarios.get(ThermalRunaway.name):
                    raise CommandRejected("fault_persists")
                self.pack.cut_off = self.pack.fault = False
                self.pack.charge_inhibited = self.pack.discharge_inhibited = False
            elif cmd.name is CommandName.SET_PARAMETERS:
                self.set_protection_limits(cmd.params)
            elif cmd.name is CommandName.RESTART:
                self.restart()
            else:
                raise CommandRejected("unsupported_command")
            self._note_state(f"command:{cmd.name.value}")

    def set_protection_limits(self, params: Mapping[str, object]) -> ModelLimits:
        """``set_parameters``: new charge/discharge current and temperature limits for the BMS.

        All or nothing: an unknown key (``unknown_parameter:<key>``), a non-number
        (``invalid_parameter:<key>``), a value outside the accepted range
        (``parameter_out_of_range:<key>``) or beyond the model's datasheet rating
        (``exceeds_rating:<key>``), or a minimum temperature not below the maximum
        (``invalid_temperature_range``) rejects the command and changes nothing. The pack clamps
        its current to the new limits from the next step (and at once, here).
        """
        if not params:
            raise CommandRejected("no_parameters")
        rated = self.spec.model.limits
        update: dict[str, float] = {}
        for key in sorted(params):
            rule = _PROTECTION_PARAMETERS.get(key)
            if rule is None:
                raise CommandRejected(f"unknown_parameter:{key}")
            field, low, high, exclusive_low = rule
            value = params[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CommandRejected(f"invalid_parameter:{key}")
            if not (value > low if exclusive_low else value >= low) or value > high:
                raise CommandRejected(f"parameter_out_of_range:{key}")
            rating = float(getattr(rated, field))
            if (value < rating) if field == "temperature_min_c" else (value > rating):
                raise CommandRejected(f"exceeds_rating:{key}")
            update[field] = float(value)
        try:
            limits = ModelLimits.model_validate({**self.pack.limits.model_dump(), **update})
        except ValidationError as exc:
            raise CommandRejected("invalid_temperature_range") from exc
        self.pack.limits = limits
        current = self.pack.current_a
        self.pack.current_a = max(-limits.max_charge_current_a, min(limits.max_discharge_current_a, current))
        return limits

    def restart(self) -> str:
        """``restart``: a controller reboot as the platform sees it; returns the new ``boot_id``.

        A new boot id (derived from the previous one, so the simulation stays deterministic),
        ``seq`` from 0 again, a ``boot`` event with ``reset_reason`` ``command`` as the first
        message of the new boot, and the report schedule restarting from now. The pack (cells,
        charge, latched protection) is untouched, as a BMS keeps its latches in non-volatile memory.
        The MQTT session is not dropped: a fleet's client stamps its acks from its own header
        source, whose boot id stays distinct, so no dedupe key is ever reused.
        """
        with self._lock:
            boot_id = "b" + hashlib.sha256(f"{self.headers.boot_id}/restart".encode()).hexdigest()[:31]
            self.headers = HeaderSource(boot_id=boot_id, clock_ms=lambda: self.now_ms)
            self._booted = True
            self._pending.append(self._stamp(BootEvent, firmware_version=self.firmware_version, reset_reason="command"))
            self._next_report_s = self._t_s + self.reporting_interval_ms / 1000.0
            self._next_position_s = self._t_s
            return boot_id

    def set_reporting_interval(self, interval_ms: int, phase_s: float | None = None) -> None:
        """Report every ``interval_ms`` from now on; the next report comes after ``phase_s``
        seconds (default: one interval) so a fleet can spread its devices over the interval."""
        with self._lock:
            self.reporting_interval_ms = interval_ms
            self._next_report_s = self._t_s + (interval_ms / 1000.0 if phase_s is None else phase_s)

    # ---- stepping ---------------------------------------------------------------------------------

    def step(self, dt_s: float) -> list[UplinkHeader]:
        """Advance ``dt_s`` simulated seconds; return the messages published in that time, in order."""
        if dt_s < 0:
            raise ValueError("dt_s must not be negative")
        with self._lock:
            out: list[UplinkHeader] = []
            if not self._booted:
                self._booted = True
                out.append(self._stamp(BootEvent, firmware_version=self.firmware_version, reset_reason="power_on"))
            out.extend(self._pending)
            self._pending.clear()
            remaining = dt_s
            while remaining > 1e-9:
                h = min(remaining, self.max_substep_s, max(1e-6, self._next_report_s - self._t_s))
                if self.route is not None:
                    h = min(h, max(1e-6, self._next_position_s - self._t_s))
                self._apply_scenarios(h)
                self.pack.step(h)
                if self.route is not None:
                    self.route.step(h, moving=self.pack.current_a > 0)
                self._t_s += h
                remaining -= h
                self._note_state("bms")
                out.extend(self._pending)
                self._pending.clear()
                if self._t_s >= self._next_report_s - 1e-9:
                    out.append(self.telemetry())
                    self._next_report_s += self.reporting_interval_ms / 1000.0
                if self.route is not None and self._t_s >= self._next_position_s - 1e-9:
                    out.append(self.position())
                    self._next_position_s += self.position_interval_ms / 1000.0
            return out

    def _note_state(self, cause: str) -> None:
        state = self.pack.state
        if state is not self._last_state:
            self._pending.append(
                self._stamp(StateChangeEvent, from_state=self._last_state, to_state=state, cause=cause[:64])
            )
            self._last_state = state

    def _stamp(self, model: type[Any], **fields: Any) -> Any:
        return self.headers.stamp(model, self.now_ms, **fields)

    # ---- readings -----------------------------------------------------------------------------------

    def telemetry(self) -> BatteryPackTelemetry | StorageCabinetTelemetry:
        """A sample of the current state as the device reports it (sensor noise, dropouts as null)."""
        with self._lock:
            pack = self.pack
            lo_v, hi_v = CELL_VOLTAGE_V
            lo_t, hi_t = TEMPERATURE_C
            cells: list[float | None] = [
                None if i in self._dropout_cells else round(min(hi_v, max(lo_v, v + self._noise.gauss(0, 0.001))), 3)
                for i, v in enumerate(pack.cell_voltages())
            ]
            probes: list[float | None] = [
                None if j in self._dropout_probes else round(min(hi_t, max(lo_t, t + self._noise.gauss(0, 0.1))), 1)
                for j, t in enumerate(pack.probe_temperatures())
            ]
            # Pack voltage is measured on its own (not summed), so it survives cell-sensor dropouts.
            pack_v = sum(c.terminal_voltage(pack.current_a, pack.cell_temperature(i)) for i, c in enumerate(pack.cells))
            insulation = 50.0 if self.flame else 5000.0 + self._noise.gauss(0, 100)
            common: dict[str, Any] = {
                "pack_voltage_v": round(min(2000.0, pack_v), 2),
                "current_a": round(pack.current_a, 2),
                "soc_pct": round(pack.soc * 100, 1),
                "insulation_resistance_kohm": round(max(0.0, insulation), 0),
                "cell_voltages_v": cells,
                "probe_temperatures_c": probes,
                "state": pack.state,
            }
            if self.kind is DeviceKind.BATTERY_PACK:
                return self._stamp(BatteryPackTelemetry, **common)
            gas_ok = not self._gas_dropout
            return self._stamp(
                StorageCabinetTelemetry,
                **common,
                h2_ppm=round(max(0.0, self.h2_ppm + self._noise.gauss(0, 0.2)), 1) if gas_ok else None,
                co_ppm=round(max(0.0, self.co_ppm + self._noise.gauss(0, 0.3)), 1) if gas_ok else None,
                smoke_detected=self.smoke,
                flame_detected=self.flame,
                water_ingress=False,
                door_open=False,
                module_pressure_kpa=round(self.module_pressure_kpa + self._noise.gauss(0, 0.05), 2),
                breaker_closed=not (pack.cut_off or pack.fault),
            )

    def position(self) -> Position:
        """A GNSS fix (WGS-84); raises if the device has no receiver."""
        if self.route is None:
            raise RuntimeError(f"{self.spec.thing_name} has no GNSS receiver")
        fix = self.route.fix()
        return self._stamp(
            Position,
            latitude_deg=fix.latitude_deg,
            longitude_deg=fix.longitude_deg,
            coordinate_system=CoordinateSystem.WGS84,
            fix_valid=True,
            speed_kmh=fix.speed_kmh,
            heading_deg=fix.heading_deg,
            altitude_m=round(fix.altitude_m, 1),
        )

    @property
    def state(self) -> OperatingState:
        """The pack's operating state."""
        return self.pack.state
