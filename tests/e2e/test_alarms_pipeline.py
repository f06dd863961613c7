"""Alarms end to end on the local stack: simulated device data over a plain paho-mqtt client →
rules engine → uplink stream → alarm consumer → alarm, cut-off command on the device's topic →
device ack → command state; bus event → notification queue → outbox; the API reads it all."""

from __future__ import annotations

import json
import queue
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from shared.contracts import topics
from tests.e2e.helpers import Api, Publisher, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

CABINET_MODEL = "sl-cab-lfp-48s"
HEALTHY_MODELS = ("lfp-16s280-ess", "nmc-96s150-ev", "lfp-100s206-bus", "nmc-13s30-swap", "sl-cab-lfp-48s")


def _model(model_id: str) -> Any:
    from shared.domain.devices.catalogue import BUILT_IN_MODELS

    return next(m for m in BUILT_IN_MODELS if m.model_id == model_id)


class DownlinkListener:
    """The device's side of the command topic, on the plain listener (what is on the wire)."""

    def __init__(self, stack: Any, tenant: str, thing: str) -> None:
        self.commands: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-dl-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda _c, _u, m: self.commands.put(json.loads(m.payload))
        self.client.connect(stack.broker_host, stack.plain_port)
        self.client.loop_start()
        self.client.subscribe(topics.downlink(tenant, thing), qos=1)[1]
        time.sleep(0.2)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _alarms(api: Api, thing: str) -> list[dict[str, Any]]:
    return api.get(f"/v1/alarms?thing_name={thing}&limit=100")["items"]  # type: ignore[no-any-return]


def _outbox(stack: Any) -> list[dict[str, Any]]:
    from infra.local.outbox import read_outbox

    return read_outbox(stack.outbox_dir)


def _publish_sim(publisher: Publisher, tenant: str, thing: str, messages: list[Any]) -> None:
    for m in messages:
        kind = getattr(m, "kind", "")
        up = {
            "battery_pack": topics.UpType.TELEMETRY,
            "storage_cabinet": topics.UpType.TELEMETRY,
            "position": topics.UpType.POSITION,
            "event": topics.UpType.EVENT,
        }[kind]
        publisher.publish(topics.uplink(tenant, thing, up), m.model_dump_json(exclude_none=False))


def test_thermal_runaway_prewarning_then_level3_cut_off_ack_and_notifications(
    stack: Any, api: Api, new_device, publisher: Publisher
) -> None:
    """SLW-EW-1, SLW-EW-2, SLW-EW-3, SLW-EW-5, SLW-EW-6, SLW-PR-1, SLW-CTL-1, SLW-IF-1, ARC-3,
    LCM-AL-1, LCM-AL-2, LCM-AL-3, LCM-AL-4: the simulator's runaway sequence, published with a
    plain paho-mqtt client, raises the gas pre-warning first and the level-3 thermal runaway once
    GB 38031 C.5.3.7 holds; the cut-off command appears on the device's command topic at once;
    the device's ack marks it acked; the alarm's timeline and the notification outbox show it."""
    from device_sdk.commands import CommandProcessor, InMemoryHandledStore
    from device_sdk.simulate.device import DeviceSpec, SimulatedDevice
    from shared.contracts.telemetry import CommandAck

    dev = new_device(CABINET_MODEL)
    now = int(time.time() * 1000)
    sim = SimulatedDevice(DeviceSpec(dev.tenant, dev.thing, _model(CABINET_MODEL)), start_ms=now - 90_000)
    processor = CommandProcessor(InMemoryHandledStore(), sim.handle_command, lambda: int(time.time() * 1000))
    listener = DownlinkListener(stack, dev.tenant, dev.thing)
    received: list[dict[str, Any]] = []
    try:
        _publish_sim(publisher, dev.tenant, dev.thing, sim.step(10.0))  # healthy warm-up
        sim.inject("thermal_runaway")
        cut_off_seen_at: float | None = None
        level3_published_at: float | None = None
        for _ in range(80):
            _publish_sim(publisher, dev.tenant, dev.thing, sim.step(1.0))
            alarms = _alarms(api, dev.thing) if level3_published_at is None else []
            if level3_published_at is None and any(a["level"] == 3 for a in alarms):
                level3_published_at = time.monotonic()
            while not listener.commands.empty():
                raw = listener.commands.get()
                received.append(raw)
                outcome = processor.process(json.dumps(raw).encode())
                ack = sim.headers.stamp(  # the device's ack, stamped by its own header source
                    CommandAck, sim.now_ms, command_id=outcome.command_id, status=outcome.status, reason=outcome.reason
                )
                publisher.publish(dev.topic(topics.UpType.ACK), ack.model_dump_json())
                if raw["name"] == "cut_off" and cut_off_seen_at is None:
                    cut_off_seen_at = time.monotonic()
            if cut_off_seen_at is not None:
                break
            time.sleep(0.05)
        assert cut_off_seen_at is not None, f"no cut_off on the command topic; got {[c['name'] for c in received]}"
    finally:
        listener.close()

    alarms = wait_until(lambda: (a := _alarms(api, dev.thing)) and any(x["level"] == 3 for x in a) and a)
    runaway = next(a for a in alarms if a["rule_id"] == "thermal_runaway")
    assert runaway["level"] == 3
    prewarnings = [a for a in alarms if a["level"] == 0 and a["rule_id"].startswith("h2")]
    assert prewarnings, f"no H2 pre-warning among {[(a['rule_id'], a['level']) for a in alarms]}"
    assert min(p["device_ts_ms"] for p in prewarnings) < runaway["device_ts_ms"]  # gas first
    assert runaway["trigger"], "the alarm keeps the samples that raised it"
    assert runaway["rule_version"].startswith("default@")

    cut = next(c for c in received if c["name"] == "cut_off")
    assert cut["expires_at_ms"] > cut["issued_at_ms"]
    record = wait_until(lambda: (r := api.get(f"/v1/commands/{cut['command_id']}")) and r["status"] == "acked" and r)
    assert record["origin"]["type"] == "alarm"
    assert record["origin"]["alarm_id"] == runaway["alarm_id"]
    assert record["origin"]["rule_version"] == runaway["rule_version"]

    def timeline_types() -> set[str]:
        entries = api.get(f"/v1/alarms/{runaway['alarm_id']}/timeline")["entries"]
        return {e["type"] for e in entries}

    wait_until(lambda: {"raised", "command_sent", "command_acked", "notified"} <= timeline_types())
    deliveries = wait_until(lambda: [d for d in _outbox(stack) if d.get("alarm_id") == runaway["alarm_id"]], timeout=20)
    channels = {d["channel"] for d in deliveries}
    assert {"email", "sms"} <= channels or "voice" in channels, channels
    inbox = api.get("/v1/notifications?limit=100")["items"]
    assert any(n.get("alarm_id") == runaway["alarm_id"] for n in inbox)


def test_a_healthy_simulated_fleet_raises_no_level3_alarm(stack: Any, api: Api, new_device, publisher) -> None:
    """ARC-3, SLW-EW-5, LCM-AL-4: two minutes of a healthy simulated fleet (every catalogue
    model, charging and discharging) through the whole pipeline produce no level-3 alarm."""
    from device_sdk.simulate.device import DeviceSpec, SimulatedDevice

    now = int(time.time() * 1000)
    devices = []
    for model_id in HEALTHY_MODELS:
        dev = new_device(model_id)
        sim = SimulatedDevice(DeviceSpec(dev.tenant, dev.thing, _model(model_id)), start_ms=now - 150_000)
        devices.append((dev, sim))
    last_seq: dict[str, int] = {}
    for _ in range(120):
        for dev, sim in devices:
            msgs = sim.step(1.0)
            _publish_sim(publisher, dev.tenant, dev.thing, msgs)
            for m in msgs:
                if getattr(m, "kind", "") in ("battery_pack", "storage_cabinet"):
                    last_seq[dev.thing] = m.seq

    def evaluated() -> bool:
        return all(
            (s := api.latest(dev.thing).get("telemetry")) is not None and s["body"]["seq"] == last_seq[dev.thing]
            for dev, _ in devices
        )

    wait_until(evaluated, timeout=60)
    wait_until(lambda: stack.alarm_poller.idle, timeout=30)
    for dev, _ in devices:
        levels = [(a["rule_id"], a["level"]) for a in _alarms(api, dev.thing)]
        assert all(level < 3 for _, level in levels), (dev.thing, levels)


def test_an_expired_command_is_never_executed(stack: Any, api: Api, new_device, tmp_path) -> None:
    """SLW-CTL-2, SLW-IF-1: an operator command is recorded with an expiry; when it reaches the
    device after that expiry (a late QoS 1 redelivery), the SDK never runs it and acks
    ``expired``; the command's record ends expired."""
    from device_sdk.client import ClientConfig, DeviceClient

    dev = new_device()
    status, record = api.call(
        "POST",
        f"/v1/devices/{dev.thing}/commands",
        {
            "name": "restart",
            "params": {},
            "reason": "e2e: late delivery",
            "idempotency_key": uuid.uuid4().hex,
            "ttl_s": 5,
        },
    )
    assert status == 201, record
    wait_until(lambda: api.get(f"/v1/commands/{record['command_id']}")["status"] == "expired", timeout=30)

    executed: list[Any] = []
    acks: queue.Queue[dict[str, Any]] = queue.Queue()
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-ack-{uuid.uuid4().hex[:8]}")
    watcher.on_message = lambda _c, _u, m: acks.put(json.loads(m.payload))
    watcher.connect(stack.broker_host, stack.plain_port)
    watcher.loop_start()
    watcher.subscribe(dev.topic(topics.UpType.ACK), qos=1)
    config = ClientConfig(
        endpoint="localhost",
        port=stack.tls_port,
        ca_path=str(stack.ca_path),
        cert_path=str(dev.cert_path),
        key_path=str(dev.key_path),
        buffer_dir=str(tmp_path),
        min_reconnect_delay_ms=100,
        max_reconnect_delay_ms=1000,
        enable_metrics_collection=False,
    )
    client = DeviceClient(dev.tenant, dev.thing, config, command_handler=executed.append).start()
    try:
        assert client.wait_connected(10)
        time.sleep(0.3)  # subscribed
        late = {
            "command_id": record["command_id"],
            "name": record["name"],
            "params": record["params"],
            "issued_at_ms": record["issued_at_ms"],
            "expires_at_ms": record["expires_at_ms"],
            "idempotency_key": record["idempotency_key"],
        }
        watcher.publish(topics.downlink(dev.tenant, dev.thing), json.dumps(late), qos=1).wait_for_publish(5)
        ack = acks.get(timeout=10)
    finally:
        client.close()
        watcher.loop_stop()
        watcher.disconnect()
    assert ack["command_id"] == record["command_id"]
    assert ack["status"] == "expired"
    assert executed == []
    final = api.get(f"/v1/commands/{record['command_id']}")
    assert final["status"] == "expired"
