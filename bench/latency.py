"""(c) Publish → stored latency through the local stack, 200 devices at 1 message/s."""

from __future__ import annotations

import json
import statistics
import threading
import time
from typing import Any


def run(devices: int = 200, duration_s: float = 30.0, probes: int = 10) -> dict[str, Any]:
    """All ``devices`` publish once per second; latency is read on ``probes`` of them.

    Watching every device would itself load the moto server that the pipeline writes to, so
    the watcher polls the latest state of a spread-out sample of devices every 50 ms.
    """
    try:
        from infra.local.stack import LocalStack
    except ImportError as exc:  # the local stack is wired in infra/local
        return {"skipped": f"local stack unavailable: {exc}"}
    import paho.mqtt.client as mqtt

    from bench.ingest_cpu import message_100_cells
    from shared.contracts import topics
    from shared.dal.telemetry_store import get_latest

    stack = LocalStack(packs=devices, cabinets=0, simulator=False)
    stack.start()
    try:
        things = stack.registered_things()[:devices]
        step = max(1, len(things) // probes)
        probe_things = set(things[::step][:probes])
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-latency")
        client.connect(stack.broker_host, stack.plain_port)
        client.loop_start()
        sent: dict[tuple[str, int], float] = {}
        lock = threading.Lock()
        latencies: list[float] = []
        published = 0
        stop = time.monotonic() + duration_s

        def watch() -> None:
            while time.monotonic() < stop + 10 and (time.monotonic() < stop or sent):
                for thing in probe_things:
                    latest = get_latest(stack.tenant, thing).get("telemetry")
                    if not latest:
                        continue
                    now = time.monotonic()
                    with lock:
                        for key in [k for k in sent if k[0] == thing and k[1] <= latest["body"]["seq"]]:
                            latencies.append(now - sent.pop(key))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        seq = 0
        while time.monotonic() < stop:
            tick = time.monotonic()
            for thing in things:
                body = json.loads(message_100_cells(seq))
                body["cell_voltages_v"] = body["cell_voltages_v"][: stack.cell_count(thing)]
                body["probe_temperatures_c"] = body["probe_temperatures_c"][: stack.probe_count(thing)]
                # A healthy sample for this model (the alarm rules would otherwise act on it).
                body["pack_voltage_v"] = round(sum(v for v in body["cell_voltages_v"] if v is not None), 1)
                body["current_a"], body["state"] = 5.0, "discharging"
                body["device_ts_ms"] = int(time.time() * 1000)
                client.publish(topics.uplink(stack.tenant, thing, topics.UpType.TELEMETRY), json.dumps(body), qos=1)
                published += 1
                if thing in probe_things:
                    with lock:
                        sent[(thing, seq)] = time.monotonic()
            seq += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        watcher.join(timeout=15)
        client.loop_stop()
        client.disconnect()
    finally:
        stack.stop()
    if len(latencies) < 2:
        return {"error": "too few probe messages observed as stored", "observed": len(latencies)}
    q = statistics.quantiles(latencies, n=100)
    return {
        "devices": devices,
        "rate_per_device_per_s": 1,
        "duration_s": duration_s,
        "published": published,
        "probe_devices": len(probe_things),
        "probe_samples": len(latencies),
        "probe_unobserved_after_10s": len(sent),
        "p50_ms": round(q[49] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "note": "local stack on loopback (mosquitto -> rules engine -> moto Kinesis -> poller -> handler -> moto "
        "DynamoDB/S3, all moto calls through one moto server process); a sample is observed when the device's "
        "latest state reaches its seq",
    }
