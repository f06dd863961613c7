"""Alarm engine: one active alarm per rule, late and redelivered samples, state round trips,
combinations, manual clears, loss of communication, and the state's size."""

from __future__ import annotations

import json

from shared.contracts.alarms import (
    AllOf,
    AnyOf,
    DropCondition,
    JumpCondition,
    Metric,
    RateCondition,
    Series,
    SilenceCondition,
    ThresholdCondition,
)
from shared.contracts.devices import DeviceKind
from shared.domain.alarms import engine
from shared.domain.alarms.default_rules import DEFAULT_RULES
from shared.domain.devices.catalogue import BUILT_IN_MODELS
from tests.unit.alarms import CABINET, PACK, Runner, describe, ms, rule, rules, sample

HOT = ThresholdCondition(metric=Metric.TEMPERATURE_MAX_C, op="ge", value=50, hysteresis=5, for_s=3)
RISING = RateCondition(series=Series.PROBE_TEMPERATURES, op="ge", rate_per_s=1.0, sustained_s=2.0)


def t_probes(t: float) -> list[float | None]:
    return [25.0, t, 25.0, 25.0]


def test_one_active_alarm_per_rule_until_it_clears() -> None:
    """ARC-3, LCM-AL-3: a rule raises once, stays active while its condition keeps holding, and
    may raise again only after it cleared."""
    run = Runner(rules(rule("hot", ThresholdCondition(metric=Metric.TEMPERATURE_MAX_C, op="ge", value=50))))
    assert run.at(0, probes=t_probes(51)) == ["raise hot"]
    for t in range(1, 10):
        assert run.at(t, probes=t_probes(52)) == []
    assert run.at(10, probes=t_probes(40)) == ["clear hot"]
    assert run.at(11, probes=t_probes(55)) == ["raise hot"]
    assert run.active() == {"hot"}


def test_late_and_out_of_order_samples_are_skipped_and_redelivery_is_a_no_op() -> None:
    """ARC-3, LCM-PF-5: a sample not newer than the last evaluated one (device time) is late: not
    evaluated, state unchanged but for the arrival time; redelivering a sample changes nothing."""
    run = Runner(rules(rule("hot", HOT)))
    s0, s1, s2 = (sample(t, probes=t_probes(60)) for t in (0, 1, 2))
    run.send(s0)
    run.send(s2)
    before = run.state
    assert run.send(s1) == []  # older than the last one: late
    assert run.last is not None and run.last.late and not run.last.significant
    assert run.state.model_dump(exclude={"last_arrival_ms"}) == before.model_dump(exclude={"last_arrival_ms"})
    assert run.send(s2) == []  # redelivered
    assert run.last.late
    assert run.state == before
    assert run.at(3, probes=t_probes(60)) == ["raise hot"]  # 3 s after the first sample
    assert run.send(sample(3, probes=t_probes(60))) == []  # redelivered raise: no second alarm
    assert len(run.transitions) == 1


def test_state_json_round_trip_mid_sequence_gives_the_same_transitions() -> None:
    """ARC-3, LCM-PF-8: evaluate half a sequence, store the state as JSON, load it and go on: the
    transitions are exactly those of an uninterrupted run (every condition kind with state)."""
    effective = rules(
        rule("hot", HOT),
        rule("rising", RISING),
        rule("runaway", AllOf(conditions=[RISING, AnyOf(conditions=[HOT, DropCondition(fraction=0.25)])]), level=3),
        rule("soc_jump", JumpCondition(metric=Metric.SOC_PCT, min_delta=5, clear_after_s=4)),
        *DEFAULT_RULES,
    )
    ctx = engine.DeviceContext("acme", "cab-1", DeviceKind.STORAGE_CABINET, "m", CABINET.limits)
    seq = []
    for t in range(40):
        heat = 25.0 + max(0, t - 10) * 1.5
        cell2 = 3.3 if t < 14 else 2.0
        seq.append(
            sample(
                t,
                cabinet=True,
                probes=[25.0, heat, 25.0, 25.0],
                cells=[3.3, cell2, 3.31, 3.29],
                soc_pct=50.0 + (8 if 20 <= t < 22 else 0),
                h2_ppm=150.0 if 5 <= t < 30 else 1.0,
                smoke_detected=t > 15,
            )
        )
    whole = Runner(rules(*effective.rules), ctx=ctx)
    for s in seq:
        whole.send(s)
    expected = [(t.kind, t.rule.rule_id, t.at_device_ms, t.params, t.trigger) for t in whole.transitions]
    assert len(expected) >= 8

    for cut in (5, 12, 13, 21, 33):
        first = Runner(effective, ctx=ctx)
        for s in seq[:cut]:
            first.send(s)
        stored = json.dumps(first.state.model_dump(mode="json"))
        second = Runner(effective, ctx=ctx, state=engine.EngineState.model_validate(json.loads(stored)))
        assert second.state == first.state
        for s in seq[cut:]:
            second.send(s)
        got = [(t.kind, t.rule.rule_id, t.at_device_ms, t.params, t.trigger) for t in first.transitions]
        got += [(t.kind, t.rule.rule_id, t.at_device_ms, t.params, t.trigger) for t in second.transitions]
        assert got == expected, cut


def test_the_input_state_is_never_mutated() -> None:
    """ARC-3: every function returns a new state; the one passed in keeps its exact JSON."""
    effective = rules(*DEFAULT_RULES)
    run = Runner(effective, ctx=CABINET)
    for t in range(5):
        run.at(t, probes=t_probes(25 + t * 2), h2_ppm=200.0)
    state = run.state
    frozen = json.dumps(state.model_dump(mode="json"))
    engine.evaluate(CABINET, effective, state, sample(5, cabinet=True, probes=t_probes(60), cells=[3.3, 1.0]))
    engine.heard_from(CABINET, effective, state, ms(100))
    engine.evaluate_silence(CABINET, effective, state, ms(10_000))
    engine.forget_active(state, "h2_prewarning")
    assert json.dumps(state.model_dump(mode="json")) == frozen


def test_combination_children_keep_their_own_state() -> None:
    """SLW-EW-1, ARC-3: all/any combine on the same sample; a stateful child (duration, rate) keeps
    its own state inside the combination, apart from a sibling rule with the same condition."""
    combo = AllOf(conditions=[RISING, HOT])
    run = Runner(rules(rule("hot", HOT), rule("combo", combo, level=3)))
    temps = [40, 41, 42, 50, 51, 52, 53, 53, 53]
    got = [run.at(t, probes=t_probes(v)) for t, v in enumerate(temps)]
    # hot: ≥ 50 from t = 3, for 3 s → t = 6. combo: HOT also holds at t = 6 (its own duration) and
    # the rate (≥ 1 °C/s for more than 2 s) holds from t = 3 (run from t = 0) to t = 6.
    assert got[6] == ["raise hot", "raise combo"]
    assert got[7] == ["clear combo"]  # the rate is gone; HOT still holds
    assert sorted(k for k in run.state.latches) == ["combo.1", "hot"]
    assert set(run.state.rates) == {"combo.0"}
    any_rule = Runner(rules(rule("either", AnyOf(conditions=[RISING, HOT]))))
    got = [any_rule.at(t, probes=t_probes(v)) for t, v in enumerate(temps)]
    assert got[3] == ["raise either"]  # the rate at t = 3
    assert got[4:] == [[], [], [], [], []]  # then HOT keeps it when the rate stops at t = 7


def test_auto_clear_false_stays_active_until_forget_active() -> None:
    """SLW-EW-5, LCM-AL-3: a latched rule stays active when its condition goes away; an operator's
    manual clear (forget_active) lets it raise again once the condition holds again."""
    latched = rule("hot3", HOT, level=3, auto_clear=False)
    run = Runner(rules(latched))
    for t in range(4):
        run.at(t, probes=t_probes(60))
    assert describe(run.transitions) == ["raise hot3"]
    assert run.at(4, probes=t_probes(20)) == []
    assert run.active() == {"hot3"}
    run.state = engine.forget_active(run.state, "hot3")
    assert run.active() == frozenset()
    assert run.at(5, probes=t_probes(20)) == []
    for t in range(6, 9):
        assert run.at(t, probes=t_probes(60)) == []
    assert run.at(9, probes=t_probes(60)) == ["raise hot3"]  # for_s 3 again from t = 6


def test_forget_active_while_the_condition_still_holds_raises_again() -> None:
    """ARC-3, LCM-AL-3: cleared by hand while still hot: the rule raises again after its for_s."""
    run = Runner(rules(rule("hot", HOT)))
    for t in range(4):
        run.at(t, probes=t_probes(60))
    assert run.active() == {"hot"}
    run.state = engine.forget_active(run.state, "hot")
    assert run.at(4, probes=t_probes(60)) == []
    assert run.last is not None and run.last.significant
    assert run.at(7, probes=t_probes(60)) == ["raise hot"]
    jump = Runner(rules(rule("soc_jump", JumpCondition(metric=Metric.SOC_PCT, min_delta=5, clear_after_s=300))))
    jump.at(0, soc_pct=50.0)
    assert jump.at(1, soc_pct=60.0) == ["raise soc_jump"]
    jump.state = engine.forget_active(jump.state, "soc_jump")
    assert jump.at(2, soc_pct=60.0) == []  # the jump is over: no new alarm
    assert jump.at(3, soc_pct=70.0) == ["raise soc_jump"]  # a new jump


def test_silence_raises_after_after_s_and_any_newer_message_clears_it() -> None:
    """SLW-EW-4, LCM-RM-1: loss of communication after 300 s without any message (server time);
    the next message of any type clears it; an old redelivered message does not."""
    effective = rules(rule("comm_lost", SilenceCondition(after_s=300)), rule("hot", HOT))
    run = Runner(effective)
    assert run.silence(1000) == []  # never heard from: nothing to lose
    run.at(0, arrival_s=1)
    assert run.silence(300) == []
    assert run.silence(300.999) == []
    assert run.silence(301) == ["raise comm_lost"]
    t = run.transitions[-1]
    assert (t.at_device_ms, t.message_key, t.params) == (
        None,
        None,
        {"silent_s": 300.0, "after_s": 300.0, "last_arrival_ms": ms(1)},
    )
    assert run.last is not None and run.last.significant
    assert run.silence(900) == []  # one active alarm
    assert run.heard(0.5) == []  # a redelivered older message: not a sign of life now
    assert run.active() == {"comm_lost"}
    assert run.heard(400) == ["clear comm_lost"]
    assert run.transitions[-1].params == {"after_s": 300.0, "silent_s": 399.0}
    assert run.silence(650) == []
    assert run.silence(700) == ["raise comm_lost"]
    # A telemetry sample clears it too — even one that is late for evaluation.
    assert run.send(sample(0, arrival_s=800)) == ["clear comm_lost"]
    assert run.last.late


def test_significant_only_for_transitions_and_pending_phases() -> None:
    """ARC-3: the caller persists the state at once only when an alarm changed or a duration phase
    started or ended; a quiet sample is not significant."""
    run = Runner(rules(rule("hot", HOT)))
    flags = []
    for t, v in enumerate([30, 30, 55, 55, 55, 55, 55, 30]):
        run.at(t, probes=t_probes(v))
        assert run.last is not None
        flags.append(run.last.significant)
    assert flags == [False, False, True, False, False, True, False, True]


def test_trigger_keeps_the_last_ten_samples_newest_last() -> None:
    """LCM-AL-3: the trigger samples of a long for_s are capped at 10, newest last."""
    run = Runner(rules(rule("hot", ThresholdCondition(metric=Metric.TEMPERATURE_MAX_C, op="ge", value=50, for_s=20))))
    for t in range(21):
        run.at(t, probes=t_probes(50 + t))
    (raised,) = run.transitions
    assert [s.device_ts_ms for s in raised.trigger] == [ms(t) for t in range(11, 21)]
    assert raised.trigger[-1].values["value"] == 70.0
    assert raised.trigger[-1].values["probe"] == 2


def test_rules_for_another_kind_disabled_or_duplicated_are_skipped() -> None:
    """ARC-3, SLW-WEB-3: the engine evaluates only enabled rules of the device's kind, and the first
    of two rules with the same id."""
    cond = ThresholdCondition(metric=Metric.TEMPERATURE_MAX_C, op="ge", value=50)
    cab_only = rule("cab_hot", cond, kinds=[DeviceKind.STORAGE_CABINET])
    disabled = rule("off", cond).model_copy(update={"enabled": False})
    dup_a = rule("dup", cond, level=1)
    dup_b = rule("dup", ThresholdCondition(metric=Metric.TEMPERATURE_MAX_C, op="ge", value=10), level=3)
    run = Runner(rules(cab_only, disabled, dup_a, dup_b))
    assert run.at(0, probes=t_probes(30)) == []
    assert run.at(1, probes=t_probes(60)) == ["raise dup"]
    assert run.transitions[0].rule.level == 1


def test_a_restructured_rule_keeps_its_active_alarm_until_the_new_condition_clears() -> None:
    """SLW-WEB-3: a tenant edits an active rule (new condition structure): the alarm is not dropped
    and re-raised; it clears when the new condition's clear side holds."""
    old = rule("hot", HOT)
    run = Runner(rules(old))
    for t in range(4):
        run.at(t, probes=t_probes(60))
    assert run.active() == {"hot"}
    new = rule("hot", AllOf(conditions=[HOT, ThresholdCondition(metric=Metric.SOC_PCT, op="ge", value=0)]))
    edited = Runner(rules(new), state=run.state)
    assert edited.at(4, probes=t_probes(52), soc_pct=50.0) == []  # inside HOT's band: stays active
    assert edited.at(5, probes=t_probes(40), soc_pct=50.0) == ["clear hot"]


def test_state_of_a_400_cell_pack_stays_small() -> None:
    """ARC-3, LCM-PF-1: the stored state of a 400-cell, 128-probe pack under every default rule,
    with a pending rate run and a full trigger buffer, stays well under 100 KB of JSON."""
    model = next(m for m in BUILT_IN_MODELS if m.cell_count == 400)
    ctx = engine.DeviceContext("acme", "rack-1", model.kind, model.model_id, model.limits)
    run = Runner(rules(*DEFAULT_RULES), ctx=ctx)
    for t in range(120):
        cells = [3.3 + 0.001 * (i % 7) for i in range(400)]
        probes = [25.0 + 0.1 * (i % 5) + (t * 1.2 if i == 7 else 0) for i in range(128)]
        run.at(t, cells=cells, probes=probes, soc_pct=50.0, current_a=10.0, pack_voltage_v=1320.0)
    size = len(json.dumps(run.state.model_dump(mode="json")))
    assert size < 40_000, size
    assert PACK.kind is DeviceKind.BATTERY_PACK
