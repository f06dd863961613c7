"""The default rule set: valid data, the coverage and protective actions the platform promises,
the simulator's thermal-runaway scenario, and a healthy simulated fleet that raises nothing."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from device_sdk.simulate.catalog import STORAGE_CABINET_NMC
from device_sdk.simulate.device import DeviceSpec, SimulatedDevice
from device_sdk.simulate.scenarios import SensorDropout, ThermalRunaway
from shared.contracts.alarms import AlarmLevel, AlarmRule, RuleSetDraft
from shared.contracts.devices import DeviceKind, DeviceModel
from shared.contracts.telemetry import (
    BatteryPackTelemetry,
    Command,
    CommandName,
    StorageCabinetTelemetry,
    UplinkHeader,
)
from shared.domain.alarms import engine
from shared.domain.alarms.default_rules import DEFAULT_RULES, DEFAULT_RULES_VERSION
from shared.domain.devices.catalogue import BUILT_IN_MODELS

BY_ID = {r.rule_id: r for r in DEFAULT_RULES}
BOTH = {DeviceKind.BATTERY_PACK, DeviceKind.STORAGE_CABINET}
CABINET_ONLY = {DeviceKind.STORAGE_CABINET}


def commands(rule: AlarmRule) -> list[str]:
    return [a.command.value for a in rule.actions]


def test_default_rules_are_valid_rule_data() -> None:
    """ARC-3, SLW-WEB-3, SLW-IF-2: the default set is plain rule data: every rule validates, ids are
    unique, and the set round-trips through JSON as a rule-set document."""
    assert DEFAULT_RULES_VERSION == 1
    draft = RuleSetDraft(rules=list(DEFAULT_RULES), comment="platform default")
    again = RuleSetDraft.model_validate_json(draft.model_dump_json())
    assert again == draft
    for r in DEFAULT_RULES:
        assert AlarmRule.model_validate(json.loads(r.model_dump_json())) == r
        assert r.enabled


@pytest.mark.parametrize(
    ("rule_id", "kinds", "level"),
    [
        ("cell_overvoltage", BOTH, 2),
        ("cell_overvoltage_critical", BOTH, 3),
        ("cell_undervoltage", BOTH, 2),
        ("cell_undervoltage_critical", BOTH, 3),
        ("pack_overvoltage", BOTH, 2),
        ("pack_overvoltage_critical", BOTH, 3),
        ("pack_undervoltage", BOTH, 2),
        ("pack_undervoltage_critical", BOTH, 3),
        ("over_temperature", BOTH, 2),
        ("high_temperature", BOTH, 1),
        ("under_temperature", BOTH, 2),
        ("temperature_difference", BOTH, 1),
        ("temperature_consistency", BOTH, 0),
        ("cell_voltage_consistency", BOTH, 0),
        ("cell_voltage_spread", BOTH, 1),
        ("soc_low", BOTH, 1),
        ("soc_high", BOTH, 1),
        ("soc_jump", BOTH, 1),
        ("insulation_low", BOTH, 1),
        ("insulation_low_critical", BOTH, 2),
        ("charge_overcurrent", BOTH, 2),
        ("discharge_overcurrent", BOTH, 2),
        ("water_ingress", CABINET_ONLY, 3),
        ("h2_prewarning", CABINET_ONLY, 0),
        ("h2_high", CABINET_ONLY, 2),
        ("co_prewarning", CABINET_ONLY, 0),
        ("co_high", CABINET_ONLY, 2),
        ("smoke", CABINET_ONLY, 3),
        ("flame", CABINET_ONLY, 3),
        ("module_pressure_rise", CABINET_ONLY, 2),
        ("communication_lost", BOTH, 1),
        ("gb_alarm_level3", BOTH, 3),
        ("thermal_runaway", BOTH, 3),
    ],
)
def test_default_rule_coverage_and_levels(rule_id: str, kinds: set[DeviceKind], level: int) -> None:
    """SLW-EW-5, LCM-AL-4, SLW-EW-3: the default set covers every promised condition, graded from
    pre-warning (0) to level 3, for the device kinds that have the sensor."""
    r = BY_ID[rule_id]
    assert set(r.kinds) == kinds
    assert r.level == AlarmLevel(level)


def test_protective_actions_follow_slw_pr() -> None:
    """SLW-PR-1, SLW-PR-2, SLW-PR-3, SLW-PR-4, LCM-PF-6: over/under-voltage at level 3 cuts off;
    over-charge and over-current close the charge or discharge port; over/under-temperature stop
    both; water ingress, smoke, flame and thermal runaway cut off; gas pre-warnings raise the
    reporting rate to 500 ms and restore 1 s when they clear. Level-3 cut-offs stay latched."""
    for rid in (
        "cell_overvoltage_critical",
        "cell_undervoltage_critical",
        "pack_overvoltage_critical",
        "pack_undervoltage_critical",
        "water_ingress",
        "smoke",
        "flame",
        "thermal_runaway",
    ):
        assert commands(BY_ID[rid]) == ["cut_off"], rid
        assert BY_ID[rid].level == AlarmLevel.LEVEL_3 and not BY_ID[rid].auto_clear, rid
    for rid in ("cell_overvoltage", "pack_overvoltage", "charge_overcurrent", "soc_high"):
        assert commands(BY_ID[rid]) == ["stop_charge"], rid
    for rid in ("cell_undervoltage", "pack_undervoltage", "discharge_overcurrent"):
        assert commands(BY_ID[rid]) == ["stop_discharge"], rid
    for rid in ("over_temperature", "under_temperature", "h2_high", "co_high", "module_pressure_rise"):
        assert commands(BY_ID[rid]) == ["stop_charge", "stop_discharge"], rid
    for rid in ("h2_prewarning", "co_prewarning"):
        r = BY_ID[rid]
        assert [(a.command, a.params) for a in r.actions] == [
            (CommandName.SET_REPORTING_INTERVAL, {"interval_ms": 500})
        ]
        assert [(a.command, a.params) for a in r.clear_actions] == [
            (CommandName.SET_REPORTING_INTERVAL, {"interval_ms": 1000})
        ]
    # Below level 2, only the gas pre-warnings (reporting rate) and over-charge at full SOC act.
    acting_low = {r.rule_id for r in DEFAULT_RULES if r.actions and r.level < AlarmLevel.LEVEL_2}
    assert acting_low == {"h2_prewarning", "co_prewarning", "soc_high"}


# ---- the simulator in the loop ------------------------------------------------------------------


@dataclass
class Loop:
    """A simulated device wired to the engine in-process: its messages are evaluated with the
    default rules, and the protective actions of raised alarms go back to it as commands."""

    device: SimulatedDevice
    ctx: engine.DeviceContext
    rules: engine.EffectiveRules
    state: engine.EngineState = field(default_factory=engine.EngineState)
    transitions: list[engine.Transition] = field(default_factory=list)
    telemetry: list[BatteryPackTelemetry | StorageCabinetTelemetry] = field(default_factory=list)
    apply_actions: bool = True
    keep_telemetry: bool = True
    _commands: int = 0

    @classmethod
    def for_model(
        cls, model: DeviceModel, thing: str, device_options: dict[str, int] | None = None, **spec: object
    ) -> Loop:
        device = SimulatedDevice(DeviceSpec("acme", thing, model, **spec), **(device_options or {}))  # type: ignore[arg-type]
        ctx = engine.DeviceContext("acme", thing, model.kind, model.model_id, model.limits)
        effective = engine.EffectiveRules(
            f"default@{DEFAULT_RULES_VERSION}", tuple(r for r in DEFAULT_RULES if model.kind in r.kinds)
        )
        return cls(device, ctx, effective)

    def feed(self, messages: Sequence[UplinkHeader]) -> None:
        for msg in messages:
            if isinstance(msg, BatteryPackTelemetry | StorageCabinetTelemetry):
                key = f"acme#{self.ctx.thing_name}#{msg.boot_id}#{msg.seq}"
                ev = engine.evaluate(
                    self.ctx, self.rules, self.state, engine.Sample(key, msg.device_ts_ms, msg.device_ts_ms, msg)
                )
                if self.keep_telemetry:
                    self.telemetry.append(msg)
            else:
                ev = engine.heard_from(self.ctx, self.rules, self.state, msg.device_ts_ms)
            self.state = ev.state
            self.transitions.extend(ev.transitions)
            for t in ev.transitions:
                if self.apply_actions and t.kind == "raise":
                    self._send(t)

    def _send(self, t: engine.Transition) -> None:
        for action in t.rule.actions:
            self._commands += 1
            self.device.handle_command(
                Command(
                    command_id=f"c{self._commands}",
                    name=action.command,
                    params=action.params,
                    issued_at_ms=self.device.now_ms,
                    expires_at_ms=self.device.now_ms + action.ttl_s * 1000,
                    idempotency_key=f"{t.rule.rule_id}-{self._commands}",
                )
            )

    def run(self, seconds: float) -> None:
        """Step in reporting intervals, so a command takes effect from the next sample on."""
        end = self.device.elapsed_s + seconds
        while self.device.elapsed_s < end - 1e-9:
            self.feed(self.device.step(min(self.device.reporting_interval_ms / 1000.0, end - self.device.elapsed_s)))

    def raised(self, rule_id: str) -> engine.Transition:
        return next(t for t in self.transitions if t.kind == "raise" and t.rule.rule_id == rule_id)


def gb38031_time(
    samples: Sequence[BatteryPackTelemetry | StorageCabinetTelemetry], cell: int, v_initial: float, t_max: float
) -> int | None:
    """Device time of the first sample at which GB 38031 C.5.3.7 holds, computed independently of
    the engine: some probe's dT/dt ≥ 1 °C/s between consecutive samples for more than 3 s (c), and
    the trigger cell more than 25 % below its initial voltage (a) or a probe at t_max (b)."""
    runs: dict[int, int] = {}
    for prev, cur in itertools.pairwise(samples):
        dt = (cur.device_ts_ms - prev.device_ts_ms) / 1000
        for j, (a, b) in enumerate(zip(prev.probe_temperatures_c, cur.probe_temperatures_c, strict=True)):
            if a is not None and b is not None and round((b - a) / dt, 9) >= 1.0:
                runs.setdefault(j, prev.device_ts_ms)
            else:
                runs.pop(j, None)
        c = any(cur.device_ts_ms - start > 3000 for start in runs.values())
        v = cur.cell_voltages_v[cell]
        a_holds = v is not None and v < 0.75 * v_initial
        b_holds = any(p is not None and p >= t_max for p in cur.probe_temperatures_c)
        if c and (a_holds or b_holds):
            return cur.device_ts_ms
    return None


CABINETS = [m for m in BUILT_IN_MODELS if m.kind is DeviceKind.STORAGE_CABINET] + [STORAGE_CABINET_NMC]


@pytest.mark.parametrize("model", CABINETS, ids=lambda m: m.model_id)
def test_thermal_runaway_scenario_gas_prewarning_first_then_runaway_level3(model: DeviceModel) -> None:
    """SLW-EW-1, SLW-EW-2, SLW-EW-3, SLW-EW-5, SLW-PR-1, LCM-PF-6, LCM-AL-1: the simulator's thermal
    runaway on a storage cabinet (1 s sampling): nothing for a healthy minute; then the H₂
    pre-warning comes first (level 0, reporting raised to 500 ms), thermal runaway is raised at
    level 3 on the very sample at which GB 38031 C.5.3.7 holds, its cut-off reaches the device,
    and smoke and flame follow."""
    loop = Loop.for_model(model, "cab-7", seed=11, initial_soc=0.6)
    loop.run(60)
    assert loop.transitions == []
    scenario = ThermalRunaway()
    loop.device.inject(scenario)
    injected_ms = loop.device.now_ms
    cell = loop.device.scenario_cell("thermal_runaway")
    assert cell is not None
    v_initial = loop.device.pack.cell_voltages()[cell]
    loop.run(90)

    raises = [t for t in loop.transitions if t.kind == "raise"]
    first = raises[0]
    assert (first.rule.rule_id, first.rule.level) == ("h2_prewarning", AlarmLevel.PRE_WARNING)
    assert first.params["value"] >= 100.0  # type: ignore[operator]
    assert loop.device.reporting_interval_ms == 500  # LCM-PF-6: the action reached the device
    runaway = loop.raised("thermal_runaway")
    assert runaway.rule.level == AlarmLevel.LEVEL_3
    assert [a.command for a in runaway.rule.actions] == [CommandName.CUT_OFF]
    criterion = gb38031_time(loop.telemetry, cell, v_initial, model.limits.max_operating_temperature_c)
    assert criterion is not None
    assert runaway.at_device_ms == criterion
    assert runaway.at_device_ms - first.at_device_ms >= 10_000  # type: ignore[operator]
    assert first.at_device_ms - injected_ms < scenario.gas_lead_s * 1000  # type: ignore[operator]
    heat_ms = injected_ms + scenario.gas_lead_s * 1000
    assert runaway.at_device_ms - heat_ms <= 6_000  # type: ignore[operator]  # GB 38031-2025: ≤ 5 min
    assert runaway.params["rate_per_s"] >= 1.0  # type: ignore[operator]
    assert runaway.params["rate_sustained_s"] > 3.0  # type: ignore[operator]
    assert "probe" in runaway.params
    assert len(runaway.trigger) >= 4
    assert loop.device.pack.cut_off  # SLW-PR-1: the cut-off command was executed
    order = [t.rule.rule_id for t in raises]
    assert order.index("h2_prewarning") < order.index("thermal_runaway") < order.index("smoke") < order.index("flame")
    assert order.index("co_prewarning") < order.index("thermal_runaway")
    assert "module_pressure_rise" in order
    # Latched: the runaway stays active although the temperature rise is over.
    assert "thermal_runaway" in loop.state.active_rule_ids()
    assert not any(t.kind == "clear" and t.rule.rule_id == "thermal_runaway" for t in loop.transitions)


def test_gb32960_thermal_event_flag_alone_raises_thermal_runaway() -> None:
    """SLW-EW-1, SLW-EW-5: a GB/T 32960-2025 terminal reporting bit 23 (thermal event) raises thermal
    runaway at level 3 by itself."""
    model = next(m for m in BUILT_IN_MODELS if m.model_id == "nmc-96s150-ev")
    loop = Loop.for_model(model, "ev-1", seed=3)
    loop.run(5)
    assert loop.transitions == []
    body = loop.device.telemetry().model_dump()
    body.update(gb_alarm={"flags": 1 << 23, "max_level": 3}, seq=10_000, device_ts_ms=body["device_ts_ms"] + 500)
    loop.feed([BatteryPackTelemetry.model_validate(body)])
    assert sorted(t.rule.rule_id for t in loop.transitions) == ["gb_alarm_level3", "thermal_runaway"]
    assert loop.raised("thermal_runaway").params["gb_bits"] == "23"


# ---- a healthy fleet ----------------------------------------------------------------------------

#: Per catalogue model: initial SOC, seed, warm-up minutes and the regime the evaluated window
#: goes through. The seed picks the first duty phase; the warm-up (60 s reports, 10 s physics
#: steps) brings the device to just before the most alarm-prone part of its cycle: the top of a
#: charge (highest cell voltages, widest LFP spreads) or the bottom of a discharge (lowest cell
#: voltages, low SOC; the NMC packs with a riding current).
HEALTHY: dict[str, tuple[float, int, int, str]] = {
    "lfp-16s280-ess": (0.84, 0, 10, "top"),
    "nmc-96s150-ev": (0.35, 0, 26, "bottom"),
    "lfp-100s206-bus": (0.84, 0, 5, "top"),
    "lfp-400s280-rack": (0.84, 3, 8, "top"),
    "nmc-13s30-swap": (0.35, 0, 27, "bottom"),
    "ess-cab-215-240s": (0.84, 1, 8, "top"),
    "sl-cab-lfp-48s": (0.35, 0, 16, "bottom"),
}
#: Minutes evaluated at 1 s sampling per model (an hour of every model would cost ~60 s of CPU:
#: the simulator needs 1–7 ms per sample of the 100–400-cell packs).
WINDOW_MIN = 15


@pytest.mark.parametrize("model", BUILT_IN_MODELS, ids=lambda m: m.model_id)
def test_healthy_catalogue_model_raises_no_alarm(model: DeviceModel) -> None:
    """SLW-EW-4, SLW-EW-5, LCM-DA-3: a healthy simulated device of every catalogue model, sampled
    every second through the most alarm-prone part of its normal cycle (top of charge or bottom of
    discharge), with sensor drop-outs for the second half and the loss-of-communication timer every
    minute, raises no alarm at all (so no level 3)."""
    soc, seed, warmup_min, regime = HEALTHY[model.model_id]
    loop = Loop.for_model(
        model,
        f"healthy-{model.model_id}",
        {"reporting_interval_ms": 60_000, "max_substep_s": 10},
        seed=seed,
        initial_soc=soc,
    )
    loop.keep_telemetry = False
    loop.feed(loop.device.step(warmup_min * 60))
    loop.device.set_reporting_interval(1000)
    soc_seen: list[float] = []
    for minute in range(WINDOW_MIN):
        if minute == WINDOW_MIN // 2:
            loop.device.inject(SensorDropout(fraction=0.15, include_gas=True))
        messages = loop.device.step(60)
        loop.feed(messages)
        soc_seen += [
            m.soc_pct
            for m in messages
            if isinstance(m, BatteryPackTelemetry | StorageCabinetTelemetry) and m.soc_pct is not None
        ]
        ev = engine.evaluate_silence(loop.ctx, loop.rules, loop.state, loop.device.now_ms + 1000)
        loop.transitions.extend(ev.transitions)
        loop.state = ev.state
    assert [(t.kind, t.rule.rule_id, t.params) for t in loop.transitions] == []
    assert loop.state.active_rule_ids() == frozenset()
    assert len(soc_seen) >= WINDOW_MIN * 60
    # The window did go through the regime it was chosen for.
    if regime == "top":
        assert max(soc_seen) >= 97.0, (min(soc_seen), max(soc_seen))
    else:
        assert min(soc_seen) <= 15.0, (min(soc_seen), max(soc_seen))
