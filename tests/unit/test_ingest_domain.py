"""Unit tests of the ingest domain with in-memory fakes of its ports."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from shared.contracts import topics
from shared.contracts.devices import DeviceKind, DeviceModel, DeviceStatus, ModelLimits
from shared.domain.telemetry.extremes import pack_extremes
from shared.domain.telemetry.ingest import IngestService, QuarantineEntry, StoredSample, StreamRecord
from shared.domain.telemetry.validation import DeviceInfo, Reason
from tests.support.samples import now_ms, pack_body, rule_output

TENANT, THING = "acme", "acme-pack-1"
TOPIC = topics.uplink(TENANT, THING, topics.UpType.TELEMETRY)

MODEL = DeviceModel(
    model_id="lfp-16s",
    kind=DeviceKind.BATTERY_PACK,
    manufacturer="Test",
    chemistry="LFP",
    nominal_capacity_ah=280,
    cell_count=16,
    probe_count=4,
    limits=ModelLimits(
        cell_voltage_min_v=2.5,
        cell_voltage_max_v=3.65,
        pack_voltage_min_v=40,
        pack_voltage_max_v=58.4,
        temperature_min_c=-20,
        max_operating_temperature_c=60,
        max_charge_current_a=140,
        max_discharge_current_a=280,
    ),
)


class FakeDirectory:
    def __init__(self) -> None:
        self.devices = {
            (TENANT, THING): DeviceInfo(TENANT, THING, DeviceKind.BATTERY_PACK, DeviceStatus.ACTIVE, MODEL),
            (TENANT, "acme-old"): DeviceInfo(TENANT, "acme-old", DeviceKind.BATTERY_PACK, DeviceStatus.REVOKED, MODEL),
        }

    def get(self, tenant_id: str, thing_name: str) -> DeviceInfo | None:
        return self.devices.get((tenant_id, thing_name))


class FakeStore:
    def __init__(self) -> None:
        self.processed: set[str] = set()
        self.history: dict[tuple[str, int, str, int], StoredSample] = {}
        self.latest: dict[tuple[str, str, str], StoredSample] = {}
        self.fail_history = False

    def already_processed(self, message_keys: Sequence[str]) -> set[str]:
        return {k for k in message_keys if k in self.processed}

    def write_history(self, samples: Sequence[StoredSample]) -> None:
        if self.fail_history:
            raise ConnectionError("DynamoDB unavailable")
        for s in samples:
            self.history[(s.thing_name, s.device_ts_ms, s.boot_id, s.seq)] = s

    def advance_latest(self, samples: Sequence[StoredSample]) -> None:
        for s in samples:
            key = (s.tenant_id, s.thing_name, s.message_type)
            if key not in self.latest or self.latest[key].device_ts_ms < s.device_ts_ms:
                self.latest[key] = s

    def mark_processed(self, message_keys: Sequence[str], now_ms: int) -> None:
        self.processed.update(message_keys)


class FakeArchive:
    def __init__(self) -> None:
        self.raws: list[bytes] = []

    def put(self, batch_id: str, samples: Sequence[StoredSample], raws: Sequence[bytes]) -> None:
        self.raws.extend(raws)


class FakeQuarantine:
    def __init__(self) -> None:
        self.entries: list[QuarantineEntry] = []

    def put(self, entry: QuarantineEntry) -> None:
        self.entries.append(entry)


class FakeMetrics:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, name: str, value: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value


@pytest.fixture
def world():
    store, archive, quarantine, metrics = FakeStore(), FakeArchive(), FakeQuarantine(), FakeMetrics()
    svc = IngestService(FakeDirectory(), store, archive, quarantine, metrics, clock_ms=now_ms)
    return svc, store, archive, quarantine, metrics


def records(*datas: bytes) -> list[StreamRecord]:
    return [StreamRecord(record_id=str(100 + i), data=d) for i, d in enumerate(datas)]


def test_valid_telemetry_stored_with_extremes_and_both_times(world):
    """LCM-MON-1, LCM-MON-2, LCM-MON-3, LCM-DA-1, LCM-PF-5: a valid pack sample is stored with every cell,
    current, temperatures, device time in ms and arrival time side by side, plus extremes."""
    svc, store, archive, quarantine, _ = world
    ts = now_ms() - 1234
    body = pack_body(ts=ts, seq=3)
    body["cell_voltages_v"][6] = 3.512
    res = svc.process(records(rule_output(TOPIC, body, arrival_ms=ts + 50)))
    assert (res.stored, res.quarantined, res.failed_record_ids) == (1, 0, [])
    assert not quarantine.entries
    sample = store.latest[(TENANT, THING, "telemetry")]
    assert sample.device_ts_ms == ts and sample.arrival_ms == ts + 50
    assert sample.body["cell_voltages_v"][6] == 3.512 and len(sample.body["cell_voltages_v"]) == 16
    assert sample.derived["max_cell_voltage_no"] == 7 and sample.derived["max_cell_voltage_v"] == 3.512
    assert sample.body["current_a"] == 12.5
    assert len(archive.raws) == 1 and json.loads(archive.raws[0]) == body


@pytest.mark.parametrize(
    ("payload", "topic", "reason"),
    [
        (b"{not json", TOPIC, Reason.MALFORMED_JSON),
        (pack_body(soc_pct="high"), TOPIC, Reason.SCHEMA_INVALID),
        (pack_body(cells=401), TOPIC, Reason.SCHEMA_INVALID),
        (pack_body(extra_field=1), TOPIC, Reason.SCHEMA_INVALID),
        (pack_body(), topics.uplink(TENANT, "acme-ghost", topics.UpType.TELEMETRY), Reason.UNKNOWN_DEVICE),
        (pack_body(), topics.uplink("other", THING, topics.UpType.TELEMETRY), Reason.UNKNOWN_DEVICE),
        (pack_body(), topics.uplink(TENANT, "acme-old", topics.UpType.TELEMETRY), Reason.DEVICE_NOT_ACTIVE),
        (pack_body(cells=15), TOPIC, Reason.LAYOUT_MISMATCH),
        (pack_body(kind="storage_cabinet"), TOPIC, Reason.KIND_MISMATCH),
        (pack_body(), "voltops/v9/acme/acme-pack-1/up/telemetry", Reason.BAD_TOPIC),
        (pack_body(), "voltops/v1/acme/acme-pack-1/up/selfie", Reason.BAD_TOPIC),
        (b"x" * (topics.MAX_MESSAGE_BYTES + 1), TOPIC, Reason.TOO_LARGE),
    ],
)
def test_bad_input_quarantined_with_reason_and_raw_bytes(world, payload, topic, reason):
    """LCM-SEC-1, SLW-IF-1: malformed, mistyped, oversized, unknown-device and mis-routed messages are quarantined
    with a precise reason and their exact raw bytes; nothing crashes and nothing is stored."""
    svc, store, _, quarantine, metrics = world
    res = svc.process(records(rule_output(topic, payload)))
    assert res.quarantined == 1 and res.stored == 0 and res.failed_record_ids == []
    entry = quarantine.entries[0]
    assert entry.reason == reason and entry.detail
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    assert entry.raw == raw and entry.topic == topic
    assert metrics.counts["QuarantinedMessages"] == 1
    assert not store.history


def test_sensor_dropout_is_null_not_zero(world):
    """LCM-MON-1, SLW-IF-1: a drop-out (null) is kept as missing and excluded from extremes, never read as 0 V."""
    svc, store, *_ = world
    body = pack_body()
    body["cell_voltages_v"][0] = None
    body["probe_temperatures_c"][2] = None
    svc.process(records(rule_output(TOPIC, body)))
    s = store.latest[(TENANT, THING, "telemetry")]
    assert s.body["cell_voltages_v"][0] is None
    assert s.derived["min_cell_voltage_v"] > 3.0 and s.derived["missing_cell_voltages"] == 1
    assert s.derived["missing_temperatures"] == 1


def test_replay_is_stored_once(world):
    """LCM-DA-1: a redelivered message (same boot id and seq) is recognised and not double-counted."""
    svc, store, *_ = world
    data = rule_output(TOPIC, pack_body(seq=9))
    first = svc.process(records(data, data))
    again = svc.process(records(data))
    assert (first.stored, first.duplicates) == (1, 1)
    assert (again.stored, again.duplicates) == (0, 1)
    assert len(store.history) == 1


def test_reboot_with_same_seq_is_not_a_duplicate(world):
    """LCM-DA-1: the dedupe key survives reboots - seq restarts at 0 with a new boot id."""
    svc, store, *_ = world
    svc.process(records(rule_output(TOPIC, pack_body(seq=0, boot_id="bootA"))))
    res = svc.process(records(rule_output(TOPIC, pack_body(seq=0, boot_id="bootB"))))
    assert res.stored == 1 and len(store.history) == 2


def test_out_of_order_keeps_newer_latest_and_both_in_history(world):
    """LCM-PF-5, LCM-DA-1: late data lands in history; latest state never moves back in device time."""
    svc, store, *_ = world
    t = now_ms()
    svc.process(records(rule_output(TOPIC, pack_body(seq=2, ts=t))))
    svc.process(records(rule_output(TOPIC, pack_body(seq=1, ts=t - 5000))))
    assert store.latest[(TENANT, THING, "telemetry")].device_ts_ms == t
    assert len(store.history) == 2


def test_storage_failure_reports_records_for_retry_and_retry_succeeds(world):
    """ARC-3, LCM-PF-8: a storage outage fails the records (platform retries) and the retry stores each once."""
    svc, store, _, quarantine, _ = world
    batch = records(rule_output(TOPIC, pack_body(seq=1)), b"garbage", rule_output(TOPIC, pack_body(seq=2)))
    store.fail_history = True
    res = svc.process(batch)
    assert sorted(res.failed_record_ids) == ["100", "102"] and res.quarantined == 1
    store.fail_history = False
    res = svc.process(batch)
    assert res.stored == 2 and res.failed_record_ids == []
    assert len(store.history) == 2
    assert quarantine.entries[0].reason == Reason.RULE_OUTPUT_INVALID


def test_future_device_clock_flagged(world):
    """LCM-PF-5: a device clock far ahead of arrival is kept but flagged, not trusted blindly."""
    svc, store, *_ = world
    arrival = now_ms()
    svc.process(records(rule_output(TOPIC, pack_body(ts=arrival + 3_600_000), arrival_ms=arrival)))
    assert store.latest[(TENANT, THING, "telemetry")].derived["clock_suspect"] is True


def test_events_positions_and_acks_ingested(world):
    """SLW-IF-1, PBR-D-4, SLW-MON-1: device events, positions (with datum) and command acks are accepted."""
    svc, store, *_ = world
    t = now_ms()
    msgs = [
        (
            topics.UpType.EVENT,
            {
                "kind": "event",
                "event": "boot",
                "boot_id": "b",
                "seq": 0,
                "device_ts_ms": t,
                "firmware_version": "1.2.3",
            },
        ),
        (
            topics.UpType.POSITION,
            {
                "kind": "position",
                "boot_id": "b",
                "seq": 1,
                "device_ts_ms": t,
                "latitude_deg": 22.54,
                "longitude_deg": 114.06,
                "coordinate_system": "WGS-84",
            },
        ),
        (
            topics.UpType.ACK,
            {"kind": "ack", "boot_id": "b", "seq": 2, "device_ts_ms": t, "command_id": "c1", "status": "executed"},
        ),
    ]
    res = svc.process(records(*[rule_output(topics.uplink(TENANT, THING, k), b) for k, b in msgs]))
    assert res.stored == 3
    assert {k[2] for k in store.latest} == {"event", "position", "ack"}


def test_pack_extremes_indices_are_one_based_and_spreads_rounded():
    """LCM-MON-1, LCM-MON-3: extremes name the cell/probe number (1-based) with spreads in mV and °C."""
    d = pack_extremes([3.30, 3.35, None, 3.28], [25.0, 31.5, 24.9], pack_voltage_v=13.2, current_a=-10)
    assert (d["max_cell_voltage_no"], d["min_cell_voltage_no"]) == (2, 4)
    assert d["cell_voltage_spread_mv"] == 70.0
    assert (d["max_temperature_probe_no"], d["temperature_spread_c"]) == (2, 6.6)
    assert d["power_kw"] == -0.132  # charging: negative
    assert pack_extremes([None, None], [])["missing_cell_voltages"] == 2
