"""The alarm rule engine: pure, deterministic evaluation of rules against one device's samples.

The caller (the ingest path and the loss-of-communication timer) loads the device's
:class:`EngineState`, calls one of the functions below and stores the returned state; the
engine does no I/O and reads no clock — every time comes in as an argument. Semantics are
documented in ``docs/alarm-rules.md``; in short:

* one active alarm per rule and device: a rule raises once and stays active until it clears
  (``auto_clear``) or until an operator clears it (:func:`forget_active`);
* samples not newer (device time) than the last evaluated one are *late*: not evaluated, so a
  redelivered sample is a no-op;
* durations, rates and references are measured in device time; silence in server time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.contracts.alarms import AlarmRule, ParamValue, TriggerSample
from shared.contracts.devices import DeviceKind, ModelLimits
from shared.contracts.telemetry import BatteryPackTelemetry, StorageCabinetTelemetry
from shared.domain.alarms.evaluation.plan import Pass, RulePlan, plan_for
from shared.domain.alarms.evaluation.tracks import DropTrack, JumpTrack, Latch, RateTrack
from shared.domain.alarms.evaluation.view import SampleView, sample_metrics

__all__ = [
    "MAX_TRIGGER_SAMPLES",
    "DeviceContext",
    "EffectiveRules",
    "EngineState",
    "Evaluation",
    "Sample",
    "Transition",
    "evaluate",
    "evaluate_silence",
    "forget_active",
    "heard_from",
    "sample_metrics",
]

#: A transition carries at most this many trigger samples (newest last).
MAX_TRIGGER_SAMPLES = 10


@dataclass(frozen=True)
class DeviceContext:
    tenant_id: str
    thing_name: str
    kind: DeviceKind
    model_id: str | None
    #: None: conditions referring to a model limit cannot be evaluated (they never raise).
    limits: ModelLimits | None


@dataclass(frozen=True)
class EffectiveRules:
    #: e.g. "default@1+tenant@3+device:abc@1" (opaque to the engine).
    version: str
    #: The enabled rules for this device's kind (the engine skips any other defensively).
    rules: tuple[AlarmRule, ...]


@dataclass(frozen=True)
class Sample:
    message_key: str  # tenant#thing#boot#seq
    device_ts_ms: int
    arrival_ms: int
    telemetry: BatteryPackTelemetry | StorageCabinetTelemetry


class EngineState(BaseModel):
    """Per-device engine state; JSON round-trippable, stored by the caller between calls.

    Never mutated: every function returns a new state (nested values are shared, never changed).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Device time of the last evaluated telemetry sample.
    last_ts_ms: int | None = None
    last_message_key: str | None = None
    #: Server time of the last message of any type (loss-of-communication).
    last_arrival_ms: int | None = None
    #: Active alarms: rule id -> the shape of its condition when it was raised.
    active: dict[str, str] = {}
    #: Condition state by node key (rule id, then ``.i`` per combination level).
    latches: dict[str, Latch] = {}
    rates: dict[str, RateTrack] = {}
    jumps: dict[str, JumpTrack] = {}
    drops: dict[str, DropTrack] = {}
    #: Samples of a running raise (or clear) phase per rule, newest last (≤ 10).
    evidence: dict[str, tuple[TriggerSample, ...]] = {}

    def active_rule_ids(self) -> frozenset[str]:
        return frozenset(self.active)


@dataclass(frozen=True)
class Transition:
    kind: Literal["raise", "clear"]
    rule: AlarmRule
    #: Device time of the deciding sample (None for silence and manual clears).
    at_device_ms: int | None
    #: The deciding sample (None for silence).
    message_key: str | None
    #: Message-code parameters, e.g. {"cell": 7, "value": 3.71, "threshold": 3.65, "unit": "V"}.
    params: dict[str, ParamValue]
    #: Samples that satisfied the rule (≤ 10, newest last), with the relevant values.
    trigger: tuple[TriggerSample, ...]


@dataclass(frozen=True)
class Evaluation:
    state: EngineState
    transitions: tuple[Transition, ...]
    #: The sample was not newer than ``state.last_ts_ms``: not evaluated (only a sign of life).
    late: bool
    #: Persist the state now: a transition happened, or a rule entered or left a pending phase.
    significant: bool


# ---- helpers ------------------------------------------------------------------------------------------


_APPLICABLE: dict[tuple[int, DeviceKind], tuple[tuple[AlarmRule, ...], list[RulePlan]]] = {}
_MAX_APPLICABLE = 1024


def _applicable(ctx: DeviceContext, rules: EffectiveRules) -> list[RulePlan]:
    """Compiled plans of the enabled rules for this kind, first occurrence of a rule id only.

    Cached by the identity of the rule tuple (the cache entry keeps the tuple alive)."""
    cache_key = (id(rules.rules), ctx.kind)
    cached = _APPLICABLE.get(cache_key)
    if cached is not None and cached[0] is rules.rules:
        return cached[1]
    seen: set[str] = set()
    plans: list[RulePlan] = []
    for rule in rules.rules:
        if not rule.enabled or ctx.kind not in rule.kinds or rule.rule_id in seen:
            continue
        seen.add(rule.rule_id)
        plans.append(plan_for(rule))
    if len(_APPLICABLE) >= _MAX_APPLICABLE:
        _APPLICABLE.clear()
    _APPLICABLE[cache_key] = (rules.rules, plans)
    return plans


def _silence_clears(
    plans: list[RulePlan], state: EngineState, arrival_ms: int, active: dict[str, str]
) -> list[Transition]:
    """A message that arrived after the last known one ends every active silence (auto_clear) alarm."""
    last = state.last_arrival_ms
    if not active or (last is not None and arrival_ms <= last):
        return []  # nothing active, or an old (redelivered or delayed) message: not a sign of life now
    out: list[Transition] = []
    for plan in plans:
        rule = plan.rule
        if plan.silence is None or rule.rule_id not in active or not rule.auto_clear:
            continue
        del active[rule.rule_id]
        params: dict[str, ParamValue] = {"after_s": plan.silence.after_s}
        if last is not None:
            params["silent_s"] = round((arrival_ms - last) / 1000.0, 3)
        out.append(Transition("clear", rule, None, None, params, ()))
    return out


def _max_arrival(state: EngineState, arrival_ms: int) -> int:
    last = state.last_arrival_ms
    return arrival_ms if last is None or arrival_ms > last else last


def _append(evidence: tuple[TriggerSample, ...], sample: TriggerSample) -> tuple[TriggerSample, ...]:
    out = (*evidence, sample)
    return out[-MAX_TRIGGER_SAMPLES:] if len(out) > MAX_TRIGGER_SAMPLES else out


# ---- public functions -----------------------------------------------------------------------------


def heard_from(ctx: DeviceContext, rules: EffectiveRules, state: EngineState, arrival_ms: int) -> Evaluation:
    """Any message from the device (arrival = server time): notes it and ends active silence alarms."""
    plans = _applicable(ctx, rules)
    active = dict(state.active)
    transitions = _silence_clears(plans, state, arrival_ms, active)
    update: dict[str, object] = {"last_arrival_ms": _max_arrival(state, arrival_ms)}
    if transitions:
        update["active"] = active
    return Evaluation(state.model_copy(update=update), tuple(transitions), late=False, significant=bool(transitions))


def evaluate_silence(ctx: DeviceContext, rules: EffectiveRules, state: EngineState, now_ms: int) -> Evaluation:
    """The timer: raise every silence rule whose ``after_s`` has passed since the last message.

    A device never heard from (no ``last_arrival_ms``) is not silent: there is nothing to lose.
    """
    last = state.last_arrival_ms
    if last is None:
        return Evaluation(state.model_copy(), (), late=False, significant=False)
    active = dict(state.active)
    transitions: list[Transition] = []
    for plan in _applicable(ctx, rules):
        silence = plan.silence
        rule_id = plan.rule.rule_id
        if silence is None or rule_id in active:
            continue
        silent_ms = now_ms - last
        if silent_ms >= round(silence.after_s * 1000):
            active[rule_id] = plan.shape
            params: dict[str, ParamValue] = {
                "silent_s": round(silent_ms / 1000.0, 3),
                "after_s": silence.after_s,
                "last_arrival_ms": last,
            }
            transitions.append(Transition("raise", plan.rule, None, None, params, ()))
    if not transitions:
        return Evaluation(state.model_copy(), (), late=False, significant=False)
    return Evaluation(state.model_copy(update={"active": active}), tuple(transitions), late=False, significant=True)


def forget_active(state: EngineState, rule_id: str) -> EngineState:
    """An operator cleared the alarm by hand: forget it, and the latched state of its condition.

    Measurements (rates, drop references, last values) are kept; latches and jumps start over,
    so the rule raises again as soon as its raise condition holds again for its ``for_s``.
    """
    prefix = f"{rule_id}."

    def mine(key: str) -> bool:
        return key == rule_id or key.startswith(prefix)

    active = {k: v for k, v in state.active.items() if k != rule_id}
    latches = {k: v for k, v in state.latches.items() if not mine(k)}
    jumps = {k: (JumpTrack(v.ts, v.prev) if mine(k) else v) for k, v in state.jumps.items()}
    evidence = {k: v for k, v in state.evidence.items() if k != rule_id}
    return state.model_copy(update={"active": active, "latches": latches, "jumps": jumps, "evidence": evidence})


def evaluate(ctx: DeviceContext, rules: EffectiveRules, state: EngineState, sample: Sample) -> Evaluation:
    """Evaluate one telemetry sample against the device's rules (also does :func:`heard_from`)."""
    t = sample.device_ts_ms
    if state.last_ts_ms is not None and t <= state.last_ts_ms:
        seen = heard_from(ctx, rules, state, sample.arrival_ms)
        return Evaluation(seen.state, seen.transitions, late=True, significant=seen.significant)

    plans = _applicable(ctx, rules)
    active = dict(state.active)
    transitions = _silence_clears(plans, state, sample.arrival_ms, active)
    significant = bool(transitions)
    key = sample.message_key
    p = Pass(SampleView(sample.telemetry), ctx.limits, t, state.latches, state.rates, state.jumps, state.drops)
    old_evidence = state.evidence
    evidence: dict[str, tuple[TriggerSample, ...]] = {}

    for plan in plans:
        if plan.silence is not None:
            continue  # the timer's business
        rule = plan.rule
        rule_id = rule.rule_id
        shape = active.get(rule_id)
        was_active = shape is not None
        # An active rule whose condition changed structure starts its latches on: it clears
        # when the new condition's clear side holds, instead of flapping.
        p.seed = was_active and shape != plan.shape
        if p.seed:
            active[rule_id] = plan.shape
        on, met, cmet = plan.root.step(p)
        if not (on or met or was_active or rule_id in old_evidence):
            continue  # the common case: nothing holds, nothing pending, nothing to record
        before = old_evidence.get(rule_id, ())
        after: tuple[TriggerSample, ...] = ()
        if not was_active:
            if on:
                params = plan.params(p, "hold")
                trigger = _append(before, TriggerSample(message_key=key, device_ts_ms=t, values=params))
                transitions.append(Transition("raise", rule, t, key, params, trigger))
                active[rule_id] = plan.shape
            elif met:
                after = _append(before, TriggerSample(message_key=key, device_ts_ms=t, values=plan.params(p, "met")))
        elif rule.auto_clear:
            if not on:
                params = plan.params(p, "data")
                trigger = _append(before, TriggerSample(message_key=key, device_ts_ms=t, values=params))
                transitions.append(Transition("clear", rule, t, key, params, trigger))
                del active[rule_id]
            elif cmet:
                after = _append(before, TriggerSample(message_key=key, device_ts_ms=t, values=plan.params(p, "cmet")))
        if after:
            evidence[rule_id] = after
        if bool(after) != bool(before):
            significant = True

    new_state = state.model_copy(
        update={
            "last_ts_ms": t,
            "last_message_key": key,
            "last_arrival_ms": _max_arrival(state, sample.arrival_ms),
            "active": active,
            "latches": p.latches,
            "rates": p.rates,
            "jumps": p.jumps,
            "drops": p.drops,
            "evidence": evidence,
        }
    )
    return Evaluation(
        new_state, tuple(transitions), late=False, significant=significant or bool(transitions) or p.significant
    )
