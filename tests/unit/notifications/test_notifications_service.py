"""NotificationService on in-memory fakes: routing, idempotency, escalation, quiet hours, failures, API."""

from __future__ import annotations

import pytest

from shared.contracts import topics
from shared.contracts.alarms import AlarmEventType, AlarmLevel, AlarmStatus
from shared.contracts.notifications import TENANT_INBOX, NotificationKind, PolicyDraft, QuietHours
from shared.domain.errors import Forbidden, Invalid, NotFound, Unavailable
from shared.domain.notifications.ports import ChannelNotConfigured, DeliveryRejected, EscalationStatus
from shared.domain.notifications.service import MAX_HELD_ATTEMPTS
from tests.unit.notifications.fakes import (
    ADMIN,
    T_DAY,
    T_NIGHT,
    TENANT,
    VIEWER,
    World,
    alarm,
    event,
    full_policy,
    make_world,
)

MIN = 60_000
QUIET = QuietHours(start="22:00", end="07:00")
#: 07:00 Asia/Shanghai after T_NIGHT (00:00 local).
NIGHT_END = T_NIGHT + 7 * 3600_000


def _results(outcome) -> list[tuple[str, str, str]]:
    return [(d.channel.value, d.recipient, d.result) for d in outcome.deliveries]


def _raise(world: World, level: AlarmLevel = AlarmLevel.LEVEL_3, at: int = T_DAY, alarm_id: str = "al-1"):
    a = alarm(alarm_id, level=level, raised_at_ms=at)
    world.alarms.statuses[(TENANT, alarm_id)] = AlarmStatus.ACTIVE
    world.clock.now = at
    return a, world.service.handle_event(event(AlarmEventType.RAISED, a), at)


# ---- raising ----------------------------------------------------------------------------------------


def test_raised_level3_notifies_every_channel_at_once_and_schedules_escalation(world: World):
    """LCM-AL-1, LCM-AL-2, SLW-EW-6: a level-3 alarm is stored in the tenant inbox and pushed to the
    console topic, e-mailed and texted to the level-2 route and called on the level-3 route — immediately,
    in each contact's language — and its escalation is scheduled for the first step."""
    world.use_policy(full_policy())
    a, out = _raise(world)
    assert _results(out) == [
        ("in_app", TENANT_INBOX, "stored"),
        ("email", "duty", "sent"),
        ("sms", "duty", "sent"),
        ("email", "eng", "sent"),
        ("sms", "eng", "sent"),
        ("voice", "duty", "sent"),
    ]
    assert out.escalation == "scheduled"
    [n] = world.inbox.of(TENANT_INBOX)
    assert (n.kind, n.code, n.params, n.level) == (NotificationKind.ALARM_RAISED, "cell_overvoltage", a.params, 3)
    [(topic, pushed)] = world.publisher.messages
    assert topic == topics.console(TENANT, topics.ConsoleStream.NOTIFICATIONS)
    assert pushed["notification_id"] == n.notification_id and pushed["read"] is False
    emails = {s.to: s for s in world.channels.of("email")}
    assert "单体过压" in emails["duty@acme.example"].subject
    assert "Cell overvoltage" in emails["eng@acme.example"].subject
    assert [s.to for s in world.channels.of("voice")] == ["+8613800000001"]
    state = world.escalations.state("al-1")
    assert (state.status, state.fired, state.next_fire_ms) == (EscalationStatus.PENDING, 0, T_DAY + 5 * MIN)
    notified = world.timeline.of("notified")
    assert [(p["channel"], p["contact"], p["result"]) for p in notified] == [
        (d.channel.value, d.recipient, d.result) for d in out.deliveries
    ]
    assert all(p["event_id"] == out.event_id for p in notified)


def test_redelivered_event_sends_nothing_twice(world: World):
    """LCM-AL-2: SQS redelivers; every send is idempotent per (event, channel, contact): no second e-mail,
    SMS, call or inbox entry, and nothing new on the timeline."""
    world.use_policy(full_policy())
    a, _ = _raise(world)
    sent, entries = len(world.channels.sent), len(world.timeline.entries)
    again = world.service.handle_event(event(AlarmEventType.RAISED, a), T_DAY + 1000)
    assert {d.result for d in again.deliveries} == {"already_stored", "already_sent"}
    assert len(world.channels.sent) == sent and len(world.inbox.items) == 1
    assert len(world.timeline.entries) == entries
    assert len(world.publisher.messages) == 1


def test_low_level_alarm_without_escalation_stores_in_app_only(world: World):
    """LCM-AL-2, SLW-EW-4: a pre-warning reaches the tenant inbox (default policy) and needs no escalation item."""
    _, out = _raise(world, level=AlarmLevel.PRE_WARNING)
    assert _results(out) == [("in_app", TENANT_INBOX, "stored")]
    assert out.escalation is None and world.escalations.items == {}


# ---- escalation -----------------------------------------------------------------------------------------


def test_unacknowledged_alarm_escalates_along_the_chain_then_repeats_then_stops(world: World):
    """SLW-EW-4, SLW-EW-6, LCM-AL-2: the timer fires step 1 (in-app + SMS + call to the supervisor) at 5 min,
    step 2 (call to the manager) at 15 min, then repeats the last step every 10 min up to max_repeats."""
    world.use_policy(full_policy(repeats=2))
    _raise(world, level=AlarmLevel.LEVEL_2)
    assert world.service.escalate_due(T_DAY + 4 * MIN) == 0
    world.channels.sent.clear()

    assert world.service.escalate_due(T_DAY + 5 * MIN) == 1
    assert [(s.channel, s.to) for s in world.channels.sent] == [("sms", "+8613800000003"), ("voice", "+8613800000003")]
    [personal] = world.inbox.of("carol")
    assert (personal.kind, personal.step, personal.reason) == (NotificationKind.ALARM_ESCALATED, 1, "not_acknowledged")
    assert personal.notification_id.startswith("u")
    assert world.escalations.state("al-1").next_fire_ms == T_DAY + 15 * MIN

    world.channels.sent.clear()
    for t in (15, 25, 35):
        assert world.service.escalate_due(T_DAY + t * MIN) == 1
    assert [(s.channel, s.to) for s in world.channels.sent] == [("voice", "+8613800000004")] * 3
    state = world.escalations.state("al-1")
    assert (state.fired, state.next_fire_ms, state.status) == (4, None, EscalationStatus.DONE)
    assert world.service.escalate_due(T_DAY + 600 * MIN) == 0
    escalated = world.timeline.of("escalated")
    assert [(p["step"], p["repeat"]) for p in escalated] == [(1, 0), (2, 0), (2, 1), (2, 2)]
    assert "报警仍未确认" in world.channels.sent[-1].text


def test_escalation_stops_when_the_alarm_is_acknowledged(world: World):
    """SLW-EW-4: the timer reads the alarm first; an acknowledged alarm is not escalated, and stays quiet."""
    world.use_policy(full_policy())
    _raise(world, level=AlarmLevel.LEVEL_2)
    world.alarms.statuses[(TENANT, "al-1")] = AlarmStatus.ACKNOWLEDGED
    world.channels.sent.clear()
    assert world.service.escalate_due(T_DAY + 5 * MIN) == 1
    assert world.channels.sent == []
    state = world.escalations.state("al-1")
    assert (state.status, state.cancel_reason) == (EscalationStatus.CANCELLED, "acknowledged")
    assert world.service.escalate_due(T_DAY + 60 * MIN) == 0


def test_acknowledged_and_cleared_events_cancel_escalation(world: World):
    """SLW-EW-4, LCM-AL-2: AlarmAcknowledged cancels the escalation; AlarmCleared cancels it and leaves an
    in-app "cleared" notification where the alarm was announced."""
    world.use_policy(full_policy())
    a, _ = _raise(world, level=AlarmLevel.LEVEL_2)
    out = world.service.handle_event(event(AlarmEventType.ACKNOWLEDGED, a, T_DAY + MIN), T_DAY + MIN)
    assert out.escalation == "cancelled" and out.deliveries == []
    assert world.service.escalate_due(T_DAY + 60 * MIN) == 0

    b, _ = _raise(world, level=AlarmLevel.LEVEL_2, alarm_id="al-2")
    cleared = b.model_copy(update={"status": AlarmStatus.CLEARED, "clear_reason": "auto"})
    out = world.service.handle_event(event(AlarmEventType.CLEARED, cleared, T_DAY + 2 * MIN), T_DAY + 2 * MIN)
    assert out.escalation == "cancelled"
    assert _results(out) == [("in_app", TENANT_INBOX, "stored")]
    kinds = [n.kind for n in world.inbox.of(TENANT_INBOX) if n.alarm_id == "al-2"]
    assert kinds == [NotificationKind.ALARM_RAISED, NotificationKind.ALARM_CLEARED]
    assert world.escalations.state("al-2").status is EscalationStatus.CANCELLED


def test_escalated_event_jumps_to_the_next_step_at_once(world: World):
    """SLW-EW-4, SLW-EW-6: AlarmEscalated (protective command not acknowledged) fires the next step now with
    its reason, shifts the rest of the chain, and a redelivery of it does nothing."""
    world.use_policy(full_policy())
    a, _ = _raise(world, level=AlarmLevel.LEVEL_3)
    world.channels.sent.clear()
    jump = event(AlarmEventType.ESCALATED, a, T_DAY + 15_000, reason="command_ack_missing")
    out = world.service.handle_event(jump, T_DAY + 15_000)
    assert out.escalation == "jumped"
    assert [(s.channel, s.to) for s in world.channels.sent] == [("sms", "+8613800000003"), ("voice", "+8613800000003")]
    assert "保护指令未收到设备确认" in world.channels.sent[0].text
    state = world.escalations.state("al-1")
    assert (state.fired, state.next_fire_ms) == (1, T_DAY + 15_000 + 10 * MIN)
    assert world.service.handle_event(jump, T_DAY + 20_000).escalation == "duplicate"
    # the timer's step 1 (originally at 5 min) does not fire again: step 2 comes next, 10 min after the jump
    world.channels.sent.clear()
    assert world.service.escalate_due(T_DAY + 5 * MIN) == 0
    world.service.escalate_due(T_DAY + 15_000 + 10 * MIN)
    assert [(s.channel, s.to) for s in world.channels.sent] == [("voice", "+8613800000004")]


def test_escalation_uses_the_policy_the_alarm_was_raised_under(world: World):
    """SLW-EW-4: a policy change does not rewrite the chain of an alarm already being escalated."""
    world.use_policy(full_policy())
    _raise(world, level=AlarmLevel.LEVEL_2)
    world.use_policy(PolicyDraft())  # a later version with no chain and no contacts
    world.channels.sent.clear()
    world.service.escalate_due(T_DAY + 5 * MIN)
    assert [s.to for s in world.channels.sent] == ["+8613800000003", "+8613800000003"]


def test_events_out_of_order_acknowledged_before_raised(world: World):
    """LCM-AL-2: SQS does not order; an alarm acknowledged before its Raised event arrives is stored in-app but
    not texted or called, and never escalated."""
    world.use_policy(full_policy())
    a = alarm(level=AlarmLevel.LEVEL_3)
    world.service.handle_event(event(AlarmEventType.ACKNOWLEDGED, a, T_DAY + 1000), T_DAY + 2000)
    out = world.service.handle_event(event(AlarmEventType.RAISED, a), T_DAY + 3000)
    assert out.escalation == "ignored"
    assert {r for _, _, r in _results(out)} == {"stored", "skipped"}
    assert world.channels.sent == []
    assert world.service.escalate_due(T_DAY + 600 * MIN) == 0


# ---- quiet hours -------------------------------------------------------------------------------------------


def test_quiet_hours_hold_external_below_level_3_until_the_window_ends():
    """SLW-EW-6, LCM-AL-1, SLW-EW-4: at night a level-2 alarm is stored in-app at once while its e-mail and SMS
    are held and its escalation pauses; at 07:00, still unacknowledged, the held deliveries go out and the
    chain resumes with step 1 — one message per person and channel, not a night's worth of repeats."""
    world = make_world(T_NIGHT)
    world.use_policy(full_policy(quiet=QUIET))
    _, out = _raise(world, level=AlarmLevel.LEVEL_2, at=T_NIGHT)
    assert _results(out)[0] == ("in_app", TENANT_INBOX, "stored")
    assert {r for c, _, r in _results(out) if c != "in_app"} == {"held"}
    assert out.escalation == "scheduled" and world.channels.sent == []
    for t in (5, 15, 60, 300):
        world.service.escalate_due(T_NIGHT + t * MIN)
    assert world.channels.sent == [] and world.inbox.of("carol") == []
    state = world.escalations.state("al-1")
    assert (state.release_at_ms, state.next_fire_ms, state.fired, len(state.held)) == (NIGHT_END, NIGHT_END, 0, 4)

    assert world.service.escalate_due(NIGHT_END) == 1
    assert sorted((s.channel, s.to) for s in world.channels.sent) == [
        ("email", "duty@acme.example"),
        ("email", "eng@acme.example"),
        ("sms", "+8613800000001"),
        ("sms", "+8613800000002"),
        ("sms", "+8613800000003"),  # step 1, due since 00:05
        ("voice", "+8613800000003"),
    ]
    state = world.escalations.state("al-1")
    assert (state.held, state.fired, state.next_fire_ms) == ([], 1, NIGHT_END + 10 * MIN)
    assert {p["result"] for p in world.timeline.of("notified")} >= {"held", "sent"}


def test_quiet_hours_never_hold_level_3():
    """LCM-AL-1, SLW-EW-6: a level-3 alarm at night is e-mailed, texted and called immediately."""
    world = make_world(T_NIGHT)
    world.use_policy(full_policy(quiet=QUIET))
    _, out = _raise(world, level=AlarmLevel.LEVEL_3, at=T_NIGHT)
    assert "held" not in {r for _, _, r in _results(out)}
    assert len(world.channels.of("voice")) == 1 and len(world.channels.of("sms")) == 2


def test_held_deliveries_are_dropped_when_acknowledged_before_the_window_ends():
    """SLW-EW-6: an alarm acknowledged during quiet hours wakes nobody at 07:00; the drop is on the timeline."""
    world = make_world(T_NIGHT)
    world.use_policy(full_policy(quiet=QUIET, steps=[]))
    _raise(world, level=AlarmLevel.LEVEL_2, at=T_NIGHT)
    assert world.escalations.state("al-1").release_at_ms == NIGHT_END
    world.alarms.statuses[(TENANT, "al-1")] = AlarmStatus.ACKNOWLEDGED
    world.service.escalate_due(NIGHT_END)
    assert world.channels.sent == []
    assert world.escalations.state("al-1").status is EscalationStatus.CANCELLED
    dropped = [
        (p["channel"], p["contact"], p["reason"]) for p in world.timeline.of("notified") if p["result"] == "dropped"
    ]
    assert sorted(dropped) == [
        ("email", "duty", "acknowledged"),
        ("email", "eng", "acknowledged"),
        ("sms", "duty", "acknowledged"),
        ("sms", "eng", "acknowledged"),
    ]


# ---- failures --------------------------------------------------------------------------------------------------


def test_permanent_refusal_is_recorded_once_and_not_retried(world: World):
    """SLW-EW-6, LCM-AL-2: voice without a provider (or a refused address) is recorded as failed with its code;
    the other channels still go out and a redelivery does not try again."""
    world.use_policy(full_policy())
    world.channels.failures["voice"] = ChannelNotConfigured("no Connect", code="voice_not_configured")
    world.channels.failures["email"] = DeliveryRejected("bad address", code="email_rejected")
    a, out = _raise(world)
    failed = {(c, who): r for c, who, r in _results(out)}
    assert failed[("voice", "duty")] == "failed" and failed[("email", "eng")] == "failed"
    assert failed[("sms", "duty")] == "sent"
    reasons = {p["channel"]: p.get("reason") for p in world.timeline.of("notified") if p["result"] == "failed"}
    assert reasons == {"voice": "voice_not_configured", "email": "email_rejected"}
    world.channels.failures.clear()
    again = world.service.handle_event(event(AlarmEventType.RAISED, a), T_DAY + 1000)
    assert "sent" not in {d.result for d in again.deliveries}


def test_transient_failure_is_retried_by_the_timer_until_it_succeeds(world: World):
    """LCM-AL-2: a throttled SMS does not fail the event; it is held and retried a minute later by the timer,
    up to a limit, after which it is recorded as failed."""
    world.use_policy(full_policy(steps=[]))
    world.channels.failures["sms"] = Unavailable("throttled", code="sms_busy")
    _, out = _raise(world)
    assert {r for c, _, r in _results(out) if c == "sms"} == {"retry"}
    state = world.escalations.state("al-1")
    assert state.release_at_ms == T_DAY + MIN and {h.channel.value for h in state.held} == {"sms"}
    world.channels.failures.clear()
    assert world.service.escalate_due(T_DAY + MIN) == 1
    assert sorted(s.to for s in world.channels.of("sms")) == ["+8613800000001", "+8613800000002"]
    assert world.escalations.state("al-1").status is EscalationStatus.DONE

    other = make_world()
    other.use_policy(full_policy(steps=[]))
    other.channels.failures["sms"] = Unavailable("down", code="sms_busy")
    _raise(other)
    for i in range(1, MAX_HELD_ATTEMPTS + 1):
        other.service.escalate_due(T_DAY + i * MIN)
    results = [p["result"] for p in other.timeline.of("notified") if p["channel"] == "sms"]
    assert results.count("retry") == 2 * (MAX_HELD_ATTEMPTS - 1) and results.count("failed") == 2
    assert other.escalations.state("al-1").held == []


def test_push_failure_loses_nothing(world: World):
    """LCM-AL-2: a failed console push stops neither the inbox entry nor e-mail/SMS/voice, and does not fail
    the event (the console reloads the inbox on reconnect); nothing is delivered twice on a redelivery."""
    world.use_policy(full_policy())
    world.publisher.fail = Unavailable("broker down")
    a = alarm(level=AlarmLevel.LEVEL_3)
    out = world.service.handle_event(event(AlarmEventType.RAISED, a), T_DAY)
    assert ("in_app", TENANT_INBOX, "stored") in _results(out)
    assert len(world.channels.sent) == 5 and len(world.inbox.items) == 1
    world.publisher.fail = None
    world.service.handle_event(event(AlarmEventType.RAISED, a), T_DAY + 1000)
    assert len(world.channels.sent) == 5 and len(world.inbox.items) == 1


def test_notifications_are_stamped_when_stored_so_a_backlog_is_unread(world: World):
    """LCM-AL-2, SLW-EW-4: an event processed late (queue backlog after an outage) is stamped with the time it
    was stored, not the alarm's time, so a "mark all read" in between cannot hide it."""
    a = alarm(level=AlarmLevel.LEVEL_2, raised_at_ms=T_DAY)
    world.service.handle_event(event(AlarmEventType.RAISED, a), T_DAY + 30 * MIN)
    [n] = world.inbox.of(TENANT_INBOX)
    assert n.created_at_ms == T_DAY + 30 * MIN and n.notification_id[1:14] == str(T_DAY + 30 * MIN)


def test_in_app_store_in_progress_elsewhere_redelivers_the_event(world: World):
    """LCM-AL-2: when another worker holds the claim of an in-app store, the event fails (redelivered later)
    instead of storing a second copy; the external sends of the event still happen once."""
    a = alarm(level=AlarmLevel.LEVEL_2)
    raised = event(AlarmEventType.RAISED, a)
    world.ledger.state[f"notify#{TENANT}#{raised.event_id}#in_app#{TENANT_INBOX}"] = "claimed"
    with pytest.raises(Unavailable):
        world.service.handle_event(raised, T_DAY)
    assert world.inbox.items == {}


def test_a_send_claimed_by_another_worker_is_not_duplicated(world: World):
    """LCM-AL-2: two workers on the same SQS message (standard queues deliver at least once): the claim
    makes the second one wait and retry instead of sending again."""
    world.use_policy(full_policy(steps=[]))
    a = alarm(level=AlarmLevel.LEVEL_2)
    busy = f"notify#{TENANT}#{event(AlarmEventType.RAISED, a).event_id}#sms#duty"
    world.ledger.state[busy] = "claimed"
    out = world.service.handle_event(event(AlarmEventType.RAISED, a), T_DAY)
    assert ("sms", "duty", "retry") in _results(out)
    assert "+8613800000001" not in [s.to for s in world.channels.of("sms")]
    world.ledger.state[busy] = "done"  # the other worker finished
    world.alarms.statuses[(TENANT, "al-1")] = AlarmStatus.ACTIVE
    world.service.escalate_due(T_DAY + MIN)
    assert "+8613800000001" not in [s.to for s in world.channels.of("sms")]


# ---- policy and inbox API ------------------------------------------------------------------------------------


def test_policy_versions_default_and_roles(world: World):
    """LCM-AL-2: the tenant sees the default (version 0) until an admin stores version 1, 2, ...; only
    manage_notifications may put; a new version applies to the next alarm at once."""
    assert world.service.get_policy(VIEWER).version == 0
    with pytest.raises(Forbidden):
        world.service.put_policy(VIEWER, full_policy())
    v1 = world.service.put_policy(ADMIN, full_policy())
    assert (v1.version, v1.created_by, v1.tenant_id) == (1, "ada", TENANT)
    assert world.service.get_policy(VIEWER) == v1
    assert world.service.put_policy(ADMIN, PolicyDraft(comment="empty")).version == 2
    _, out = _raise(world)
    assert _results(out) == []  # version 2 has no routes at all


def test_inbox_api_validates_tokens_ids_and_limits(world: World):
    """LCM-AL-2: bad next_token → 400, unknown notification id → 404, limit out of range → 400; any role reads."""
    _raise(world)
    page = world.service.inbox(VIEWER, limit=10)
    assert [n.kind for n in page.items] == [NotificationKind.ALARM_RAISED] and page.next_token is None
    with pytest.raises(Invalid):
        world.service.inbox(VIEWER, next_token="garbage")
    with pytest.raises(Invalid):
        world.service.inbox(VIEWER, limit=0)
    with pytest.raises(NotFound):
        world.service.mark_read(VIEWER, "../../etc")
    with pytest.raises(NotFound):
        world.service.mark_read(VIEWER, "t0000000000001" + "0" * 16)
    assert world.service.unread_count(VIEWER).count == 1
    assert world.service.mark_all_read(VIEWER).read_up_to_ms == T_DAY


def test_a_failing_escalation_is_deferred_and_does_not_stop_the_others(world: World):
    """SLW-EW-4: the timer isolates failures: one alarm whose processing fails is logged and moved a minute
    back (it cannot hide the others of its shard), the others are escalated in the same run."""
    world.use_policy(full_policy())
    _raise(world, level=AlarmLevel.LEVEL_2, alarm_id="al-1")
    _raise(world, level=AlarmLevel.LEVEL_2, alarm_id="al-2")
    real = world.alarms.status

    def flaky(tenant_id: str, alarm_id: str) -> AlarmStatus | None:
        if alarm_id == "al-1":
            raise Unavailable("alarm table throttled")
        return real(tenant_id, alarm_id)

    world.alarms.status = flaky  # type: ignore[method-assign]
    world.channels.sent.clear()
    assert world.service.escalate_due(T_DAY + 5 * MIN) == 1
    assert world.escalations.state("al-2").fired == 1
    assert world.escalations.state("al-1").next_fire_ms == T_DAY + 6 * MIN
    world.alarms.status = real  # type: ignore[method-assign]
    assert world.service.escalate_due(T_DAY + 6 * MIN) == 1
    assert world.escalations.state("al-1").fired == 1
