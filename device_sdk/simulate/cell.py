"""Equivalent-circuit cell model: OCV(SOC) + R0 + one RC pair, coulomb counting, ageing.

    V_terminal = OCV(SOC) − I·R0(T) − V1          (I > 0 = discharge, as on the wire)
    dV1/dt     = −V1/(R1·C1) + I/C1              (integrated exactly for a constant I over dt)
    dSOC/dt    = −I / (3600·Q)                    (coulomb counting, Q in Ah)

Ageing lowers the capacity Q and raises R0/R1 with the state of health (SOH); every cell of a
pack gets its own small spread from the pack's seeded RNG, which is what makes real packs
diverge (the "consistency" the platform watches).
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, replace
from enum import StrEnum


class Chemistry(StrEnum):
    LFP = "LFP"
    NMC = "NMC"

    @classmethod
    def parse(cls, text: str) -> Chemistry:
        """Map a datasheet chemistry name (LFP, LiFePO4, NMC, NCM, NCA, ...) to a modelled curve."""
        t = text.strip().upper()
        if t in ("LFP", "LIFEPO4", "LFEP"):
            return cls.LFP
        if t in ("NMC", "NCM", "NCA", "LMO", "LCO"):
            return cls.NMC  # the layered-oxide curve is close enough for the sloping chemistries
        raise ValueError(f"no OCV curve for chemistry {text!r}; known: LFP, NMC (NCM, NCA)")


#: Open-circuit voltage vs SOC, 25 °C, relaxed; typical published shapes (flat LFP plateau,
#: sloping NMC). Strictly increasing so SOC can be read back from OCV.
OCV_TABLES: dict[Chemistry, tuple[tuple[float, float], ...]] = {
    Chemistry.LFP: (
        (0.00, 2.50), (0.02, 2.90), (0.05, 3.10), (0.10, 3.20), (0.20, 3.25), (0.30, 3.275),
        (0.40, 3.29), (0.50, 3.30), (0.60, 3.31), (0.70, 3.325), (0.80, 3.335), (0.90, 3.35),
        (0.95, 3.38), (0.98, 3.42), (1.00, 3.50),
    ),
    Chemistry.NMC: (
        (0.00, 3.00), (0.05, 3.30), (0.10, 3.45), (0.20, 3.55), (0.30, 3.62), (0.40, 3.68),
        (0.50, 3.74), (0.60, 3.82), (0.70, 3.90), (0.80, 3.98), (0.90, 4.07), (1.00, 4.18),
    ),
}  # fmt: skip

#: Outside 0..1 (over-charge / over-discharge) the voltage runs away steeply.
_OVERCHARGE_V_PER_SOC = 1.5
_OVERDISCHARGE_V_PER_SOC = 5.0

#: Ohm·Ah: R0 of a fresh cell at 25 °C is about this divided by its capacity (0.8 mΩ at 100 Ah LFP).
_R0_OHM_AH = {Chemistry.LFP: 0.08, Chemistry.NMC: 0.06}
_RC_TAU_S = 30.0
_R1_OVER_R0 = 0.6
#: Fraction of SOH lost per equivalent full cycle (≈ 4000 cycles to 80 %).
FADE_PER_CYCLE = 0.2 / 4000


def ocv(chemistry: Chemistry, soc: float) -> float:
    """Open-circuit voltage (V) at a state of charge ``soc`` (0..1; extrapolated steeply outside)."""
    table = OCV_TABLES[chemistry]
    if soc <= 0.0:
        return max(0.0, table[0][1] + soc * _OVERDISCHARGE_V_PER_SOC)
    if soc >= 1.0:
        return table[-1][1] + (soc - 1.0) * _OVERCHARGE_V_PER_SOC
    socs = [p[0] for p in table]
    i = bisect.bisect_right(socs, soc)
    (s0, v0), (s1, v1) = table[i - 1], table[i]
    return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)


def soc_from_ocv(chemistry: Chemistry, voltage: float) -> float:
    """Inverse of :func:`ocv` on 0..1 (used to start a pack from a measured rest voltage)."""
    table = OCV_TABLES[chemistry]
    if voltage <= table[0][1]:
        return 0.0
    if voltage >= table[-1][1]:
        return 1.0
    volts = [p[1] for p in table]
    i = bisect.bisect_right(volts, voltage)
    (s0, v0), (s1, v1) = table[i - 1], table[i]
    return s0 + (s1 - s0) * (voltage - v0) / (v1 - v0)


@dataclass(frozen=True)
class CellParams:
    """Electrical parameters of one cell at its current state of health."""

    chemistry: Chemistry
    capacity_ah: float
    r0_ohm: float
    r1_ohm: float
    c1_f: float
    soh: float = 1.0

    @classmethod
    def fresh(cls, chemistry: Chemistry, nominal_capacity_ah: float) -> CellParams:
        """A new cell of the given chemistry and capacity."""
        r0 = _R0_OHM_AH[chemistry] / nominal_capacity_ah
        r1 = r0 * _R1_OVER_R0
        return cls(chemistry, nominal_capacity_ah, r0, r1, _RC_TAU_S / r1, 1.0)

    def aged(self, soh: float) -> CellParams:
        """The same cell at state of health ``soh`` (0 < soh ≤ 1): less capacity, more resistance.

        Resistance growth: about +100 % at 80 % SOH (end of first life), a common rule of thumb.
        """
        if not 0 < soh <= 1:
            raise ValueError("soh must be in (0, 1]")
        base_cap = self.capacity_ah / self.soh
        growth = (1 + 5.0 * (1 - soh)) / (1 + 5.0 * (1 - self.soh))
        r1 = self.r1_ohm * growth
        return replace(
            self, capacity_ah=base_cap * soh, r0_ohm=self.r0_ohm * growth, r1_ohm=r1, c1_f=_RC_TAU_S / r1, soh=soh
        )

    def with_spread(
        self, rng: random.Random, capacity_sigma: float = 0.01, resistance_sigma: float = 0.04
    ) -> CellParams:
        """A manufacturing/ageing spread around these parameters, drawn from ``rng``."""
        cap = self.capacity_ah * max(0.5, rng.gauss(1.0, capacity_sigma))
        k = max(0.5, rng.gauss(1.0, resistance_sigma))
        return replace(self, capacity_ah=cap, r0_ohm=self.r0_ohm * k, r1_ohm=self.r1_ohm * k, c1_f=self.c1_f / k)


def resistance_temperature_factor(temperature_c: float) -> float:
    """Arrhenius-like rise of internal resistance in the cold (×1 at 25 °C, ≈ ×2.7 at −10 °C)."""
    return min(5.0, max(0.5, math.exp(0.028 * (25.0 - temperature_c))))


class Cell:
    """State of one series cell: SOC, RC-pair voltage, its parameters, and a voltage offset
    used only by fault scenarios (e.g. the collapse of a cell in thermal runaway)."""

    def __init__(self, params: CellParams, soc: float) -> None:
        self.params = params
        self.soc = soc
        self.v1 = 0.0
        self.throughput_ah = 0.0
        self.collapse_factor = 1.0  # 1 = healthy; < 1 while the separator fails in runaway

    def step(self, current_a: float, dt_s: float, temperature_c: float = 25.0) -> float:
        """Advance by ``dt_s`` at constant ``current_a``; return the heat generated (W)."""
        p = self.params
        r0 = p.r0_ohm * resistance_temperature_factor(temperature_c)
        tau = p.r1_ohm * p.c1_f
        decay = math.exp(-dt_s / tau)
        self.v1 = self.v1 * decay + current_a * p.r1_ohm * (1 - decay)
        self.soc -= current_a * dt_s / (3600.0 * p.capacity_ah)
        self.throughput_ah += abs(current_a) * dt_s / 3600.0
        return current_a * current_a * r0 + self.v1 * self.v1 / p.r1_ohm

    def terminal_voltage(self, current_a: float, temperature_c: float = 25.0) -> float:
        """Voltage at the cell terminals under ``current_a`` (V, never negative)."""
        r0 = self.params.r0_ohm * resistance_temperature_factor(temperature_c)
        v = ocv(self.params.chemistry, self.soc) - current_a * r0 - self.v1
        return max(0.0, v * self.collapse_factor)

    def apply_cycle_ageing(self) -> None:
        """Fold the charge moved so far into SOH (one equivalent full cycle = 2 × capacity Ah)."""
        cycles = self.throughput_ah / (2.0 * self.params.capacity_ah)
        if cycles > 0:
            self.params = self.params.aged(max(0.05, self.params.soh - cycles * FADE_PER_CYCLE))
            self.throughput_ah = 0.0
