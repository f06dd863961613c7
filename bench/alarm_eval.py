"""CPU time per message of validation + the full default alarm rule evaluation (100-cell pack).

Messages come from the simulator (``lfp-100s206-bus``: 100 cells, 24 probes, normal duty cycle at
1 s sampling), serialised to the bytes a device publishes. The engine state is carried from
message to message, as the alarm consumer does (steady state: nothing raised). Process CPU time,
single thread, in-process; the best of a few repeats, because other work on the machine only
ever adds time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from device_sdk.simulate.device import DeviceSpec, SimulatedDevice
from shared.contracts import topics
from shared.contracts.devices import DeviceModel, DeviceStatus
from shared.contracts.telemetry import BatteryPackTelemetry, StorageCabinetTelemetry
from shared.domain.alarms import engine
from shared.domain.alarms.default_rules import DEFAULT_RULES, DEFAULT_RULES_VERSION
from shared.domain.devices.catalogue import BUILT_IN_MODELS
from shared.domain.telemetry.validation import DeviceInfo, RuleOutput, ValidMessage, validate

TENANT = "bench"
_MODEL_100 = "lfp-100s206-bus"
_MODEL_400 = "lfp-400s280-rack"


def _model(model_id: str) -> DeviceModel:
    return next(m for m in BUILT_IN_MODELS if m.model_id == model_id)


class _Directory:
    def __init__(self, model: DeviceModel) -> None:
        self.model = model

    def get(self, tenant_id: str, thing_name: str) -> DeviceInfo:
        return DeviceInfo(tenant_id, thing_name, self.model.kind, DeviceStatus.ACTIVE, self.model)


def _telemetry(model: DeviceModel, count: int, seed: int = 7) -> list[BatteryPackTelemetry | StorageCabinetTelemetry]:
    dev = SimulatedDevice(DeviceSpec(TENANT, "bench-1", model, seed=seed))
    out: list[BatteryPackTelemetry | StorageCabinetTelemetry] = []
    while len(out) < count:
        out.extend(m for m in dev.step(1.0) if isinstance(m, BatteryPackTelemetry | StorageCabinetTelemetry))
    return out[:count]


def _context(model: DeviceModel) -> tuple[engine.DeviceContext, engine.EffectiveRules]:
    ctx = engine.DeviceContext(TENANT, "bench-1", model.kind, model.model_id, model.limits)
    rules = engine.EffectiveRules(
        f"default@{DEFAULT_RULES_VERSION}", tuple(r for r in DEFAULT_RULES if model.kind in r.kinds)
    )
    return ctx, rules


def _best_cpu_us(fn: Callable[[], int], repeats: int) -> float:
    """Best CPU time per item over ``repeats`` runs of ``fn`` (which returns how many items it did)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        n = fn()
        best = min(best, (time.process_time() - t0) / n * 1e6)
    return best


def run(messages: int = 2000, repeats: int = 5) -> dict[str, Any]:
    model = _model(_MODEL_100)
    ctx, rules = _context(model)
    topic = topics.uplink(TENANT, "bench-1", topics.UpType.TELEMETRY)
    warmup = 60
    tele = _telemetry(model, messages + warmup)
    outputs = [RuleOutput(payload=t.model_dump_json().encode(), topic=topic, arrival_ms=t.device_ts_ms) for t in tele]
    directory = _Directory(model)

    # The state after a minute of data: every rate, jump and drop track is populated.
    warm = engine.EngineState()
    for out in outputs[:warmup]:
        warm = engine.evaluate(ctx, rules, warm, _sample(validate(out, directory))).state
    timed = outputs[warmup:]
    valid = [validate(out, directory) for out in timed]
    samples = [_sample(v) for v in valid]
    raised = 0

    def validate_only() -> int:
        for out in timed:
            validate(out, directory)
        return len(timed)

    def evaluate_only() -> int:
        nonlocal raised
        state = warm
        for sample in samples:
            ev = engine.evaluate(ctx, rules, state, sample)
            state = ev.state
            raised += len(ev.transitions)
        return len(samples)

    def both() -> int:
        state = warm
        for out in timed:
            state = engine.evaluate(ctx, rules, state, _sample(validate(out, directory))).state
        return len(timed)

    validate_us = _best_cpu_us(validate_only, repeats)
    evaluate_us = _best_cpu_us(evaluate_only, repeats)
    total_us = _best_cpu_us(both, repeats)
    return {
        "model": _MODEL_100,
        "cells": model.cell_count,
        "probes": model.probe_count,
        "message_bytes": round(sum(len(o.payload) for o in timed) / len(timed)),
        "rules": len(rules.rules),
        "messages": len(timed),
        "validate_and_evaluate_us_per_msg": round(total_us, 1),
        "evaluate_only_us_per_msg": round(evaluate_us, 1),
        "validate_only_us_per_msg": round(validate_us, 1),
        "target_us_per_msg": 300,
        "transitions_in_timed_runs": raised,
        "state_json_bytes": {
            _MODEL_100: len(json.dumps(_steady_state(model).model_dump(mode="json"))),
            _MODEL_400: len(json.dumps(_steady_state(_model(_MODEL_400)).model_dump(mode="json"))),
        },
        "note": (
            f"process CPU time, single thread, best of {repeats}; simulated {_MODEL_100} at 1 s sampling, "
            "engine state carried between messages (steady state)"
        ),
    }


def _sample(msg: ValidMessage) -> engine.Sample:
    tele = msg.message
    assert isinstance(tele, BatteryPackTelemetry | StorageCabinetTelemetry)
    return engine.Sample(msg.message_key, msg.device_ts_ms, msg.arrival_ms, tele)


def _steady_state(model: DeviceModel, seconds: int = 120) -> engine.EngineState:
    """Engine state of a device after ``seconds`` of healthy data (its stored size is reported)."""
    ctx, rules = _context(model)
    state = engine.EngineState()
    for i, tele in enumerate(_telemetry(model, seconds)):
        state = engine.evaluate(
            ctx, rules, state, engine.Sample(f"k{i}", tele.device_ts_ms, tele.device_ts_ms, tele)
        ).state
    return state


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
