"""(b) Ingest throughput through the Lambda handler against moto (moto-bound)."""

from __future__ import annotations

import os
import time
from typing import Any


def run(batches: int = 20, batch_size: int = 100) -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    import boto3
    from moto import mock_aws

    from bench.ingest_cpu import message_100_cells
    from functions.ingest import handler as ingest
    from shared.contracts import topics
    from shared.dal import clients, tables
    from shared.settings import get_settings
    from tests.support.samples import kinesis_event, rule_output

    get_settings.cache_clear()
    tables.bind_tables.cache_clear()
    clients.s3_client.cache_clear()
    ingest.service.cache_clear()
    with mock_aws():
        tables.create_all_tables()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=get_settings().archive_bucket)
        s3.create_bucket(Bucket=get_settings().quarantine_bucket)
        now = int(time.time() * 1000)
        things = [f"bench-{i}" for i in range(20)]
        for t in things:
            tables.DeviceItem(
                tenant_id="bench",
                thing_name=t,
                kind="battery_pack",
                model_id="none",
                serial_number=t,
                status="active",
                created_at_ms=now,
                updated_at_ms=now,
            ).save()
        seq = 0
        events = []
        for _ in range(batches):
            datas = []
            for _ in range(batch_size):
                thing = things[seq % len(things)]
                datas.append(
                    rule_output(topics.uplink("bench", thing, topics.UpType.TELEMETRY), message_100_cells(seq))
                )
                seq += 1
            events.append(kinesis_event(datas, start_seq=seq * 10))
        t0 = time.perf_counter()
        c0 = time.process_time()
        for ev in events:
            res = ingest.handler(ev, None)
            assert not res["batchItemFailures"], res
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
    total = batches * batch_size
    return {
        "messages": total,
        "batch_size": batch_size,
        "messages_per_s": round(total / wall, 1),
        "cpu_ms_per_message_incl_moto": round(cpu / total * 1000, 3),
        "label": "moto-bound: in-process moto DynamoDB/S3 dominate; not an AWS figure",
    }
