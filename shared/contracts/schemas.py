"""JSON Schemas of the wire contracts, generated into ``events/schemas/``.

Run ``python -m shared.contracts.schemas`` (``make schemas``) after changing a contract;
a test fails while the committed schemas differ from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from shared.contracts import alarms as a
from shared.contracts import commands as c
from shared.contracts import notifications as n
from shared.contracts import telemetry as t

#: Schema file name -> contract. The sample files in events/samples are named
#: ``<schema name>.<anything>.json`` and must validate against the same contract.
CONTRACTS: dict[str, Any] = {
    "telemetry": t.Telemetry,
    "battery_pack_telemetry": t.BatteryPackTelemetry,
    "storage_cabinet_telemetry": t.StorageCabinetTelemetry,
    "position": t.Position,
    "device_event": t.DeviceEvent,
    "command": t.Command,
    "command_ack": t.CommandAck,
    # Platform-side contracts (bus events, console streams, rule sets, command records).
    "alarm_event": a.AlarmEvent,
    "alarm_rule_set_draft": a.RuleSetDraft,
    "command_record": c.CommandRecord,
    "notification_view": n.NotificationView,
    "notification_policy_draft": n.PolicyDraft,
}

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "events" / "schemas"


def render_all() -> dict[str, str]:
    out = {}
    for name, contract in CONTRACTS.items():
        schema = TypeAdapter(contract).json_schema()
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://voltops.example/schemas/v1/{name}.json",
            **schema,
        }
        out[f"{name}.json"] = json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return out


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, text in render_all().items():
        path = directory / filename
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all():
        sys.stdout.write(f"wrote {p}\n")
