"""The device SDK against a real mosquitto broker over mTLS (no mocks of awscrt).

Each test module run starts its own mosquitto in a temp dir on free ports with a throwaway CA,
server certificate and device certificate (made with ``cryptography``), an mTLS listener with
``require_certificate`` + ``use_identity_as_username`` and a per-thing ACL (like the IoT policy),
plus a plain loopback listener for the paho test client that plays the platform.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from device_sdk.client import ClientConfig, DeviceClient
from device_sdk.commands import CommandRejected
from device_sdk.simulate.catalog import STORAGE_CABINET_NMC, SWAP_PACK_48V
from device_sdk.simulate.fleet import Fleet, FleetEntry, FleetSettings
from infra.local.ca import LocalCA, write_private
from shared.contracts import topics
from shared.contracts.devices import DeviceKind
from shared.contracts.telemetry import BatteryPackTelemetry, Command, CommandName

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
TENANT = "acme"
THING = "pack-it-0001"

pytestmark = [
    pytest.mark.skipif(not Path(MOSQUITTO).exists(), reason="mosquitto is not installed"),
    pytest.mark.timeout(60),
]


# ---- throwaway PKI (the local stack's CA, in a temp dir) --------------------------------------


@dataclass(frozen=True)
class Pki:
    directory: Path
    authority: LocalCA
    device_cert: Path
    device_key: Path

    @property
    def ca(self) -> Path:
        return self.authority.files.ca_cert

    @property
    def server_cert(self) -> Path:
        return self.authority.files.server_cert

    @property
    def server_key(self) -> Path:
        return self.authority.files.server_key

    def issue_device(self, thing: str) -> tuple[Path, Path]:
        """A device certificate (CN = thing name) and key signed by the test CA."""
        cert_pem, key_pem = self.authority.issue_device(thing)
        cert_path, key_path = self.directory / f"{thing}.pem", self.directory / f"{thing}.key"
        cert_path.write_text(cert_pem)
        write_private(key_path, key_pem.encode())
        return cert_path, key_path


def make_pki(directory: Path, thing: str) -> Pki:
    """A CA, a server cert for localhost/127.0.0.1 and a device cert whose CN is the thing name."""
    directory.mkdir(parents=True, exist_ok=True)
    authority = LocalCA(directory).ensure()
    pki = Pki(directory, authority, directory / f"{thing}.pem", directory / f"{thing}.key")
    pki.issue_device(thing)
    return pki


# ---- mosquitto -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {port} after {timeout}s")


class Broker:
    """A private mosquitto: plain listener for the test's platform client, mTLS for the device.

    ``persistence`` is on so a stop/start keeps the platform client's queued messages, the way
    AWS IoT's persistent sessions would; that isolates what we test (the device side) from the
    order in which the two clients happen to reconnect.
    """

    def __init__(self, workdir: Path, pki: Pki) -> None:
        self.workdir = workdir
        self.plain_port = _free_port()
        self.tls_port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        acl = workdir / "acl"
        # Anonymous (plain listener, platform side) may do anything; a device (username = CN of
        # its certificate) only its own uplink and downlink topics, like the IoT policy.
        acl.write_text(
            "topic readwrite #\n"
            f"pattern write {topics.ROOT}/{topics.VERSION}/+/%u/up/#\n"
            f"pattern read {topics.ROOT}/{topics.VERSION}/+/%u/down/#\n"
        )
        user = "user root\n" if os.geteuid() == 0 else ""
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"{user}"
            "per_listener_settings false\n"
            "allow_anonymous true\n"
            f"acl_file {acl}\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "max_queued_messages 100000\n"
            f"listener {self.plain_port} 127.0.0.1\n"
            f"listener {self.tls_port} 127.0.0.1\n"
            f"cafile {pki.ca}\n"
            f"certfile {pki.server_cert}\n"
            f"keyfile {pki.server_key}\n"
            "require_certificate true\n"
            "use_identity_as_username true\n"
        )

    def start(self) -> None:
        log = (self.workdir / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=log)
        _wait_port(self.plain_port, 5)
        _wait_port(self.tls_port, 5)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)  # SIGTERM: mosquitto saves its persistence db
        try:
            # Generous: on a loaded CI machine a SIGKILL here would lose the saved sessions and
            # turn a broker restart into message loss that is not the device's doing.
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"mosquitto ignored SIGTERM for 20 s; log:\n{self.log_tail()}") from None
        finally:
            self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / "mosquitto.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


class Platform:
    """The platform's view: a paho client on the plain listener with a persistent session."""

    def __init__(self, port: int, filter_: str) -> None:
        self.messages: list[tuple[str, dict[str, object]]] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        # MQTT 3.1.1 with clean_session=False: the broker queues QoS 1 messages while we are away.
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"platform-{port}",
            clean_session=False,
            protocol=paho.MQTTv311,
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(filter_, qos=1)
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self._subscribed.wait(5), "platform subscriber did not subscribe"

    def _on_message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, json.loads(msg.payload)))
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.messages), timeout)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# ---- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), THING)


@pytest.fixture()
def broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    b = Broker(tmp_path, pki)
    b.start()
    yield b
    b.stop()


@pytest.fixture()
def platform(broker: Broker) -> Iterator[Platform]:
    p = Platform(broker.plain_port, topics.device_uplink_filter(TENANT, THING))
    yield p
    p.close()


def _config(broker: Broker, pki: Pki, buffer_dir: Path) -> ClientConfig:
    return ClientConfig(
        endpoint="localhost",
        port=broker.tls_port,
        ca_path=str(pki.ca),
        cert_path=str(pki.device_cert),
        key_path=str(pki.device_key),
        buffer_dir=str(buffer_dir),
        # Short back-off so the outage test reconnects quickly; production keeps the defaults.
        min_reconnect_delay_ms=100,
        max_reconnect_delay_ms=500,
        enable_metrics_collection=False,
    )


def _sample(client: DeviceClient, i: int) -> BatteryPackTelemetry:
    return client.stamp(
        BatteryPackTelemetry,
        pack_voltage_v=52.0 + i / 100,
        current_a=10.0,
        soc_pct=80.0,
        cell_voltages_v=[3.3, None, 3.31],
        probe_temperatures_c=[25.0],
    )


def _seqs(messages: list[tuple[str, dict[str, object]]], up_type: topics.UpType) -> list[int]:
    return [int(str(m["seq"])) for t, m in messages if topics.parse(t).message_type == up_type.value]


# ---- tests -------------------------------------------------------------------------------------------


def test_connects_over_mtls_and_publishes(broker: Broker, platform: Platform, pki: Pki, tmp_path: Path) -> None:
    """ARC-2, LCM-SEC-3, LCM-MON-1, LCM-PF-5: the SDK connects with its X.509 certificate over TLS,
    publishes QoS 1 telemetry on its uplink topic, and the platform receives the typed JSON with
    per-cell voltages (dropout as null) and a millisecond device timestamp."""
    with DeviceClient(TENANT, THING, _config(broker, pki, tmp_path / "buf")) as client:
        assert client.wait_connected(10)
        sent = _sample(client, 0)
        client.publish_telemetry(sent)
        assert client.flush(10)
        assert platform.wait_for(lambda ms: len(ms) >= 1, 10)
    topic, body = platform.messages[0]
    assert topic == topics.uplink(TENANT, THING, topics.UpType.TELEMETRY)
    assert BatteryPackTelemetry.model_validate(body) == sent
    assert body["cell_voltages_v"] == [3.3, None, 3.31]


def test_broker_outage_loses_nothing_and_keeps_order(
    broker: Broker, platform: Platform, pki: Pki, tmp_path: Path
) -> None:
    """ARC-2, LCM-SEC-1, LCM-MON-1: stop the broker mid-stream, keep publishing while it is down,
    restart it: after replay from the on-disk buffer every message arrives, in order, none lost."""
    total = 60
    with DeviceClient(TENANT, THING, _config(broker, pki, tmp_path / "buf")) as client:
        assert client.wait_connected(10)
        for i in range(20):
            client.publish_telemetry(_sample(client, i))
        assert platform.wait_for(lambda ms: len(ms) >= 5, 10)
        broker.stop()  # mid-stream: some of the first 20 may still be in flight
        deadline = time.monotonic() + 5
        while client.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not client.connected
        for i in range(20, total):
            client.publish_telemetry(_sample(client, i))
        assert client.stats().buffered >= total - 20  # held on disk while the broker is down
        time.sleep(0.5)  # a few failed reconnect attempts with back-off
        broker.start()
        assert client.flush(20), f"buffer not drained: {client.stats()}"
        delivered = platform.wait_for(lambda ms: set(_seqs(ms, topics.UpType.TELEMETRY)) >= set(range(total)), 30)
        missing = sorted(set(range(total)) - set(_seqs(platform.messages, topics.UpType.TELEMETRY)))
        assert delivered, (
            f"missing at the platform: {missing}; device {client.stats()}; broker log:\n{broker.log_tail()}"
        )
        stats = client.stats()
    seqs = _seqs(platform.messages, topics.UpType.TELEMETRY)
    # At-least-once: a message whose PUBACK died with the broker may come twice, but the
    # first arrivals are exactly 0..total-1 in order and nothing is missing.
    first_seen: list[int] = []
    for s in seqs:
        if s not in first_seen:
            first_seen.append(s)
    assert first_seen == list(range(total))
    assert stats.connections_total >= 2
    assert stats.dropped_total == 0


def _command(name: str, *, expires_in_ms: int, command_id: str, key: str | None = None, **params: object) -> bytes:
    now = time.time_ns() // 1_000_000
    return json.dumps(
        {
            "command_id": command_id,
            "name": name,
            "params": params,
            "issued_at_ms": now - 10_000,
            "expires_at_ms": now + expires_in_ms,
            "idempotency_key": key or f"idem-{command_id}",
        }
    ).encode()


def _acks(platform: Platform) -> list[dict[str, object]]:
    return [m for t, m in platform.messages if topics.parse(t).message_type == topics.UpType.ACK.value]


def test_command_executed_and_acked_once(broker: Broker, platform: Platform, pki: Pki, tmp_path: Path) -> None:
    """SLW-IF-1, ARC-2: a command on the downlink topic runs the handler and is acked 'executed';
    a redelivery of the same command is acked again but not executed twice; an unknown
    command is rejected with a reason."""
    calls: list[Command] = []

    def handler(cmd: Command) -> None:
        if cmd.name is CommandName.RESTART:
            raise CommandRejected("unsupported_command")
        calls.append(cmd)

    with DeviceClient(TENANT, THING, _config(broker, pki, tmp_path / "buf"), handler) as client:
        assert client.wait_subscribed(10)
        down = topics.downlink(TENANT, THING)
        payload = _command("cut_off", expires_in_ms=60_000, command_id="cmd-1")
        platform.publish(down, payload)
        platform.publish(down, payload)  # duplicate delivery
        platform.publish(down, _command("self_destruct", expires_in_ms=60_000, command_id="cmd-2"))
        assert platform.wait_for(lambda ms: len(_acks(platform)) >= 3, 10)
    acks = _acks(platform)
    assert [(a["command_id"], a["status"]) for a in acks] == [
        ("cmd-1", "executed"),
        ("cmd-1", "executed"),
        ("cmd-2", "rejected"),
    ]
    assert acks[2]["reason"] == "unknown_command"
    assert [c.command_id for c in calls] == ["cmd-1"]


def test_expired_command_is_acked_expired_and_not_executed(
    broker: Broker, platform: Platform, pki: Pki, tmp_path: Path
) -> None:
    """SLW-IF-1: a command whose expires_at_ms has passed is never executed; the device acks 'expired'."""
    calls: list[Command] = []
    with DeviceClient(TENANT, THING, _config(broker, pki, tmp_path / "buf"), calls.append) as client:
        assert client.wait_subscribed(10)
        platform.publish(topics.downlink(TENANT, THING), _command("cut_off", expires_in_ms=-1, command_id="old-1"))
        assert platform.wait_for(lambda ms: len(_acks(platform)) >= 1, 10)
    ack = _acks(platform)[0]
    assert (ack["command_id"], ack["status"], ack["reason"]) == ("old-1", "expired", "expired")
    assert calls == []


def test_client_without_certificate_is_refused(broker: Broker, platform: Platform, pki: Pki) -> None:
    """LCM-SEC-3, ARC-2: the broker admits the device only with its certificate; a client without
    one is refused on the mTLS listener."""
    import ssl

    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with socket.create_connection(("127.0.0.1", broker.tls_port), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                # TLS 1.3 reports the missing client certificate on first read.
                tls.sendall(b"\x10\x00")
                if not tls.recv(1):
                    raise ConnectionResetError("closed by broker")


# ---- the fleet simulator on real connections ----------------------------------------------------


def _fleet(broker: Broker, pki: Pki, tmp_path: Path, things: list[tuple[str, DeviceKind, bool]], interval_ms: int):
    """Fleet entries with a certificate per thing, and the Fleet object (not started)."""
    entries = []
    for thing, kind, gnss in things:
        cert, key = pki.issue_device(thing)
        model = STORAGE_CABINET_NMC if kind is DeviceKind.STORAGE_CABINET else SWAP_PACK_48V
        entries.append(
            FleetEntry(
                tenant_id=TENANT,
                thing_name=thing,
                kind=kind,
                model=model,
                cert_path=str(cert),
                key_path=str(key),
                has_gnss=gnss,
            )
        )
    settings = FleetSettings(
        endpoint="localhost",
        port=broker.tls_port,
        ca_path=str(pki.ca),
        buffer_dir=str(tmp_path / "fleet-buf"),
        interval_ms=interval_ms,
        position_interval_ms=1000,
        min_reconnect_delay_ms=100,
        max_reconnect_delay_ms=1000,
        enable_metrics_collection=False,
    )
    return Fleet(entries, settings)


def _of(platform: Platform, thing: str, up: topics.UpType) -> list[dict[str, object]]:
    out = []
    for t, m in platform.messages:
        p = topics.parse(t)
        if p.thing == thing and p.message_type == up.value:
            out.append(m)
    return out


def test_fleet_runtime_injection_and_commands(broker: Broker, pki: Pki, tmp_path: Path) -> None:
    """ARC-2, SLW-MON-1, SLW-MON-3, PBR-D-4, SLW-IF-1, LCM-PF-2: a fleet of a cabinet and a mobile pack,
    each on its own mTLS connection, publishes telemetry and positions; a thermal runaway injected
    at run time shows H2 first on the wire; a cut_off command stops the pack's current."""
    platform = Platform(broker.plain_port, f"{topics.ROOT}/{topics.VERSION}/{TENANT}/+/up/#")
    fleet = _fleet(
        broker,
        pki,
        tmp_path,
        [("cab-0001", DeviceKind.STORAGE_CABINET, False), ("bike-0001", DeviceKind.BATTERY_PACK, True)],
        interval_ms=200,
    )
    try:
        fleet.start(wait_connected_s=10)
        assert all(s.connected for s in fleet.stats().values())
        assert platform.wait_for(lambda ms: len(_of(platform, "bike-0001", topics.UpType.POSITION)) >= 1, 10)
        fleet.inject("cab-0001", {"name": "thermal_runaway", "gas_lead_s": 2, "co_delay_s": 0.5, "gas_rise_time_s": 1})

        def h2_high(_ms: object) -> bool:
            return any((m.get("h2_ppm") or 0) >= 40 for m in _of(platform, "cab-0001", topics.UpType.TELEMETRY))  # type: ignore[operator]

        assert platform.wait_for(h2_high, 10)

        assert fleet.clients["bike-0001"].wait_subscribed(5)
        platform.publish(
            topics.downlink(TENANT, "bike-0001"), _command("cut_off", expires_in_ms=60_000, command_id="co-1")
        )

        def cut(_ms: object) -> bool:
            acks = _of(platform, "bike-0001", topics.UpType.ACK)
            tele = _of(platform, "bike-0001", topics.UpType.TELEMETRY)
            return bool(acks) and bool(tele) and tele[-1]["state"] == "cut_off"

        assert platform.wait_for(cut, 10)
        ack = _of(platform, "bike-0001", topics.UpType.ACK)[0]
        assert (ack["command_id"], ack["status"]) == ("co-1", "executed")
        assert _of(platform, "bike-0001", topics.UpType.TELEMETRY)[-1]["current_a"] == 0
        pos = _of(platform, "bike-0001", topics.UpType.POSITION)[-1]
        assert pos["coordinate_system"] == "WGS-84"
    finally:
        fleet.stop()
        platform.close()


def test_fleet_of_55_devices_at_1_msg_per_s(broker: Broker, pki: Pki, tmp_path: Path) -> None:
    """ARC-2, LCM-PF-2: 55 devices in one process, one connection each, 1 telemetry/s each, all delivered,
    using well under the 2 cores of the target machine."""
    import resource

    platform = Platform(broker.plain_port, f"{topics.ROOT}/{topics.VERSION}/{TENANT}/+/up/telemetry")
    things = [(f"cab-{i:04d}", DeviceKind.STORAGE_CABINET, False) for i in range(55)]
    fleet = _fleet(broker, pki, tmp_path, things, interval_ms=1000)
    try:
        fleet.start(wait_connected_s=15)
        assert sum(s.connected for s in fleet.stats().values()) == 55
        cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        time.sleep(4.0)
        cpu1, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - t0
        cores_used = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / wall

        def every_device_reported(_ms: object) -> bool:
            seen = {topics.parse(t).thing for t, _ in platform.messages}
            return len(seen) == 55

        assert platform.wait_for(every_device_reported, 10)
        assert len(platform.messages) >= 55 * 3
        assert cores_used < 1.0, f"fleet used {cores_used:.2f} cores"
    finally:
        fleet.stop()
        platform.close()
