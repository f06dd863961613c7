"""Notifications against moto: DynamoDB storage (inbox read state, policies, escalations, send ledger),
SES e-mail and SNS SMS through the local outbox, the SQS handler, and the inbox/policy API routes."""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from functions.services import build_notification_service
from infra.local.outbox import read_outbox, wrap_with_outbox
from shared.adapters import channels as channels_adapter
from shared.contracts.alarms import Alarm, AlarmEventType, AlarmLevel, AlarmStatus
from shared.contracts.notifications import (
    TENANT_INBOX,
    Channel,
    Contact,
    EscalationPolicy,
    EscalationStep,
    InAppNotification,
    NotificationKind,
    NotificationPolicy,
    PolicyDraft,
    Route,
)
from shared.dal import tables
from shared.dal.notifications import (
    DynamoAlarmStatusReader,
    DynamoEscalationRepository,
    DynamoInbox,
    DynamoPolicyRepository,
    DynamoSendLedger,
)
from shared.domain.errors import Conflict
from shared.domain.notifications.escalation import SHARDS, shard_of
from shared.domain.notifications.ports import ClaimResult, EscalationState, EscalationStatus
from shared.domain.notifications.service import notification_id
from shared.settings import get_settings
from tests.integration.api.conftest import create_pool, create_user, free_port, login
from tests.unit.notifications.fakes import T_DAY, FakePublisher, FakeTimeline, alarm, bridge, event, sqs_record

MIN = 60_000
_tenants = itertools.count()


def _reset() -> None:
    from functions import services
    from functions.api import wiring

    get_settings.cache_clear()
    tables.bind_tables.cache_clear()
    channels_adapter.reset_clients()
    services.reset()
    wiring.reset()


@dataclass
class Env:
    pool_id: str
    client_id: str


@pytest.fixture(scope="module")
def aws() -> Iterator[Env]:
    """moto (DynamoDB tables, verified SES sender, Cognito pool) and a JWKS server, once per module."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        with pytest.MonkeyPatch.context() as mp, mock_aws():
            mp.delenv("AWS_ENDPOINT_URL", raising=False)
            mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
            idp = boto3.client("cognito-idp", region_name="us-east-1")
            pool_id, client_id = create_pool(idp)
            mp.setenv("USER_POOL_ID", pool_id)
            mp.setenv("USER_POOL_CLIENT_ID", client_id)
            mp.setenv("JWKS_URL", f"http://127.0.0.1:{port}/{pool_id}/.well-known/jwks.json")
            _reset()
            tables.create_all_tables()
            boto3.client("ses", region_name="us-east-1").verify_email_identity(
                EmailAddress=get_settings().notification_sender
            )
            yield Env(pool_id=pool_id, client_id=client_id)
            _reset()
    finally:
        server.stop()


@pytest.fixture
def tenant(aws: Env) -> str:
    return f"acme{next(_tenants)}"


def _note(tenant: str, inbox: str, created: int, n: int = 0) -> InAppNotification:
    return InAppNotification(
        notification_id=notification_id(f"{tenant}#{inbox}#{created}#{n}", created, tenant_wide=inbox == TENANT_INBOX),
        tenant_id=tenant,
        inbox=inbox,
        kind=NotificationKind.ALARM_RAISED,
        created_at_ms=created,
        event_id=f"e{n}",
        alarm_id=f"al-{n}",
        thing_name="pack-0001",
        level=AlarmLevel.LEVEL_2,
        code="cell_overvoltage",
        params={"cell": n},
    )


def _ids(views: list[Any]) -> list[str]:
    return [v.notification_id for v in views]


# ---- storage --------------------------------------------------------------------------------------


def test_inbox_merges_personal_and_tenant_wide_with_read_state_per_user(tenant: str):
    """LCM-AL-2, SLW-EW-6: a user's inbox is their own notifications plus the tenant-wide ones, newest first
    and paginated across both; reading a tenant-wide notification marks it read for that user only;
    "mark all read" is one watermark write; unread counts follow; stored once (idempotent)."""
    inbox = DynamoInbox()
    expires = T_DAY // 1000 + 86400
    t1, t2, t3 = (_note(tenant, TENANT_INBOX, T_DAY + i * 1000, i) for i in (1, 3, 5))
    a1, a2 = (_note(tenant, "alice", T_DAY + i * 1000, i) for i in (2, 4))
    b1 = _note(tenant, "bob", T_DAY + 6000, 6)
    for n in (t1, t2, t3, a1, a2, b1):
        assert inbox.add(n, expires) is True
    assert inbox.add(t1, expires) is False  # a redelivery stores nothing new

    now = T_DAY + 10_000
    first, cursor = inbox.page(tenant, "alice", unread_only=False, limit=3, before=None, now_ms=now)
    assert _ids(first) == _ids([t3, a2, t2]) and cursor is not None
    rest, end = inbox.page(tenant, "alice", unread_only=False, limit=3, before=cursor, now_ms=now)
    assert _ids(rest) == _ids([a1, t1]) and end is None
    assert inbox.unread_count(tenant, "alice", 100, now) == 5
    assert inbox.unread_count(tenant, "bob", 100, now) == 4
    assert inbox.unread_count(tenant, "alice", 2, now) == 2  # capped

    read = inbox.mark_read(tenant, "alice", t2.notification_id, now)
    assert read is not None and read.read and read.read_at_ms == now
    again = inbox.mark_read(tenant, "alice", t2.notification_id, now + 5000)
    assert again is not None and again.read_at_ms == now  # the first read time is kept
    personal = inbox.mark_read(tenant, "alice", a1.notification_id, now)
    assert personal is not None and personal.read
    assert inbox.mark_read(tenant, "alice", b1.notification_id, now) is None  # bob's, not hers
    assert inbox.unread_count(tenant, "alice", 100, now) == 3
    assert inbox.unread_count(tenant, "bob", 100, now) == 4  # alice's reading is hers alone

    unread, _ = inbox.page(tenant, "alice", unread_only=True, limit=50, before=None, now_ms=now)
    assert _ids(unread) == _ids([t3, a2, t1])
    page1, cur = inbox.page(tenant, "alice", unread_only=True, limit=2, before=None, now_ms=now)
    page2, _ = inbox.page(tenant, "alice", unread_only=True, limit=2, before=cur, now_ms=now)
    assert _ids(page1 + page2) == _ids(unread)

    inbox.mark_all_read(tenant, "alice", T_DAY + 4000)  # watermark between a2 and t3
    assert _ids(inbox.page(tenant, "alice", unread_only=True, limit=50, before=None, now_ms=now)[0]) == _ids([t3])
    inbox.mark_all_read(tenant, "alice", T_DAY + 1000)  # an older watermark never moves it back
    assert inbox.unread_count(tenant, "alice", 100, now) == 1
    everything, _ = inbox.page(tenant, "alice", unread_only=False, limit=50, before=None, now_ms=now)
    assert [v.read for v in everything] == [False, True, True, True, True]
    assert inbox.unread_count(tenant, "bob", 100, now) == 4
    assert inbox.page("other", "alice", unread_only=False, limit=50, before=None, now_ms=now)[0] == []
    # expired items (TTL not yet swept) are not shown
    assert inbox.unread_count(tenant, "bob", 100, (expires + 1) * 1000) == 0


def test_user_names_cannot_reach_other_inboxes(tenant: str):
    """LCM-AL-2: user names are encoded in keys, so 'x#_tenant' or 'r:bob' never read another inbox."""
    inbox = DynamoInbox()
    inbox.add(_note(tenant, "bob", T_DAY, 1), T_DAY // 1000 + 86400)
    for sneaky in ("bob#x", "u:bob", "x#_tenant", "r:bob", "%62ob"):
        assert inbox.page(tenant, sneaky, unread_only=False, limit=10, before=None, now_ms=T_DAY)[0] == []
    assert len(inbox.page(tenant, "bob", unread_only=False, limit=10, before=None, now_ms=T_DAY)[0]) == 1


def test_send_ledger_claims_once_and_lets_a_stale_claim_be_taken_over(aws: Env):
    """LCM-AL-2: claim → done makes a send happen once; a concurrent claim is busy; a released claim (transient
    failure) can be retried at once; a claim left by a crashed worker expires after its lease."""
    ledger = DynamoSendLedger()
    key = f"notify#t#{next(_tenants)}#sms#duty"
    assert ledger.claim(key, T_DAY) is ClaimResult.CLAIMED
    assert ledger.claim(key, T_DAY + 1000) is ClaimResult.BUSY
    ledger.release(key)
    assert ledger.claim(key, T_DAY + 2000) is ClaimResult.CLAIMED
    assert ledger.claim(key, T_DAY + 120_000) is ClaimResult.CLAIMED  # the lease (60 s) expired
    ledger.done(key, T_DAY + 121_000)
    assert ledger.claim(key, T_DAY + 122_000) is ClaimResult.DONE
    ledger.release(key)  # never undoes a send
    assert ledger.claim(key, T_DAY + 10 * 86_400_000) is ClaimResult.DONE


def test_escalations_revisions_and_sparse_due_index(tenant: str):
    """SLW-EW-4: an escalation is created once, written with an optimistic revision, and is in the due index
    (its shard, by due time) only while pending."""
    repo = DynamoEscalationRepository()
    state = EscalationState(
        tenant_id=tenant,
        alarm_id="al-1",
        thing_name="pack-0001",
        level=AlarmLevel.LEVEL_2,
        code="cell_overvoltage",
        raised_at_ms=T_DAY,
        policy_version=0,
        next_fire_ms=T_DAY + 5 * MIN,
    )
    repo.save(state, expected_revision=None, now_ms=T_DAY)
    with pytest.raises(Conflict):
        repo.save(state, expected_revision=None, now_ms=T_DAY)
    stored = repo.get(tenant, "al-1")
    assert stored is not None and stored.state == state
    shard = shard_of(tenant, "al-1")
    assert repo.due(shard, T_DAY + 4 * MIN, 10) == []
    assert [s.state.alarm_id for s in repo.due(shard, T_DAY + 5 * MIN, 10) if s.state.tenant_id == tenant] == ["al-1"]
    assert all(
        s.state.tenant_id != tenant for other in set(range(SHARDS)) - {shard} for s in repo.due(other, T_DAY * 2, 100)
    )
    done = state.model_copy(update={"status": EscalationStatus.CANCELLED, "next_fire_ms": None})
    repo.save(done, expected_revision=stored.revision, now_ms=T_DAY)  # same ms: the revision still moves on
    with pytest.raises(Conflict):
        repo.save(done, expected_revision=stored.revision, now_ms=T_DAY + 1)
    assert [s for s in repo.due(shard, T_DAY * 2, 100) if s.state.tenant_id == tenant] == []


def test_policy_versions_and_alarm_status(tenant: str):
    """LCM-AL-2, SLW-EW-4: policy versions are immutable (a second writer of a version gets a conflict);
    the alarm status comes from the alarm item's body."""
    policies = DynamoPolicyRepository()
    assert policies.latest(tenant) is None
    for version in (1, 2):
        policies.create(NotificationPolicy(tenant_id=tenant, version=version, created_by="ada", created_at_ms=version))
    with pytest.raises(Conflict):
        policies.create(NotificationPolicy(tenant_id=tenant, version=2, created_by="eve", created_at_ms=3))
    latest = policies.latest(tenant)
    assert latest is not None and latest.version == 2
    first = policies.get(tenant, 1)
    assert first is not None and first.created_by == "ada"
    reader = DynamoAlarmStatusReader()
    assert reader.status(tenant, "al-x") is None
    _store_alarm(alarm("al-x", tenant_id=tenant, status=AlarmStatus.ACKNOWLEDGED))
    assert reader.status(tenant, "al-x") is AlarmStatus.ACKNOWLEDGED


def _store_alarm(a: Alarm) -> None:
    tables.AlarmItem(
        a.tenant_id,
        a.alarm_id,
        time_key=f"{a.raised_at_ms:013d}#{a.alarm_id}",
        device_key=f"{a.tenant_id}#{a.thing_name}",
        status_key=f"{a.tenant_id}#{a.status.value}",
        thing_name=a.thing_name,
        rule_id=a.rule_id,
        level=int(a.level),
        status=a.status.value,
        raised_at_ms=a.raised_at_ms,
        updated_at_ms=a.updated_at_ms,
        body=a.model_dump(mode="json"),
    ).save()


# ---- the whole path: SQS handler → DynamoDB, SES, SNS, outbox ------------------------------------------------


def _policy(tenant: str) -> PolicyDraft:
    return PolicyDraft(
        contacts=[
            Contact(contact_id="duty", name="值班员", user="alice", email="duty@acme.example", phone="+8613800000001"),
            Contact(contact_id="sup", name="主管", user="carol", phone="+8613800000003"),
        ],
        routes=[
            Route(min_level=AlarmLevel.PRE_WARNING, tenant_inbox=True),
            Route(
                min_level=AlarmLevel.LEVEL_3, contacts=["duty"], channels=[Channel.EMAIL, Channel.SMS, Channel.VOICE]
            ),
        ],
        escalation=EscalationPolicy(
            steps=[EscalationStep(after_s=300, contacts=["sup"], channels=[Channel.IN_APP, Channel.SMS])],
            max_repeats=0,
        ),
    )


def test_alarm_event_through_the_handler_reaches_every_channel_once(tenant: str, tmp_path: Path, monkeypatch):
    """LCM-AL-1, LCM-AL-2, SLW-EW-6, SLW-EW-4: an AlarmRaised event from the bus (via SQS) is stored in the
    tenant inbox and pushed, e-mailed through SES, texted through SNS and "called" (local outbox), each written to
    the outbox once even when SQS redelivers; unacknowledged, the timer escalates to the supervisor; once the
    alarm is acknowledged the escalation stops."""
    from functions.notifications import handler as notifications_handler

    publisher, timeline = FakePublisher(), FakeTimeline()
    now = time.time_ns() // 1_000_000  # the handler stamps events with the wall clock
    service = build_notification_service(
        publisher=publisher,
        channels=wrap_with_outbox(channels_adapter.default_channels(), tmp_path),
        timeline=timeline,
        clock_ms=lambda: now,
    )
    monkeypatch.setattr("functions.services.notification_service", lambda: service)
    admin = _principal(tenant, "ada", "admin")
    service.put_policy(admin, _policy(tenant))
    a = alarm("al-1", level=AlarmLevel.LEVEL_3, tenant_id=tenant, raised_at_ms=now)
    _store_alarm(a)
    body = bridge(event(AlarmEventType.RAISED, a).model_dump(mode="json"))
    ses = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    sns = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    emails_before, sms_before = len(ses.sent_messages), len(sns.sms_messages)

    for attempt in ("m1", "m1-redelivered"):
        assert notifications_handler.handler({"Records": [sqs_record(attempt, body)]}, None) == {
            "batchItemFailures": []
        }

    assert len(ses.sent_messages) - emails_before == 1
    sent = ses.sent_messages[-1]
    assert sent.destinations["ToAddresses"] == ["duty@acme.example"] and "三级报警" in sent.subject
    assert [m[0] for m in list(sns.sms_messages.values())[sms_before:]] == ["+8613800000001"]
    assert [r["to"] for r in read_outbox(tmp_path, "email")] == ["duty@acme.example"]
    assert [r["to"] for r in read_outbox(tmp_path, "sms")] == ["+8613800000001"]
    assert [r["to"] for r in read_outbox(tmp_path, "voice")] == ["+8613800000001"]
    assert {r["alarm_id"] for r in read_outbox(tmp_path)} == {"al-1"}
    assert [r["to"] for r in read_outbox(tmp_path, "in_app")] == [TENANT_INBOX]
    bob = _principal(tenant, "bob", "viewer")
    page = service.inbox(bob)
    assert [(n.kind, n.alarm_id, n.read) for n in page.items] == [(NotificationKind.ALARM_RAISED, "al-1", False)]
    assert len(publisher.messages) == 1

    assert service.escalate_due(now + 5 * MIN) == 1
    assert [r["to"] for r in read_outbox(tmp_path, "sms")] == ["+8613800000001", "+8613800000003"]
    carol = service.inbox(_principal(tenant, "carol", "operator"))
    assert [(n.kind, n.step) for n in carol.items] == [
        (NotificationKind.ALARM_ESCALATED, 1),
        (NotificationKind.ALARM_RAISED, None),
    ]
    assert (
        service.unread_count(bob).count == 1 and service.unread_count(_principal(tenant, "carol", "viewer")).count == 2
    )
    assert [p["step"] for p in timeline.of("escalated")] == [1]

    b = alarm("al-2", level=AlarmLevel.LEVEL_2, tenant_id=tenant, raised_at_ms=now)
    _store_alarm(b)
    service.handle_event(event(AlarmEventType.RAISED, b), now)
    _store_alarm(b.model_copy(update={"status": AlarmStatus.ACKNOWLEDGED}))
    assert service.escalate_due(now + 5 * MIN) == 1  # processed: found acknowledged, cancelled
    assert [r["to"] for r in read_outbox(tmp_path, "sms")] == ["+8613800000001", "+8613800000003"]
    stored = DynamoEscalationRepository().get(tenant, "al-2")
    assert stored is not None and stored.state.status is EscalationStatus.CANCELLED


# ---- API ----------------------------------------------------------------------------------------------------


def _principal(tenant: str, username: str, role: str) -> Any:
    from shared.domain.auth import Principal, Role

    return Principal(subject=f"s-{username}", username=username, tenant_id=tenant, roles=frozenset({Role(role)}))


@dataclass
class Api:
    client: Client
    tokens: dict[str, str]

    def call(self, method: str, path: str, user: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.tokens[user]}"}
        raw = json.dumps(body) if body is not None else ""
        return getattr(self.client.http, method)(path, headers=headers, body=raw)


@pytest.fixture
def api(aws: Env, tenant: str) -> Iterator[Api]:
    import functions.api.routes.notifications  # noqa: F401 - registers the routes (app.py imports it once wired)
    from functions.api.app import app

    idp = boto3.client("cognito-idp", region_name="us-east-1")
    tokens = {}
    for user, group in (("ada", "admin"), ("olga", "operator"), ("vera", "viewer")):
        username = f"{user}-{tenant}"
        create_user(idp, aws.pool_id, username, tenant, group)
        tokens[user] = login(idp, aws.pool_id, aws.client_id, username)["IdToken"]
    with Client(app) as client:
        yield Api(client=client, tokens=tokens)


def test_api_inbox_and_policy_routes(api: Api, tenant: str):
    """LCM-AL-2, SLW-EW-6: GET/PUT /v1/notification-policy (new version, admin only, validated), GET
    /v1/notifications (personal + tenant-wide, paginated), unread count, mark one read, mark all read — the
    tenant always from the token."""
    r = api.call("get", "/v1/notification-policy", "vera")
    assert r.status_code == 200 and r.json_body["version"] == 0 and r.json_body["tenant_id"] == tenant
    draft = _policy(tenant).model_dump(mode="json")
    assert api.call("put", "/v1/notification-policy", "olga", draft).status_code == 403
    bad = {**draft, "routes": [{"min_level": 3, "contacts": ["nobody"], "channels": ["sms"]}]}
    r = api.call("put", "/v1/notification-policy", "ada", bad)
    assert r.status_code == 422 and "unknown contact 'nobody'" in r.json_body["error"]["message"]
    r = api.call("put", "/v1/notification-policy", "ada", {**draft, "tenant_id": "someone-else"})
    assert r.status_code == 422  # the tenant is never taken from the body
    r = api.call("put", "/v1/notification-policy", "ada", draft)
    assert r.status_code == 200 and r.json_body["version"] == 1 and r.json_body["created_by"] == f"ada-{tenant}"
    assert api.call("get", "/v1/notification-policy", "vera").json_body["version"] == 1

    inbox = DynamoInbox()
    notes = [_note(tenant, TENANT_INBOX, T_DAY + i * 1000, i) for i in range(3)]
    for n in notes:
        inbox.add(n, 4_000_000_000)
    mine = _note(tenant, f"vera-{tenant}", T_DAY + 5000, 9)
    inbox.add(mine, 4_000_000_000)

    r = api.call("get", "/v1/notifications?limit=3", "vera")
    assert r.status_code == 200
    assert [n["notification_id"] for n in r.json_body["items"]] == _ids([mine, notes[2], notes[1]])
    r2 = api.call("get", f"/v1/notifications?limit=3&next_token={r.json_body['next_token']}", "vera")
    assert _ids_json(r2.json_body["items"]) == _ids([notes[0]]) and r2.json_body["next_token"] is None
    assert api.call("get", "/v1/notifications/unread-count", "vera").json_body == {"count": 4, "capped": False}
    assert api.call("get", "/v1/notifications?next_token=nope", "vera").status_code == 400
    assert api.call("get", "/v1/notifications?limit=1000", "vera").status_code == 422

    r = api.call("post", f"/v1/notifications/{notes[1].notification_id}/read", "vera")
    assert r.status_code == 200 and r.json_body["read"] is True
    assert api.call("post", f"/v1/notifications/{'t' + '0' * 29}/read", "vera").status_code == 404
    r = api.call("get", "/v1/notifications?unread_only=true", "vera")
    assert _ids_json(r.json_body["items"]) == _ids([mine, notes[2], notes[0]])
    assert api.call("get", "/v1/notifications/unread-count", "olga").json_body["count"] == 3  # only tenant-wide
    r = api.call("post", "/v1/notifications/read-all", "vera")
    assert r.status_code == 200 and r.json_body["read_up_to_ms"] > T_DAY
    assert api.call("get", "/v1/notifications/unread-count", "vera").json_body["count"] == 0
    assert api.call("get", "/v1/notifications/unread-count", "olga").json_body["count"] == 3


def _ids_json(items: list[dict[str, Any]]) -> list[str]:
    return [n["notification_id"] for n in items]
