"""BrokerPublisher against a real mosquitto (the local stack's broker), and the whole local command loop:
service → broker → device SDK over mTLS → ack → service."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from moto import mock_aws

from device_sdk.client import ClientConfig, DeviceClient
from device_sdk.simulate.catalog import example_model
from device_sdk.simulate.device import DeviceSpec, SimulatedDevice
from infra.local.broker import LocalBrokerAccess, MosquittoBroker, find_mosquitto
from infra.local.ca import LocalCA, write_private
from infra.local.publisher import BrokerPublisher, PublishError
from shared.contracts import topics
from shared.contracts.commands import CommandOrigin, CommandStatus
from shared.contracts.devices import DeviceKind, DeviceStatus
from shared.contracts.telemetry import CommandAck, CommandName, OperatingState


def _have_mosquitto() -> bool:
    try:
        find_mosquitto()
    except RuntimeError:
        return False
    return True


pytestmark = [
    pytest.mark.skipif(not _have_mosquitto(), reason="mosquitto not installed (scripts/ensure_system_packages.sh)"),
    pytest.mark.timeout(60),
]

TENANT, THING = "acme", "cab-cmd-0001"


@dataclass
class Local:
    broker: MosquittoBroker
    access: LocalBrokerAccess
    ca: LocalCA
    dir: Path


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    d = tmp_path_factory.mktemp("broker")
    ca = LocalCA(d / "ca").ensure()
    broker = MosquittoBroker(d, ca.files).start()
    try:
        yield Local(broker, LocalBrokerAccess(broker), ca, d)
    finally:
        broker.stop()


@dataclass
class Listener:
    """A platform-side subscriber on the plain listener."""

    client: paho.Client
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, pred: Callable[[list[tuple[str, bytes]]], bool], timeout: float = 10) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: pred(self.messages), timeout)


@pytest.fixture
def listener(local: Local) -> Iterator[Callable[[str], Listener]]:
    made: list[paho.Client] = []

    def subscribe(topic_filter: str) -> Listener:
        subscribed = threading.Event()
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"listener-{len(made)}", protocol=paho.MQTTv5)
        lst = Listener(c)

        def on_message(_c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
            with lst.cond:
                lst.messages.append((msg.topic, bytes(msg.payload)))
                lst.cond.notify_all()

        c.on_message = on_message
        c.on_subscribe = lambda *_a: subscribed.set()
        c.connect("127.0.0.1", local.broker.plain_port)
        c.loop_start()
        c.subscribe(topic_filter, 1)
        made.append(c)
        assert subscribed.wait(5)
        return lst

    yield subscribe
    for c in made:
        c.disconnect()
        c.loop_stop()


def test_publish_waits_for_the_broker_and_delivers(local: Local, listener: Callable[[str], Listener]) -> None:
    """SLW-IF-1, ARC-7: QoS 1 and QoS 0 publishes reach a subscriber; publish returns once the broker has it."""
    down = topics.downlink(TENANT, "cab-x")
    lst = listener(topics.device_downlink_filter(TENANT, "cab-x"))
    with BrokerPublisher("127.0.0.1", local.broker.plain_port, client_id="pub-basic") as pub:
        assert pub.connected
        pub.publish(down, b'{"n":1}', qos=1)
        pub.publish(down, b'{"n":2}', qos=0)
        with pytest.raises(PublishError):
            pub.publish(down, b"{}", qos=2)
    assert lst.wait_for(lambda m: len(m) == 2)
    assert [p for _, p in lst.messages] == [b'{"n":1}', b'{"n":2}']


def test_publish_is_thread_safe(local: Local, listener: Callable[[str], Listener]) -> None:
    """SLW-IF-1: many threads publishing through one publisher all succeed and every message arrives once."""
    lst = listener("voltops/v1/acme/+/down/cmd")
    errors: list[Exception] = []
    with BrokerPublisher("127.0.0.1", local.broker.plain_port, client_id="pub-threads") as pub:

        def work(k: int) -> None:
            try:
                for i in range(25):
                    pub.publish(topics.downlink(TENANT, f"cab-t{k}"), f"{k}-{i}".encode())
            except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == []
    assert lst.wait_for(lambda m: len(m) == 200)
    assert sorted(p for _, p in lst.messages) == sorted(f"{k}-{i}".encode() for k in range(8) for i in range(25))


def test_failures_raise_instead_of_hanging(local: Local, tmp_path: Path) -> None:
    """SLW-PR-1: no broker at all, or a broker that went away, is a PublishError within the timeout, so the
    command service leaves the command pending for a retry."""
    from infra.local.broker import free_port

    with pytest.raises(PublishError):
        BrokerPublisher("127.0.0.1", free_port(), connect_timeout_s=1)
    own = MosquittoBroker(tmp_path, local.ca.files).start()
    pub = BrokerPublisher("127.0.0.1", own.plain_port, client_id="pub-outage", publish_timeout_s=1.0)
    try:
        pub.publish("voltops/v1/acme/cab-o/down/cmd", b"before")
        own.stop()
        started = time.monotonic()
        with pytest.raises(PublishError):
            pub.publish("voltops/v1/acme/cab-o/down/cmd", b"after")
        assert time.monotonic() - started < 5
    finally:
        pub.close()
        pub.close()  # idempotent
        own.stop()
    with pytest.raises(PublishError, match="closed"):
        pub.publish("voltops/v1/acme/cab-o/down/cmd", b"closed")


class ActiveDevice:
    def status(self, tenant_id: str, thing_name: str) -> DeviceStatus | None:
        return DeviceStatus.ACTIVE if (tenant_id, thing_name) == (TENANT, THING) else None


def test_local_command_loop_to_the_ack(
    local: Local, listener: Callable[[str], Listener], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SLW-CTL-1, SLW-IF-1, SLW-PR-1, SLW-PR-3: locally, a cut-off issued by the service goes through mosquitto to a
    simulated cabinet on the SDK over mTLS, which opens its contactor and acks; the ack makes the command acked.
    A command that arrives after its expiry is never executed and ends expired (acked 'expired' by the device)."""
    from functions.services import build_command_service
    from shared.dal.tables import CommandItem, bind_tables
    from shared.settings import get_settings

    cert, key = local.ca.issue_device(THING)
    (tmp_path / "dev.pem").write_text(cert)
    write_private(tmp_path / "dev.key", key.encode())
    local.access.device_enabled(TENANT, THING)
    acks = listener(topics.uplink(TENANT, THING, topics.UpType.ACK))
    device = SimulatedDevice(DeviceSpec(TENANT, THING, example_model(DeviceKind.STORAGE_CABINET, cells=16, probes=8)))
    config = ClientConfig(
        endpoint="localhost",
        port=local.broker.tls_port,
        ca_path=str(local.ca.files.ca_cert),
        cert_path=str(tmp_path / "dev.pem"),
        key_path=str(tmp_path / "dev.key"),
        buffer_dir=str(tmp_path / "buf"),
        enable_metrics_collection=False,
    )
    with mock_aws():
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        get_settings.cache_clear()
        bind_tables.cache_clear()
        bind_tables()
        CommandItem.create_table(billing_mode="PAY_PER_REQUEST", wait=False)
        offset = {"ms": 0}
        clock = lambda: time.time_ns() // 1_000_000 + offset["ms"]  # noqa: E731
        with (
            BrokerPublisher("127.0.0.1", local.broker.plain_port, client_id="pub-loop") as pub,
            DeviceClient(TENANT, THING, config, device.handle_command) as client,
        ):
            service = build_command_service(publisher=pub, clock_ms=clock, devices=ActiveDevice())
            assert client.wait_subscribed(10)
            origin = CommandOrigin(type="alarm", alarm_id="a1", rule_id="thermal_runaway")
            sent = service.issue(
                tenant_id=TENANT,
                thing_name=THING,
                name=CommandName.CUT_OFF,
                params={},
                reason="protective_action:thermal_runaway",
                origin=origin,
                idempotency_key="a1:action:0",
            )
            assert sent.status is CommandStatus.SENT
            offset["ms"] = -120_000  # issued two minutes ago: already expired when it arrives
            late = service.issue(
                tenant_id=TENANT,
                thing_name=THING,
                name=CommandName.FAULT_RESET,
                params={},
                reason="late",
                origin=origin,
                idempotency_key="a1:late",
                ttl_s=30,
            )
            offset["ms"] = 0
            assert acks.wait_for(lambda m: len(m) >= 2)
            results = {}
            for _, payload in acks.messages:
                ack = CommandAck.model_validate_json(payload)
                results[ack.command_id] = service.record_ack(TENANT, THING, ack, clock())
        get_settings.cache_clear()
        bind_tables.cache_clear()
    assert device.pack.cut_off and device.state is OperatingState.CUT_OFF  # the fault reset never ran
    assert results[sent.command_id].status is CommandStatus.ACKED
    assert results[late.command_id].status is CommandStatus.EXPIRED
    assert results[late.command_id].ack_reason == "expired"
