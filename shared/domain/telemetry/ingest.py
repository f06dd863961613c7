"""Ingest of a batch of uplink stream records: validate → dedupe → store (ARC-3, LCM-DA-1).

Guarantees, in order of importance:

1. **Nothing is lost.** A record is either stored, recognised as a duplicate, or written to
   the quarantine with its reason and raw bytes. If any of those writes fails, the record is
   reported as failed so the platform retries it (Kinesis ReportBatchItemFailures retries
   from the first failed record; everything after it is re-read and deduplicated).
2. **Nothing is double-counted.** The dedupe key is tenant#thing#boot_id#seq; history items
   are keyed by it too, so a retry overwrites rather than duplicates. Dedupe marks are
   written last, after every store succeeded.
3. **Per-device order** is kept by the stream (partition key = tenant/thing) and by
   processing records in stream order here; the latest state only moves forward in device
   time, so an out-of-order sample lands in history without rolling the state back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.contracts.telemetry import BatteryPackTelemetry, StorageCabinetTelemetry
from shared.domain.telemetry.extremes import pack_extremes
from shared.domain.telemetry.validation import (
    DeviceDirectory,
    Rejected,
    ValidMessage,
    decode_rule_output,
    validate,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamRecord:
    """One record of the uplink stream: its id (sequence number) and data bytes."""

    record_id: str
    data: bytes


@dataclass(frozen=True)
class StoredSample:
    """What is written to history and latest state for one valid message."""

    tenant_id: str
    thing_name: str
    message_type: str
    message_key: str
    boot_id: str
    seq: int
    device_ts_ms: int
    arrival_ms: int
    body: dict[str, Any]
    derived: dict[str, Any] | None


@dataclass(frozen=True)
class QuarantineEntry:
    record_id: str
    reason: str
    detail: str
    raw: bytes
    topic: str | None
    arrival_ms: int | None


class TelemetryStore(Protocol):
    def already_processed(self, message_keys: Sequence[str]) -> set[str]: ...

    def write_history(self, samples: Sequence[StoredSample]) -> None: ...

    def advance_latest(self, samples: Sequence[StoredSample]) -> None: ...

    def mark_processed(self, message_keys: Sequence[str], now_ms: int) -> None: ...


class RawArchive(Protocol):
    def put(self, batch_id: str, samples: Sequence[StoredSample], raws: Sequence[bytes]) -> None: ...


class Quarantine(Protocol):
    def put(self, entry: QuarantineEntry) -> None: ...


class IngestMetrics(Protocol):
    def count(self, name: str, value: int = 1) -> None: ...


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    failed_record_ids: list[str] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)


def to_sample(msg: ValidMessage) -> StoredSample:
    body = msg.message.model_dump(mode="json")
    derived: dict[str, Any] | None = None
    if isinstance(msg.message, BatteryPackTelemetry | StorageCabinetTelemetry):
        m = msg.message
        derived = pack_extremes(m.cell_voltages_v, m.probe_temperatures_c, m.pack_voltage_v, m.current_a)
    if msg.clock_suspect:
        derived = {**(derived or {}), "clock_suspect": True}
    return StoredSample(
        tenant_id=msg.tenant_id,
        thing_name=msg.thing_name,
        message_type=msg.message_type.value,
        message_key=msg.message_key,
        boot_id=msg.boot_id,
        seq=msg.seq,
        device_ts_ms=msg.device_ts_ms,
        arrival_ms=msg.arrival_ms,
        body=body,
        derived=derived,
    )


class IngestService:
    """Processes one stream batch. Ports are passed in; unit tests use in-memory fakes."""

    def __init__(
        self,
        directory: DeviceDirectory,
        store: TelemetryStore,
        archive: RawArchive,
        quarantine: Quarantine,
        metrics: IngestMetrics,
        clock_ms: Callable[[], int],
    ) -> None:
        self._directory = directory
        self._store = store
        self._archive = archive
        self._quarantine = quarantine
        self._metrics = metrics
        self._clock_ms = clock_ms

    def process(self, records: Iterable[StreamRecord]) -> BatchResult:
        result = BatchResult()
        valid: list[tuple[StreamRecord, ValidMessage]] = []
        for record in records:
            try:
                valid.append((record, self._validate(record)))
            except Rejected as rej:
                self._quarantine_record(record, rej, result)
        if valid:
            self._store_valid(valid, result)
        self._metrics.count("MessagesStored", result.stored)
        self._metrics.count("DuplicateMessages", result.duplicates)
        self._metrics.count("QuarantinedMessages", result.quarantined)
        self._metrics.count("FailedRecords", len(result.failed_record_ids))
        return result

    def _validate(self, record: StreamRecord) -> ValidMessage:
        out = decode_rule_output(record.data)
        try:
            return validate(out, self._directory)
        except Rejected as rej:
            rej.out = out  # keep topic and arrival time for the quarantine record
            raise

    def _quarantine_record(self, record: StreamRecord, rej: Rejected, result: BatchResult) -> None:
        out = rej.out
        entry = QuarantineEntry(
            record_id=record.record_id,
            reason=rej.reason,
            detail=rej.detail,
            raw=out.payload if out is not None else record.data,
            topic=out.topic if out is not None else None,
            arrival_ms=out.arrival_ms if out is not None else None,
        )
        try:
            self._quarantine.put(entry)
        except Exception:
            log.exception("quarantine write failed; record %s will be retried", record.record_id)
            result.failed_record_ids.append(record.record_id)
            return
        log.warning("quarantined record %s: %s (%s)", record.record_id, rej.reason, rej.detail)
        result.quarantined += 1
        result.quarantine_reasons[rej.reason] = result.quarantine_reasons.get(rej.reason, 0) + 1

    def _store_valid(self, valid: list[tuple[StreamRecord, ValidMessage]], result: BatchResult) -> None:
        keys = [m.message_key for _, m in valid]
        try:
            seen = self._store.already_processed(keys)
        except Exception:
            log.exception("dedupe lookup failed; batch will be retried")
            result.failed_record_ids.extend(r.record_id for r, _ in valid)
            return
        fresh: list[tuple[StreamRecord, ValidMessage]] = []
        in_batch: set[str] = set()
        for record, msg in valid:
            if msg.message_key in seen or msg.message_key in in_batch:
                result.duplicates += 1
                continue
            in_batch.add(msg.message_key)
            fresh.append((record, msg))
        if not fresh:
            return
        samples = [to_sample(m) for _, m in fresh]
        try:
            self._store.write_history(samples)
            self._store.advance_latest(samples)
            self._archive.put(fresh[0][0].record_id, samples, [m.raw for _, m in fresh])
            self._store.mark_processed([s.message_key for s in samples], self._clock_ms())
        except Exception:
            log.exception("storing %d samples failed; they will be retried", len(samples))
            result.failed_record_ids.extend(r.record_id for r, _ in fresh)
            return
        result.stored += len(samples)
