"""Helpers of the end-to-end tests: bounded waits, the API client, MQTT publishers."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from shared.contracts import topics

WAIT_S = 15.0
PACK_MODEL = "lfp-16s280-ess"  # 16 cells, 8 probes


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT_S, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


@dataclass
class Api:
    """HTTP client of the local API with the seeded operator's Cognito ID token."""

    base: str
    token: str | None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if self.token:  # None: an anonymous caller
            req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    def latest(self, thing: str) -> dict[str, Any]:
        return self.get(f"/v1/devices/{thing}/state")["state"]

    def history(self, thing: str, message_type: str = "telemetry") -> dict[str, Any]:
        now = int(time.time() * 1000)
        return self.get(
            f"/v1/devices/{thing}/history?type={message_type}&from_ms={now - 7 * 86_400_000}"
            f"&to_ms={now + 86_400_000}&max_points=5000"
        )


@dataclass(frozen=True)
class Device:
    thing: str
    tenant: str
    cert_path: Path
    key_path: Path

    def topic(self, up: topics.UpType = topics.UpType.TELEMETRY) -> str:
        return topics.uplink(self.tenant, self.thing, up)


def pack_telemetry(seq: int, device_ts_ms: int | None = None, boot_id: str = "boot1", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "battery_pack",
        "boot_id": boot_id,
        "seq": seq,
        "device_ts_ms": device_ts_ms if device_ts_ms is not None else int(time.time() * 1000),
        "pack_voltage_v": 52.8,
        "current_a": 12.5,
        "soc_pct": 80.0,
        "cell_voltages_v": [3.30 + i * 0.001 for i in range(16)],
        "probe_temperatures_c": [25.0 + i * 0.1 for i in range(8)],
        "state": "discharging",
    }
    body.update(over)
    return body


class Publisher:
    """A paho client on the plain listener (the test's own view of the broker)."""

    def __init__(self, host: str, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-{uuid.uuid4().hex[:8]}")
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str | dict[str, Any]) -> None:
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        self.client.publish(topic, data, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def mtls_client(stack: Any, device: Device, timeout: float = 5.0) -> mqtt.Client:
    """A paho client over mTLS with a device's certificate (client id = thing name)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.thing)
    client.tls_set(
        ca_certs=str(stack.ca_path),
        certfile=str(device.cert_path),
        keyfile=str(device.key_path),
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
    client.connect_async("localhost", stack.tls_port)
    client.loop_start()
    deadline = time.monotonic() + timeout
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    return client


def quarantined_for(topic: str) -> list[dict[str, Any]]:
    from shared.dal.archive import list_quarantine

    return [q for q in list_quarantine() if q.get("topic") == topic]
