"""(a) CPU time per message of validation + extremes (100-cell pack), storage faked."""

from __future__ import annotations

import json
import time
from typing import Any

from shared.contracts import topics
from shared.contracts.devices import DeviceKind, DeviceStatus
from shared.domain.telemetry.ingest import to_sample
from shared.domain.telemetry.validation import DeviceInfo, RuleOutput, validate


class _Directory:
    def get(self, tenant_id: str, thing_name: str) -> DeviceInfo:
        return DeviceInfo(tenant_id, thing_name, DeviceKind.BATTERY_PACK, DeviceStatus.ACTIVE, None)


def message_100_cells(seq: int = 1) -> bytes:
    body = {
        "kind": "battery_pack",
        "boot_id": "benchboot",
        "seq": seq,
        "device_ts_ms": int(time.time() * 1000),
        "pack_voltage_v": 331.2,
        "current_a": -48.6,
        "soc_pct": 63.4,
        "insulation_resistance_kohm": 8420.0,
        "cell_voltages_v": [round(3.300 + 0.0001 * i, 4) for i in range(100)],
        "probe_temperatures_c": [round(25.0 + 0.1 * i, 1) for i in range(32)],
        "state": "charging",
        "gb_alarm": {"flags": 0, "max_level": 0},
    }
    return json.dumps(body).encode()


def _cpu_per_call(fn: Any, n: int) -> float:
    fn()  # warm caches (TypeAdapter build)
    t0 = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t0) / n * 1e6


def run(n: int = 20000) -> dict[str, Any]:
    raw = message_100_cells()
    out = RuleOutput(payload=raw, topic=topics.uplink("bench", "bench-1", topics.UpType.TELEMETRY), arrival_ms=0)
    directory = _Directory()
    full = _cpu_per_call(lambda: to_sample(validate(out, directory)), n)
    bare = _cpu_per_call(lambda: json.loads(raw), n)
    return {
        "message_bytes": len(raw),
        "messages": n,
        "validate_and_extremes_us_per_msg": round(full, 2),
        "bare_json_loads_us_per_msg": round(bare, 2),
        "overhead_factor": round(full / bare, 1),
        "note": "process CPU time, single thread, in-process; storage faked",
    }
