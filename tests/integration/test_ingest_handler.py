"""Integration tests of the ingest Lambda handler against moto (DynamoDB, S3)."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from functions.ingest import handler as ingest_handler
from shared.contracts import topics
from shared.dal import clients, tables, telemetry_store
from shared.dal.archive import list_quarantine
from shared.settings import get_settings
from tests.support.samples import kinesis_event, now_ms, pack_body, rule_output
from tests.unit.test_ingest_domain import MODEL

TENANT, THING = "acme", "acme-pack-1"
TOPIC = topics.uplink(TENANT, THING, topics.UpType.TELEMETRY)


def _reset_caches() -> None:
    get_settings.cache_clear()
    tables.bind_tables.cache_clear()
    clients.s3_client.cache_clear()
    ingest_handler.service.cache_clear()
    ingest_handler._metrics.cache_clear()


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    _reset_caches()
    with mock_aws():
        tables.create_all_tables()
        s3 = boto3.client("s3", region_name="us-east-1")
        s = get_settings()
        s3.create_bucket(Bucket=s.archive_bucket)
        s3.create_bucket(Bucket=s.quarantine_bucket)
        tables.DeviceModelItem(
            tenant_id="_platform", model_id=MODEL.model_id, spec=MODEL.model_dump(mode="json"), created_at_ms=now_ms()
        ).save()
        tables.DeviceItem(
            tenant_id=TENANT,
            thing_name=THING,
            kind="battery_pack",
            model_id=MODEL.model_id,
            serial_number="SN1",
            status="active",
            created_at_ms=now_ms(),
            updated_at_ms=now_ms(),
        ).save()
        yield s3
    _reset_caches()


def test_handler_stores_history_latest_archive_and_quarantine(aws):
    """ARC-3, LCM-DA-1, LCM-MON-1, LCM-PF-5, SLW-IF-1: a Kinesis batch is validated and stored in DynamoDB
    (history with TTL, latest state) and S3 (raw archive partitioned by tenant/date); bad records quarantined."""
    t = now_ms()
    event = kinesis_event(
        [
            rule_output(TOPIC, pack_body(seq=1, ts=t - 1000)),
            rule_output(TOPIC, pack_body(seq=2, ts=t)),
            rule_output(TOPIC, b"\xff\xfe not json"),
        ]
    )
    out = ingest_handler.handler(event, None)
    assert out == {"batchItemFailures": []}

    latest = telemetry_store.get_latest(TENANT, THING)
    assert latest["telemetry"]["device_ts_ms"] == t
    assert latest["telemetry"]["derived"]["cell_count"] == 16
    hist = telemetry_store.query_history(TENANT, THING, "telemetry", t - 10_000, t + 1, 100)
    assert [h["device_ts_ms"] for h in hist] == [t - 1000, t]
    item = next(tables.HistoryItem.query(f"{TENANT}#{THING}#telemetry"))
    assert item.expires_at > time.time() + 29 * 86400  # hot window TTL

    keys = [o["Key"] for o in aws.list_objects_v2(Bucket=get_settings().archive_bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith(f"raw/tenant={TENANT}/date=")
    body = aws.get_object(Bucket=get_settings().archive_bucket, Key=keys[0])["Body"].read().decode()
    assert len(body.strip().splitlines()) == 2

    q = list_quarantine()
    assert len(q) == 1 and q[0]["reason"] == "malformed_json" and q[0]["topic"] == TOPIC


def test_tenant_isolation_in_reads(aws):
    """LCM-SEC-5: state of one tenant's device is not readable under another tenant's key."""
    ingest_handler.handler(kinesis_event([rule_output(TOPIC, pack_body())]), None)
    assert telemetry_store.get_latest(TENANT, THING)
    assert telemetry_store.get_latest("other", THING) == {}


def test_partial_failure_retried_without_double_count(aws):
    """ARC-3, LCM-PF-8, LCM-DA-1: when storage fails the handler reports the records; a retry stores them once."""
    aws.delete_bucket(Bucket=get_settings().archive_bucket)  # archive outage
    event = kinesis_event([rule_output(TOPIC, pack_body(seq=1)), rule_output(TOPIC, pack_body(seq=2))])
    out = ingest_handler.handler(event, None)
    assert [f["itemIdentifier"] for f in out["batchItemFailures"]] == ["1000", "1001"]
    aws.create_bucket(Bucket=get_settings().archive_bucket)
    assert ingest_handler.handler(event, None) == {"batchItemFailures": []}
    assert ingest_handler.handler(event, None) == {"batchItemFailures": []}  # redelivery
    items = list(tables.HistoryItem.query(f"{TENANT}#{THING}#telemetry"))
    assert len(items) == 2
    stored = json.loads(json.dumps(items[0].body))
    assert stored["seq"] == 1
