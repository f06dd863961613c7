"""Alarm routes (LCM-AL-3, SLW-EW-4): list and filter, one alarm, its timeline; acknowledge,
clear, assign, comment. Views are thin; :mod:`shared.domain.alarms.desk` decides."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from functions import services
from functions.api.app import app
from functions.api.http import Call, RouteDoc, endpoint
from functions.api.schemas import PageQuery
from shared.contracts.alarms import Alarm, AlarmLevel, AlarmStatus, TimelineEntry
from shared.domain.alarms.desk import AcknowledgeAlarm, AlarmFilter, AssignAlarm, ClearAlarm, CommentAlarm
from shared.domain.auth import Action

TAGS = ("alarms",)
CHANGE_ERRORS = (400, 401, 403, 404, 409, 422, 503)


class AlarmListQuery(PageQuery):
    model_config = ConfigDict(extra="forbid")
    status: AlarmStatus | None = None
    thing_name: str | None = Field(default=None, max_length=128)
    level_min: AlarmLevel | None = Field(default=None, description="0 pre-warning .. 3; alarms at or above it.")
    rule_id: str | None = Field(default=None, max_length=64)
    from_ms: int | None = Field(default=None, ge=0, description="Raised at or after, UTC epoch ms.")
    to_ms: int | None = Field(default=None, ge=0, description="Raised at or before, UTC epoch ms.")


class AlarmList(BaseModel):
    items: list[Alarm]
    next_token: str | None


class Timeline(BaseModel):
    alarm_id: str
    entries: list[TimelineEntry]


@endpoint(
    app,
    RouteDoc(
        "/v1/alarms",
        "GET",
        "The tenant's alarms, newest first (filters: status, device, minimum level, rule, time; paginated)",
        AlarmList,
        query=AlarmListQuery,
        action=Action.READ,
        tags=TAGS,
    ),
)
def list_alarms(call: Call) -> AlarmList:
    q = call.query(AlarmListQuery)
    flt = AlarmFilter(
        status=q.status,
        thing_name=q.thing_name,
        level_min=q.level_min,
        rule_id=q.rule_id,
        from_ms=q.from_ms,
        to_ms=q.to_ms,
    )
    items, token = services.alarm_desk().find(call.principal, flt, q.limit, q.next_token)
    return AlarmList(items=items, next_token=token)


@endpoint(app, RouteDoc("/v1/alarms/{alarm_id}", "GET", "One alarm", Alarm, action=Action.READ, tags=TAGS))
def get_alarm(call: Call, alarm_id: str) -> Alarm:
    return services.alarm_desk().get(call.principal, alarm_id)  # type: ignore[no-any-return]


@endpoint(
    app,
    RouteDoc(
        "/v1/alarms/{alarm_id}/timeline",
        "GET",
        "The alarm's timeline: raised, notified, protective command sent, device ack, escalated, "
        "acknowledged, assigned, commented, cleared",
        Timeline,
        action=Action.READ,
        tags=TAGS,
    ),
)
def alarm_timeline(call: Call, alarm_id: str) -> Timeline:
    return Timeline(alarm_id=alarm_id, entries=services.alarm_desk().timeline(call.principal, alarm_id))


@endpoint(
    app,
    RouteDoc(
        "/v1/alarms/{alarm_id}/acknowledge",
        "POST",
        "Acknowledge an active alarm (stops its notification escalation)",
        Alarm,
        request=AcknowledgeAlarm,
        action=Action.HANDLE_ALARMS,
        tags=TAGS,
        errors=CHANGE_ERRORS,
    ),
)
def acknowledge_alarm(call: Call, alarm_id: str) -> Alarm:
    return services.alarm_desk().acknowledge(call.principal, alarm_id, call.body(AcknowledgeAlarm))  # type: ignore[no-any-return]


@endpoint(
    app,
    RouteDoc(
        "/v1/alarms/{alarm_id}/clear",
        "POST",
        "Clear an alarm by hand with a reason (raised again if the condition still holds)",
        Alarm,
        request=ClearAlarm,
        action=Action.HANDLE_ALARMS,
        tags=TAGS,
        errors=CHANGE_ERRORS,
    ),
)
def clear_alarm(call: Call, alarm_id: str) -> Alarm:
    return services.alarm_desk().clear(call.principal, alarm_id, call.body(ClearAlarm))  # type: ignore[no-any-return]


@endpoint(
    app,
    RouteDoc(
        "/v1/alarms/{alarm_id}/assign",
        "POST",
        "Assign an alarm to a user (null unassigns)",
        Alarm,
        request=AssignAlarm,
        action=Action.HANDLE_ALARMS,
        tags=TAGS,
        errors=CHANGE_ERRORS,
    ),
)
def assign_alarm(call: Call, alarm_id: str) -> Alarm:
    return services.alarm_desk().assign(call.principal, alarm_id, call.body(AssignAlarm))  # type: ignore[no-any-return]


@endpoint(
    app,
    RouteDoc(
        "/v1/alarms/{alarm_id}/comments",
        "POST",
        "Comment on an alarm (a timeline entry)",
        TimelineEntry,
        status=201,
        request=CommentAlarm,
        action=Action.HANDLE_ALARMS,
        tags=TAGS,
        errors=CHANGE_ERRORS,
    ),
)
def comment_alarm(call: Call, alarm_id: str) -> TimelineEntry:
    return services.alarm_desk().comment(call.principal, alarm_id, call.body(CommentAlarm))  # type: ignore[no-any-return]
