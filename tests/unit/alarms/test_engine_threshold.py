"""Alarm engine: threshold, signal and consistency conditions (durations, hysteresis, gaps, nulls)."""

from __future__ import annotations

import pytest

from shared.contracts.alarms import (
    ConsistencyCondition,
    Limit,
    LimitRef,
    Metric,
    Series,
    Signal,
    SignalCondition,
    ThresholdCondition,
)
from shared.domain.alarms import engine
from shared.domain.alarms.evaluation.plan import MIN_DURATION_GAP_MS
from tests.unit.alarms import CABINET, PACK, Runner, ms, rule, rules, sample

CELL_MAX = Metric.CELL_VOLTAGE_MAX_V


def cell_ov(**kw: object) -> engine.EffectiveRules:
    cond = {"type": "threshold", "metric": CELL_MAX, "op": "gt", "value": 3.65, **kw}
    return rules(rule("cell_ov", ThresholdCondition.model_validate(cond), level=2))


def cells(v: float) -> list[float | None]:
    """Four cells, cell 3 at ``v``."""
    return [3.30, 3.31, v, 3.29]


@pytest.mark.parametrize(
    ("op", "value", "holds"),
    [
        ("gt", 3.65, False),
        ("ge", 3.65, True),
        ("gt", 3.651, True),
        ("lt", 3.65, False),
        ("le", 3.65, True),
        ("lt", 3.649, True),
    ],
)
def test_exactly_at_threshold(op: str, value: float, holds: bool) -> None:
    """ARC-3, SLW-EW-5: exactly at the threshold, gt/lt do not hold and ge/le do."""
    metric = CELL_MAX if op in ("gt", "ge") else Metric.CELL_VOLTAGE_MIN_V
    r = rule("t", ThresholdCondition(metric=metric, op=op, value=3.65))  # type: ignore[arg-type]
    run = Runner(rules(r))
    assert run.at(0, cells=[value, value, value, value]) == (["raise t"] if holds else [])


def test_raises_on_first_sample_with_params_for_rendering() -> None:
    """ARC-3, LCM-AL-1, LCM-MON-1: for_s 0 raises on the first sample; the params name the cell,
    its value, the threshold and the unit, so the edge renders "Cell 3 voltage 3.71 V above 3.65 V"."""
    run = Runner(cell_ov())
    assert run.at(0, cells=cells(3.60)) == []
    assert run.at(1, cells=cells(3.71)) == ["raise cell_ov"]
    t = run.transitions[0]
    assert t.params == {
        "metric": "cell_voltage_max_v",
        "op": "gt",
        "value": 3.71,
        "threshold": 3.65,
        "unit": "V",
        "cell": 3,
    }
    assert t.at_device_ms == ms(1)
    assert t.message_key == "acme#pack-1#boot1#1000"
    assert [(s.message_key, s.device_ts_ms, s.values["value"]) for s in t.trigger] == [
        ("acme#pack-1#boot1#1000", ms(1), 3.71)
    ]
    text = "Cell {cell} voltage {value} {unit} above {threshold} {unit}".format(**t.params)
    assert text == "Cell 3 voltage 3.71 V above 3.65 V"


def test_hysteresis_band_keeps_the_alarm_and_clears_at_the_clear_level() -> None:
    """ARC-3, SLW-EW-5: op gt 3.65 with hysteresis 0.05 raises above 3.65 and clears only at ≤ 3.60;
    inside the band nothing changes in either direction."""
    run = Runner(cell_ov(hysteresis=0.05))
    assert run.at(0, cells=cells(3.70)) == ["raise cell_ov"]
    assert run.at(1, cells=cells(3.64)) == []  # below the threshold, inside the band
    assert run.at(2, cells=cells(3.601)) == []
    assert run.at(3, cells=cells(3.66)) == []  # above again: still the one active alarm
    assert run.at(4, cells=cells(3.60)) == ["clear cell_ov"]  # exactly at the clear level (float-safe)
    clear = run.transitions[-1]
    assert clear.params["value"] == 3.60
    assert clear.params["clear_threshold"] == 3.60
    # Inside the band while off: does not raise.
    assert run.at(5, cells=cells(3.63)) == []
    assert run.at(6, cells=cells(3.65)) == []


@pytest.mark.parametrize(("op", "raise_v", "band_v", "clear_v"), [("ge", 3.65, 3.60, 3.599), ("le", 2.5, 2.55, 2.551)])
def test_hysteresis_of_ge_and_le(op: str, raise_v: float, band_v: float, clear_v: float) -> None:
    """ARC-3: ge clears strictly below level − hysteresis, le strictly above level + hysteresis."""
    metric = CELL_MAX if op == "ge" else Metric.CELL_VOLTAGE_MIN_V
    level = 3.65 if op == "ge" else 2.5
    run = Runner(rules(rule("t", ThresholdCondition(metric=metric, op=op, value=level, hysteresis=0.05))))  # type: ignore[arg-type]
    assert run.at(0, cells=[raise_v] * 4) == ["raise t"]
    assert run.at(1, cells=[band_v] * 4) == []
    assert run.at(2, cells=[clear_v] * 4) == ["clear t"]


def test_for_s_is_measured_in_device_time_from_the_first_sample_that_met_it() -> None:
    """ARC-3, SLW-EW-5: for_s 5 raises on the sample 5 s (device time) after the first one above;
    a sample below the threshold restarts the duration."""
    run = Runner(cell_ov(for_s=5))
    assert run.at(0, cells=cells(3.70)) == []
    assert run.last is not None and run.last.significant  # entered the pending phase
    assert run.at(2, cells=cells(3.70)) == []
    assert run.at(3, cells=cells(3.60)) == []  # back below: duration restarts
    assert run.last.significant  # left the pending phase
    assert run.at(4, cells=cells(3.70)) == []
    assert run.at(8.999, cells=cells(3.72)) == []
    assert run.at(9, cells=cells(3.71)) == ["raise cell_ov"]
    t = run.transitions[0]
    assert [s.device_ts_ms for s in t.trigger] == [ms(4), ms(8.999), ms(9)]
    assert [s.values["value"] for s in t.trigger] == [3.70, 3.72, 3.71]


def test_clear_for_s_needs_the_clear_side_for_that_long() -> None:
    """ARC-3: clear_for_s 10 clears only after 10 s at or below the clear level."""
    run = Runner(cell_ov(hysteresis=0.05, clear_for_s=10))
    assert run.at(0, cells=cells(3.70)) == ["raise cell_ov"]
    assert run.at(1, cells=cells(3.50)) == []
    assert run.at(5, cells=cells(3.62)) == []  # in the band: the clear phase restarts
    assert run.at(6, cells=cells(3.50)) == []
    assert run.at(15, cells=cells(3.50)) == []
    assert run.at(16, cells=cells(3.50)) == ["clear cell_ov"]
    assert [s.device_ts_ms for s in run.transitions[-1].trigger] == [ms(6), ms(15), ms(16)]


def test_null_readings_neither_raise_nor_clear_and_keep_the_duration_running() -> None:
    """ARC-3, LCM-MON-1: a sample with no valid cell voltage (nulls) does not raise, does not clear,
    and does not break a running for_s."""
    run = Runner(cell_ov(for_s=5, hysteresis=0.05))
    assert run.at(0, cells=cells(3.70)) == []
    assert run.at(3, cells=[None, None, None, None]) == []
    assert run.at(5, cells=[]) == []  # no cells at all: still not a reading
    assert run.active() == frozenset()
    assert run.at(5.5, cells=cells(3.70)) == ["raise cell_ov"]
    assert run.at(6, cells=[None] * 4) == []
    assert run.at(7, cells=cells(3.50)) == ["clear cell_ov"]


def test_a_gap_longer_than_the_maximum_restarts_the_duration() -> None:
    """ARC-3: the duration survives a gap of up to max(600 s, 3 × for_s) between samples of its
    phase (missing readings, or a device reporting every few minutes); a longer gap restarts it."""
    assert MIN_DURATION_GAP_MS == 600_000
    run = Runner(cell_ov(for_s=5))
    assert run.at(0, cells=cells(3.70)) == []
    assert run.at(300, cells=[None] * 4) == []
    assert run.at(600, cells=cells(3.70)) == ["raise cell_ov"]  # a 600 s gap is allowed
    slow = Runner(cell_ov(for_s=5))  # a device reporting every 120 s
    assert slow.at(0, cells=cells(3.70)) == []
    assert slow.at(120, cells=cells(3.70)) == ["raise cell_ov"]
    run = Runner(cell_ov(for_s=5))
    assert run.at(0, cells=cells(3.70)) == []
    assert run.at(600.001, cells=cells(3.70)) == []  # gap > 600 s: the duration restarts here
    assert run.at(604, cells=cells(3.70)) == []
    assert run.at(605.001, cells=cells(3.70)) == ["raise cell_ov"]
    # A long duration allows proportionally longer gaps (3 × for_s).
    run = Runner(cell_ov(for_s=300))
    assert run.at(0, cells=cells(3.70)) == []
    assert run.at(900, cells=cells(3.70)) == ["raise cell_ov"]
    run = Runner(cell_ov(for_s=300))
    assert run.at(0, cells=cells(3.70)) == []
    assert run.at(900.001, cells=cells(3.70)) == []


def test_limit_reference_uses_the_device_model_and_missing_limits_never_raise() -> None:
    """ARC-3, SLW-WEB-3: a threshold by model limit (1.05 × max cell voltage = 3.8325 V); without
    a model the condition is not evaluated: it neither raises nor clears."""
    cond = ThresholdCondition(
        metric=CELL_MAX, op="gt", limit=LimitRef(limit=Limit.CELL_VOLTAGE_MAX_V, factor=1.05), hysteresis=0.1
    )
    r = rules(rule("cell_ov_crit", cond, level=3))
    run = Runner(r)
    assert run.at(0, cells=cells(3.83)) == []
    assert run.at(1, cells=cells(3.84)) == ["raise cell_ov_crit"]
    assert run.transitions[0].params["threshold"] == 3.8325
    no_model = engine.DeviceContext("acme", "pack-1", PACK.kind, None, None)
    unknown = Runner(r, ctx=no_model, state=run.state)
    assert unknown.at(2, cells=cells(3.0)) == []  # cannot evaluate: the active alarm stays
    assert unknown.active() == {"cell_ov_crit"}
    assert Runner(r, ctx=no_model).at(0, cells=cells(9.0)) == []


def test_signals_hold_for_s_and_null_is_unknown() -> None:
    """SLW-EW-3, SLW-PR-4: a boolean sensor raises after for_s true; null (sensor fault) neither
    raises nor clears; false for clear_for_s clears."""
    r = rules(rule("smoke", SignalCondition(signal=Signal.SMOKE, for_s=2, clear_for_s=5), level=3))
    run = Runner(r, ctx=CABINET)
    assert run.at(0, smoke_detected=True) == []
    assert run.at(1, smoke_detected=None) == []
    assert run.at(2, smoke_detected=True) == ["raise smoke"]
    assert run.transitions[0].params == {"signal": "smoke_detected", "value": True}
    assert run.at(3, smoke_detected=False) == []
    assert run.at(7, smoke_detected=None) == []
    assert run.at(8, smoke_detected=False) == ["clear smoke"]
    # A battery pack has no such sensor: never holds.
    assert Runner(r).at(0) == []


def test_consistency_names_the_deviating_element() -> None:
    """LCM-DA-3, SLW-EW-5: a cell deviating from the median by more than the deviation raises;
    the params name it (1-based) with its value and the median; fewer valid cells than min_valid
    is not evaluated."""
    cond = ConsistencyCondition(series=Series.CELL_VOLTAGES, deviation=0.1, hysteresis=0.02, min_valid=4)
    run = Runner(rules(rule("cell_dev", cond, level=0)))
    assert run.at(0, cells=[3.30, 3.31, 3.29, 3.30, 3.40]) == []  # deviation exactly 0.1: not above
    assert run.at(1, cells=[3.30, 3.31, 3.29, 3.30, 3.18]) == ["raise cell_dev"]
    assert run.transitions[0].params == {
        "series": "cell_voltages_v",
        "cell": 5,
        "value": 3.18,
        "median": 3.3,
        "deviation": 0.12,
        "threshold": 0.1,
        "unit": "V",
    }
    assert run.at(2, cells=[3.30, None, None, None, 3.0]) == []  # 2 valid < min_valid: unchanged
    assert run.at(3, cells=[3.30, 3.31, 3.29, 3.30, 3.21]) == []  # 0.09: inside the band
    assert run.at(4, cells=[3.30, 3.31, 3.29, 3.30, 3.22]) == ["clear cell_dev"]  # 0.08 ≤ 0.1 − 0.02


def test_consistency_for_s_on_probes() -> None:
    """LCM-MON-3, LCM-DA-3: a probe deviation held for for_s raises, naming the probe."""
    cond = ConsistencyCondition(series=Series.PROBE_TEMPERATURES, deviation=5, for_s=10)
    run = Runner(rules(rule("probe_dev", cond, level=0)))
    hot = [25.0, 25.2, 32.0, 24.9, 25.1]
    assert run.at(0, probes=hot) == []
    assert run.at(10, probes=hot) == ["raise probe_dev"]
    assert run.transitions[0].params["probe"] == 3


def test_sample_metrics_derives_extremes_and_current_directions() -> None:
    """LCM-MON-1, LCM-MON-2, LCM-MON-3: metrics of a sample; nulls are skipped, a sample without
    valid cells has no cell metrics (None, never 0); positive current is discharge."""
    s = sample(0, cells=[3.30, None, 3.71, 3.29], probes=[25.0, None, 31.5], current_a=-40.0, soc_pct=50.0)
    m = engine.sample_metrics(s.telemetry)
    assert m["cell_voltage_max_v"] == 3.71
    assert m["cell_voltage_min_v"] == 3.29
    assert m["cell_voltage_spread_v"] == 0.42
    assert m["temperature_diff_c"] == 6.5
    assert m["charge_current_a"] == 40.0
    assert m["discharge_current_a"] == 0.0
    assert m["h2_ppm"] is None
    empty = engine.sample_metrics(sample(0, cells=[None, None], probes=[]).telemetry)
    assert empty["cell_voltage_max_v"] is None
    assert empty["temperature_max_c"] is None
    assert empty["current_a"] is None
    assert set(m) == {x.value for x in Metric}
    cab = engine.sample_metrics(sample(0, cabinet=True, h2_ppm=12.5, module_pressure_kpa=101.3).telemetry)
    assert cab["h2_ppm"] == 12.5
    assert cab["co_ppm"] is None
