"""Alarm evaluation in the pipeline (ARC-3, LCM-AL-1, SLW-EW-1/5, SLW-PR-1..4).

For each device in a stream batch, in stream order: evaluate its telemetry with the rule
engine, apply the transitions — alarm record, protective commands at once, timeline, bus
event, console push — and keep the engine state durably.

Idempotency and durability (a redelivered or retried batch changes nothing twice):

* alarm ids, command idempotency keys, timeline entry ids and event ids are derived from
  the deciding sample, so every side effect of a transition lands on the same records again;
* the engine skips samples not newer than its state, so a redelivery evaluates nothing;
* the state of a device lives in memory while the function is warm (one shard → one device's
  records in order) and is written to DynamoDB at once after a transition or a change of a
  pending phase, else at most every ``checkpoint_s``; writes carry a version, and a lost race
  (another writer, e.g. an operator's manual clear) reloads the state and re-evaluates.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shared.contracts import topics
from shared.contracts.alarms import (
    MIN_SILENCE_S,
    Alarm,
    AlarmEventType,
    AlarmLevel,
    AlarmStatus,
    ParamValue,
    ProtectiveAction,
    TimelineEntryType,
    TriggerSample,
)
from shared.contracts.commands import CommandOrigin, CommandRecord, CommandStatus
from shared.contracts.devices import DeviceStatus
from shared.contracts.telemetry import BatteryPackTelemetry, CommandAck, FaultEvent, StorageCabinetTelemetry
from shared.domain.alarms import engine, faults
from shared.domain.alarms.output import AlarmOutput
from shared.domain.alarms.ports import AlarmStore, CommandIssuer, RuleSource
from shared.domain.commands.service import is_overdue
from shared.domain.errors import Conflict
from shared.domain.messaging import EventPublisher, MqttPublisher
from shared.domain.telemetry.validation import DeviceInfo, ValidMessage

log = logging.getLogger(__name__)

SYSTEM = "system"
#: How many devices' engine state a warm function keeps in memory (least recently used out).
STATE_CACHE_DEVICES = 50_000


def alarm_id_for(tenant_id: str, thing_name: str, rule_id: str, decided_by: str) -> str:
    digest = hashlib.sha256(f"{tenant_id}|{thing_name}|{rule_id}|{decided_by}".encode()).hexdigest()
    return f"al-{digest[:24]}"


def device_context(info: DeviceInfo) -> engine.DeviceContext:
    return engine.DeviceContext(
        tenant_id=info.tenant_id,
        thing_name=info.thing_name,
        kind=info.kind,
        model_id=info.model.model_id if info.model else None,
        limits=info.model.limits if info.model else None,
    )


@dataclass
class _Cached:
    state: engine.EngineState
    version: int
    persisted_at_ms: int
    #: Server time this copy was last used; a device quiet for MIN_SILENCE_S may meanwhile have
    #: been given a loss-of-communication alarm by the timer (which writes the stored state).
    used_at_ms: int = 0


@dataclass
class ProcessResult:
    evaluated: int = 0
    late: int = 0
    raised: int = 0
    cleared: int = 0
    commands: int = 0
    acks: int = 0
    state_writes: int = 0
    failed_devices: list[tuple[str, str]] = field(default_factory=list)


class AlarmPipeline:
    """Evaluates a device's messages and carries out the transitions. Ports are passed in."""

    def __init__(
        self,
        store: AlarmStore,
        rules: RuleSource,
        commands: CommandIssuer,
        events: EventPublisher,
        console: MqttPublisher | None,
        clock_ms: Callable[[], int],
        checkpoint_s: float = 60.0,
    ) -> None:
        self.store = store
        self.rules = rules
        self.commands = commands
        self.out = AlarmOutput(store, events, console)
        self.clock_ms = clock_ms
        self.checkpoint_ms = int(checkpoint_s * 1000)
        self._states: OrderedDict[tuple[str, str], _Cached] = OrderedDict()

    # ---- batch ------------------------------------------------------------------------------------
    def process(self, messages: Sequence[tuple[DeviceInfo, ValidMessage]]) -> ProcessResult:
        """Evaluate valid messages (stream order kept per device). A device whose processing
        fails is reported in ``failed_devices`` (its in-memory state is dropped)."""
        result = ProcessResult()
        by_device: dict[tuple[str, str], list[tuple[DeviceInfo, ValidMessage]]] = {}
        for info, msg in messages:
            by_device.setdefault((info.tenant_id, info.thing_name), []).append((info, msg))
        for key, items in by_device.items():
            try:
                self._process_device(items, result)
            except Exception:
                log.exception("alarm evaluation failed for %s/%s; it will be retried", *key)
                self._states.pop(key, None)
                result.failed_devices.append(key)
        return result

    def _process_device(self, items: list[tuple[DeviceInfo, ValidMessage]], result: ProcessResult) -> None:
        info = items[0][0]
        ctx = device_context(info)
        label, rule_list = self.rules.effective(ctx.tenant_id, ctx.thing_name, ctx.kind, ctx.model_id)
        rules = engine.EffectiveRules(version=label, rules=rule_list)
        for attempt in range(3):
            cached = self._state(ctx.tenant_id, ctx.thing_name)
            state, significant = cached.state, False
            transitions: list[engine.Transition] = []
            for _, msg in items:
                ev = self._evaluate(ctx, rules, state, msg, result)
                state = ev.state
                significant = significant or ev.significant
                transitions.extend(ev.transitions)
            for transition in transitions:
                self._apply(ctx, rules.version, transition, result)
            now = self.clock_ms()
            if significant or transitions or now - cached.persisted_at_ms >= self.checkpoint_ms:
                try:
                    version = self.store.save_state(
                        ctx.tenant_id,
                        ctx.thing_name,
                        state.model_dump(mode="json"),
                        expected_version=cached.version,
                        last_seen_ms=self._last_seen(state, rules),
                        now_ms=now,
                    )
                except Conflict:
                    # Someone else wrote (manual clear, the silence timer, another container):
                    # reload and evaluate again; the side effects above are idempotent.
                    log.info("engine state of %s/%s changed concurrently; re-evaluating", ctx.tenant_id, ctx.thing_name)
                    self._states.pop((ctx.tenant_id, ctx.thing_name), None)
                    if attempt == 2:
                        raise
                    continue
                result.state_writes += 1
                cached = _Cached(state, version, now, now)
            else:
                cached = _Cached(state, cached.version, cached.persisted_at_ms, now)
            self._remember(ctx.tenant_id, ctx.thing_name, cached)
            return

    def _evaluate(
        self,
        ctx: engine.DeviceContext,
        rules: engine.EffectiveRules,
        state: engine.EngineState,
        msg: ValidMessage,
        result: ProcessResult,
    ) -> engine.Evaluation:
        if msg.message_type is topics.UpType.TELEMETRY and isinstance(
            msg.message, BatteryPackTelemetry | StorageCabinetTelemetry
        ):
            sample = engine.Sample(
                message_key=msg.message_key,
                device_ts_ms=msg.device_ts_ms,
                arrival_ms=msg.arrival_ms,
                telemetry=msg.message,
            )
            ev = engine.evaluate(ctx, rules, state, sample)
            if ev.late:
                result.late += 1
            else:
                result.evaluated += 1
            return ev
        if msg.message_type is topics.UpType.ACK and isinstance(msg.message, CommandAck):
            self.commands.record_ack(ctx.tenant_id, ctx.thing_name, msg.message, msg.arrival_ms)
            result.acks += 1
        elif isinstance(msg.message, FaultEvent):
            self._fault(ctx, rules.version, msg, msg.message, result)
        return engine.heard_from(ctx, rules, state, msg.arrival_ms)

    def _fault(
        self, ctx: engine.DeviceContext, version: str, msg: ValidMessage, fault: FaultEvent, result: ProcessResult
    ) -> None:
        """A device fault report (SLW-IF-1): raise or clear its alarm, with classification and advice."""
        rule_id = faults.fault_rule_id(fault.code)
        if not fault.active:
            if self.clear_for(ctx, rule_id):
                result.cleared += 1
            return
        cls = faults.classify(fault.code)
        params: dict[str, ParamValue] = {
            **fault.params,
            "fault_code": fault.code,
            "classification": cls.classification,
            "advice": cls.advice,
        }
        sample = TriggerSample(message_key=msg.message_key, device_ts_ms=msg.device_ts_ms, values=dict(fault.params))
        raised = self.raise_for(
            ctx,
            version,
            rule_id=rule_id,
            level=cls.level,
            params=params,
            trigger=[sample],
            decided_by=msg.message_key,
            at_device_ms=msg.device_ts_ms,
        )
        if raised:
            result.raised += 1

    @staticmethod
    def _last_seen(state: engine.EngineState, rules: engine.EffectiveRules) -> int | None:
        """Stay in the loss-of-communication index only while a silence rule could still raise."""
        silence = [r.rule_id for r in rules.rules if r.condition.type == "silence"]
        active = state.active_rule_ids()
        if not silence or all(r in active for r in silence):
            return None
        return state.last_arrival_ms

    # ---- state cache --------------------------------------------------------------------------
    def _state(self, tenant_id: str, thing_name: str) -> _Cached:
        key = (tenant_id, thing_name)
        cached = self._states.get(key)
        # Someone else may have changed the stored state: an operator's manual clear (only while a
        # rule is active) or the silence timer (only after the device was quiet for a while). One
        # cheap version read in those cases keeps the warm copy honest.
        if cached is not None and (
            not (cached.state.active_rule_ids() or self.clock_ms() - cached.used_at_ms >= MIN_SILENCE_S * 1000)
            or self.store.state_version(tenant_id, thing_name) == cached.version
        ):
            self._states.move_to_end(key)
            return cached
        stored = self.store.load_state(tenant_id, thing_name)
        state = engine.EngineState.model_validate(stored.state) if stored.state else engine.EngineState()
        now = self.clock_ms()
        cached = _Cached(state, stored.version, now, now)
        self._remember(tenant_id, thing_name, cached)
        return cached

    def _remember(self, tenant_id: str, thing_name: str, cached: _Cached) -> None:
        self._states[(tenant_id, thing_name)] = cached
        self._states.move_to_end((tenant_id, thing_name))
        while len(self._states) > STATE_CACHE_DEVICES:
            self._states.popitem(last=False)

    def forget(self, tenant_id: str, thing_name: str) -> None:
        self._states.pop((tenant_id, thing_name), None)

    # ---- transitions ---------------------------------------------------------------------------
    def _apply(
        self,
        ctx: engine.DeviceContext,
        version: str,
        t: engine.Transition,
        result: ProcessResult,
    ) -> None:
        if t.kind == "raise":
            if self.raise_alarm(ctx, version, t):
                result.raised += 1
                result.commands += len(t.rule.actions)
        elif self.clear_alarm(ctx, t):
            result.cleared += 1
            result.commands += len(t.rule.clear_actions)

    def raise_alarm(self, ctx: engine.DeviceContext, version: str, t: engine.Transition) -> bool:
        """Record the alarm of a rule transition and act on it (protective commands first)."""
        return self.raise_for(
            ctx,
            version,
            rule_id=t.rule.rule_id,
            level=t.rule.level,
            params=t.params,
            trigger=list(t.trigger),
            decided_by=t.message_key or f"t{t.at_device_ms or self.clock_ms()}",
            at_device_ms=t.at_device_ms,
            actions=t.rule.actions,
        )

    def raise_for(
        self,
        ctx: engine.DeviceContext,
        version: str,
        *,
        rule_id: str,
        level: AlarmLevel,
        params: dict[str, ParamValue],
        trigger: list[TriggerSample],
        decided_by: str,
        at_device_ms: int | None,
        actions: Sequence[ProtectiveAction] = (),
    ) -> bool:
        """Raise one alarm (idempotent per deciding sample); False when the rule already has one."""
        now = self.clock_ms()
        alarm_id = alarm_id_for(ctx.tenant_id, ctx.thing_name, rule_id, decided_by)
        active = self.store.claim_active(ctx.tenant_id, ctx.thing_name, rule_id, alarm_id, now)
        if active != alarm_id:
            log.info("rule %s of %s already has active alarm %s", rule_id, ctx.thing_name, active)
            return False
        existing = self.store.get(ctx.tenant_id, alarm_id)
        alarm = existing or Alarm(
            alarm_id=alarm_id,
            tenant_id=ctx.tenant_id,
            thing_name=ctx.thing_name,
            device_kind=ctx.kind,
            model_id=ctx.model_id,
            rule_id=rule_id,
            level=level,
            status=AlarmStatus.ACTIVE,
            code=rule_id,
            params=params,
            rule_version=version,
            raised_at_ms=now,
            device_ts_ms=at_device_ms if at_device_ms is not None else now,
            trigger=trigger,
            updated_at_ms=now,
        )
        if existing is None:
            self.store.create(alarm)
        # Protective commands first: they are what stops a runaway from spreading.
        for i, action in enumerate(actions):
            self._command(alarm, action, f"{alarm_id}:action:{i}", "protective_action")
        self.out.timeline(
            alarm, "raised", TimelineEntryType.RAISED, alarm.raised_at_ms, SYSTEM, {"level": int(alarm.level)}
        )
        self.out.event(alarm, AlarmEventType.RAISED, f"{alarm_id}:raised", alarm.raised_at_ms)
        return True

    def clear_alarm(self, ctx: engine.DeviceContext, t: engine.Transition) -> bool:
        return self.clear_for(ctx, t.rule.rule_id, t.rule.clear_actions)

    def clear_for(
        self, ctx: engine.DeviceContext, rule_id: str, clear_actions: Sequence[ProtectiveAction] = ()
    ) -> bool:
        """Clear the rule's active alarm, if any (idempotent)."""
        alarm_id = self.store.active_alarm_id(ctx.tenant_id, ctx.thing_name, rule_id)
        if alarm_id is None:
            return False
        alarm = self.store.get(ctx.tenant_id, alarm_id)
        if alarm is None:
            self.store.release_active(ctx.tenant_id, ctx.thing_name, rule_id, alarm_id)
            return False
        now = self.clock_ms()
        if alarm.status is not AlarmStatus.CLEARED:
            cleared = alarm.model_copy(
                update={
                    "status": AlarmStatus.CLEARED,
                    "cleared_at_ms": now,
                    "cleared_by": SYSTEM,
                    "clear_reason": "condition_gone",
                    "updated_at_ms": max(now, alarm.updated_at_ms + 1),
                }
            )
            self.store.replace(cleared, expected_updated_at_ms=alarm.updated_at_ms)
            alarm = cleared
        for i, action in enumerate(clear_actions):
            self._command(alarm, action, f"{alarm_id}:clear_action:{i}", "clear_action")
        self.store.release_active(ctx.tenant_id, ctx.thing_name, rule_id, alarm_id)
        at = alarm.cleared_at_ms or now
        self.out.timeline(alarm, "cleared", TimelineEntryType.CLEARED, at, SYSTEM, {"reason": "condition_gone"})
        self.out.event(alarm, AlarmEventType.CLEARED, f"{alarm_id}:cleared", at)
        return True

    def _command(self, alarm: Alarm, action: ProtectiveAction, key: str, reason: str) -> CommandRecord:
        record = self.commands.issue(
            tenant_id=alarm.tenant_id,
            thing_name=alarm.thing_name,
            name=action.command,
            params=dict(action.params),
            reason=f"{reason}:{alarm.rule_id}",
            origin=CommandOrigin(
                type="alarm",
                alarm_id=alarm.alarm_id,
                rule_id=alarm.rule_id,
                rule_version=alarm.rule_version,
                samples=alarm.trigger,
            ),
            idempotency_key=key,
            ttl_s=action.ttl_s,
            ack_timeout_s=min(action.ack_timeout_s, action.ttl_s),
        )
        self.out.timeline(
            alarm,
            f"cmd:{record.command_id}:sent",
            TimelineEntryType.COMMAND_SENT,
            record.sent_at_ms or record.issued_at_ms,
            SYSTEM,
            {"command_id": record.command_id, "command": record.name.value, "status": record.status.value},
        )
        return record

    # ---- commands' outcome (CommandObserver) ------------------------------------------------------
    def on_sent(self, record: CommandRecord) -> None:
        """Nothing more: the timeline entry was written when the alarm issued the command."""

    def on_ack(self, record: CommandRecord) -> None:
        alarm = self._alarm_of(record)
        if alarm is None:
            return
        entry_type = {
            CommandStatus.ACKED: TimelineEntryType.COMMAND_ACKED,
            CommandStatus.EXPIRED: TimelineEntryType.COMMAND_EXPIRED,
        }.get(record.status, TimelineEntryType.COMMAND_FAILED)
        at = record.acked_at_ms or self.clock_ms()
        params = {
            "command_id": record.command_id,
            "command": record.name.value,
            "status": record.status.value,
            "reason": record.ack_reason,
        }
        actor = "system" if record.detail.get("closed_by") == "platform" else "device"
        self.out.timeline(alarm, f"cmd:{record.command_id}:{record.status.value}", entry_type, at, actor, params)
        # A command already reported overdue has escalated the alarm once; its expiry does not again.
        if record.status is not CommandStatus.ACKED and not is_overdue(record):
            self.escalate(alarm, f"command_{record.status.value}", f"cmd:{record.command_id}", at)

    def on_overdue(self, record: CommandRecord) -> None:
        alarm = self._alarm_of(record)
        if alarm is None:
            return
        at = self.clock_ms()
        if record.status is CommandStatus.EXPIRED:
            self.out.timeline(
                alarm,
                f"cmd:{record.command_id}:expired",
                TimelineEntryType.COMMAND_EXPIRED,
                at,
                SYSTEM,
                {"command_id": record.command_id, "command": record.name.value, "status": "expired"},
            )
        self.escalate(alarm, "command_ack_missing", f"cmd:{record.command_id}", at)

    def _alarm_of(self, record: CommandRecord) -> Alarm | None:
        if record.origin.type != "alarm" or not record.origin.alarm_id:
            return None
        return self.store.get(record.tenant_id, record.origin.alarm_id)

    def escalate(self, alarm: Alarm, reason: str, cause: str, at_ms: int) -> None:
        """Escalate the alarm's notifications at once (missing ack, failed protective command)."""
        if alarm.status is AlarmStatus.CLEARED:
            return
        self.out.timeline(alarm, f"escalated:{cause}", TimelineEntryType.ESCALATED, at_ms, SYSTEM, {"reason": reason})
        self.out.event(alarm, AlarmEventType.ESCALATED, f"{alarm.alarm_id}:escalated:{cause}", at_ms, reason)

    # ---- loss of communication --------------------------------------------------------------------
    def sweep_silence(self, now_ms: int, directory: Callable[[str, str], DeviceInfo | None]) -> int:
        """Raise loss-of-communication alarms of silent devices (timer). Devices quiet for the
        shortest silence a rule may set are looked at; the engine decides per rule."""
        raised = 0
        for tenant_id, thing_name in self.store.silent_devices(now_ms - MIN_SILENCE_S * 1000):
            info = directory(tenant_id, thing_name)
            if info is None or info.status is not DeviceStatus.ACTIVE:
                # Revoked or decommissioned devices are silent on purpose: leave the index.
                self._leave_silence_index(tenant_id, thing_name, now_ms)
                continue
            ctx = device_context(info)
            label, rule_list = self.rules.effective(tenant_id, thing_name, ctx.kind, ctx.model_id)
            rules = engine.EffectiveRules(version=label, rules=rule_list)
            stored = self.store.load_state(tenant_id, thing_name)
            state = engine.EngineState.model_validate(stored.state) if stored.state else engine.EngineState()
            ev = engine.evaluate_silence(ctx, rules, state, now_ms)
            for t in ev.transitions:
                if t.kind == "raise" and self.raise_alarm(ctx, label, t):
                    raised += 1
            if not (ev.transitions or ev.significant):
                continue
            try:
                self.store.save_state(
                    tenant_id,
                    thing_name,
                    ev.state.model_dump(mode="json"),
                    expected_version=stored.version,
                    last_seen_ms=self._last_seen(ev.state, rules),
                    now_ms=now_ms,
                )
            except Conflict:
                log.info("silence sweep: %s/%s changed meanwhile; next sweep decides", tenant_id, thing_name)
        return raised

    def _leave_silence_index(self, tenant_id: str, thing_name: str, now_ms: int) -> None:
        stored = self.store.load_state(tenant_id, thing_name)
        if stored.state is None:
            return
        try:
            self.store.save_state(
                tenant_id, thing_name, stored.state, expected_version=stored.version, last_seen_ms=None, now_ms=now_ms
            )
        except Conflict:
            log.info("silence sweep: %s/%s changed meanwhile; next sweep decides", tenant_id, thing_name)
