"""The operator's side of alarms (LCM-AL-3, SLW-EW-4): list, filter, acknowledge, clear,
assign, comment, timeline. Tenant from the verified principal only; every change is a
timeline entry and (acknowledge, clear) a bus event, so notifications stop escalating."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from shared.contracts.alarms import (
    Alarm,
    AlarmEventType,
    AlarmLevel,
    AlarmStatus,
    TimelineEntry,
    TimelineEntryType,
)
from shared.domain.alarms import engine
from shared.domain.alarms.output import AlarmOutput
from shared.domain.alarms.ports import AlarmQuery, AlarmStore
from shared.domain.auth import Action, Principal, authorize
from shared.domain.devices.paging import check_limit, decode_token, encode_token
from shared.domain.errors import Conflict, Invalid, NotFound
from shared.domain.messaging import EventPublisher, MqttPublisher

log = logging.getLogger(__name__)
#: What an alarm page token stands for: ``raised_at_ms(13)#alarm_id`` (shared.dal.alarms.time_key).
_TIME_KEY = re.compile(r"^[0-9]{13}#al-[0-9a-f]{24}$")


class AlarmFilter(BaseModel):
    status: AlarmStatus | None = None
    thing_name: str | None = Field(default=None, max_length=128)
    level_min: AlarmLevel | None = None
    rule_id: str | None = Field(default=None, max_length=64)
    from_ms: int | None = Field(default=None, ge=0)
    to_ms: int | None = Field(default=None, ge=0)


class AcknowledgeAlarm(BaseModel):
    model_config = {"extra": "forbid"}
    comment: str | None = Field(default=None, max_length=1000)


class ClearAlarm(BaseModel):
    model_config = {"extra": "forbid"}
    reason: str = Field(min_length=1, max_length=500, description="Why the operator clears it (kept in the record).")


class AssignAlarm(BaseModel):
    model_config = {"extra": "forbid"}
    assignee: str | None = Field(min_length=1, max_length=128, description="User name; null to unassign.")


class CommentAlarm(BaseModel):
    model_config = {"extra": "forbid"}
    text: str = Field(min_length=1, max_length=2000)


class AlarmDesk:
    def __init__(
        self,
        store: AlarmStore,
        events: EventPublisher,
        console: MqttPublisher | None,
        clock_ms: Callable[[], int],
    ) -> None:
        self.store = store
        self.out = AlarmOutput(store, events, console)
        self.clock_ms = clock_ms

    # ---- reading ----------------------------------------------------------------------------------
    def find(
        self, principal: Principal, flt: AlarmFilter, limit: int, next_token: str | None
    ) -> tuple[list[Alarm], str | None]:
        authorize(principal, Action.READ)
        check_limit(limit)
        if flt.from_ms is not None and flt.to_ms is not None and flt.from_ms > flt.to_ms:
            raise Invalid("from_ms must not be after to_ms", code="invalid_time_range")
        after = decode_token(next_token)
        if after is not None and not _TIME_KEY.match(after):
            raise Invalid("next_token is not a token issued by this API", code="invalid_next_token")
        q = AlarmQuery(
            status=flt.status,
            thing_name=flt.thing_name,
            level_min=int(flt.level_min) if flt.level_min is not None else None,
            rule_id=flt.rule_id,
            from_ms=flt.from_ms,
            to_ms=flt.to_ms,
        )
        page = self.store.query(principal.tenant_id, q, limit, after)
        return page.items, encode_token(page.after)

    def get(self, principal: Principal, alarm_id: str) -> Alarm:
        authorize(principal, Action.READ)
        return self._load(principal, alarm_id)

    def timeline(self, principal: Principal, alarm_id: str) -> list[TimelineEntry]:
        authorize(principal, Action.READ)
        self._load(principal, alarm_id)
        return sorted(self.store.timeline(principal.tenant_id, alarm_id), key=lambda e: (e.at_ms, e.entry_id))

    # ---- changing ---------------------------------------------------------------------------------
    def acknowledge(self, principal: Principal, alarm_id: str, req: AcknowledgeAlarm) -> Alarm:
        authorize(principal, Action.HANDLE_ALARMS)
        alarm = self._load(principal, alarm_id)
        if alarm.status is not AlarmStatus.ACTIVE:
            raise Conflict(
                f"alarm {alarm_id} is {alarm.status.value}; only an active alarm can be acknowledged",
                code="alarm_not_active",
            )
        now = self.clock_ms()
        updated = self._save(
            alarm,
            {"status": AlarmStatus.ACKNOWLEDGED, "acknowledged_at_ms": now, "acknowledged_by": principal.username},
            now,
        )
        params: dict[str, Any] = {"comment": req.comment} if req.comment else {}
        self.out.timeline(updated, "acknowledged", TimelineEntryType.ACKNOWLEDGED, now, principal.username, params)
        self.out.event(updated, AlarmEventType.ACKNOWLEDGED, f"{alarm_id}:acknowledged", now)
        return updated

    def clear(self, principal: Principal, alarm_id: str, req: ClearAlarm) -> Alarm:
        """Clear by hand. If the rule's condition still holds, the engine raises a new alarm."""
        authorize(principal, Action.HANDLE_ALARMS)
        alarm = self._load(principal, alarm_id)
        if alarm.status is AlarmStatus.CLEARED:
            raise Conflict(f"alarm {alarm_id} is already cleared", code="alarm_cleared")
        now = self.clock_ms()
        updated = self._save(
            alarm,
            {
                "status": AlarmStatus.CLEARED,
                "cleared_at_ms": now,
                "cleared_by": principal.username,
                "clear_reason": req.reason,
            },
            now,
        )
        self.store.release_active(alarm.tenant_id, alarm.thing_name, alarm.rule_id, alarm.alarm_id)
        self._forget_in_engine(alarm)
        self.out.timeline(
            updated, "cleared", TimelineEntryType.CLEARED, now, principal.username, {"reason": req.reason}
        )
        self.out.event(updated, AlarmEventType.CLEARED, f"{alarm_id}:cleared", now)
        return updated

    def assign(self, principal: Principal, alarm_id: str, req: AssignAlarm) -> Alarm:
        authorize(principal, Action.HANDLE_ALARMS)
        alarm = self._load(principal, alarm_id)
        now = self.clock_ms()
        updated = self._save(alarm, {"assignee": req.assignee}, now)
        self.out.timeline(
            updated,
            f"assigned:{uuid.uuid4().hex[:12]}",
            TimelineEntryType.ASSIGNED,
            now,
            principal.username,
            {"assignee": req.assignee},
        )
        return updated

    def comment(self, principal: Principal, alarm_id: str, req: CommentAlarm) -> TimelineEntry:
        authorize(principal, Action.HANDLE_ALARMS)
        alarm = self._load(principal, alarm_id)
        now = self.clock_ms()
        return self.out.timeline(
            alarm,
            f"comment:{uuid.uuid4().hex[:12]}",
            TimelineEntryType.COMMENTED,
            now,
            principal.username,
            {"text": req.text},
        )

    # ---- helpers ------------------------------------------------------------------------------------
    def _load(self, principal: Principal, alarm_id: str) -> Alarm:
        if not alarm_id.startswith("al-") or len(alarm_id) > 64:
            raise NotFound(f"alarm {alarm_id[:64]!r} not found", code="alarm_not_found")
        alarm = self.store.get(principal.tenant_id, alarm_id)
        if alarm is None:
            raise NotFound(f"alarm {alarm_id!r} not found", code="alarm_not_found")
        return alarm

    def _save(self, alarm: Alarm, changes: dict[str, Any], now: int) -> Alarm:
        updated = alarm.model_copy(update={**changes, "updated_at_ms": max(now, alarm.updated_at_ms + 1)})
        self.store.replace(updated, expected_updated_at_ms=alarm.updated_at_ms)
        return updated

    def _forget_in_engine(self, alarm: Alarm) -> None:
        """Tell the engine the alarm is gone (it raises anew if the condition still holds)."""
        for _ in range(5):
            stored = self.store.load_state(alarm.tenant_id, alarm.thing_name)
            if not stored.state:
                return
            state = engine.EngineState.model_validate(stored.state)
            if alarm.rule_id not in state.active_rule_ids():
                return
            forgotten = engine.forget_active(state, alarm.rule_id)
            try:
                self.store.save_state(
                    alarm.tenant_id,
                    alarm.thing_name,
                    forgotten.model_dump(mode="json"),
                    expected_version=stored.version,
                    last_seen_ms=forgotten.last_arrival_ms,
                    now_ms=self.clock_ms(),
                )
                return
            except Conflict:
                continue
        log.warning("could not reset engine state of %s/%s after a manual clear", alarm.tenant_id, alarm.thing_name)
