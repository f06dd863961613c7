"""A battery pack of N series cells with probes, a duty cycle and a simple BMS.

Built from a registry :class:`~shared.contracts.devices.DeviceModel`: ``cell_count`` series
cells of ``nominal_capacity_ah``, ``probe_count`` thermal nodes (each probe watches one
contiguous block of cells), the datasheet limits for the BMS.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from device_sdk.simulate.cell import Cell, CellParams, Chemistry
from device_sdk.simulate.thermal import ThermalNode
from shared.contracts.devices import DeviceModel
from shared.contracts.telemetry import OperatingState

#: SOH is folded into the cell parameters this often (simulated seconds).
_AGEING_PERIOD_S = 600.0


class Phase(StrEnum):
    IDLE = "idle"
    CHARGE = "charge"
    DISCHARGE = "discharge"


@dataclass
class DutyCycle:
    """What the load/charger asks for: idle → discharge → idle → charge ..., from a seeded RNG.

    ``mobile`` packs (swap batteries, e-bikes) see a fluctuating riding current; stationary
    storage sees steady C-rates. Phases end on time or on SOC/voltage bounds, like a real EMS.
    """

    rng: random.Random
    capacity_ah: float
    max_charge_a: float
    max_discharge_a: float
    mobile: bool = False
    phase: Phase = Phase.IDLE
    left_s: float = 0.0
    setpoint_a: float = 0.0
    _hold_s: float = 0.0

    def _start(self, phase: Phase) -> None:
        self.phase = phase
        if phase is Phase.IDLE:
            self.left_s = self.rng.uniform(30, 300) if self.mobile else self.rng.uniform(60, 600)
            self.setpoint_a = 0.0
        elif phase is Phase.DISCHARGE:
            self.left_s = self.rng.uniform(600, 3600)
            self.setpoint_a = min(self.max_discharge_a, self.capacity_ah * self.rng.uniform(0.2, 0.5))
        else:
            self.left_s = 4 * 3600.0  # ends on voltage/SOC, not on time
            self.setpoint_a = -min(self.max_charge_a, self.capacity_ah * self.rng.uniform(0.3, 0.5))
        self._hold_s = 0.0

    def desired_current(
        self, dt_s: float, soc: float, max_cell_v: float, min_cell_v: float, v_max: float, v_min: float
    ) -> float:
        """The current (A, + = discharge) the load or charger draws for the next ``dt_s``."""
        self.left_s -= dt_s
        if self.phase is Phase.IDLE and self.left_s <= 0:
            if soc < 0.3:
                self._start(Phase.CHARGE)
            elif soc > 0.85:
                self._start(Phase.DISCHARGE)
            else:
                self._start(self.rng.choice([Phase.CHARGE, Phase.DISCHARGE]))
        elif self.phase is Phase.DISCHARGE and (self.left_s <= 0 or soc <= 0.12 or min_cell_v <= v_min + 0.05):
            self._start(Phase.IDLE)
        elif self.phase is Phase.CHARGE:
            # Constant current, then a constant-voltage-like taper near the top; end when it is small.
            headroom = v_max - 0.03 - max_cell_v
            if headroom < 0.05:
                self.setpoint_a *= max(0.0, 1 - dt_s / 60.0)
            if soc >= 0.99 or abs(self.setpoint_a) < 0.03 * self.capacity_ah or self.left_s <= 0:
                self._start(Phase.IDLE)
        if self.phase is Phase.DISCHARGE and self.mobile:
            # Riding: the current wanders (hills, stops) every few seconds around the setpoint.
            self._hold_s -= dt_s
            if self._hold_s <= 0:
                self._hold_s = self.rng.uniform(3, 15)
                base = self.capacity_ah * 0.35
                self.setpoint_a = min(self.max_discharge_a, max(0.0, self.rng.gauss(base, base * 0.5)))
        return self.setpoint_a


class PackSim:
    """Electrical + thermal state of one pack; call :meth:`step` with simulated time."""

    def __init__(
        self,
        model: DeviceModel,
        rng: random.Random,
        *,
        soh: float = 0.95,
        ambient_c: float = 25.0,
        initial_soc: float | None = None,
        mobile: bool = False,
    ) -> None:
        self.model = model
        self.limits = model.limits
        self.ambient_c = ambient_c
        chemistry = Chemistry.parse(model.chemistry)
        base = CellParams.fresh(chemistry, model.nominal_capacity_ah).aged(soh)
        soc0 = rng.uniform(0.4, 0.9) if initial_soc is None else initial_soc
        # Per-cell spread from the seeded RNG: capacity, resistance and a little SOC imbalance.
        self.cells = [
            Cell(base.with_spread(rng), min(1.0, max(0.0, soc0 + rng.gauss(0, 0.005)))) for _ in range(model.cell_count)
        ]
        n_probes = model.probe_count
        self.probe_of_cell = [i * n_probes // model.cell_count for i in range(model.cell_count)] if n_probes else []
        cells_per_probe = max(1, model.cell_count // max(1, n_probes))
        self.probes = [
            ThermalNode.for_cells(cells_per_probe, model.nominal_capacity_ah, ambient_c + rng.uniform(-0.5, 0.5))
            for _ in range(n_probes)
        ]
        self.forced_rate = [0.0] * n_probes  # °C/s added by fault scenarios
        self.duty = DutyCycle(
            rng,
            model.nominal_capacity_ah * soh,
            self.limits.max_charge_current_a,
            self.limits.max_discharge_current_a,
            mobile=mobile,
        )
        self.current_a = 0.0
        self.cut_off = False
        self.fault = False
        self.charge_inhibited = False
        self.discharge_inhibited = False
        self._since_ageing = 0.0

    # ---- derived readings ------------------------------------------------------------------

    def cell_temperature(self, i: int) -> float:
        """Temperature the cell sits at (its probe's block; ambient when there is no probe)."""
        return self.probes[self.probe_of_cell[i]].temperature_c if self.probes else self.ambient_c

    def cell_voltages(self) -> list[float]:
        """True terminal voltage of every cell (V), before sensor noise."""
        return [c.terminal_voltage(self.current_a, self.cell_temperature(i)) for i, c in enumerate(self.cells)]

    def probe_temperatures(self) -> list[float]:
        """True temperature at every probe (°C), before sensor noise."""
        return [p.temperature_c for p in self.probes]

    @property
    def soc(self) -> float:
        """BMS state of charge, 0..1: the mean of the cells, clipped."""
        return min(1.0, max(0.0, sum(c.soc for c in self.cells) / len(self.cells)))

    @property
    def state(self) -> OperatingState:
        """Operating state as the BMS reports it."""
        if self.fault:
            return OperatingState.FAULT
        if self.cut_off:
            return OperatingState.CUT_OFF
        if self.current_a > 0:
            return OperatingState.DISCHARGING
        if self.current_a < 0:
            return OperatingState.CHARGING
        return OperatingState.IDLE

    # ---- dynamics ----------------------------------------------------------------------------

    def step(self, dt_s: float) -> None:
        """Advance the pack by ``dt_s`` simulated seconds."""
        volts = self.cell_voltages()
        vmax, vmin = max(volts), min(volts)
        want = self.duty.desired_current(
            dt_s, self.soc, vmax, vmin, self.limits.cell_voltage_max_v, self.limits.cell_voltage_min_v
        )
        current = want
        if self.cut_off or self.fault:
            current = 0.0  # contactor open: nothing flows, whatever the load wants
        elif current < 0 and (self.charge_inhibited or vmax >= self.limits.cell_voltage_max_v):
            current = 0.0  # BMS or operator stops charging
        elif current > 0 and (self.discharge_inhibited or vmin <= self.limits.cell_voltage_min_v):
            current = 0.0
        self.current_a = max(-self.limits.max_charge_current_a, min(self.limits.max_discharge_current_a, current))

        heat = [0.0] * len(self.probes)
        for i, cell in enumerate(self.cells):
            q = cell.step(self.current_a, dt_s, self.cell_temperature(i))
            if self.probes:
                heat[self.probe_of_cell[i]] += q
        for j, probe in enumerate(self.probes):
            probe.step(heat[j], self.ambient_c, dt_s, self.forced_rate[j])

        self._since_ageing += dt_s
        if self._since_ageing >= _AGEING_PERIOD_S:
            self._since_ageing = 0.0
            for cell in self.cells:
                cell.apply_cycle_ageing()
