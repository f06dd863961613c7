"""In-memory fakes of the notification domain's ports and builders (unit tests: no AWS, no moto)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from shared.contracts.alarms import (
    ALARM_EVENT_SOURCE,
    Alarm,
    AlarmEvent,
    AlarmEventType,
    AlarmLevel,
    AlarmStatus,
    ParamValue,
)
from shared.contracts.devices import DeviceKind
from shared.contracts.notifications import (
    TENANT_INBOX,
    Channel,
    Contact,
    EscalationPolicy,
    EscalationStep,
    InAppNotification,
    Language,
    NotificationPolicy,
    NotificationView,
    PolicyDraft,
    QuietHours,
    Route,
)
from shared.domain.auth import Principal, Role
from shared.domain.errors import Conflict
from shared.domain.notifications import NotificationService
from shared.domain.notifications.escalation import shard_of
from shared.domain.notifications.ports import ClaimResult, DeliveryRef, EscalationState, StoredEscalation

#: 2025-06-15 16:00:00 UTC = 2025-06-16 00:00 Asia/Shanghai (inside 22:00-07:00 quiet hours).
T_NIGHT = 1_750_003_200_000
#: 2025-06-15 04:00:00 UTC = 12:00 Asia/Shanghai.
T_DAY = 1_749_960_000_000
TENANT = "acme"
THING = "pack-0001"


class FakeInbox:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], InAppNotification] = {}  # (inbox, id)

    def add(self, notification: InAppNotification, expires_at_s: int) -> bool:
        key = (notification.inbox, notification.notification_id)
        if key in self.items:
            return False
        self.items[key] = notification
        return True

    def page(self, tenant_id: str, user: str, *, unread_only: bool, limit: int, before: str | None, now_ms: int):
        views = [
            NotificationView.model_validate({**n.model_dump(), "read": False})
            for (inbox, _), n in self.items.items()
            if n.tenant_id == tenant_id and inbox in (user, TENANT_INBOX)
        ]
        views.sort(key=lambda v: (v.created_at_ms, v.notification_id), reverse=True)
        return views[:limit], None

    def mark_read(self, tenant_id: str, user: str, notification_id: str, now_ms: int):
        return None

    def mark_all_read(self, tenant_id: str, user: str, up_to_ms: int) -> None:
        pass

    def unread_count(self, tenant_id: str, user: str, cap: int, now_ms: int) -> int:
        return min(cap, len(self.items))

    def of(self, inbox: str) -> list[InAppNotification]:
        return sorted((n for (i, _), n in self.items.items() if i == inbox), key=lambda n: n.created_at_ms)


class FakePolicies:
    def __init__(self) -> None:
        self.versions: dict[tuple[str, int], NotificationPolicy] = {}

    def latest(self, tenant_id: str) -> NotificationPolicy | None:
        mine = [p for (t, _), p in self.versions.items() if t == tenant_id]
        return max(mine, key=lambda p: p.version) if mine else None

    def get(self, tenant_id: str, version: int) -> NotificationPolicy | None:
        return self.versions.get((tenant_id, version))

    def create(self, policy: NotificationPolicy) -> None:
        key = (policy.tenant_id, policy.version)
        if key in self.versions:
            raise Conflict("exists", code="policy_changed")
        self.versions[key] = policy


class FakeEscalations:
    """Same contract as ``DynamoEscalationRepository``: revision check, due index by shard."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], tuple[str, int]] = {}  # key -> (state json, revision)
        self.fail_next_save: Exception | None = None

    def get(self, tenant_id: str, alarm_id: str) -> StoredEscalation | None:
        found = self.items.get((tenant_id, alarm_id))
        if found is None:
            return None
        return StoredEscalation(EscalationState.model_validate_json(found[0]), found[1])

    def save(self, state: EscalationState, *, expected_revision: int | None, now_ms: int) -> None:
        if self.fail_next_save is not None:
            exc, self.fail_next_save = self.fail_next_save, None
            raise exc
        key = (state.tenant_id, state.alarm_id)
        current = self.items.get(key)
        if (current is None) != (expected_revision is None) or (current and current[1] != expected_revision):
            raise Conflict("changed", code="escalation_changed")
        revision = now_ms if expected_revision is None else max(now_ms, expected_revision + 1)
        self.items[key] = (state.model_dump_json(), revision)

    def due(self, shard: int, now_ms: int, limit: int) -> list[StoredEscalation]:
        out = []
        for (tenant, alarm), (body, revision) in self.items.items():
            state = EscalationState.model_validate_json(body)
            due = state.due_at_ms
            if due is not None and due <= now_ms and shard_of(tenant, alarm) == shard:
                out.append(StoredEscalation(state, revision))
        return sorted(out, key=lambda s: s.state.due_at_ms or 0)[:limit]

    def state(self, alarm_id: str, tenant_id: str = TENANT) -> EscalationState:
        stored = self.get(tenant_id, alarm_id)
        assert stored is not None
        return stored.state


class FakeLedger:
    def __init__(self) -> None:
        self.state: dict[str, str] = {}  # key -> "claimed" | "done"

    def claim(self, key: str, now_ms: int) -> ClaimResult:
        current = self.state.get(key)
        if current == "done":
            return ClaimResult.DONE
        if current == "claimed":
            return ClaimResult.BUSY
        self.state[key] = "claimed"
        return ClaimResult.CLAIMED

    def done(self, key: str, now_ms: int) -> None:
        self.state[key] = "done"

    def release(self, key: str) -> None:
        if self.state.get(key) == "claimed":
            del self.state[key]


class FakeAlarms:
    def __init__(self) -> None:
        self.statuses: dict[tuple[str, str], AlarmStatus] = {}

    def status(self, tenant_id: str, alarm_id: str) -> AlarmStatus | None:
        return self.statuses.get((tenant_id, alarm_id))


@dataclass
class Sent:
    channel: str
    to: str
    text: str
    key: str
    subject: str | None = None
    language: str | None = None
    alarm_id: str | None = None


@dataclass
class FakeChannels:
    sent: list[Sent] = field(default_factory=list)
    in_app_seen: list[NotificationView] = field(default_factory=list)
    #: channel -> exception to raise (persistent until cleared)
    failures: dict[str, Exception] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def _go(self, channel: str, **kw: Any) -> str:
        if channel in self.failures:
            raise self.failures[channel]
        self.sent.append(Sent(channel=channel, **kw))
        return f"{channel}-{next(self.ids)}"

    def send_email(self, to: str, subject: str, text: str, *, ref: DeliveryRef) -> str:
        return self._go("email", to=to, subject=subject, text=text, key=ref.key, alarm_id=ref.alarm_id)

    def send_sms(self, to: str, text: str, *, ref: DeliveryRef) -> str:
        return self._go("sms", to=to, text=text, key=ref.key, alarm_id=ref.alarm_id)

    def call(self, to: str, speech: str, language: Language, *, ref: DeliveryRef) -> str:
        return self._go("voice", to=to, text=speech, key=ref.key, language=language.value, alarm_id=ref.alarm_id)

    def in_app(self, notification: NotificationView) -> None:
        self.in_app_seen.append(notification)

    def of(self, channel: str) -> list[Sent]:
        return [s for s in self.sent if s.channel == channel]


class FakePublisher:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.fail: Exception | None = None

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        if self.fail is not None:
            raise self.fail
        self.messages.append((topic, json.loads(payload)))


class FakeTimeline:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str, int, dict[str, ParamValue]]] = []

    def add(self, tenant_id: str, alarm_id: str, entry_type: str, at_ms: int, params: dict[str, ParamValue]) -> None:
        self.entries.append((tenant_id, alarm_id, entry_type, at_ms, dict(params)))

    def of(self, entry_type: str) -> list[dict[str, ParamValue]]:
        return [p for (_, _, t, _, p) in self.entries if t == entry_type]


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class World:
    service: NotificationService
    inbox: FakeInbox
    policies: FakePolicies
    escalations: FakeEscalations
    ledger: FakeLedger
    alarms: FakeAlarms
    channels: FakeChannels
    publisher: FakePublisher
    timeline: FakeTimeline
    clock: Clock

    def use_policy(self, draft: PolicyDraft, tenant_id: str = TENANT) -> NotificationPolicy:
        latest = self.policies.latest(tenant_id)
        policy = NotificationPolicy.model_validate(
            {
                **draft.model_dump(),
                "tenant_id": tenant_id,
                "version": (latest.version if latest else 0) + 1,
                "created_by": "ada",
                "created_at_ms": 0,
            }
        )
        self.policies.create(policy)
        self.service._current.clear()  # what put_policy does; tests write the fake directly
        return policy


def make_world(now: int = T_DAY) -> World:
    inbox, policies, escalations = FakeInbox(), FakePolicies(), FakeEscalations()
    ledger, alarms, channels = FakeLedger(), FakeAlarms(), FakeChannels()
    publisher, timeline, clock = FakePublisher(), FakeTimeline(), Clock(now)
    service = NotificationService(
        inbox=inbox,
        policies=policies,
        escalations=escalations,
        ledger=ledger,
        alarms=alarms,
        channels=channels,
        publisher=publisher,
        timeline=timeline,
        clock_ms=clock,
    )
    return World(service, inbox, policies, escalations, ledger, alarms, channels, publisher, timeline, clock)


def alarm(
    alarm_id: str = "al-1",
    level: AlarmLevel = AlarmLevel.LEVEL_2,
    raised_at_ms: int = T_DAY,
    status: AlarmStatus = AlarmStatus.ACTIVE,
    tenant_id: str = TENANT,
    code: str = "cell_overvoltage",
) -> Alarm:
    return Alarm(
        alarm_id=alarm_id,
        tenant_id=tenant_id,
        thing_name=THING,
        device_kind=DeviceKind.BATTERY_PACK,
        model_id="lfp-16s280-ess",
        rule_id=code,
        level=level,
        status=status,
        code=code,
        params={"cell": 7, "v": 3.71},
        rule_version="default@1",
        raised_at_ms=raised_at_ms,
        device_ts_ms=raised_at_ms - 500,
        updated_at_ms=raised_at_ms,
    )


def event(kind: AlarmEventType, a: Alarm, at_ms: int | None = None, reason: str | None = None) -> AlarmEvent:
    return AlarmEvent(
        event_id=f"{a.alarm_id}:{kind.value}:{at_ms or a.raised_at_ms}",
        type=kind,
        at_ms=at_ms if at_ms is not None else a.raised_at_ms,
        alarm=a,
        reason=reason,
    )


def full_policy(
    *, quiet: QuietHours | None = None, steps: list[EscalationStep] | None = None, repeats: int = 2
) -> PolicyDraft:
    """Two contacts on every channel for level ≥ 2, in-app to the tenant inbox for every level;
    chain: supervisor at 5 min (SMS + voice), manager at 15 min (voice); repeat every 10 min."""
    return PolicyDraft(
        contacts=[
            Contact(contact_id="duty", name="值班员", user="alice", email="duty@acme.example", phone="+8613800000001"),
            Contact(
                contact_id="eng",
                name="Engineer",
                user="bob",
                email="eng@acme.example",
                phone="+8613800000002",
                language=Language.EN,
            ),
            Contact(contact_id="sup", name="主管", user="carol", phone="+8613800000003"),
            Contact(contact_id="mgr", name="经理", phone="+8613800000004"),
        ],
        routes=[
            Route(min_level=AlarmLevel.PRE_WARNING, tenant_inbox=True),
            Route(min_level=AlarmLevel.LEVEL_2, contacts=["duty", "eng"], channels=[Channel.EMAIL, Channel.SMS]),
            Route(min_level=AlarmLevel.LEVEL_3, contacts=["duty"], channels=[Channel.VOICE]),
        ],
        escalation=EscalationPolicy(
            min_level=AlarmLevel.LEVEL_1,
            steps=steps
            if steps is not None
            else [
                EscalationStep(after_s=300, contacts=["sup"], channels=[Channel.IN_APP, Channel.SMS, Channel.VOICE]),
                EscalationStep(after_s=900, contacts=["mgr"], channels=[Channel.VOICE]),
            ],
            repeat_interval_s=600,
            max_repeats=repeats,
        ),
        quiet_hours=quiet,
    )


ADMIN = Principal(subject="s-ada", username="ada", tenant_id=TENANT, roles=frozenset({Role.ADMIN}))
VIEWER = Principal(subject="s-vera", username="vera", tenant_id=TENANT, roles=frozenset({Role.VIEWER}))


# ---- SQS / EventBridge envelopes ---------------------------------------------------------------------


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1750000000000"},
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:voltops-alarm-notifications",
        "awsRegion": "us-east-1",
    }


def bridge(detail: Any, detail_type: str = "AlarmRaised", source: str = ALARM_EVENT_SOURCE) -> str:
    """An EventBridge event as the bus → SQS target delivers it."""
    return json.dumps(
        {
            "version": "0",
            "id": "e-1",
            "detail-type": detail_type,
            "source": source,
            "account": "123456789012",
            "time": "2025-06-15T04:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        }
    )
