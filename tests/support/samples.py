"""Builders of realistic uplink messages and rule outputs for tests (not fixtures of results)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any


def now_ms() -> int:
    return int(time.time() * 1000)


def pack_body(
    *, seq: int = 0, boot_id: str = "boot1", ts: int | None = None, cells: int = 16, probes: int = 4, **over: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "battery_pack",
        "boot_id": boot_id,
        "seq": seq,
        "device_ts_ms": ts if ts is not None else now_ms(),
        "pack_voltage_v": round(3.3 * cells, 2),
        "current_a": 12.5,
        "soc_pct": 71.0,
        "insulation_resistance_kohm": 5200.0,
        "cell_voltages_v": [round(3.30 + 0.001 * (i % 7), 3) for i in range(cells)],
        "probe_temperatures_c": [25.0 + 0.5 * i for i in range(probes)],
        "state": "discharging",
    }
    body.update(over)
    return body


def rule_output(topic: str, payload: bytes | dict[str, Any], arrival_ms: int | None = None) -> bytes:
    """What the uplink topic rule puts on Kinesis for one publish (see shared.contracts.iot_rules)."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return json.dumps(
        {
            "payload_b64": base64.b64encode(raw).decode(),
            "topic": topic,
            "arrival_ms": arrival_ms if arrival_ms is not None else now_ms(),
            "client_id": None,
            "principal": None,
        }
    ).encode()


def kinesis_event(datas: list[bytes], start_seq: int = 1000) -> dict[str, Any]:
    """The exact Lambda event shape of a Kinesis batch."""
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{start_seq + i}",
                "eventName": "aws:kinesis:record",
                "eventVersion": "1.0",
                "awsRegion": "us-east-1",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/ingest",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/voltops-uplink",
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "demo/thing",
                    "sequenceNumber": str(start_seq + i),
                    "data": base64.b64encode(d).decode(),
                    "approximateArrivalTimestamp": time.time(),
                },
            }
            for i, d in enumerate(datas)
        ]
    }
