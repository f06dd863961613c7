"""What a rule can see in one telemetry sample: metrics, signals, per-element series.

Computed once per sample and shared by every rule. A missing reading (``null`` on the wire,
no valid cell, a field the device kind does not have) is ``None`` here — never zero.
Element numbers are 1-based (cell 7 is ``cell_voltages_v[6]``), as operators count them.
"""

from __future__ import annotations

from shared.contracts.alarms import Metric, Series, Signal
from shared.contracts.telemetry import BatteryPackTelemetry, GbAlarm, StorageCabinetTelemetry

TelemetrySample = BatteryPackTelemetry | StorageCabinetTelemetry

#: Unit code of each metric and series (a symbol, not language: rendered as is).
METRIC_UNITS: dict[str, str] = {
    Metric.PACK_VOLTAGE_V: "V",
    Metric.CURRENT_A: "A",
    Metric.CHARGE_CURRENT_A: "A",
    Metric.DISCHARGE_CURRENT_A: "A",
    Metric.SOC_PCT: "%",
    Metric.INSULATION_KOHM: "kΩ",
    Metric.CELL_VOLTAGE_MAX_V: "V",
    Metric.CELL_VOLTAGE_MIN_V: "V",
    Metric.CELL_VOLTAGE_SPREAD_V: "V",
    Metric.TEMPERATURE_MAX_C: "°C",
    Metric.TEMPERATURE_MIN_C: "°C",
    Metric.TEMPERATURE_DIFF_C: "°C",
    Metric.H2_PPM: "ppm",
    Metric.CO_PPM: "ppm",
    Metric.MODULE_PRESSURE_KPA: "kPa",
}
SERIES_UNITS: dict[str, str] = {Series.CELL_VOLTAGES: "V", Series.PROBE_TEMPERATURES: "°C"}
#: Parameter name of a series element ("cell": 7).
SERIES_ELEMENT: dict[str, str] = {Series.CELL_VOLTAGES: "cell", Series.PROBE_TEMPERATURES: "probe"}

#: Derived metrics (differences) are rounded to this many decimals so that float noise
#: (3.71 − 3.30 = 0.41000000000000014) never decides a comparison.
_DERIVED_DECIMALS = 6


class SeriesStats:
    """Valid elements of one series with their extremes (and the median, computed on demand)."""

    __slots__ = ("_median", "max", "max_no", "min", "min_no", "valid", "values")

    def __init__(self, values: list[float | None]) -> None:
        self.values = values
        valid: list[float] = [v for v in values if v is not None] if None in values else values  # type: ignore[assignment]
        self.valid = valid
        self._median: float | None = None
        if valid:
            self.max: float | None = max(valid)
            self.min: float | None = min(valid)
            self.max_no: int | None = values.index(self.max) + 1
            self.min_no: int | None = values.index(self.min) + 1
        else:
            self.max = self.min = None
            self.max_no = self.min_no = None

    def median(self) -> float:
        """Median of the valid elements (call only when there is at least one)."""
        if self._median is None:
            ordered = sorted(self.valid)
            n = len(ordered)
            mid = n // 2
            self._median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0
        return self._median


class SampleView:
    """Everything rules read from one sample, computed once."""

    __slots__ = ("cells", "gb", "metrics", "probes", "telemetry")

    def __init__(self, telemetry: TelemetrySample) -> None:
        self.telemetry = telemetry
        self.gb: GbAlarm | None = telemetry.gb_alarm
        cells = SeriesStats(telemetry.cell_voltages_v)
        probes = SeriesStats(telemetry.probe_temperatures_c)
        self.cells = cells
        self.probes = probes
        current = telemetry.current_a
        # Plain str keys (the Metric values): the hot path looks them up ~30 times per sample.
        m: dict[str, float | None] = {
            "pack_voltage_v": telemetry.pack_voltage_v,
            "current_a": current,
            "charge_current_a": None if current is None else (-current if current < 0 else 0.0),
            "discharge_current_a": None if current is None else (current if current > 0 else 0.0),
            "soc_pct": telemetry.soc_pct,
            "insulation_resistance_kohm": telemetry.insulation_resistance_kohm,
            "cell_voltage_max_v": cells.max,
            "cell_voltage_min_v": cells.min,
            "cell_voltage_spread_v": _diff(cells),
            "temperature_max_c": probes.max,
            "temperature_min_c": probes.min,
            "temperature_diff_c": _diff(probes),
        }
        if isinstance(telemetry, StorageCabinetTelemetry):
            m["h2_ppm"] = telemetry.h2_ppm
            m["co_ppm"] = telemetry.co_ppm
            m["module_pressure_kpa"] = telemetry.module_pressure_kpa
        else:
            m["h2_ppm"] = m["co_ppm"] = m["module_pressure_kpa"] = None
        self.metrics = m

    def series(self, series: Series) -> SeriesStats:
        return self.cells if series is Series.CELL_VOLTAGES else self.probes

    def signal(self, signal: Signal) -> bool | None:
        """A boolean sensor state; None when the sensor reports a fault or the kind has none."""
        tel = self.telemetry
        if not isinstance(tel, StorageCabinetTelemetry):
            return None
        if signal is Signal.SMOKE:
            return tel.smoke_detected
        if signal is Signal.FLAME:
            return tel.flame_detected
        if signal is Signal.WATER_INGRESS:
            return tel.water_ingress
        return tel.door_open

    def element_of(self, metric: Metric) -> tuple[str, int] | None:
        """The element an extreme metric comes from, e.g. ("cell", 7) for the highest cell voltage."""
        if metric is Metric.CELL_VOLTAGE_MAX_V and self.cells.max_no is not None:
            return ("cell", self.cells.max_no)
        if metric is Metric.CELL_VOLTAGE_MIN_V and self.cells.min_no is not None:
            return ("cell", self.cells.min_no)
        if metric is Metric.TEMPERATURE_MAX_C and self.probes.max_no is not None:
            return ("probe", self.probes.max_no)
        if metric is Metric.TEMPERATURE_MIN_C and self.probes.min_no is not None:
            return ("probe", self.probes.min_no)
        return None

    def spread_elements(self, metric: Metric) -> dict[str, int] | None:
        """Which elements span a spread metric (highest and lowest)."""
        stats = (
            self.cells
            if metric is Metric.CELL_VOLTAGE_SPREAD_V
            else self.probes
            if metric is Metric.TEMPERATURE_DIFF_C
            else None
        )
        if stats is None or stats.max_no is None or stats.min_no is None:
            return None
        name = "cell" if stats is self.cells else "probe"
        return {f"{name}_max": stats.max_no, f"{name}_min": stats.min_no}


def _diff(stats: SeriesStats) -> float | None:
    if stats.max is None or stats.min is None:
        return None
    return round(stats.max - stats.min, _DERIVED_DECIMALS)


def sample_metrics(telemetry: TelemetrySample) -> dict[str, float | None]:
    """The :class:`~shared.contracts.alarms.Metric` values of one sample (None = missing)."""
    return dict(SampleView(telemetry).metrics)
