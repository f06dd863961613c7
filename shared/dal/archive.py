"""S3 storage of the raw archive (Athena-ready) and of the quarantine.

Archive layout: ``raw/tenant=<t>/date=<YYYY-MM-DD>/hour=<HH>/<batch id>.jsonl`` — one JSON
line per message with the dedupe key, device and arrival time and the exact payload, so
Athena can partition-prune by tenant and date. Delivery is at-least-once (a retried batch
may be archived twice under another batch id); queries dedupe on ``message_key``.

Quarantine layout: ``quarantine/reason=<code>/date=<YYYY-MM-DD>/<record id>.json`` with the
reason, detail, topic, arrival time and the raw bytes (base64), keyed by the stream record id
so a retry overwrites rather than duplicates.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from shared.dal.clients import s3_client
from shared.domain.telemetry.ingest import QuarantineEntry, StoredSample
from shared.settings import get_settings


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class S3RawArchive:
    def put(self, batch_id: str, samples: Sequence[StoredSample], raws: Sequence[bytes]) -> None:
        groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for sample, raw in zip(samples, raws, strict=True):
            # Partition by arrival time: device clocks are not trusted to place data.
            when = _utc(sample.arrival_ms)
            line = json.dumps(
                {
                    "message_key": sample.message_key,
                    "tenant_id": sample.tenant_id,
                    "thing_name": sample.thing_name,
                    "message_type": sample.message_type,
                    "device_ts_ms": sample.device_ts_ms,
                    "arrival_ms": sample.arrival_ms,
                    "payload": raw.decode("utf-8"),
                },
                separators=(",", ":"),
            )
            groups[(sample.tenant_id, when.strftime("%Y-%m-%d"), when.strftime("%H"))].append(line)
        bucket = get_settings().archive_bucket
        for (tenant, date, hour), lines in groups.items():
            s3_client().put_object(
                Bucket=bucket,
                Key=f"raw/tenant={tenant}/date={date}/hour={hour}/{batch_id}.jsonl",
                Body=("\n".join(lines) + "\n").encode(),
                ContentType="application/x-ndjson",
            )


class S3Quarantine:
    def put(self, entry: QuarantineEntry) -> None:
        when = _utc(entry.arrival_ms) if entry.arrival_ms is not None else datetime.now(tz=UTC)
        doc = {
            "record_id": entry.record_id,
            "reason": entry.reason,
            "detail": entry.detail,
            "topic": entry.topic,
            "arrival_ms": entry.arrival_ms,
            "raw_b64": base64.b64encode(entry.raw).decode(),
            "raw_size": len(entry.raw),
        }
        s3_client().put_object(
            Bucket=get_settings().quarantine_bucket,
            Key=f"quarantine/reason={entry.reason}/date={when:%Y-%m-%d}/{entry.record_id}.json",
            Body=json.dumps(doc).encode(),
            ContentType="application/json",
        )


def list_quarantine(prefix: str = "quarantine/") -> list[dict[str, object]]:
    """Read quarantine records back (operations and tests)."""
    client = s3_client()
    bucket = get_settings().quarantine_bucket
    out: list[dict[str, object]] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out.append(json.loads(client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
    return out
