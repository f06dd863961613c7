"""Unit tests of the device SDK's pure parts: header, size limit, rate limiter, outbox, commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_sdk.client import MessageTooLarge, encode
from device_sdk.commands import CommandProcessor, CommandRejected, InMemoryHandledStore
from device_sdk.header import HeaderSource
from device_sdk.outbox import BufferFull, DiskOutbox, OverflowPolicy
from device_sdk.ratelimit import TokenBucket
from shared.contracts import topics
from shared.contracts.telemetry import MAX_CELLS, MAX_PROBES, AckStatus, BatteryPackTelemetry, Command, FaultEvent

NOW = 1_760_000_000_000


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, dt: float) -> None:
        self.t += dt


def test_header_owns_boot_id_seq_and_timestamp() -> None:
    """LCM-PF-5: every message gets boot_id, a seq growing by one from 0, and a millisecond device time."""
    headers = HeaderSource(clock_ms=lambda: NOW)
    first, second = headers.header(), headers.header()
    assert first["boot_id"] == second["boot_id"] and len(first["boot_id"]) == 32
    assert (first["seq"], second["seq"]) == (0, 1)
    assert first["device_ts_ms"] == NOW
    assert HeaderSource().boot_id != headers.boot_id  # new boot, new id
    msg = headers.stamp(FaultEvent, code="bms.comm", active=True)
    assert msg.seq == 2 and msg.device_ts_ms == NOW


def test_full_size_pack_fits_and_oversize_is_refused() -> None:
    """LCM-MON-1, ARC-2: a pack with the maximum 400 cells fits one message; anything over 128 KB is refused."""
    headers = HeaderSource(clock_ms=lambda: NOW)
    full = headers.stamp(
        BatteryPackTelemetry,
        cell_voltages_v=[3.3123] * MAX_CELLS,
        probe_temperatures_c=[25.25] * MAX_PROBES,
    )
    assert len(encode(full)) < topics.MAX_MESSAGE_BYTES
    big = headers.stamp(FaultEvent, code="x", active=True, params={f"k{i}": "v" * 1000 for i in range(140)})
    with pytest.raises(MessageTooLarge, match="131072"):
        encode(big)


def test_encode_keeps_nulls() -> None:
    """LCM-MON-1, LCM-MON-3: a dropped-out reading is sent as null, never left out or sent as 0."""
    msg = HeaderSource(clock_ms=lambda: NOW).stamp(
        BatteryPackTelemetry, cell_voltages_v=[3.3, None], probe_temperatures_c=[None]
    )
    body = json.loads(encode(msg))
    assert body["cell_voltages_v"] == [3.3, None]
    assert body["probe_temperatures_c"] == [None]
    assert "soc_pct" in body and body["soc_pct"] is None


def test_token_bucket_caps_rate_at_iot_core_limit() -> None:
    """ARC-2: the client paces itself to at most 100 publishes per second per connection."""
    clock = FakeClock()
    bucket = TokenBucket(topics.MAX_PUBLISHES_PER_SECOND, clock=clock, sleep=clock.sleep)
    granted = 0
    while clock.t < 10.0:
        bucket.acquire()
        granted += 1
    # burst of 100 at t=0, then 100/s for 10 s
    assert granted <= topics.MAX_PUBLISHES_PER_SECOND * 11
    assert granted >= topics.MAX_PUBLISHES_PER_SECOND * 10
    assert not bucket.try_acquire()
    assert bucket.acquire(timeout=0.0) is False


def test_outbox_is_fifo_durable_and_bounded(tmp_path: Path) -> None:
    """LCM-SEC-1: buffered messages survive a reopen, come back in order, and overflow drops the oldest (counted)."""
    path = tmp_path / "box.sqlite3"
    box = DiskOutbox(path, max_messages=3)
    ids = [box.append("t", f"m{i}".encode()) for i in range(5)]
    assert len(box) == 3 and box.dropped_total == 2
    box.close()
    box = DiskOutbox(path, max_messages=3)
    rows = box.read_after(0, 10)
    assert [r.payload for r in rows] == [b"m2", b"m3", b"m4"]
    assert [r.id for r in rows] == ids[2:]
    box.remove(rows[0].id)
    assert [r.payload for r in box.read_after(0, 10)] == [b"m3", b"m4"]
    assert box.dropped_total == 2
    box.close()


def test_outbox_reject_new_policy(tmp_path: Path) -> None:
    """LCM-SEC-1: with REJECT_NEW a full buffer refuses loudly instead of dropping silently."""
    box = DiskOutbox(tmp_path / "b.sqlite3", max_messages=1, overflow_policy=OverflowPolicy.REJECT_NEW)
    box.append("t", b"1")
    with pytest.raises(BufferFull):
        box.append("t", b"2")
    box.close()


def _cmd(command_id: str = "c1", *, expires: int = NOW + 60_000, key: str = "k1", name: str = "cut_off") -> bytes:
    return json.dumps(
        {
            "command_id": command_id,
            "name": name,
            "params": {},
            "issued_at_ms": NOW - 1000,
            "expires_at_ms": expires,
            "idempotency_key": key,
        }
    ).encode()


def _processor(calls: list[Command], now: int = NOW) -> CommandProcessor:
    return CommandProcessor(InMemoryHandledStore(), calls.append, clock_ms=lambda: now)


def test_expired_command_is_never_executed() -> None:
    """SLW-IF-1: at or after expires_at_ms the handler is not called and the ack says expired."""
    calls: list[Command] = []
    proc = _processor(calls)
    out = proc.process(_cmd(expires=NOW))  # exactly at expiry counts as expired
    assert out is not None and out.status is AckStatus.EXPIRED and out.reason == "expired"
    assert calls == []
    again = proc.process(_cmd(expires=NOW))
    assert again is not None and again.status is AckStatus.EXPIRED and calls == []


def test_duplicate_command_is_executed_once() -> None:
    """SLW-IF-1: a QoS 1 redelivery (same id) or a retry (same idempotency key) is acked but not re-run."""
    calls: list[Command] = []
    proc = _processor(calls)
    outs = [proc.process(_cmd("c1", key="k1")), proc.process(_cmd("c1", key="k1")), proc.process(_cmd("c9", key="k1"))]
    assert [o.status for o in outs if o] == [AckStatus.EXECUTED] * 3
    assert [o.duplicate for o in outs if o] == [False, True, True]
    assert len(calls) == 1


def test_unknown_invalid_and_failing_commands() -> None:
    """SLW-IF-1: an unknown command is rejected with a reason; a handler error gives 'failed'."""
    proc = _processor([])
    out = proc.process(_cmd(name="self_destruct"))
    assert out is not None and (out.status, out.reason) == (AckStatus.REJECTED, "unknown_command")
    assert proc.process(b"not json") is None
    assert proc.process(json.dumps({"name": "cut_off"}).encode()) is None  # nothing to ack to

    def boom(cmd: Command) -> None:
        if cmd.command_id == "r":
            raise CommandRejected("not_while_charging")
        raise RuntimeError("relay stuck")

    proc = CommandProcessor(InMemoryHandledStore(), boom, clock_ms=lambda: NOW)
    rejected = proc.process(_cmd("r", key="kr"))
    failed = proc.process(_cmd("f", key="kf"))
    assert rejected is not None and (rejected.status, rejected.reason) == (AckStatus.REJECTED, "not_while_charging")
    assert failed is not None and failed.status is AckStatus.FAILED
    assert failed.reason == "handler_error:RuntimeError"


def test_command_dedupe_survives_restart(tmp_path: Path) -> None:
    """SLW-IF-1: handled commands are remembered on disk, so a redelivery after a reboot is not re-run."""
    calls: list[Command] = []
    box = DiskOutbox(tmp_path / "b.sqlite3")
    CommandProcessor(box, calls.append, clock_ms=lambda: NOW).process(_cmd())
    box.close()
    box = DiskOutbox(tmp_path / "b.sqlite3")
    out = CommandProcessor(box, calls.append, clock_ms=lambda: NOW).process(_cmd())
    assert out is not None and out.duplicate and out.status is AckStatus.EXECUTED
    assert len(calls) == 1
    box.close()
