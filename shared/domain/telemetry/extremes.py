"""Per-sample derived values: extremes, spreads and power (pure functions).

Cell and probe numbers are 1-based, as operators and GB/T 32960 count them. Missing
readings (``None``) are skipped, never treated as zero; the counts of missing readings are
part of the result so a sensor drop-out is visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _extremes(values: Sequence[float | None]) -> tuple[float, int, float, int, int] | None:
    """(max, max_no, min, min_no, missing) over the valid values, or None if none is valid."""
    vmax = vmin = None
    imax = imin = 0
    missing = 0
    for i, v in enumerate(values):
        if v is None:
            missing += 1
            continue
        if vmax is None or v > vmax:
            vmax, imax = v, i
        if vmin is None or v < vmin:
            vmin, imin = v, i
    if vmax is None or vmin is None:
        return None
    return vmax, imax + 1, vmin, imin + 1, missing


def pack_extremes(
    cell_voltages_v: Sequence[float | None],
    probe_temperatures_c: Sequence[float | None],
    pack_voltage_v: float | None = None,
    current_a: float | None = None,
) -> dict[str, Any]:
    """Derived values stored beside every telemetry sample.

    Spreads are rounded to the sensor resolution (1 mV, 0.1 °C) so that storage holds no
    float noise; power is V·I (positive = discharge, as the current).
    """
    out: dict[str, Any] = {
        "cell_count": len(cell_voltages_v),
        "probe_count": len(probe_temperatures_c),
    }
    cells = _extremes(cell_voltages_v)
    if cells is not None:
        vmax, nmax, vmin, nmin, missing = cells
        out.update(
            max_cell_voltage_v=vmax,
            max_cell_voltage_no=nmax,
            min_cell_voltage_v=vmin,
            min_cell_voltage_no=nmin,
            cell_voltage_spread_mv=round((vmax - vmin) * 1000.0, 1),
            missing_cell_voltages=missing,
        )
    else:
        out["missing_cell_voltages"] = len(cell_voltages_v)
    probes = _extremes(probe_temperatures_c)
    if probes is not None:
        tmax, pmax, tmin, pmin, missing = probes
        out.update(
            max_temperature_c=tmax,
            max_temperature_probe_no=pmax,
            min_temperature_c=tmin,
            min_temperature_probe_no=pmin,
            temperature_spread_c=round(tmax - tmin, 1),
            missing_temperatures=missing,
        )
    else:
        out["missing_temperatures"] = len(probe_temperatures_c)
    if pack_voltage_v is not None and current_a is not None:
        out["power_kw"] = round(pack_voltage_v * current_a / 1000.0, 3)
    return out
