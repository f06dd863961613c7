"""DynamoDB storage of telemetry: dedupe marks, hot history (TTL) and latest state.

Writes are batched (BatchWriteItem via pynamodb) and idempotent: the history sort key is
``device_ts_ms#boot_id#seq``, so a redelivered message overwrites its own item. The latest
state is a conditional put that only moves forward in device time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pynamodb.exceptions import PutError

from shared.dal.devices import storage_errors
from shared.dal.tables import DedupeItem, HistoryItem, LatestStateItem, bind_tables
from shared.domain.telemetry.ingest import StoredSample
from shared.settings import get_settings

_TS_DIGITS = 13  # epoch ms until the year 2286
_LATEST_WORKERS = 4  # below botocore's default pool of 10 connections, even with 2 pollers


def series_key(tenant_id: str, thing_name: str, message_type: str) -> str:
    return f"{tenant_id}#{thing_name}#{message_type}"


def sample_key(device_ts_ms: int, boot_id: str, seq: int) -> str:
    return f"{device_ts_ms:0{_TS_DIGITS}d}#{boot_id}#{seq}"


class DynamoTelemetryStore:
    """The TelemetryStore port on DynamoDB."""

    def __init__(self) -> None:
        bind_tables()
        s = get_settings()
        self._history_ttl_s = s.history_ttl_days * 86400
        self._dedupe_ttl_s = s.dedupe_ttl_hours * 3600

    def already_processed(self, message_keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        unique = list(dict.fromkeys(message_keys))
        for item in DedupeItem.batch_get(unique, attributes_to_get=["message_key"]):
            found.add(item.message_key)
        return found

    def write_history(self, samples: Sequence[StoredSample]) -> None:
        with HistoryItem.batch_write() as batch:
            for s in samples:
                batch.save(
                    HistoryItem(
                        series=series_key(s.tenant_id, s.thing_name, s.message_type),
                        sample_key=sample_key(s.device_ts_ms, s.boot_id, s.seq),
                        device_ts_ms=s.device_ts_ms,
                        arrival_ms=s.arrival_ms,
                        body=s.body,
                        derived=s.derived,
                        expires_at=s.arrival_ms // 1000 + self._history_ttl_s,
                    )
                )

    def advance_latest(self, samples: Sequence[StoredSample]) -> None:
        newest: dict[tuple[str, str, str], StoredSample] = {}
        for s in samples:
            key = (s.tenant_id, s.thing_name, s.message_type)
            cur = newest.get(key)
            if cur is None or (s.device_ts_ms, s.seq) > (cur.device_ts_ms, cur.seq):
                newest[key] = s
        # One conditional put per device (BatchWriteItem takes no conditions); they are
        # independent and I/O-bound, so a small pool overlaps their round trips.
        if len(newest) == 1:
            self._put_latest(next(iter(newest.values())))
            return
        with ThreadPoolExecutor(max_workers=min(_LATEST_WORKERS, len(newest))) as pool:
            for future in [pool.submit(self._put_latest, s) for s in newest.values()]:
                future.result()  # re-raise the first failure: the batch is retried

    @staticmethod
    def _put_latest(s: StoredSample) -> None:
        item = LatestStateItem(
            tenant_id=s.tenant_id,
            state_key=f"{s.thing_name}#{s.message_type}",
            thing_name=s.thing_name,
            message_type=s.message_type,
            device_ts_ms=s.device_ts_ms,
            arrival_ms=s.arrival_ms,
            boot_id=s.boot_id,
            seq=s.seq,
            body=s.body,
            derived=s.derived,
        )
        try:
            item.save(
                condition=LatestStateItem.device_ts_ms.does_not_exist()
                | (LatestStateItem.device_ts_ms < s.device_ts_ms)
            )
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            # An equal or newer sample is already the latest: keep it (out-of-order data).

    def mark_processed(self, message_keys: Sequence[str], now_ms: int) -> None:
        with DedupeItem.batch_write() as batch:
            for key in dict.fromkeys(message_keys):
                batch.save(
                    DedupeItem(
                        message_key=key,
                        processed_at_ms=now_ms,
                        expires_at=now_ms // 1000 + self._dedupe_ttl_s,
                    )
                )


def _item_view(item: LatestStateItem | HistoryItem) -> dict[str, Any]:
    return {
        "body": item.body,
        "derived": item.derived,
        "device_ts_ms": int(item.device_ts_ms),
        "arrival_ms": int(item.arrival_ms),
    }


def get_latest(tenant_id: str, thing_name: str) -> dict[str, dict[str, Any]]:
    """Latest state per message type of one device (tenant-scoped query, no scan)."""
    bind_tables()
    out: dict[str, dict[str, Any]] = {}
    for item in LatestStateItem.query(tenant_id, LatestStateItem.state_key.startswith(f"{thing_name}#")):
        if item.thing_name == thing_name:
            out[item.message_type] = _item_view(item)
    return out


def query_history(
    tenant_id: str, thing_name: str, message_type: str, from_ms: int, to_ms: int, limit: int
) -> list[dict[str, Any]]:
    """Samples with from_ms <= device_ts_ms < to_ms, ascending, at most ``limit``."""
    bind_tables()
    lo = f"{max(from_ms, 0):0{_TS_DIGITS}d}"
    hi = f"{max(to_ms, 0):0{_TS_DIGITS}d}"
    items = HistoryItem.query(
        series_key(tenant_id, thing_name, message_type),
        HistoryItem.sample_key.between(lo, hi),
        limit=limit,
        scan_index_forward=True,
    )
    return [_item_view(i) for i in items if i.device_ts_ms < to_ms][:limit]


def latest_of_tenant(tenant_id: str, limit: int) -> Iterator[dict[str, Any]]:
    """Every latest-state item of a tenant — all its devices, all message types — at most ``limit``,
    yielded as the pages arrive (the caller keeps what it needs, not the whole partition).

    One Query on the tenant's partition (pk tenant; 1 MB pages), never a scan: the fleet read
    model's input. Each item is the view of :func:`get_latest` plus ``thing_name`` and ``message_type``.
    """
    bind_tables()
    with storage_errors("unexpected condition"):
        for item in LatestStateItem.query(tenant_id, limit=limit):
            yield {"thing_name": item.thing_name, "message_type": item.message_type, **_item_view(item)}
