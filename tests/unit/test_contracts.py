"""Contract tests: generated JSON Schemas match the models; every sample validates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.contracts import schemas, topics
from shared.contracts.telemetry import BatteryPackTelemetry, Command

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = sorted((EVENTS / "samples").glob("*.json"))


def test_schemas_have_not_drifted():
    """ARC-2, LCM-PF-2: events/schemas are exactly what the pydantic contracts generate (run `make schemas`)."""
    rendered = schemas.render_all()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in (EVENTS / "schemas").glob("*.json")}
    assert on_disk == rendered, "events/schemas is stale: run `make schemas` and commit"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_validates(path):
    """ARC-2, LCM-MON-1, SLW-MON-1, PBR-D-4: each sample in events/samples validates against its contract."""
    contract = schemas.CONTRACTS[path.name.split(".")[0]]
    TypeAdapter(contract).validate_python(json.loads(path.read_text(encoding="utf-8")))


def test_samples_cover_every_contract():
    """ARC-2: device makers get at least one sample per schema."""
    assert {p.name.split(".")[0] for p in SAMPLES} >= set(schemas.CONTRACTS) - {"telemetry"}


def test_units_in_every_numeric_field():
    """LCM-PF-2: every measured field names its unit (suffix or description)."""
    units = ("_v", "_a", "_pct", "_kohm", "_c", "_ppm", "_kpa", "_deg", "_kmh", "_m", "_ms")
    for name, field in BatteryPackTelemetry.model_fields.items():
        if name in ("kind", "boot_id", "seq", "state", "gb_alarm"):
            continue
        assert name.endswith(units) or "," in (field.description or ""), name


def test_sizes_and_arrays_bounded():
    """LCM-MON-1: 400 cells and 128 probes fit one message within the 128 KB IoT limit; 401 cells is refused."""
    body = {
        "kind": "battery_pack",
        "boot_id": "b",
        "seq": 1,
        "device_ts_ms": 1795270800000,
        "cell_voltages_v": [3.3123] * 400,
        "probe_temperatures_c": [25.25] * 128,
    }
    msg = BatteryPackTelemetry.model_validate(body)
    assert len(msg.model_dump_json().encode()) < topics.MAX_MESSAGE_BYTES
    with pytest.raises(ValidationError):
        BatteryPackTelemetry.model_validate({**body, "cell_voltages_v": [3.3] * 401})


def test_command_expiry_must_follow_issue():
    """SLW-CTL-2: a command cannot expire before it is issued."""
    with pytest.raises(ValidationError):
        Command(command_id="c", name="cut_off", issued_at_ms=10, expires_at_ms=10, idempotency_key="k")


def test_topic_scheme_round_trip_and_refusals():
    """ARC-2, LCM-SEC-5: one versioned topic scheme with tenant and thing; malformed topics are refused."""
    t = topics.uplink("acme", "acme-pack-1", topics.UpType.TELEMETRY)
    assert t == "voltops/v1/acme/acme-pack-1/up/telemetry"
    p = topics.parse(t)
    assert (p.tenant, p.thing, p.up_type) == ("acme", "acme-pack-1", topics.UpType.TELEMETRY)
    for bad in ("voltops/v1/acme/+/up/telemetry", "voltops/v2/a/b/up/telemetry", "x/v1/a/b/up/t", "voltops/v1/a/b"):
        with pytest.raises(topics.TopicError):
            topics.parse(bad)
    with pytest.raises(topics.TopicError):
        topics.uplink("acme", "a/b", topics.UpType.TELEMETRY)
    doc = topics.device_policy_document("arn:aws:iot:us-east-1:1")
    publish = next(s for s in doc["Statement"] if s["Action"] == "iot:Publish")
    assert publish["Resource"] == [
        "arn:aws:iot:us-east-1:1:topic/voltops/v1/${iot:Connection.Thing.Attributes[tenant]}/"
        "${iot:Connection.Thing.ThingName}/up/*"
    ]
