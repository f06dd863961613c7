"""Unit tests of server-side history downsampling."""

from __future__ import annotations

import pytest

from shared.domain.telemetry.downsample import downsample


def _s(ts: int, v: float, smoke: bool = False) -> dict:
    return {
        "device_ts_ms": ts,
        "body": {"pack_voltage_v": v, "seq": ts, "smoke_detected": smoke},
        "derived": {"max_cell_voltage_v": v / 16},
    }


def test_downsample_keeps_spikes_and_bounds_points():
    """LCM-DA-1, LCM-MON-4: history is reduced to at most max_points buckets; a spike survives as the max."""
    samples = [_s(i * 1000, 52.0) for i in range(1000)]
    samples[500] = _s(500_000, 60.0, smoke=True)
    out = downsample(samples, 50)
    assert len(out) <= 50
    assert sum(b["count"] for b in out) == 1000
    assert max(b["max"]["pack_voltage_v"] for b in out) == 60.0
    assert any(b["any"]["smoke_detected"] for b in out)
    assert all(out[i]["device_ts_ms"] < out[i + 1]["device_ts_ms"] for i in range(len(out) - 1))


def test_downsample_small_series_unchanged_in_count():
    """LCM-DA-1: fewer samples than points gives one bucket per sample."""
    out = downsample([_s(0, 50), _s(10, 51)], 100)
    assert [b["count"] for b in out] == [1, 1] and out[1]["last"]["body"]["pack_voltage_v"] == 51
    assert downsample([], 10) == []
    with pytest.raises(ValueError):
        downsample([_s(0, 1)], 0)
