"""Helpers of the alarm engine tests: samples at simulated seconds, rules, and a runner that
feeds samples to the engine and records the transitions in a compact, assertable form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.contracts.alarms import AlarmLevel, AlarmRule, Condition, ProtectiveAction
from shared.contracts.devices import DeviceKind, ModelLimits
from shared.contracts.telemetry import BatteryPackTelemetry, GbAlarm, StorageCabinetTelemetry
from shared.domain.alarms import engine

#: 2025-01-01T00:00:00Z, device time of t = 0 s.
T0_MS = 1_735_689_600_000
BOTH = [DeviceKind.BATTERY_PACK, DeviceKind.STORAGE_CABINET]

LFP16_LIMITS = ModelLimits(
    cell_voltage_min_v=2.5,
    cell_voltage_max_v=3.65,
    pack_voltage_min_v=40.0,
    pack_voltage_max_v=58.4,
    temperature_min_c=-20,
    max_operating_temperature_c=55,
    max_charge_current_a=140,
    max_discharge_current_a=280,
)
PACK = engine.DeviceContext("acme", "pack-1", DeviceKind.BATTERY_PACK, "lfp-16s", LFP16_LIMITS)
CABINET = engine.DeviceContext("acme", "cab-1", DeviceKind.STORAGE_CABINET, "cab-16s", LFP16_LIMITS)


def ms(t_s: float) -> int:
    """Device time of simulated second ``t_s``."""
    return T0_MS + round(t_s * 1000)


def rule(
    rule_id: str,
    condition: Condition | dict[str, Any],
    *,
    level: int = 1,
    kinds: Sequence[DeviceKind] = BOTH,
    auto_clear: bool = True,
    actions: Sequence[ProtectiveAction] = (),
) -> AlarmRule:
    return AlarmRule.model_validate(
        {
            "rule_id": rule_id,
            "kinds": list(kinds),
            "level": AlarmLevel(level),
            "condition": condition,
            "auto_clear": auto_clear,
            "actions": list(actions),
        }
    )


def rules(*items: AlarmRule, version: str = "default@1") -> engine.EffectiveRules:
    return engine.EffectiveRules(version, tuple(items))


def sample(
    t_s: float,
    *,
    cells: Sequence[float | None] = (3.30, 3.31, 3.29, 3.30),
    probes: Sequence[float | None] = (25.0, 25.2, 24.9, 25.1),
    cabinet: bool = False,
    arrival_s: float | None = None,
    gb: tuple[int, int] | None = None,
    **fields: Any,
) -> engine.Sample:
    """A telemetry sample at simulated second ``t_s`` (arrival = device time unless given)."""
    seq = round(t_s * 1000)
    body: dict[str, Any] = {
        "boot_id": "boot1",
        "seq": seq,
        "device_ts_ms": ms(t_s),
        "cell_voltages_v": list(cells),
        "probe_temperatures_c": list(probes),
        **fields,
    }
    if gb is not None:
        body["gb_alarm"] = GbAlarm(flags=gb[0], max_level=gb[1])
    tele: BatteryPackTelemetry | StorageCabinetTelemetry = (
        StorageCabinetTelemetry(**body) if cabinet else BatteryPackTelemetry(**body)
    )
    thing = "cab-1" if cabinet else "pack-1"
    arrival = ms(arrival_s) if arrival_s is not None else ms(t_s)
    return engine.Sample(f"acme#{thing}#boot1#{seq}", tele.device_ts_ms, arrival, tele)


def describe(transitions: Sequence[engine.Transition]) -> list[str]:
    """``["raise cell_ov", "clear cell_ov"]`` — the compact form tests assert on."""
    return [f"{t.kind} {t.rule.rule_id}" for t in transitions]


class Runner:
    """Feeds samples to the engine for one device, carrying the state like the alarm consumer."""

    def __init__(
        self,
        effective: engine.EffectiveRules,
        ctx: engine.DeviceContext = PACK,
        state: engine.EngineState | None = None,
    ) -> None:
        self.rules = effective
        self.ctx = ctx
        self.state = state or engine.EngineState()
        self.transitions: list[engine.Transition] = []
        self.last: engine.Evaluation | None = None

    def send(self, s: engine.Sample) -> list[str]:
        ev = engine.evaluate(self.ctx, self.rules, self.state, s)
        self.state = ev.state
        self.transitions.extend(ev.transitions)
        self.last = ev
        return describe(ev.transitions)

    def at(self, t_s: float, **fields: Any) -> list[str]:
        """Send a sample at simulated second ``t_s`` (see :func:`sample`); its transitions."""
        cabinet = self.ctx.kind is DeviceKind.STORAGE_CABINET
        return self.send(sample(t_s, cabinet=cabinet, **fields))

    def silence(self, now_s: float) -> list[str]:
        ev = engine.evaluate_silence(self.ctx, self.rules, self.state, ms(now_s))
        self.state = ev.state
        self.transitions.extend(ev.transitions)
        self.last = ev
        return describe(ev.transitions)

    def heard(self, arrival_s: float) -> list[str]:
        ev = engine.heard_from(self.ctx, self.rules, self.state, ms(arrival_s))
        self.state = ev.state
        self.transitions.extend(ev.transitions)
        self.last = ev
        return describe(ev.transitions)

    def active(self) -> frozenset[str]:
        return self.state.active_rule_ids()
