"""Rules compiled to evaluation nodes; one :meth:`Node.step` per node and sample.

Every node reports, for the sample being evaluated, ``(on, met, cmet)``:

* ``on`` — the condition holds now, after durations, hysteresis and latching;
* ``met`` — the raise side was met by this very sample (it feeds the trigger samples);
* ``cmet`` — the clear side was met by this very sample.

A node's state lives in the engine state under its key: the rule id for the root condition,
``<rule_id>.<i>.<j>`` for child ``j`` of child ``i`` of a combination (rule ids contain no dot),
so sibling rules and sibling children never share state. Compiled plans are cached by rule
object identity; the cache changes nothing but speed.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.contracts.alarms import (
    AlarmRule,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    ConsistencyCondition,
    DropCondition,
    GbAlarmCondition,
    JumpCondition,
    Metric,
    ParamValue,
    RateCondition,
    SignalCondition,
    SilenceCondition,
    ThresholdCondition,
)
from shared.contracts.devices import ModelLimits
from shared.domain.alarms.evaluation.tracks import LATCH_OFF, LATCH_ON, DropTrack, JumpTrack, Latch, RateTrack
from shared.domain.alarms.evaluation.view import METRIC_UNITS, SERIES_ELEMENT, SERIES_UNITS, SampleView

Params = dict[str, ParamValue]
Outcome = tuple[bool, bool, bool]

#: A running duration (for_s / clear_for_s) survives missing readings and slow reporting, unless
#: the gap between two samples of its phase exceeds the larger of this and three times the
#: duration. 600 s is the longest normal reporting period of GB/T 32960-2016: a shorter floor
#: would make every duration rule blind on devices that report less often.
MIN_DURATION_GAP_MS = 600_000
#: Decimals a computed level or slope is rounded to before a comparison (float noise).
_DECIMALS = 9


def duration_gap_ms(duration_ms: int) -> int:
    """Longest gap between two samples of a running duration phase that does not restart it."""
    return max(MIN_DURATION_GAP_MS, 3 * duration_ms)


class Pass:
    """Scratch of one evaluation: the sample, the old node states and the new ones being built."""

    __slots__ = (
        "details",
        "drops",
        "jumps",
        "latches",
        "limits",
        "old_drops",
        "old_jumps",
        "old_latches",
        "old_rates",
        "rates",
        "seed",
        "significant",
        "t",
        "view",
    )

    def __init__(
        self,
        view: SampleView,
        limits: ModelLimits | None,
        t: int,
        old_latches: dict[str, Latch],
        old_rates: dict[str, RateTrack],
        old_jumps: dict[str, JumpTrack],
        old_drops: dict[str, DropTrack],
    ) -> None:
        self.view = view
        self.limits = limits
        self.t = t
        self.old_latches = old_latches
        self.old_rates = old_rates
        self.old_jumps = old_jumps
        self.old_drops = old_drops
        self.latches: dict[str, Latch] = {}
        self.rates: dict[str, RateTrack] = {}
        self.jumps: dict[str, JumpTrack] = {}
        self.drops: dict[str, DropTrack] = {}
        #: key -> (on, met, cmet, detail) of every node stepped in this pass.
        self.details: dict[str, tuple[bool, bool, bool, Any]] = {}
        self.significant = False
        #: True while stepping an active rule whose node states are fresh: latches start on.
        self.seed = False


# ---- nodes ----------------------------------------------------------------------------------------


class Node:
    """One condition of a rule. ``label`` names the leaf in parameter collisions (e.g. ``1_2``)."""

    __slots__ = ("key", "label")

    def __init__(self, key: str, label: str) -> None:
        self.key = key
        self.label = label

    def step(self, p: Pass) -> Outcome:
        raise NotImplementedError

    def params(self, p: Pass, detail: Any) -> Params:
        """Message-code parameters of this leaf for the detail it recorded on this sample."""
        return {}

    def collect(self, p: Pass, mode: str, out: Params) -> None:
        """Merge the parameters of the leaves selected by ``mode`` into ``out``.

        ``hold``: leaves that make the condition hold; ``met``/``cmet``: leaves whose raise/clear
        side this sample met; ``data``: leaves that had data. A key already taken by an earlier
        leaf gets the suffix ``_<label>`` (the leaf's 1-based path in the combination).
        """
        rec = p.details.get(self.key)
        if rec is None:
            return
        on, met, cmet, detail = rec
        if detail is None:
            return
        if (mode == "hold" and on) or (mode == "met" and met) or (mode == "cmet" and cmet) or mode == "data":
            for k, v in self.params(p, detail).items():
                if k in out and out[k] != v:
                    out[f"{k}_{self.label}"] = v
                else:
                    out[k] = v


def _latch(p: Pass, key: str, met: bool, cmet: bool, for_ms: int, clear_for_ms: int) -> bool:
    """Advance a debounced latch by one sample with data; returns whether it is on."""
    old = p.old_latches.get(key)
    if old is None:
        old = LATCH_ON if p.seed else LATCH_OFF
        if not old.on and not met:
            return False  # the common case: off, nothing pending, nothing stored
    t = p.t
    on, since, last = old.on, old.since, old.last
    if not on:
        if met:
            if since is None or last is None or t - last > duration_gap_ms(for_ms):
                since = t
            if t - since >= for_ms:
                on, since, last = True, None, None
            else:
                last = t
        else:
            since = last = None
    elif cmet:
        if since is None or last is None or t - last > duration_gap_ms(clear_for_ms):
            since = t
        if t - since >= clear_for_ms:
            on, since, last = False, None, None
        else:
            last = t
    else:
        since = last = None
    if on != old.on or (since is None) != (old.since is None):
        p.significant = True
    if on or since is not None:
        same = on == old.on and since == old.since and last == old.last
        p.latches[key] = old if same else Latch(on, since, last)
    return on


def _keep_latch(p: Pass, key: str) -> bool:
    """No data on this sample: the latch neither raises nor clears (its phase keeps running)."""
    old = p.old_latches.get(key)
    if old is None:
        if not p.seed:
            return False
        old = LATCH_ON
    p.latches[key] = old
    return old.on


_COMPARE: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
}
#: The clear side of a raise comparison: gt → le, ge → lt, lt → ge, le → gt.
_CLEAR_OP = {Comparison.GT: Comparison.LE, Comparison.GE: Comparison.LT, Comparison.LT: Comparison.GE}


class ThresholdNode(Node):
    __slots__ = ("_cache", "clear_cmp", "clear_for_ms", "cond", "for_ms", "metric", "metric_key", "raise_cmp", "sign")

    def __init__(self, cond: ThresholdCondition, key: str, label: str) -> None:
        super().__init__(key, label)
        self.cond = cond
        self.metric = cond.metric
        self.metric_key = cond.metric.value
        self.for_ms = round(cond.for_s * 1000)
        self.clear_for_ms = round(cond.clear_for_s * 1000)
        self.raise_cmp = _COMPARE[cond.op]
        self.clear_cmp = _COMPARE[_CLEAR_OP.get(cond.op, Comparison.GT)]
        # The clear level lies on the safe side: below the level for gt/ge, above it for lt/le.
        self.sign = -1.0 if cond.op in (Comparison.GT, Comparison.GE) else 1.0
        fixed = self._levels(cond.value) if cond.value is not None else (None, None)
        self._cache: tuple[ModelLimits | None, tuple[float | None, float | None]] = (None, fixed)

    def _levels(self, level: float) -> tuple[float, float]:
        return level, round(level + self.sign * self.cond.hysteresis, _DECIMALS)

    def levels(self, limits: ModelLimits | None) -> tuple[float | None, float | None]:
        """(raise level, clear level) for this device; None when it refers to a limit of an unknown model."""
        ref = self.cond.limit
        if ref is None:
            return self._cache[1]
        if limits is None:
            return None, None
        cached_limits, cached = self._cache
        if cached_limits is limits:
            return cached
        levels = self._levels(round(float(getattr(limits, ref.limit.value)) * ref.factor + ref.offset, _DECIMALS))
        self._cache = (limits, levels)
        return levels

    def step(self, p: Pass) -> Outcome:
        value = p.view.metrics[self.metric_key]
        level, clear_level = self.levels(p.limits)
        if value is None or level is None or clear_level is None:
            on = _keep_latch(p, self.key)
            p.details[self.key] = (on, False, False, None)
            return on, False, False
        met = self.raise_cmp(value, level)
        cmet = self.clear_cmp(value, clear_level)
        if not met and not p.seed and self.key not in p.old_latches:
            # The common case: off, nothing pending, nothing stored.
            p.details[self.key] = (False, False, cmet, (value, level, clear_level))
            return False, False, cmet
        on = _latch(p, self.key, met, cmet, self.for_ms, self.clear_for_ms)
        p.details[self.key] = (on, met, cmet, (value, level, clear_level))
        return on, met, cmet

    def params(self, p: Pass, detail: Any) -> Params:
        value, level, clear_level = detail
        out: Params = {
            "metric": self.metric.value,
            "op": self.cond.op.value,
            "value": value,
            "threshold": level,
            "unit": METRIC_UNITS[self.metric],
        }
        if self.cond.hysteresis:
            out["clear_threshold"] = clear_level
        element = p.view.element_of(self.metric)
        if element is not None:
            out[element[0]] = element[1]
        else:
            spread = p.view.spread_elements(self.metric)
            if spread is not None:
                out.update(spread)
        return out


class SignalNode(Node):
    __slots__ = ("clear_for_ms", "for_ms", "signal")

    def __init__(self, cond: SignalCondition, key: str, label: str) -> None:
        super().__init__(key, label)
        self.signal = cond.signal
        self.for_ms = round(cond.for_s * 1000)
        self.clear_for_ms = round(cond.clear_for_s * 1000)

    def step(self, p: Pass) -> Outcome:
        value = p.view.signal(self.signal)
        if value is None:
            on = _keep_latch(p, self.key)
            p.details[self.key] = (on, False, False, None)
            return on, False, False
        on = _latch(p, self.key, value, not value, self.for_ms, self.clear_for_ms)
        p.details[self.key] = (on, value, not value, value)
        return on, value, not value

    def params(self, p: Pass, detail: Any) -> Params:
        return {"signal": self.signal.value, "value": bool(detail)}


class ConsistencyNode(Node):
    __slots__ = ("clear_level", "cond", "for_ms")

    def __init__(self, cond: ConsistencyCondition, key: str, label: str) -> None:
        super().__init__(key, label)
        self.cond = cond
        self.for_ms = round(cond.for_s * 1000)
        self.clear_level = round(cond.deviation - cond.hysteresis, _DECIMALS)

    def step(self, p: Pass) -> Outcome:
        stats = p.view.series(self.cond.series)
        if len(stats.valid) < self.cond.min_valid or stats.max is None or stats.min is None:
            on = _keep_latch(p, self.key)
            p.details[self.key] = (on, False, False, None)
            return on, False, False
        median = stats.median()
        high, low = stats.max - median, median - stats.min
        if high >= low:
            deviation, number, value = high, stats.max_no, stats.max
        else:
            deviation, number, value = low, stats.min_no, stats.min
        deviation = round(deviation, _DECIMALS)
        met = deviation > self.cond.deviation
        cmet = deviation <= self.clear_level
        on = _latch(p, self.key, met, cmet, self.for_ms, 0)
        p.details[self.key] = (on, met, cmet, (number, value, median, deviation))
        return on, met, cmet

    def params(self, p: Pass, detail: Any) -> Params:
        number, value, median, deviation = detail
        series = self.cond.series
        return {
            "series": series.value,
            SERIES_ELEMENT[series]: number,
            "value": value,
            "median": round(median, 6),
            "deviation": round(deviation, 6),
            "threshold": self.cond.deviation,
            "unit": SERIES_UNITS[series],
        }


class GbAlarmNode(Node):
    __slots__ = ("mask", "min_level")

    def __init__(self, cond: GbAlarmCondition, key: str, label: str) -> None:
        super().__init__(key, label)
        mask = 0
        for bit in cond.bits:
            mask |= 1 << bit
        self.mask = mask
        self.min_level = cond.min_level

    def step(self, p: Pass) -> Outcome:
        gb = p.view.gb
        if gb is None:  # no GB/T 32960 data in this sample: not holding
            p.details[self.key] = (False, False, False, None)
            return False, False, False
        holds = bool(gb.flags & self.mask) or (self.min_level is not None and gb.max_level >= self.min_level)
        p.details[self.key] = (holds, holds, not holds, gb)
        return holds, holds, not holds

    def params(self, p: Pass, detail: Any) -> Params:
        set_bits = [str(b) for b in range(32) if detail.flags & self.mask & (1 << b)]
        return {"gb_flags": detail.flags, "gb_max_level": detail.max_level, "gb_bits": ",".join(set_bits)}


class RateNode(Node):
    __slots__ = ("cond", "ge", "max_gap_ms", "sustained_ms", "unit")

    def __init__(self, cond: RateCondition, key: str, label: str) -> None:
        super().__init__(key, label)
        self.cond = cond
        self.ge = cond.op == "ge"
        self.sustained_ms = round(cond.sustained_s * 1000)
        self.max_gap_ms = round(cond.max_gap_s * 1000)
        base = SERIES_UNITS[cond.series] if cond.series is not None else METRIC_UNITS[cond.metric or Metric.CURRENT_A]
        self.unit = f"{base}/s"

    def _values(self, view: SampleView) -> list[float | None]:
        if self.cond.series is not None:
            return view.series(self.cond.series).values
        return [view.metrics[(self.cond.metric or Metric.CURRENT_A).value]]

    def _meets(self, slope: float) -> bool:
        return slope >= self.cond.rate_per_s if self.ge else slope <= self.cond.rate_per_s

    def step(self, p: Pass) -> Outcome:
        values = self._values(p.view)
        n = len(values)
        old = p.old_rates.get(self.key)
        t = p.t
        if old is None or len(old.prev) != n or t - old.ts > self.max_gap_ms:
            p.rates[self.key] = RateTrack(t, list(values), [])
            if old is not None and old.run:
                p.significant = True
            p.details[self.key] = (False, False, False, None)
            return False, False, False
        dt_s = (t - old.ts) / 1000.0
        prev = old.prev
        if not old.run and None not in values and None not in prev and n:
            # Fast path: nobody in a run and every reading present — is there any qualifying slope?
            diffs = map(operator.sub, values, prev)
            extreme = max(diffs) if self.ge else min(diffs)
            if not self._meets(round(extreme / dt_s, _DECIMALS)):
                p.rates[self.key] = RateTrack(t, list(values), [])
                p.details[self.key] = (False, False, True, (None, round(extreme / dt_s, _DECIMALS), 0))
                return False, False, True
        runs: list[int | None] = []
        best: tuple[int, float, int] | None = None
        any_data = False
        old_runs = old.run
        for i, v in enumerate(values):
            q = prev[i]
            if v is None or q is None:
                runs.append(None)
                continue
            any_data = True
            slope = round((v - q) / dt_s, _DECIMALS)
            if self._meets(slope):
                start = old_runs[i] if old_runs else None
                if start is None:
                    start = old.ts
                runs.append(start)
                span = t - start
                if best is None or span > best[2]:
                    best = (i, slope, span)
            else:
                runs.append(None)
        in_run = best is not None
        if in_run != bool(old_runs):
            p.significant = True
        p.rates[self.key] = RateTrack(t, list(values), runs if in_run else [])
        on = best is not None and best[2] > self.sustained_ms
        met = in_run
        cmet = any_data and not on
        p.details[self.key] = (on, met, cmet, best if best is not None else (None, None, 0) if any_data else None)
        return on, met, cmet

    def params(self, p: Pass, detail: Any) -> Params:
        index, slope, span = detail
        cond = self.cond
        out: Params = {
            "rate_source": cond.series.value if cond.series is not None else (cond.metric or Metric.CURRENT_A).value,
            "rate_per_s": slope,
            "rate_threshold": cond.rate_per_s,
            "rate_op": cond.op,
            "rate_sustained_s": round(span / 1000.0, 3),
            "rate_unit": self.unit,
        }
        if cond.series is not None and index is not None:
            out[SERIES_ELEMENT[cond.series]] = index + 1
        return out


class JumpNode(Node):
    __slots__ = ("clear_after_ms", "cond", "max_interval_ms")

    def __init__(self, cond: JumpCondition, key: str, label: str) -> None:
        super().__init__(key, label)
        self.cond = cond
        self.max_interval_ms = round(cond.max_interval_s * 1000)
        self.clear_after_ms = round(cond.clear_after_s * 1000)

    def step(self, p: Pass) -> Outcome:
        t = p.t
        value = p.view.metrics[self.cond.metric.value]
        old = p.old_jumps.get(self.key)
        ts, prev, at, before, after = (old.ts, old.prev, old.at, old.before, old.after) if old else (None,) * 5
        if at is not None and t - at >= self.clear_after_ms:
            at = before = after = None
        met = False
        if value is not None:
            if (
                prev is not None
                and ts is not None
                and t - ts <= self.max_interval_ms
                and round(abs(value - prev), _DECIMALS) >= self.cond.min_delta
            ):
                at, before, after, met = t, prev, value, True
            ts, prev = t, value
        on = at is not None
        if on != (old is not None and old.at is not None):
            p.significant = True
        p.jumps[self.key] = JumpTrack(ts, prev, at, before, after)
        cmet = value is not None and not met
        detail = (before, after) if on else (None, value) if value is not None else None
        p.details[self.key] = (on, met, cmet, detail)
        return on, met, cmet

    def params(self, p: Pass, detail: Any) -> Params:
        before, after = detail
        metric = self.cond.metric
        out: Params = {"metric": metric.value, "value": after, "min_delta": self.cond.min_delta}
        out["unit"] = METRIC_UNITS[metric]
        if before is not None and after is not None:
            out["previous"] = before
            out["delta"] = round(after - before, 6)
        return out


def _emax(a: list[float | None], b: list[float | None]) -> list[float | None]:
    """Element-wise maximum of two buckets ([] = empty bucket; None = no value)."""
    if not a:
        return list(b)
    if not b:
        return list(a)
    if None not in a and None not in b:
        return [x if x >= y else y for x, y in zip(a, b, strict=True)]  # type: ignore[operator]
    return [x if y is None else y if x is None else (x if x >= y else y) for x, y in zip(a, b, strict=True)]


def _top(bucket: list[float | None]) -> float | None:
    """Highest value in a bucket (None: empty)."""
    if not bucket:
        return None
    if None in bucket:
        valid = [v for v in bucket if v is not None]
        return max(valid) if valid else None
    return max(bucket)  # type: ignore[type-var]


class DropNode(Node):
    __slots__ = ("bucket_ms", "cond", "keep")

    def __init__(self, cond: DropCondition, key: str, label: str) -> None:
        super().__init__(key, label)
        self.cond = cond
        self.bucket_ms = max(1, round(cond.reference_window_s * 1000) // 2)
        self.keep = 1.0 - cond.fraction

    def step(self, p: Pass) -> Outcome:
        stats = p.view.series(self.cond.series)
        values = stats.values
        n = len(values)
        k = p.t // self.bucket_ms
        old = p.old_drops.get(self.key)
        older: list[float | None]
        prev: list[float | None]
        cur: list[float | None]
        if old is None or any(len(b) not in (0, n) for b in (old.older, old.prev, old.cur)):
            older, prev, cur = [], [], []
        elif k == old.bucket:
            older, prev, cur = old.older, old.prev, old.cur
        elif k == old.bucket + 1:
            older, prev, cur = _emax(old.prev, old.cur), old.cur, []
        elif k == old.bucket + 2:
            older, prev, cur = old.cur, [], []
        else:
            older, prev, cur = [], [], []
        worst: tuple[int, float, float] | None = None
        any_data = stats.min is not None
        if any_data:
            # Pre-check on scalars: no element can be below keep × its reference unless the lowest
            # value is below keep × the highest reference of all.
            tops = [x for x in (_top(older), _top(cur)) if x is not None]
            if tops and stats.min is not None and stats.min < self.keep * max(tops):
                worst = self._worst(values, _emax(older, cur))
        p.drops[self.key] = DropTrack(k, older, prev, _emax(cur, values))
        hit = worst is not None
        detail: Any = worst if hit else () if any_data else None
        p.details[self.key] = (hit, hit, any_data and not hit, detail)
        return hit, hit, any_data and not hit

    def _worst(self, values: list[float | None], ref: list[float | None]) -> tuple[int, float, float] | None:
        """The element furthest below its reference among those that dropped (None: none did)."""
        worst: tuple[int, float, float] | None = None
        worst_ratio = 2.0
        keep = self.keep
        for i, v in enumerate(values):
            r = ref[i] if ref else None
            if v is None or r is None or not v < keep * r:
                continue
            ratio = v / r if r > 0 else 0.0
            if ratio < worst_ratio:
                worst, worst_ratio = (i, v, r), ratio
        return worst

    def params(self, p: Pass, detail: Any) -> Params:
        series = self.cond.series
        out: Params = {"drop_threshold_pct": round(self.cond.fraction * 100, 3), "drop_unit": SERIES_UNITS[series]}
        if detail:
            index, value, ref = detail
            out[SERIES_ELEMENT[series]] = index + 1
            out["drop_value"] = value
            out["drop_reference"] = ref
            out["drop_pct"] = round((1 - value / ref) * 100, 2) if ref else 100.0
        return out


class SilenceNode(Node):
    """Loss of communication inside a combination: never holds (the timer evaluates silence rules)."""

    __slots__ = ()

    def __init__(self, cond: SilenceCondition, key: str, label: str) -> None:
        super().__init__(key, label)

    def step(self, p: Pass) -> Outcome:
        p.details[self.key] = (False, False, False, None)
        return False, False, False


class CombinationNode(Node):
    __slots__ = ("children", "every")

    def __init__(self, children: list[Node], every: bool, key: str, label: str) -> None:
        super().__init__(key, label)
        self.children = children
        self.every = every

    def step(self, p: Pass) -> Outcome:
        # Every child steps on every sample (stateful children keep their durations and rates).
        outcomes = [child.step(p) for child in self.children]
        ons = [o[0] for o in outcomes]
        on = all(ons) if self.every else any(ons)
        met = any(o[1] for o in outcomes)
        cmet = any(o[2] for o in outcomes)
        p.details[self.key] = (on, met, cmet, None)
        return on, met, cmet

    def collect(self, p: Pass, mode: str, out: Params) -> None:
        for child in self.children:
            if mode == "hold":
                rec = p.details.get(child.key)
                if rec is None or not rec[0]:
                    continue
            child.collect(p, mode, out)


# ---- compilation ------------------------------------------------------------------------------------


def _compile(cond: Condition, key: str, label: str) -> Node:
    if isinstance(cond, AllOf | AnyOf):
        children = [
            _compile(child, f"{key}.{i}", f"{label}_{i + 1}" if label else str(i + 1))
            for i, child in enumerate(cond.conditions)
        ]
        return CombinationNode(children, isinstance(cond, AllOf), key, label)
    factories: dict[type, Callable[[Any, str, str], Node]] = {
        ThresholdCondition: ThresholdNode,
        SignalCondition: SignalNode,
        ConsistencyCondition: ConsistencyNode,
        GbAlarmCondition: GbAlarmNode,
        RateCondition: RateNode,
        JumpCondition: JumpNode,
        DropCondition: DropNode,
        SilenceCondition: SilenceNode,
    }
    return factories[type(cond)](cond, key, label or "1")


def _shape(cond: Condition) -> str:
    """The structure of a condition (kinds and nesting): state is reused only for the same shape."""
    if isinstance(cond, AllOf | AnyOf):
        return f"{cond.type}({','.join(_shape(c) for c in cond.conditions)})"
    return cond.type


@dataclass(frozen=True)
class RulePlan:
    rule: AlarmRule
    root: Node
    shape: str
    silence: SilenceCondition | None

    def params(self, p: Pass, mode: str) -> Params:
        out: Params = {}
        self.root.collect(p, mode, out)
        return out


_PLANS: dict[int, RulePlan] = {}
_MAX_PLANS = 4096


def plan_for(rule: AlarmRule) -> RulePlan:
    """The compiled plan of a rule (cached by object identity; the plan holds the rule alive)."""
    plan = _PLANS.get(id(rule))
    if plan is not None and plan.rule is rule:
        return plan
    cond = rule.condition
    plan = RulePlan(
        rule=rule,
        root=_compile(cond, rule.rule_id, ""),
        shape=_shape(cond),
        silence=cond if isinstance(cond, SilenceCondition) else None,
    )
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[id(rule)] = plan
    return plan
