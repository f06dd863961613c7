"""Lumped thermal model per temperature probe.

Each probe sees one block of cells as one thermal mass::

    C_th · dT/dt = P_heat − (T − T_ambient) / R_th

with P_heat the I²R (+ RC-branch) losses of its cells. Integrated exactly over a step (constant
P), so long steps stay stable. Fault scenarios add a forced heating rate on top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: J/(kg·K), typical Li-ion cell.
CELL_SPECIFIC_HEAT = 1000.0
#: kg per Ah of a ~3.3 V cell at ~120 Wh/kg.
CELL_KG_PER_AH = 0.0275
#: Thermal time constant of a block to ambient by natural convection (enclosure), s.
DEFAULT_TAU_S = 1800.0


@dataclass
class ThermalNode:
    """One probe's block of cells."""

    heat_capacity_j_per_k: float
    resistance_k_per_w: float
    temperature_c: float

    @classmethod
    def for_cells(
        cls, cells: int, capacity_ah: float, temperature_c: float, tau_s: float = DEFAULT_TAU_S
    ) -> ThermalNode:
        """A node holding ``cells`` cells of ``capacity_ah`` each, cooling with time constant ``tau_s``."""
        c_th = max(1, cells) * capacity_ah * CELL_KG_PER_AH * CELL_SPECIFIC_HEAT
        return cls(c_th, tau_s / c_th, temperature_c)

    def step(self, heat_w: float, ambient_c: float, dt_s: float, forced_rate_c_per_s: float = 0.0) -> float:
        """Advance by ``dt_s``; return the new temperature (°C)."""
        steady = ambient_c + heat_w * self.resistance_k_per_w
        decay = math.exp(-dt_s / (self.heat_capacity_j_per_k * self.resistance_k_per_w))
        self.temperature_c = steady + (self.temperature_c - steady) * decay + forced_rate_c_per_s * dt_s
        return self.temperature_c
