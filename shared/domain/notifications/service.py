"""Notification service: alarm events → in-app, e-mail, SMS and voice; escalation; the inbox API.

Requirements: LCM-AL-1 (notify immediately), LCM-AL-2 (SMS, e-mail, in-app), SLW-EW-6 (in-app,
SMS and phone call), SLW-EW-4 (24 h automatic monitoring: the timer escalates unacknowledged
alarms to the staffed chain without anyone watching).

Idempotency: every delivery has a stable id (``notify#tenant#source#channel#recipient``, the
source being the alarm event id or ``<alarm_id>#esc<n>`` for escalation firing n). Every
delivery — in-app stores included — goes through the :class:`SendLedger` (claim → deliver →
done), so an SQS redelivery, a concurrent worker or the timer racing an ``AlarmEscalated``
event never delivers twice. A crash between a provider accepting a message and ``done`` can
deliver it again after the claim lease expires: at-least-once, never silently lost.

Failures: a provider's permanent refusal (bad number, unverified sender, no voice provider) is
recorded as ``failed`` and not retried. A transient one (throttling, outage, another worker
holding the claim) becomes a *held* delivery retried by the timer a minute later (up to
:data:`MAX_HELD_ATTEMPTS` times) while the alarm stays active. Storage failures raise (the
event is redelivered); the console push is best effort (the inbox is the record).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.contracts import topics
from shared.contracts.alarms import Alarm, AlarmEvent, AlarmEventType, AlarmStatus, ParamValue
from shared.contracts.notifications import (
    NOTIFICATION_ID_RE,
    TENANT_INBOX,
    Channel,
    InAppNotification,
    NotificationKind,
    NotificationPage,
    NotificationPolicy,
    NotificationView,
    PolicyDraft,
    ReadAllResult,
    UnreadCount,
    default_policy,
)
from shared.domain.auth import Action, Principal, authorize
from shared.domain.devices.paging import check_limit, decode_token, encode_token
from shared.domain.errors import Conflict, Invalid, NotFound, Unavailable
from shared.domain.messaging import MqttPublisher
from shared.domain.notifications import escalation as plan
from shared.domain.notifications.messages import AlarmFacts, render
from shared.domain.notifications.ports import (
    AlarmStatusReader,
    Channels,
    ClaimResult,
    DeliveryRef,
    DeliveryRejected,
    EscalationRepository,
    EscalationState,
    EscalationStatus,
    HeldDelivery,
    InboxRepository,
    PolicyRepository,
    SendLedger,
    StoredEscalation,
    TimelineSink,
)
from shared.domain.notifications.quiet_hours import holds_external, quiet_end_ms
from shared.domain.notifications.routing import Recipient, recipient_for, recipients, route_targets

log = logging.getLogger(__name__)

#: In-app notifications expire (DynamoDB TTL) this long after creation.
INBOX_RETENTION_DAYS = 90
#: The unread badge counts this far, then says "999+".
UNREAD_CAP = 999
#: A transiently failed external send is retried by the timer after this long, this many times.
HELD_RETRY_S = 60
MAX_HELD_ATTEMPTS = 5
#: Due escalations read per shard per timer run (the rest on the next run).
DUE_BATCH = 100
#: Current policies are re-read at most this often per tenant in a warm container.
POLICY_CACHE_S = 30.0
_MAX_APPLIED_EVENTS = 20
_CURSOR = re.compile(r"^[0-9]{13}#[tu][0-9]{13}[0-9a-f]{16}$")

TIMELINE_NOTIFIED = "notified"
_NOT_RECORDED = frozenset({"already_stored", "already_sent"})
TIMELINE_ESCALATED = "escalated"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def notification_id(delivery_id: str, created_at_ms: int, *, tenant_wide: bool) -> str:
    """Deterministic id of an in-app notification: inbox kind, creation time, digest of the delivery."""
    digest = hashlib.sha256(delivery_id.encode()).hexdigest()[:16]
    return f"{'t' if tenant_wide else 'u'}{created_at_ms:013d}{digest}"


@dataclass(frozen=True)
class DeliveryOutcome:
    """What happened to one delivery (also written to the alarm timeline as ``notified``)."""

    delivery_id: str
    source: str  # the alarm event id, or <alarm_id>#esc<n> for escalation firing n
    channel: Channel
    recipient: str  # contact id, or "_tenant"
    kind: NotificationKind
    #: stored | sent | held | retry | failed | skipped | dropped, or already_stored | already_sent on a redelivery
    result: str
    step: int | None = None
    reason: str | None = None
    notification_id: str | None = None
    provider_id: str | None = None


@dataclass(frozen=True)
class EscalationFired:
    escalation_id: str  # <alarm_id>#esc<n>
    step: int
    repeat: int
    reason: str


@dataclass
class EventOutcome:
    """What :meth:`NotificationService.handle_event` did."""

    event_id: str
    deliveries: list[DeliveryOutcome] = field(default_factory=list)
    escalation: str | None = None  # scheduled | held | jumped | cancelled | duplicate | ignored | None


@dataclass(frozen=True)
class _Notice:
    """One notification to make: what it is about and its idempotency source."""

    source: str
    kind: NotificationKind
    facts: AlarmFacts
    event_id: str
    step: int | None = None
    reason: str | None = None


@dataclass
class _Run:
    """Everything one event or one due escalation did."""

    now: int
    outcomes: list[DeliveryOutcome] = field(default_factory=list)
    fired: list[EscalationFired] = field(default_factory=list)
    retry: list[HeldDelivery] = field(default_factory=list)  # transient external failures
    incomplete: bool = False  # an in-app store was claimed by another worker: redeliver the event

    def add(
        self,
        notice: _Notice,
        delivery_id: str,
        r: Recipient | HeldDelivery,
        result: str,
        *,
        reason: str | None = None,
        notification_id: str | None = None,
        provider_id: str | None = None,
    ) -> None:
        self.outcomes.append(
            DeliveryOutcome(
                delivery_id=delivery_id,
                source=notice.source,
                channel=r.channel,
                recipient=r.label if isinstance(r, Recipient) else r.contact_id,
                kind=notice.kind,
                result=result,
                step=notice.step,
                reason=reason,
                notification_id=notification_id,
                provider_id=provider_id,
            )
        )


def _facts(alarm: Alarm) -> AlarmFacts:
    return AlarmFacts(
        tenant_id=alarm.tenant_id,
        alarm_id=alarm.alarm_id,
        thing_name=alarm.thing_name,
        level=alarm.level,
        code=alarm.code,
        params=alarm.params,
        raised_at_ms=alarm.raised_at_ms,
    )


def _new_state(alarm: Alarm, policy: NotificationPolicy, **kw: object) -> EscalationState:
    return EscalationState.model_validate(
        {
            "tenant_id": alarm.tenant_id,
            "alarm_id": alarm.alarm_id,
            "thing_name": alarm.thing_name,
            "level": alarm.level,
            "code": alarm.code,
            "params": alarm.params,
            "raised_at_ms": alarm.raised_at_ms,
            "policy_version": policy.version,
            **kw,
        }
    )


def _first_per_address(held: list[HeldDelivery], known: set[tuple[Channel, str]]) -> list[HeldDelivery]:
    """The deliveries whose (channel, contact) is not in ``known`` yet (``known`` is updated)."""
    out = []
    for h in held:
        if (h.channel, h.contact_id) not in known:
            known.add((h.channel, h.contact_id))
            out.append(h)
    return out


class NoTimeline:
    """``TimelineSink`` that only logs (until the alarm timeline is wired)."""

    def add(self, tenant_id: str, alarm_id: str, entry_type: str, at_ms: int, params: dict[str, ParamValue]) -> None:
        log.info("timeline %s %s/%s %s", entry_type, tenant_id, alarm_id, dict(params))


class NotificationService:
    """Routes alarm events to channels, runs escalations, serves inboxes and policies."""

    def __init__(
        self,
        *,
        inbox: InboxRepository,
        policies: PolicyRepository,
        escalations: EscalationRepository,
        ledger: SendLedger,
        alarms: AlarmStatusReader,
        channels: Channels,
        publisher: MqttPublisher | None = None,
        timeline: TimelineSink | None = None,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._inbox = inbox
        self._policies = policies
        self._escalations = escalations
        self._ledger = ledger
        self._alarms = alarms
        self._channels = channels
        self._publisher = publisher
        self._timeline = timeline or NoTimeline()
        self._clock = clock_ms
        self._current: dict[str, tuple[NotificationPolicy, float]] = {}
        self._versions: dict[tuple[str, int], NotificationPolicy] = {}

    # ---- alarm events --------------------------------------------------------------------------

    def handle_event(self, event: AlarmEvent, now_ms: int | None = None) -> EventOutcome:
        """Act on one alarm event (idempotent: a redelivered event delivers nothing twice).

        Raises ``Unavailable`` (redeliver the event) on storage failures, or when another worker is
        in the middle of storing one of its in-app notifications."""
        run = _Run(now=self._clock() if now_ms is None else now_ms)
        alarm = event.alarm
        if event.type is AlarmEventType.RAISED:
            escalation = self._raised(event, run)
        elif event.type is AlarmEventType.ESCALATED:
            escalation = self._escalated(event, run)
        elif event.type is AlarmEventType.ACKNOWLEDGED:
            escalation = self._cancel(alarm, "acknowledged", run)
        else:
            escalation = self._cancel(alarm, "cleared", run)
            self._cleared(event, run)
        self._record(alarm.tenant_id, alarm.alarm_id, run)
        if run.incomplete:
            raise Unavailable("another worker is storing part of this event; redeliver (nothing is sent twice)")
        return EventOutcome(event_id=event.event_id, deliveries=run.outcomes, escalation=escalation)

    def _raised(self, event: AlarmEvent, run: _Run) -> str | None:
        alarm = event.alarm
        policy = self._current_policy(alarm.tenant_id)
        stored = self._escalations.get(alarm.tenant_id, alarm.alarm_id)
        closed = stored is not None and stored.state.status is EscalationStatus.CANCELLED
        notice = _Notice(event.event_id, NotificationKind.ALARM_RAISED, _facts(alarm), event.event_id)
        hold = holds_external(policy.quiet_hours, alarm.level, run.now)
        held = self._deliver(policy, notice, recipients(policy, route_targets(policy, alarm.level)), run, hold, closed)
        if closed:
            return "ignored"  # acknowledged or cleared before this Raised event arrived
        next_fire = plan.first_fire_ms(policy, alarm.level, alarm.raised_at_ms)
        if stored is None and next_fire is None and not held and not run.retry:
            return None
        state = stored.state.model_copy(deep=True) if stored else _new_state(alarm, policy, next_fire_ms=next_fire)
        self._hold(state, policy, held, run)
        self._save(state, stored, run, strict=True)
        return "held" if held and next_fire is None else "scheduled"

    def _escalated(self, event: AlarmEvent, run: _Run) -> str:
        alarm = event.alarm
        if alarm.status is not AlarmStatus.ACTIVE:
            return "ignored"  # acknowledged or cleared: someone is on it
        stored = self._escalations.get(alarm.tenant_id, alarm.alarm_id)
        if stored is not None and stored.state.status is EscalationStatus.CANCELLED:
            return "ignored"
        if stored is not None and event.event_id in stored.state.applied_events:
            return "duplicate"
        if stored is None:
            policy = self._current_policy(alarm.tenant_id)
            state = _new_state(alarm, policy)
        else:
            state = stored.state.model_copy(deep=True)
            policy = self._policy_version(state.tenant_id, state.policy_version)
        state.status = EscalationStatus.PENDING
        n = state.fired
        firing = plan.forced_firing(policy, state.level, n)
        notice = _Notice(
            source=f"{state.alarm_id}#esc{n}",
            kind=firing.kind,
            facts=state.facts,
            event_id=event.event_id,
            step=firing.step,
            reason=event.reason or "escalated",
        )
        hold = holds_external(policy.quiet_hours, state.level, run.now)
        held = self._deliver(policy, notice, recipients(policy, firing.targets), run, hold, False)
        run.fired.append(EscalationFired(notice.source, firing.step, firing.repeat, notice.reason or ""))
        state.fired = n + 1
        state.next_fire_ms = plan.next_fire_ms(policy, n, run.now)
        state.applied_events = [*state.applied_events, event.event_id][-_MAX_APPLIED_EVENTS:]
        self._hold(state, policy, held, run)
        self._save(state, stored, run, strict=True)
        return "jumped"

    def _cancel(self, alarm: Alarm, reason: str, run: _Run) -> str | None:
        stored = self._escalations.get(alarm.tenant_id, alarm.alarm_id)
        if stored is None:
            # A tombstone, so a Raised event arriving late (SQS does not order) schedules nothing.
            policy = self._current_policy(alarm.tenant_id)
            state = _new_state(alarm, policy, status=EscalationStatus.CANCELLED, cancel_reason=reason)
        elif stored.state.status is EscalationStatus.PENDING:
            state = stored.state.model_copy(deep=True)
            self._close(state, EscalationStatus.CANCELLED, reason, run)
        else:
            return None
        self._save(state, stored, run, strict=True)
        return "cancelled"

    def _cleared(self, event: AlarmEvent, run: _Run) -> None:
        alarm = event.alarm
        policy = self._current_policy(alarm.tenant_id)
        notice = _Notice(
            event.event_id, NotificationKind.ALARM_CLEARED, _facts(alarm), event.event_id, reason=alarm.clear_reason
        )
        for r in recipients(policy, route_targets(policy, alarm.level)):
            if r.channel is Channel.IN_APP:
                self._store_in_app(notice, r, self._delivery_id(notice, r), run)

    # ---- escalation timer ----------------------------------------------------------------------

    def escalate_due(self, now_ms: int | None = None) -> int:
        """Run every escalation due at ``now_ms`` (steps, repeats, held deliveries); return how many.

        Called by the scheduled timer function (every minute). One item failing is logged and
        left due, so the next run retries it; the others proceed."""
        now = self._clock() if now_ms is None else now_ms
        processed = 0
        for shard in range(plan.SHARDS):
            for stored in self._escalations.due(shard, now, DUE_BATCH):
                try:
                    self._run_due(stored, now)
                    processed += 1
                except Exception:  # isolate one alarm's failure from the others
                    log.exception(
                        "escalation failed; retried shortly",
                        extra={"tenant_id": stored.state.tenant_id, "alarm_id": stored.state.alarm_id},
                    )
                    self._defer(stored, now)
        return processed

    def _defer(self, stored: StoredEscalation, now: int) -> None:
        """Move a failing escalation a minute back, so a stuck one never hides the others of its shard."""
        state = stored.state.model_copy(deep=True)
        later = now + HELD_RETRY_S * 1000
        if state.next_fire_ms is not None and state.next_fire_ms <= now:
            state.next_fire_ms = later
        if state.held and state.release_at_ms is not None and state.release_at_ms <= now:
            state.release_at_ms = later
        try:
            self._escalations.save(state, expected_revision=stored.revision, now_ms=now)
        except Exception:  # best effort: it stays due and is tried again next run
            log.exception("could not defer the escalation", extra={"alarm_id": state.alarm_id})

    def _run_due(self, stored: StoredEscalation, now: int) -> None:
        state = stored.state.model_copy(deep=True)
        run = _Run(now=now)
        if state.status is EscalationStatus.PENDING and state.due_at_ms is not None:
            status = self._alarms.status(state.tenant_id, state.alarm_id)
            if status is not AlarmStatus.ACTIVE:
                reason = "alarm_missing" if status is None else status.value
                self._close(state, EscalationStatus.CANCELLED, reason, run)
            else:
                policy = self._policy_version(state.tenant_id, state.policy_version)
                self._release_held(state, policy, run)
                self._fire_due(state, policy, run)
        try:
            self._save(state, stored, run, strict=False)
        except Conflict:
            log.info("escalation changed concurrently; left to the other writer", extra={"alarm_id": state.alarm_id})
            return
        self._record(state.tenant_id, state.alarm_id, run)

    def _release_held(self, state: EscalationState, policy: NotificationPolicy, run: _Run) -> None:
        if not state.held or state.release_at_ms is None or state.release_at_ms > run.now:
            return
        if holds_external(policy.quiet_hours, state.level, run.now):
            state.release_at_ms = quiet_end_ms(policy.quiet_hours, run.now)  # type: ignore[arg-type]
            return
        held, state.held, state.release_at_ms = state.held, [], None
        for h in held:
            notice = _Notice(h.source or h.key, h.kind, state.facts, h.key, step=h.step, reason=h.reason)
            r = recipient_for(policy, h.channel, h.contact_id)
            if r is None:
                run.add(notice, h.key, h, "skipped", reason="contact_removed")
                continue
            self._send(policy, notice, r, h.key, run, attempts=h.attempts)
        self._hold(state, policy, [], run)

    def _fire_due(self, state: EscalationState, policy: NotificationPolicy, run: _Run) -> None:
        if state.next_fire_ms is None or state.next_fire_ms > run.now:
            return
        if holds_external(policy.quiet_hours, state.level, run.now):
            # The chain pauses in quiet hours (below level 3): the step fires when the window ends,
            # so a long night never piles up repeats that would all ring at once in the morning.
            state.next_fire_ms = quiet_end_ms(policy.quiet_hours, run.now)  # type: ignore[arg-type]
            return
        n, due = state.fired, state.next_fire_ms
        firing = plan.firing(policy, n)
        if firing is None:
            state.next_fire_ms = None
            return
        notice = _Notice(
            source=f"{state.alarm_id}#esc{n}",
            kind=firing.kind,
            facts=state.facts,
            event_id=f"{state.alarm_id}#esc{n}",
            step=firing.step,
            reason="not_acknowledged",
        )
        held = self._deliver(policy, notice, recipients(policy, firing.targets), run, False, False)
        run.fired.append(EscalationFired(notice.source, firing.step, firing.repeat, "not_acknowledged"))
        state.fired = n + 1
        state.next_fire_ms = plan.next_fire_ms(policy, n, due)
        self._hold(state, policy, held, run)

    # ---- deliveries --------------------------------------------------------------------------------

    @staticmethod
    def _delivery_id(notice: _Notice, r: Recipient) -> str:
        return f"notify#{notice.facts.tenant_id}#{notice.source}#{r.channel.value}#{r.label}"

    def _deliver(
        self, policy: NotificationPolicy, notice: _Notice, rs: list[Recipient], run: _Run, hold: bool, closed: bool
    ) -> list[HeldDelivery]:
        """Store in-app at once; send external ones now, or return them held (quiet hours)."""
        held: list[HeldDelivery] = []
        for r in rs:
            delivery_id = self._delivery_id(notice, r)
            if r.channel is Channel.IN_APP:
                self._store_in_app(notice, r, delivery_id, run)
            elif closed:
                run.add(notice, delivery_id, r, "skipped", reason="alarm_closed")
            elif hold:
                held.append(self._held(notice, r, delivery_id))
                run.add(notice, delivery_id, r, "held", reason="quiet_hours")
            else:
                self._send(policy, notice, r, delivery_id, run)
        return held

    @staticmethod
    def _held(notice: _Notice, r: Recipient, key: str, attempts: int = 0) -> HeldDelivery:
        return HeldDelivery(
            key=key,
            source=notice.source,
            channel=r.channel,
            contact_id=r.contact_id or TENANT_INBOX,
            kind=notice.kind,
            step=notice.step,
            reason=notice.reason,
            attempts=attempts,
        )

    def _store_in_app(self, notice: _Notice, r: Recipient, delivery_id: str, run: _Run) -> None:
        """Store once (through the ledger), stamped with the time it is stored, then push it.

        Stamping the storing time (not the event's) matters: a notification that arrives after the
        reader's "mark all read" — an SQS backlog after an outage — must still show as unread. The
        console push is best effort: the inbox is the record, and the console reloads it on (re)connect.
        """
        claim = self._ledger.claim(delivery_id, run.now)
        if claim is ClaimResult.DONE:
            run.add(notice, delivery_id, r, "already_stored")
            return
        if claim is ClaimResult.BUSY:  # another worker is storing it right now
            run.incomplete = True
            run.add(notice, delivery_id, r, "retry", reason="in_progress")
            return
        n = InAppNotification(
            notification_id=notification_id(delivery_id, run.now, tenant_wide=r.contact_id is None),
            tenant_id=notice.facts.tenant_id,
            inbox=r.address,
            kind=notice.kind,
            created_at_ms=run.now,
            event_id=notice.event_id,
            alarm_id=notice.facts.alarm_id,
            thing_name=notice.facts.thing_name,
            level=notice.facts.level,
            code=notice.facts.code,
            params=dict(notice.facts.params),
            step=notice.step,
            reason=notice.reason,
        )
        try:
            self._inbox.add(n, expires_at_s=run.now // 1000 + INBOX_RETENTION_DAYS * 86400)
        except Exception:
            self._ledger.release(delivery_id)
            raise
        self._ledger.done(delivery_id, run.now)
        view = NotificationView.model_validate({**n.model_dump(), "read": False})
        try:
            if self._publisher is not None:
                topic = topics.console(n.tenant_id, topics.ConsoleStream.NOTIFICATIONS)
                self._publisher.publish(topic, view.model_dump_json().encode())
            self._channels.in_app(view)
        except Exception:  # stored: the console finds it in the inbox on its next load
            log.exception("console push failed", extra={"notification_id": n.notification_id})
        run.add(notice, delivery_id, r, "stored", notification_id=n.notification_id)

    def _send(
        self, policy: NotificationPolicy, notice: _Notice, r: Recipient, key: str, run: _Run, attempts: int = 0
    ) -> None:
        claim = self._ledger.claim(key, run.now)
        if claim is ClaimResult.DONE:
            run.add(notice, key, r, "already_sent")
            return
        if claim is ClaimResult.BUSY:
            self._retry_later(notice, r, key, run, attempts, "in_progress")
            return
        msg = render(notice.kind, notice.facts, r.language, policy.time_zone, step=notice.step, reason=notice.reason)
        f = notice.facts
        ref = DeliveryRef(
            key=key,
            tenant_id=f.tenant_id,
            alarm_id=f.alarm_id,
            kind=notice.kind,
            level=f.level,
            thing_name=f.thing_name,
            code=f.code,
        )
        try:
            if r.channel is Channel.EMAIL:
                provider_id = self._channels.send_email(r.address, msg.subject, msg.text, ref=ref)
            elif r.channel is Channel.SMS:
                provider_id = self._channels.send_sms(r.address, msg.short, ref=ref)
            else:
                provider_id = self._channels.call(r.address, msg.speech, r.language, ref=ref)
        except DeliveryRejected as exc:
            self._ledger.done(key, run.now)  # permanent: never retried
            log.warning("delivery refused: %s", exc.message, extra={"delivery_id": key, "code": exc.code})
            run.add(notice, key, r, "failed", reason=exc.code)
            return
        except Exception as exc:  # noqa: BLE001 - transient or unknown: free the claim and retry later
            self._ledger.release(key)
            log.warning("delivery failed; will retry: %r", exc, extra={"delivery_id": key})
            self._retry_later(notice, r, key, run, attempts, getattr(exc, "code", "provider_error"))
            return
        self._ledger.done(key, run.now)
        run.add(notice, key, r, "sent", provider_id=provider_id)

    def _retry_later(self, notice: _Notice, r: Recipient, key: str, run: _Run, attempts: int, reason: str) -> None:
        if attempts + 1 >= MAX_HELD_ATTEMPTS:
            run.add(notice, key, r, "failed", reason=f"{reason}_retries_exhausted")
            return
        run.retry.append(self._held(notice, r, key, attempts + 1))
        run.add(notice, key, r, "retry", reason=reason)

    def _hold(self, state: EscalationState, policy: NotificationPolicy, held: list[HeldDelivery], run: _Run) -> None:
        """Add quiet-hours holds (released at the window's end) and transient retries (in a minute)."""
        # One pending delivery per contact and channel is enough to reach that person.
        known = {(h.channel, h.contact_id) for h in state.held}
        release = [state.release_at_ms] if state.held and state.release_at_ms is not None else []
        new_held = _first_per_address(held, known)
        if new_held and policy.quiet_hours is not None:
            release.append(quiet_end_ms(policy.quiet_hours, run.now))
        retry = _first_per_address(run.retry, known)
        if retry:
            release.append(run.now + HELD_RETRY_S * 1000)
        run.retry = []
        state.held = [*state.held, *new_held, *retry]
        state.release_at_ms = min(release) if state.held and release else None
        if state.held and state.status is EscalationStatus.DONE:
            state.status = EscalationStatus.PENDING  # e.g. a late Raised after the chain was exhausted

    def _close(self, state: EscalationState, status: EscalationStatus, reason: str, run: _Run) -> None:
        for h in state.held:
            notice = _Notice(h.source or h.key, h.kind, state.facts, h.key, step=h.step, reason=h.reason)
            run.add(notice, h.key, h, "dropped", reason=reason)
        state.status = status
        state.cancel_reason = reason
        state.held, state.release_at_ms, state.next_fire_ms = [], None, None

    def _save(self, state: EscalationState, stored: StoredEscalation | None, run: _Run, *, strict: bool) -> None:
        if state.status is EscalationStatus.PENDING and state.due_at_ms is None:
            state.status = EscalationStatus.DONE  # nothing left to wait for
        expected = stored.revision if stored is not None else None
        try:
            self._escalations.save(state, expected_revision=expected, now_ms=run.now)
        except Conflict as exc:
            if not strict:
                raise
            # An event raced the timer or another event: redeliver; sends are deduplicated.
            raise Unavailable(f"escalation of alarm {state.alarm_id} changed concurrently; retry") from exc

    def _record(self, tenant_id: str, alarm_id: str, run: _Run) -> None:
        """Timeline entries for what this run did (repeats of earlier work are not recorded again).

        ``event_id`` (the delivery's source), ``channel`` and ``contact`` identify a delivery;
        an entry id built from them plus the entry time never duplicates a retried write."""
        for f in run.fired:
            self._timeline.add(
                tenant_id,
                alarm_id,
                TIMELINE_ESCALATED,
                run.now,
                {
                    "event_id": f.escalation_id,
                    "escalation_id": f.escalation_id,
                    "step": f.step,
                    "repeat": f.repeat,
                    "reason": f.reason,
                },
            )
        for o in run.outcomes:
            if o.result in _NOT_RECORDED:
                continue
            params: dict[str, ParamValue] = {
                "event_id": o.source,
                "delivery_id": o.delivery_id,
                "channel": o.channel.value,
                "contact": o.recipient,
                "kind": o.kind.value,
                "result": o.result,
            }
            for name in ("step", "reason", "notification_id"):
                value = getattr(o, name)
                if value is not None:
                    params[name] = value
            self._timeline.add(tenant_id, alarm_id, TIMELINE_NOTIFIED, run.now, params)

    # ---- policies ------------------------------------------------------------------------------------

    def _current_policy(self, tenant_id: str) -> NotificationPolicy:
        cached = self._current.get(tenant_id)
        now = time.monotonic()
        if cached is not None and now - cached[1] < POLICY_CACHE_S:
            return cached[0]
        policy = self._policies.latest(tenant_id) or default_policy(tenant_id)
        self._current[tenant_id] = (policy, now)
        return policy

    def _policy_version(self, tenant_id: str, version: int) -> NotificationPolicy:
        """The policy an alarm was raised under (versions are immutable, so cached for good)."""
        if version == 0:
            return default_policy(tenant_id)
        key = (tenant_id, version)
        if key not in self._versions:
            policy = self._policies.get(tenant_id, version)
            if policy is None:  # cannot happen with immutable versions; fall back rather than stall
                log.error("policy version missing; using the current one", extra={"tenant_id": tenant_id})
                return self._current_policy(tenant_id)
            if len(self._versions) > 1000:
                self._versions.clear()
            self._versions[key] = policy
        return self._versions[key]

    def get_policy(self, principal: Principal) -> NotificationPolicy:
        """The tenant's current policy, or the built-in default (version 0) when it has none."""
        authorize(principal, Action.READ)
        return self._policies.latest(principal.tenant_id) or default_policy(principal.tenant_id)

    def put_policy(self, principal: Principal, draft: PolicyDraft) -> NotificationPolicy:
        """Store ``draft`` as the tenant's next version and return it (``Conflict`` on a concurrent put)."""
        authorize(principal, Action.MANAGE_NOTIFICATIONS)
        latest = self._policies.latest(principal.tenant_id)
        policy = NotificationPolicy.model_validate(
            {
                **draft.model_dump(),
                "tenant_id": principal.tenant_id,
                "version": (latest.version if latest else 0) + 1,
                "created_by": principal.username,
                "created_at_ms": self._clock(),
            }
        )
        self._policies.create(policy)
        self._current.pop(principal.tenant_id, None)
        return policy

    # ---- inbox ---------------------------------------------------------------------------------------

    def inbox(
        self, principal: Principal, unread_only: bool = False, limit: int = 50, next_token: str | None = None
    ) -> NotificationPage:
        """The caller's notifications (personal + tenant-wide), newest first, paginated."""
        authorize(principal, Action.READ)
        check_limit(limit)
        before = decode_token(next_token)
        if before is not None and not _CURSOR.match(before):
            raise Invalid("next_token is not a token issued by this API", code="invalid_next_token")
        items, after = self._inbox.page(
            principal.tenant_id,
            principal.username,
            unread_only=unread_only,
            limit=limit,
            before=before,
            now_ms=self._clock(),
        )
        return NotificationPage(items=items, next_token=encode_token(after))

    def mark_read(self, principal: Principal, notification_id: str) -> NotificationView:
        authorize(principal, Action.READ)
        view = None
        if NOTIFICATION_ID_RE.match(notification_id):
            view = self._inbox.mark_read(principal.tenant_id, principal.username, notification_id, self._clock())
        if view is None:
            raise NotFound(f"notification {notification_id!r} not found", code="notification_not_found")
        return view

    def mark_all_read(self, principal: Principal) -> ReadAllResult:
        authorize(principal, Action.READ)
        up_to = self._clock()
        self._inbox.mark_all_read(principal.tenant_id, principal.username, up_to)
        return ReadAllResult(read_up_to_ms=up_to)

    def unread_count(self, principal: Principal) -> UnreadCount:
        authorize(principal, Action.READ)
        n = self._inbox.unread_count(principal.tenant_id, principal.username, UNREAD_CAP + 1, self._clock())
        return UnreadCount(count=min(n, UNREAD_CAP), capped=n > UNREAD_CAP)


__all__ = [
    "DeliveryOutcome",
    "EscalationFired",
    "EventOutcome",
    "NoTimeline",
    "NotificationService",
    "notification_id",
]
