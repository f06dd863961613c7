"""Fault scenarios that can be switched on in a simulated device (at start or at run time).

Each scenario is a small frozen dataclass of options; :func:`parse_scenario` builds one from a
name or a ``{"name": ..., **options}`` dict (fleet file, control file, ``Fleet.inject``).
Times are in simulated seconds from the moment the scenario is injected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class CellOvervoltage:
    """A cell drifts above the model's maximum voltage (failed balancing pushes charge into it)."""

    name = "cell_overvoltage"
    cell_index: int | None = None  # None: picked from the device's seeded RNG
    drift_soc_per_s: float = 0.01  # compressed: real drift takes hours
    max_overshoot_v: float = 0.4  # stop drifting this far above the limit (the cell vents later)


@dataclass(frozen=True)
class WeakCell:
    """One cell with low capacity and high internal resistance (sags under load, deviates)."""

    name = "weak_cell"
    cell_index: int | None = None
    capacity_factor: float = 0.6
    resistance_factor: float = 3.0


@dataclass(frozen=True)
class SensorDropout:
    """Some readings become null (never 0): a fraction of cell voltages and probes, and gas sensors."""

    name = "sensor_dropout"
    fraction: float = 0.15
    include_gas: bool = True


@dataclass(frozen=True)
class ThermalRunaway:
    """The sequence of domain.md §2, with minutes of gas lead compressed to seconds.

    t = 0                         H₂ starts to rise (first detectable signal, Jin et al. 2020)
    t = co_delay_s                CO starts to rise
    t = gas_lead_s                heating: trigger cell's probe rises at ``heating_rate_c_per_s``
    + collapse_start_s            trigger cell voltage falls linearly to ``collapse_to_fraction``
                                  over ``collapse_duration_s`` (> 25 % drop, GB 38031 C.5.3.7 a)
    + vent_after_s                module pressure spike (venting)
    + smoke_after_s               smoke detector
    + flame_after_s               flame detector
    """

    name = "thermal_runaway"
    cell_index: int | None = None
    gas_lead_s: float = 30.0
    co_delay_s: float = 6.0
    h2_peak_ppm: float = 2000.0
    co_peak_ppm: float = 600.0
    gas_rise_time_s: float = 15.0
    heating_rate_c_per_s: float = 2.5
    max_temperature_c: float = 350.0
    collapse_start_s: float = 1.0
    collapse_duration_s: float = 3.0
    collapse_to_fraction: float = 0.3
    vent_after_s: float = 2.0
    smoke_after_s: float = 4.0
    flame_after_s: float = 9.0
    neighbour_heating_fraction: float = 0.15

    def __post_init__(self) -> None:
        # Keep the documented order (H2, CO, heat, smoke, flame) whatever the overrides.
        if not 0 <= self.co_delay_s < self.gas_lead_s:
            raise ValueError("thermal_runaway needs 0 <= co_delay_s < gas_lead_s (gas before heat)")
        if self.heating_rate_c_per_s < 1.0:
            raise ValueError("heating_rate_c_per_s below 1 °C/s would not be a runaway (GB 38031 C.5.3.7 c)")
        if not 0 <= self.collapse_to_fraction < 0.75:
            raise ValueError("collapse_to_fraction must be below 0.75 (a drop of more than 25 %)")
        if not self.smoke_after_s <= self.flame_after_s:
            raise ValueError("smoke_after_s must not exceed flame_after_s")


Scenario = CellOvervoltage | WeakCell | SensorDropout | ThermalRunaway
SCENARIOS: dict[str, type[Scenario]] = {c.name: c for c in (CellOvervoltage, WeakCell, SensorDropout, ThermalRunaway)}


def parse_scenario(spec: str | Mapping[str, Any] | Scenario) -> Scenario:
    """A scenario from its name, a ``{"name": ..., **options}`` mapping, or an instance."""
    if isinstance(spec, CellOvervoltage | WeakCell | SensorDropout | ThermalRunaway):
        return spec
    if isinstance(spec, str):
        name, options = spec, {}
    else:
        options = dict(spec)
        name = str(options.pop("name", ""))
    cls = SCENARIOS.get(name)
    if cls is None:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}")
    allowed = {f.name for f in fields(cls)}
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for scenario {name}; allowed: {sorted(allowed)}")
    return cls(**options)
