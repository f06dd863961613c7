"""Commands on moto: DynamoDB records and indexes, the IoT data plane publisher, the whole service flow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iotdata.models import iotdata_backends

from functions import services
from shared.contracts import topics
from shared.contracts.commands import CommandOrigin, CommandRecord, CommandStatus
from shared.contracts.devices import DeviceKind, DeviceStatus
from shared.contracts.telemetry import AckStatus, Command, CommandAck, CommandName
from shared.domain.devices.records import Device
from shared.domain.errors import Conflict, Unavailable

T0 = 1_750_000_000_000
TENANT, THING = "acme", "cab-0001"
#: moto serves the IoT data plane only on the generic host; the account's own ATS host (what
#: describe_endpoint returns) is not routed to it, so the flow tests pin settings.iot_endpoint.
MOTO_DATA_HOST = "data-ats.iot.us-east-1.amazonaws.com"
ALARM = CommandOrigin(type="alarm", alarm_id="a1", rule_id="r1", rule_version="default@1")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@dataclass
class Observer:
    calls: list[tuple[str, str]] = field(default_factory=list)

    def on_sent(self, record: CommandRecord) -> None:
        self.calls.append(("sent", record.command_id))

    def on_ack(self, record: CommandRecord) -> None:
        self.calls.append(("ack", record.command_id))

    def on_overdue(self, record: CommandRecord) -> None:
        self.calls.append(("overdue", record.command_id))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("IOT_ENDPOINT", MOTO_DATA_HOST)
        services.reset()
        from shared.dal.devices import DynamoDeviceRepository
        from shared.dal.tables import CommandItem, DeviceItem, bind_tables

        bind_tables()
        for model in (CommandItem, DeviceItem):  # only what commands use: table creation dominates the runtime
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=False)
        devices = DynamoDeviceRepository()
        for tenant, thing, status in ((TENANT, THING, DeviceStatus.ACTIVE), (TENANT, "cab-0002", DeviceStatus.REVOKED)):
            devices.create(
                Device(
                    tenant_id=tenant,
                    thing_name=thing,
                    kind=DeviceKind.STORAGE_CABINET,
                    model_id="lfp-16s280-ess",
                    serial_number=thing,
                    status=status,
                    created_at_ms=T0,
                    updated_at_ms=T0,
                )
            )
        yield
        services.reset()


@dataclass
class Flow:
    service: Any
    clock: Clock
    observer: Observer


@pytest.fixture
def flow(aws: None) -> Flow:
    from functions.services import build_command_service
    from shared.adapters.iot_data import IotDataPublisher

    clock, observer = Clock(), Observer()
    return Flow(build_command_service(publisher=IotDataPublisher(), clock_ms=clock, observer=observer), clock, observer)


def published() -> list[tuple[str, bytes]]:
    return list(iotdata_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].published_payloads)


def item(command_id: str) -> dict[str, Any]:
    key = {"tenant_id": {"S": TENANT}, "command_id": {"S": command_id}}
    return boto3.client("dynamodb", region_name="us-east-1").get_item(TableName="voltops-commands", Key=key)["Item"]


def issue(flow: Flow, key: str, **kw: Any) -> CommandRecord:
    args: dict[str, Any] = {
        "tenant_id": TENANT,
        "thing_name": THING,
        "name": CommandName.CUT_OFF,
        "params": {},
        "reason": "protective_action:r1",
        "origin": ALARM,
        "idempotency_key": key,
    }
    args.update(kw)
    return flow.service.issue(**args)


def test_issue_publishes_through_iot_data_and_tracks_to_the_ack(flow: Flow) -> None:
    """SLW-CTL-1, SLW-IF-1, SLW-PR-1: the command is stored, published through the IoT data plane on the device's
    command topic, kept in the open index while it waits, and leaves the index when the ack arrives."""
    rec = issue(flow, "k1", ttl_s=30, ack_timeout_s=15)
    assert rec.status is CommandStatus.SENT
    commands = [(t, p) for t, p in published() if t == topics.downlink(TENANT, THING)]
    assert len(commands) == 1
    wire = Command.model_validate_json(commands[0][1])
    assert (wire.command_id, wire.expires_at_ms, wire.idempotency_key) == (rec.command_id, T0 + 30_000, "k1")
    console = [json.loads(p) for t, p in published() if t == topics.console(TENANT, topics.ConsoleStream.COMMANDS)]
    assert [c["status"] for c in console] == ["sent"]
    stored = item(rec.command_id)
    assert stored["status"]["S"] == "sent" and stored["ack_deadline_ms"]["N"] == str(T0 + 15_000)
    assert 0 <= int(stored["open_shard"]["N"]) < 8
    assert stored["device_key"]["S"] == f"{TENANT}#{THING}"

    again = issue(flow, "k1", ttl_s=30, ack_timeout_s=15)
    assert again == rec and len([t for t, _ in published() if "/down/" in t]) == 1

    flow.clock.now += 700
    ack = CommandAck(boot_id="b1", seq=4, device_ts_ms=T0 + 650, command_id=rec.command_id, status=AckStatus.EXECUTED)
    done = flow.service.record_ack(TENANT, THING, ack, flow.clock.now)
    assert done.status is CommandStatus.ACKED and done.acked_at_ms == T0 + 700
    stored = item(rec.command_id)
    assert stored["status"]["S"] == "acked" and "open_shard" not in stored and "ack_deadline_ms" not in stored
    assert flow.observer.calls == [("sent", rec.command_id), ("ack", rec.command_id)]
    with pytest.raises(Conflict):
        issue(flow, "k1", name=CommandName.RESTART)
    with pytest.raises(Conflict):
        issue(flow, "other", thing_name="cab-0002")


def test_sweep_reads_the_sharded_open_index(flow: Flow) -> None:
    """SLW-PR-4, SLW-IF-1: the sweep finds every open command past its ack deadline across the shards, tells
    the observer once, then closes them at their expiry; acked commands are never read again."""
    made = [issue(flow, f"k{i}", ttl_s=60, ack_timeout_s=10) for i in range(12)]
    assert len({item(r.command_id)["open_shard"]["N"] for r in made}) > 1
    acked = made[0]
    ack = CommandAck(boot_id="b1", seq=0, device_ts_ms=T0, command_id=acked.command_id, status=AckStatus.REJECTED)
    flow.service.record_ack(TENANT, THING, ack, T0 + 100)

    from shared.dal.commands import DynamoCommandRepository, open_shard

    few = list(DynamoCommandRepository().due(T0 + 10_000, 8))  # one per shard: no shard starves the others
    assert 1 < len({open_shard(r.command_id) for r in few}) and len(few) <= 8
    flow.clock.now = T0 + 9_999
    assert flow.service.sweep(flow.clock.now) == []
    flow.clock.now = T0 + 10_000
    flagged = flow.service.sweep(flow.clock.now)
    assert {r.command_id for r in flagged} == {r.command_id for r in made[1:]}
    assert all(r.status is CommandStatus.SENT and r.detail["ack_overdue"] for r in flagged)
    assert flow.service.sweep(flow.clock.now + 1_000) == []  # told once; next look at the expiry
    flow.clock.now = T0 + 60_000
    closed = flow.service.sweep(flow.clock.now)
    assert len(closed) == 11 and all(r.status is CommandStatus.EXPIRED for r in closed)
    assert flow.service.sweep(flow.clock.now + 60_000) == []
    overdue = [c for e, c in flow.observer.calls if e == "overdue"]
    assert sorted(overdue) == sorted(r.command_id for r in made[1:])


def test_device_commands_list_newest_first_across_pages(flow: Flow) -> None:
    """SLW-CTL-2: a device's commands are listed newest first through the by-device index, page by page."""
    from shared.dal.commands import DynamoCommandRepository

    made = []
    for i in range(5):
        flow.clock.now = T0 + i * 1_000
        made.append(issue(flow, f"k{i}"))
    repo = DynamoCommandRepository()
    seen: list[str] = []
    page, after = repo.list_for_device(TENANT, THING, 2, None)
    seen += [r.command_id for r in page]
    while after:
        page, after = repo.list_for_device(TENANT, THING, 2, after)
        seen += [r.command_id for r in page]
    assert seen == [r.command_id for r in reversed(made)]
    assert repo.list_for_device("bolt", THING, 10, None) == ([], None)


def test_repository_writes_are_conditional(flow: Flow) -> None:
    """SLW-PR-2: a second create of the same command id and a write based on a stale read are both refused."""
    from shared.dal.commands import DynamoCommandRepository

    repo = DynamoCommandRepository()
    rec = issue(flow, "k1")
    with pytest.raises(Conflict):
        repo.create(rec, due_at_ms=None)
    stale = rec.model_copy(update={"updated_at_ms": rec.updated_at_ms - 1})
    with pytest.raises(Conflict):
        repo.replace(rec.model_copy(update={"status": CommandStatus.FAILED}), expected=stale, due_at_ms=None)
    assert repo.get(TENANT, rec.command_id) == rec


def test_data_endpoint_comes_from_describe_endpoint_once(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """SLW-IF-1, ARC-7: without IOT_ENDPOINT the publisher uses the account's iot:Data-ATS endpoint, looked up
    once and cached; with AWS_ENDPOINT_URL (moto server) that URL wins."""
    from shared.adapters import iot, iot_data

    monkeypatch.delenv("IOT_ENDPOINT")
    services.reset()
    client = iot_data.iot_data_client()
    host = iot.data_endpoint()
    assert host.endswith("-ats.iot.us-east-1.amazonaws.com")
    assert client.meta.endpoint_url == f"https://{host}"
    assert iot.data_endpoint() == host and iot_data.iot_data_client() is client  # moto's host is random per call
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    services.reset()
    assert iot_data.iot_data_client().meta.endpoint_url == "http://127.0.0.1:5999"


def test_publisher_maps_failures_to_unavailable() -> None:
    """SLW-PR-1: an IoT data plane refusal or throttle is Unavailable, so the service leaves the command pending."""
    from shared.adapters.iot_data import IotDataPublisher

    class Refusing:
        def publish(self, **_kw: Any) -> None:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Publish")

    with pytest.raises(Unavailable, match="ThrottlingException"):
        IotDataPublisher(lambda: Refusing()).publish("voltops/v1/a/b/down/cmd", b"{}")  # type: ignore[arg-type,return-value]
