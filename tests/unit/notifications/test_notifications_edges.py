"""The notification function's edges: SQS handler parsing and partial failures, AWS channel adapter
(botocore Stubber, no network) and the local outbox recorder."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from functions.notifications import handler as notifications_handler
from infra.local.outbox import read_outbox, wrap_with_outbox
from shared.adapters.channels import AwsChannels, client_token
from shared.contracts.alarms import AlarmEventType, AlarmLevel
from shared.contracts.notifications import Language, NotificationKind, NotificationView
from shared.domain.errors import Unavailable
from shared.domain.notifications.ports import ChannelNotConfigured, DeliveryRef, DeliveryRejected
from shared.domain.notifications.service import EventOutcome
from shared.settings import Settings
from tests.unit.notifications.fakes import FakeChannels, alarm, bridge, event, sqs_record


class FakeService:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.fail_for: set[str] = set()

    def handle_event(self, ev: Any, now_ms: int) -> EventOutcome:
        if ev.alarm.alarm_id in self.fail_for:
            raise Unavailable("storage busy")
        self.events.append(ev)
        return EventOutcome(event_id=ev.event_id)


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> FakeService:
    fake = FakeService()
    monkeypatch.setattr("functions.services.notification_service", lambda: fake)
    return fake


def test_handler_reports_only_transient_failures_and_drops_malformed_bodies(service: FakeService):
    """LCM-AL-1, LCM-AL-2: an SQS batch of EventBridge alarm events goes to the service; a transient failure is
    reported for redelivery (partial batch), malformed bodies are logged with the reason and not retried."""
    good = event(AlarmEventType.RAISED, alarm("al-1")).model_dump(mode="json")
    busy = event(AlarmEventType.RAISED, alarm("al-2")).model_dump(mode="json")
    cleared = event(AlarmEventType.CLEARED, alarm("al-3")).model_dump(mode="json")
    service.fail_for = {"al-2"}
    batch = {
        "Records": [
            sqs_record("m1", bridge(good)),
            sqs_record("m2", bridge(busy)),
            sqs_record("m3", "not json"),
            sqs_record("m4", bridge(good, source="voltops.other")),
            sqs_record("m5", bridge({"event_id": "x"})),
            sqs_record("m6", bridge(cleared, detail_type="AlarmRaised")),
            sqs_record("m7", bridge(cleared, detail_type="AlarmCleared")),
        ]
    }
    out = notifications_handler.handler(batch, None)
    assert out == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert [e.alarm.alarm_id for e in service.events] == ["al-1", "al-3"]


def test_parse_alarm_event_names_the_reason():
    """LCM-AL-2: a malformed body is refused with a reason a person can act on."""
    cases = {
        "[]": "not a JSON object",
        bridge({}, detail_type="AlarmExploded"): "unknown detail-type",
        bridge({"event_id": "x"}): "detail is not an AlarmEvent",
        bridge({}, source="aws.events"): "source is 'aws.events'",
    }
    for body, reason in cases.items():
        with pytest.raises(notifications_handler.MalformedEvent, match=reason):
            notifications_handler.parse_alarm_event(body)


def test_all_records_failing_still_returns_a_partial_response(service: FakeService):
    """LCM-AL-2: when every record fails transiently the function reports them all (no exception that would
    hide which ones), so SQS redelivers exactly those."""
    service.fail_for = {"al-1"}
    body = bridge(event(AlarmEventType.RAISED, alarm("al-1")).model_dump(mode="json"))
    out = notifications_handler.handler({"Records": [sqs_record("m1", body)]}, None)
    assert out == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


# ---- AWS channels ---------------------------------------------------------------------------------------


def ref(key: str) -> DeliveryRef:
    return DeliveryRef(
        key=key, tenant_id="acme", alarm_id="al-1", kind=NotificationKind.ALARM_RAISED, level=AlarmLevel(3)
    )


def _stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name="us-east-1")
    return client, Stubber(client)


def test_voice_call_goes_to_amazon_connect_with_a_client_token():
    """SLW-EW-6: a voice call is an Amazon Connect outbound contact on the configured instance, flow and source
    number; the delivery key becomes the ClientToken (a retried call is the same contact)."""
    connect, stub = _stubbed("connect")
    settings = Settings(
        voice_connect_instance_id="inst-1", voice_contact_flow_id="flow-1", voice_source_phone="+18005550100"
    )
    stub.add_response(
        "start_outbound_voice_contact",
        {"ContactId": "c-123"},
        {
            "InstanceId": "inst-1",
            "ContactFlowId": "flow-1",
            "SourcePhoneNumber": "+18005550100",
            "DestinationPhoneNumber": "+8613800000001",
            "ClientToken": client_token("k1"),
            "Attributes": {"message": "三级报警", "language": "zh-CN"},
        },
    )
    with stub:
        channels = AwsChannels(connect=lambda: connect, settings=lambda: settings)
        assert channels.call("+8613800000001", "三级报警", Language.ZH_CN, ref=ref("k1")) == "c-123"
    stub.assert_no_pending_responses()


def test_voice_without_configuration_raises_a_clear_error():
    """SLW-EW-6: voice with no Connect instance configured is a permanent, named failure (not a crash)."""
    channels = AwsChannels(settings=lambda: Settings())
    with pytest.raises(ChannelNotConfigured, match="VOICE_CONNECT_INSTANCE_ID") as info:
        channels.call("+8613800000001", "x", Language.EN, ref=ref("k"))
    assert info.value.code == "voice_not_configured"


def test_provider_errors_map_to_transient_or_permanent():
    """LCM-AL-2: throttling is transient (retried), a refusal is permanent (recorded as failed)."""
    sns, stub = _stubbed("sns")
    stub.add_client_error("publish", service_error_code="Throttled", http_status_code=429)
    stub.add_client_error("publish", service_error_code="InvalidParameter", service_message="bad number")
    channels = AwsChannels(sns=lambda: sns)
    with stub:
        with pytest.raises(Unavailable):
            channels.send_sms("+8613800000001", "x", ref=ref("k"))
        with pytest.raises(DeliveryRejected, match="InvalidParameter bad number") as info:
            channels.send_sms("+8613800000001", "x", ref=ref("k"))
    assert info.value.code == "sms_rejected" and info.value.details == {"provider_code": "InvalidParameter"}


# ---- local outbox -------------------------------------------------------------------------------------


def test_outbox_records_each_accepted_delivery_per_channel(tmp_path):
    """LCM-AL-2, SLW-EW-6: in local mode every channel appends one JSON line per delivery to
    <state_dir>/outbox/<channel>.jsonl after the real channel accepted it; voice (no moto) is outbox only."""
    inner = FakeChannels()
    channels = wrap_with_outbox(inner, tmp_path)
    assert channels.send_email("a@b.example", "主题", "正文", ref=ref("k1")) == "email-1"
    assert channels.send_sms("+8613800000001", "短信", ref=ref("k2")) == "sms-2"
    voice_id = channels.call("+8613800000001", "语音", Language.ZH_CN, ref=ref("k3"))
    assert voice_id == channels.call("+8613800000001", "语音", Language.ZH_CN, ref=ref("k3"))  # as a ClientToken
    view = NotificationView.model_validate(
        {
            "notification_id": "t1750000000000" + "a" * 16,
            "tenant_id": "acme",
            "inbox": "_tenant",
            "kind": "alarm_raised",
            "created_at_ms": 1_750_000_000_000,
            "event_id": "e1",
            "alarm_id": "al-1",
            "thing_name": "pack-0001",
            "level": 3,
            "code": "cell_overvoltage",
            "read": False,
        }
    )
    channels.in_app(view)
    inner.failures["sms"] = Unavailable("down")
    with pytest.raises(Unavailable):
        channels.send_sms("+8613800000002", "lost", ref=ref("k4"))

    assert [s.channel for s in inner.sent] == ["email", "sms"]  # voice never reaches the inner channel
    assert (tmp_path / "outbox" / "sms.jsonl").read_text(encoding="utf-8").count("\n") == 1
    [email] = read_outbox(tmp_path, "email")
    assert (email["to"], email["subject"], email["text"], email["key"]) == ("a@b.example", "主题", "正文", "k1")
    assert (email["tenant_id"], email["alarm_id"], email["kind"], email["level"]) == ("acme", "al-1", "alarm_raised", 3)
    assert [r["speech"] for r in read_outbox(tmp_path, "voice")] == ["语音", "语音"]
    [in_app] = read_outbox(tmp_path, "in_app")
    assert (in_app["to"], in_app["alarm_id"], in_app["notification"]["notification_id"]) == (
        "_tenant",
        "al-1",
        view.notification_id,
    )
    everything = read_outbox(tmp_path)
    assert len(everything) == 5 and [r["at_ms"] for r in everything] == sorted(r["at_ms"] for r in everything)
    assert read_outbox(tmp_path / "nothing-here") == []
    with pytest.raises(ValueError, match="unknown channel"):
        read_outbox(tmp_path, "fax")
