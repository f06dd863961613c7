"""(c) Publish → stored latency through the local stack, 200 devices at 1 message/s."""

from __future__ import annotations

import json
import statistics
import threading
import time
from typing import Any


def run(devices: int = 200, duration_s: float = 20.0) -> dict[str, Any]:
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
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-latency")
        client.connect(stack.broker_host, stack.plain_port)
        client.loop_start()
        sent: dict[tuple[str, int], float] = {}
        latencies: list[float] = []
        stop = time.monotonic() + duration_s
        seq = 0

        def watch() -> None:
            while time.monotonic() < stop + 5:
                for (thing, s), t_pub in list(sent.items()):
                    latest = get_latest(stack.tenant, thing).get("telemetry")
                    if latest and latest["body"]["seq"] >= s:
                        latencies.append(time.monotonic() - t_pub)
                        sent.pop((thing, s), None)
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        while time.monotonic() < stop:
            tick = time.monotonic()
            for thing in things:
                body = json.loads(message_100_cells(seq))
                body["cell_voltages_v"] = body["cell_voltages_v"][: stack.cell_count(thing)]
                body["probe_temperatures_c"] = body["probe_temperatures_c"][: stack.probe_count(thing)]
                client.publish(topics.uplink(stack.tenant, thing, topics.UpType.TELEMETRY), json.dumps(body), qos=1)
                sent[(thing, seq)] = time.monotonic()
            seq += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        watcher.join(timeout=10)
        client.loop_stop()
        client.disconnect()
    finally:
        stack.stop()
    if not latencies:
        return {"error": "no message observed as stored"}
    q = statistics.quantiles(latencies, n=100)
    return {
        "devices": devices,
        "rate_per_device_per_s": 1,
        "samples": len(latencies),
        "unobserved": len(sent),
        "p50_ms": round(q[49] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "note": "local stack on loopback: mosquitto → rules engine → moto Kinesis → poller → handler → moto DynamoDB",
    }
