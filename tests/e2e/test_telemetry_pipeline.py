"""Telemetry end to end on the local stack: device → broker → rule → stream → ingest → store → API."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from shared.contracts import topics
from tests.e2e.helpers import (
    Api,
    Publisher,
    mtls_client,
    pack_telemetry,
    quarantined_for,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _latest_seq(api: Api, thing: str) -> int | None:
    tel = api.latest(thing).get("telemetry")
    return tel["body"]["seq"] if tel else None


def test_plain_publish_is_stored_and_readable_through_the_api(stack: Any, api: Api, new_device, publisher) -> None:
    """ARC-3, ARC-7, LCM-MON-1, LCM-MON-2, LCM-MON-3, LCM-DA-1, LCM-PF-5, SLW-MON-1: a telemetry
    message published on a registered device's topic is in the latest state and the history,
    read through the API with a real Cognito JWT, with millisecond device and arrival times."""
    dev = new_device()
    ts = int(time.time() * 1000) - 1234
    t0 = time.monotonic()
    publisher.publish(dev.topic(), pack_telemetry(0, device_ts_ms=ts))
    wait_until(lambda: _latest_seq(api, dev.thing) == 0)
    latency = time.monotonic() - t0

    tel = api.latest(dev.thing)["telemetry"]
    assert tel["device_ts_ms"] == ts  # millisecond precision kept
    assert tel["arrival_ms"] >= ts
    assert len(tel["body"]["cell_voltages_v"]) == 16
    assert tel["body"]["current_a"] == 12.5
    assert tel["body"]["probe_temperatures_c"][0] == 25.0
    hist = wait_until(lambda: (h := api.history(dev.thing)) and h["raw_count"] >= 1 and h)
    assert hist["raw_count"] == 1
    assert latency < 5, f"publish → readable took {latency:.2f}s"


def test_unauthenticated_api_calls_are_refused(stack: Any, api: Api, new_device) -> None:
    """ARC-7, LCM-SEC-3: the locally served API verifies the JWT like API Gateway + Cognito."""
    dev = new_device()
    no_token = Api(base=api.base, token="not-a-jwt")
    status, _ = no_token.call("GET", f"/v1/devices/{dev.thing}/state")
    assert status == 401


def test_sdk_device_client_over_mtls_is_stored(stack: Any, api: Api, new_device, tmp_path) -> None:
    """ARC-2, LCM-SEC-1, LCM-SEC-3, LCM-MON-1: the device SDK's DeviceClient connects over mTLS
    with its own certificate (the production code path) and its telemetry is stored."""
    from device_sdk.client import ClientConfig, DeviceClient
    from shared.contracts.telemetry import BatteryPackTelemetry

    dev = new_device()
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
    client = DeviceClient(dev.tenant, dev.thing, config).start()
    try:
        assert client.wait_connected(10)
        msg = client.stamp(
            BatteryPackTelemetry,
            pack_voltage_v=52.9,
            current_a=-20.0,
            soc_pct=55.5,
            cell_voltages_v=[3.31] * 15 + [None],
            probe_temperatures_c=[24.0] * 8,
        )
        client.publish_telemetry(msg)
        assert client.flush(10)
        wait_until(lambda: _latest_seq(api, dev.thing) == msg.seq)
    finally:
        client.close()
    body = api.latest(dev.thing)["telemetry"]["body"]
    assert body["current_a"] == -20.0
    assert body["cell_voltages_v"][15] is None  # a sensor drop-out stays null, never 0


def test_a_thing_cannot_publish_on_another_things_topic(stack: Any, api: Api, new_device) -> None:
    """LCM-SEC-3, ARC-2, SLW-IF-1: over mTLS the broker holds each thing to its own topics
    (the IoT policy's scope); a publish on another thing's topic is refused and never stored."""
    attacker, victim = new_device(), new_device()
    client = mtls_client(stack, attacker)
    try:
        assert client.is_connected()
        client.publish(victim.topic(), json.dumps(pack_telemetry(0)), qos=1).wait_for_publish(5)
        client.publish(attacker.topic(), json.dumps(pack_telemetry(0)), qos=1).wait_for_publish(5)
        # The attacker's own message arrives; by then the forged one would have too.
        wait_until(lambda: _latest_seq(api, attacker.thing) == 0)
        assert stack.wait_idle(10)
    finally:
        client.loop_stop()
        client.disconnect()
    assert api.latest(victim.thing) == {}
    assert quarantined_for(victim.topic()) == []


def test_bad_messages_are_quarantined_with_their_reason_and_nothing_is_lost(
    stack: Any, api: Api, new_device, publisher: Publisher
) -> None:
    """ARC-3, LCM-SEC-1, LCM-DA-1: malformed JSON, wrong types, 401 cells and an unknown device
    are quarantined in S3 with the reason; every message is either stored or quarantined."""
    dev = new_device()
    ghost = topics.uplink(stack.tenant, "ghost-device-0001", topics.UpType.TELEMETRY)
    good = [pack_telemetry(i) for i in range(3)]
    bad = {
        "malformed_json": b'{"boot_id": "b", "seq": ',
        "schema_invalid/types": json.dumps({**pack_telemetry(10), "seq": "ten", "soc_pct": "full"}).encode(),
        "schema_invalid/401 cells": json.dumps(pack_telemetry(11, cell_voltages_v=[3.3] * 401)).encode(),
    }
    for body in good:
        publisher.publish(dev.topic(), body)
    for payload in bad.values():
        publisher.publish(dev.topic(), payload)
    publisher.publish(ghost, pack_telemetry(0))
    sent = len(good) + len(bad)

    def accounted() -> tuple[int, list[dict[str, Any]]] | None:
        stored = api.history(dev.thing)["raw_count"]
        quarantined = quarantined_for(dev.topic())
        return (stored, quarantined) if stored + len(quarantined) >= sent else None

    stored, quarantined = wait_until(accounted)
    assert stored == len(good)
    assert len(quarantined) == len(bad)
    assert stored + len(quarantined) == sent  # count in = stored + quarantined
    reasons = sorted(q["reason"] for q in quarantined)
    assert reasons == ["malformed_json", "schema_invalid", "schema_invalid"]
    assert all(q["detail"] and q["raw_b64"] for q in quarantined)
    ghost_q = wait_until(lambda: quarantined_for(ghost))
    assert [q["reason"] for q in ghost_q] == ["unknown_device"]


def test_a_replayed_message_is_stored_once(stack: Any, api: Api, new_device, publisher: Publisher) -> None:
    """LCM-SEC-1, LCM-DA-1: the same (boot_id, seq) delivered twice (QoS 1 redelivery, replay
    after a reconnect) is stored once."""
    dev = new_device()
    msg = pack_telemetry(7, boot_id="replay1")
    publisher.publish(dev.topic(), msg)
    publisher.publish(dev.topic(), msg)
    publisher.publish(dev.topic(), pack_telemetry(8, boot_id="replay1"))
    wait_until(lambda: _latest_seq(api, dev.thing) == 8)
    assert stack.wait_idle(10)
    assert api.history(dev.thing)["raw_count"] == 2
    assert quarantined_for(dev.topic()) == []


def test_out_of_order_data_keeps_history_and_the_newest_latest_state(
    stack: Any, api: Api, new_device, publisher: Publisher
) -> None:
    """LCM-PF-5, LCM-DA-1, LCM-MON-1: an older sample arriving after a newer one goes into the
    history, and the latest state keeps the newer sample (by device time)."""
    dev = new_device()
    now = int(time.time() * 1000)
    publisher.publish(dev.topic(), pack_telemetry(2, device_ts_ms=now, soc_pct=60.0))
    wait_until(lambda: _latest_seq(api, dev.thing) == 2)
    publisher.publish(dev.topic(), pack_telemetry(1, device_ts_ms=now - 60_000, soc_pct=59.0))
    wait_until(lambda: api.history(dev.thing)["raw_count"] == 2)
    assert stack.wait_idle(10)
    latest = api.latest(dev.thing)["telemetry"]
    assert latest["body"]["seq"] == 2
    assert latest["device_ts_ms"] == now


def test_a_revoked_device_is_refused_by_the_broker(stack: Any, api: Api, new_device) -> None:
    """LCM-SEC-3, ARC-2, SLW-IF-1: revoking a device through the API deactivates its certificate;
    its open connection can no longer publish and a new connection is refused."""
    dev = new_device()
    client = mtls_client(stack, dev)
    try:
        assert client.is_connected()
        client.publish(dev.topic(), json.dumps(pack_telemetry(0)), qos=1).wait_for_publish(5)
        wait_until(lambda: _latest_seq(api, dev.thing) == 0)

        status, body = api.call("POST", f"/v1/devices/{dev.thing}/revoke", {"reason": "stolen"})
        assert status == 200, body
        assert body["status"] == "revoked"

        client.publish(dev.topic(), json.dumps(pack_telemetry(1)), qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()
    again = mtls_client(stack, dev, timeout=2.0)
    try:
        assert not again.is_connected()
    finally:
        again.loop_stop()
        again.disconnect()
    assert stack.wait_idle(10)
    assert _latest_seq(api, dev.thing) == 0
    assert quarantined_for(dev.topic()) == []  # refused at the broker, not merely quarantined
