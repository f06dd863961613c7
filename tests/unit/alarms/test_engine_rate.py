"""Alarm engine: rate of change, jumps, drops against a reference, GB/T 32960 alarm flags."""

from __future__ import annotations

from shared.contracts.alarms import DropCondition, GbAlarmCondition, JumpCondition, Metric, RateCondition, Series
from tests.unit.alarms import Runner, ms, rule, rules

DTDT = RateCondition(series=Series.PROBE_TEMPERATURES, op="ge", rate_per_s=1.0, sustained_s=3.0, max_gap_s=5.0)


def probes(p2: float, others: float = 25.0) -> list[float | None]:
    """Four probes, probe 2 at ``p2``."""
    return [others, p2, others, others]


def test_rate_sustained_for_more_than_3_s_on_the_same_probe() -> None:
    """SLW-EW-1, LCM-MON-3: any probe's dT/dt ≥ 1 °C/s for more than 3 s (GB 38031 C.5.3.7 c):
    four 1 s slopes span 4 s > 3 s; three (exactly 3 s) do not. Exactly 1 °C/s counts (≥)."""
    run = Runner(rules(rule("dtdt", DTDT, level=3)))
    assert run.at(0, probes=probes(25.0)) == []
    assert run.at(1, probes=probes(26.0)) == []  # slope 1.0: the run starts at t = 0
    assert run.at(2, probes=probes(27.0)) == []
    assert run.at(3, probes=probes(28.5)) == []  # span exactly 3 s: not more than 3 s
    assert run.at(4, probes=probes(29.5)) == ["raise dtdt"]
    p = run.transitions[0].params
    assert p["probe"] == 2
    assert p["rate_per_s"] == 1.0
    assert p["rate_sustained_s"] == 4.0
    assert p["rate_unit"] == "°C/s"
    assert [s.device_ts_ms for s in run.transitions[0].trigger] == [ms(1), ms(2), ms(3), ms(4)]
    assert run.at(5, probes=probes(29.9)) == ["clear dtdt"]  # 0.4 °C/s: the rate is gone


def test_rate_must_be_sustained_by_the_same_element() -> None:
    """LCM-MON-3: slopes of different probes in turn never make a sustained run."""
    run = Runner(rules(rule("dtdt", DTDT, level=3)))
    temps = [[25, 25, 25, 25], [26, 25, 25, 25], [26, 26, 25, 25], [26, 26, 26, 25], [26, 26, 26, 26]]
    for t, row in enumerate(temps):
        assert run.at(t, probes=[float(x) for x in row]) == []


def test_rate_restarts_on_a_gap_or_a_missing_reading() -> None:
    """ARC-3: a gap longer than max_gap_s, or a null reading, restarts the run."""
    run = Runner(rules(rule("dtdt", DTDT, level=3)))
    run.at(0, probes=probes(25.0))
    run.at(1, probes=probes(26.0))
    run.at(2, probes=probes(27.0))
    assert run.at(3, probes=[25.0, None, 25.0, 25.0]) == []  # missing: restart
    assert run.at(4, probes=probes(29.0)) == []  # no slope yet (no previous value)
    assert run.at(5, probes=probes(30.0)) == []
    assert run.at(6, probes=probes(31.0)) == []
    assert run.at(7, probes=probes(32.0)) == []  # span 3 s
    assert run.at(12.001, probes=probes(37.5)) == []  # gap 5.001 s > max_gap_s: restart
    assert run.at(13, probes=probes(38.5)) == []
    assert run.at(17, probes=probes(42.5)) == ["raise dtdt"]  # one 4 s slope of 1 °C/s: span 4 s


def test_rate_on_a_metric_with_le() -> None:
    """ARC-3: a falling rate (le) on a metric, e.g. pack voltage falling ≥ 2 V/s for more than 1 s."""
    cond = RateCondition(metric=Metric.PACK_VOLTAGE_V, op="le", rate_per_s=-2.0, sustained_s=1.0)
    run = Runner(rules(rule("v_fall", cond, level=2)))
    assert run.at(0, pack_voltage_v=52.0) == []
    assert run.at(1, pack_voltage_v=49.0) == []
    assert run.at(2, pack_voltage_v=47.0) == ["raise v_fall"]
    assert run.transitions[0].params["rate_source"] == "pack_voltage_v"
    assert run.transitions[0].params["rate_per_s"] == -2.0
    assert run.at(3, pack_voltage_v=None) == ["clear v_fall"]  # a missing reading ends the run


def test_jump_between_consecutive_samples_and_clear_after() -> None:
    """ARC-3 (GB/T 32960 SOC jump): |ΔSOC| ≥ 10 between samples ≤ 60 s apart raises; it clears after
    clear_after_s without a new jump; samples further apart than max_interval_s are no jump."""
    cond = JumpCondition(metric=Metric.SOC_PCT, min_delta=10, max_interval_s=60, clear_after_s=300)
    run = Runner(rules(rule("soc_jump", cond)))
    assert run.at(0, soc_pct=50.0) == []
    assert run.at(10, soc_pct=59.9) == []
    assert run.at(20, soc_pct=69.9) == ["raise soc_jump"]  # exactly 10 (float-safe)
    p = run.transitions[0].params
    assert (p["previous"], p["value"], p["delta"], p["unit"]) == (59.9, 69.9, 10.0, "%")
    assert run.at(30, soc_pct=None) == []
    assert run.at(200, soc_pct=48.0) == []  # 170 s apart: not a jump
    assert run.at(319.999, soc_pct=48.0) == []
    assert run.at(320, soc_pct=48.0) == ["clear soc_jump"]  # 300 s after the jump
    assert run.at(330, soc_pct=30.0) == ["raise soc_jump"]


def test_drop_below_fraction_of_the_recent_maximum() -> None:
    """SLW-EW-1, LCM-MON-1: a cell more than 25 % below its highest value of the reference window
    (GB 38031 C.5.3.7 a) holds, naming the cell; an equal drop does not."""
    cond = DropCondition(series=Series.CELL_VOLTAGES, fraction=0.25, reference_window_s=60)
    run = Runner(rules(rule("cell_drop", cond, level=2)))
    assert run.at(0, cells=[3.30, 3.32, 3.31, 3.30]) == []
    assert run.at(1, cells=[3.30, 3.20, 3.31, 3.30]) == []
    assert run.at(2, cells=[3.30, 2.49, 3.31, 3.30]) == []  # 2.49 = 75 % of 3.32: not more than 25 %
    assert run.at(3, cells=[3.30, 2.40, 3.31, None]) == ["raise cell_drop"]
    p = run.transitions[0].params
    assert (p["cell"], p["drop_value"], p["drop_reference"], p["drop_pct"]) == (2, 2.40, 3.32, 27.71)
    assert run.at(4, cells=[3.30, 3.30, 3.31, 3.30]) == ["clear cell_drop"]


def test_drop_reference_covers_one_to_one_and_a_half_windows() -> None:
    """ARC-3: the reference is the highest value within the window (kept in half-window buckets):
    a value older than 1.5 windows is forgotten, one younger than the window is always kept."""
    cond = DropCondition(series=Series.CELL_VOLTAGES, fraction=0.25, reference_window_s=60)
    run = Runner(rules(rule("cell_drop", cond, level=2)))
    run.at(0, cells=[4.0, 3.3])
    assert run.at(59, cells=[2.9, 3.3]) == ["raise cell_drop"]  # 4.0 is 59 s old: still the reference
    run = Runner(rules(rule("cell_drop", cond, level=2)))
    run.at(0, cells=[4.0, 3.3])
    run.at(60, cells=[3.2, 3.3])
    assert run.at(90, cells=[2.9, 3.3]) == []  # 4.0 is 90 s old: forgotten (3.2 is the reference)
    run = Runner(rules(rule("cell_drop", cond, level=2)))
    run.at(0, cells=[4.0, 3.3])
    assert run.at(500, cells=[2.0, 3.3]) == []  # long gap: no reference at all


def test_gb_alarm_bits_and_level() -> None:
    """ARC-3, SLW-EW-5: GB/T 32960 flags (bit 0 = LSB) any-of, or max level ≥ min_level; a sample
    without GB/T 32960 data does not hold."""
    bit23 = rules(rule("gb_thermal", GbAlarmCondition(bits=[23]), level=3))
    run = Runner(bit23)
    assert run.at(0, gb=(1 << 22, 2)) == []
    assert run.at(1, gb=((1 << 23) | 1, 3)) == ["raise gb_thermal"]
    assert run.transitions[0].params == {"gb_flags": (1 << 23) | 1, "gb_max_level": 3, "gb_bits": "23"}
    assert run.at(2) == ["clear gb_thermal"]  # absent: not holding
    level = Runner(rules(rule("gb_l3", GbAlarmCondition(min_level=3), level=3)))
    assert level.at(0, gb=(0, 2)) == []
    assert level.at(1, gb=(0, 3)) == ["raise gb_l3"]
