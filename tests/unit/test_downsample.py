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


def _fix(ts: int, lat: float, lon: float, valid: bool = True, heading: float = 90.0) -> dict:
    return {
        "device_ts_ms": ts,
        "body": {
            "kind": "position",
            "seq": ts,
            "device_ts_ms": ts,
            "latitude_deg": lat,
            "longitude_deg": lon,
            "coordinate_system": "GCJ-02",
            "fix_valid": valid,
            "speed_kmh": 30.0,
            "heading_deg": heading,
            "altitude_m": None,
        },
        "derived": None,
    }


def test_position_buckets_carry_a_real_track_point_and_ignore_fixless_coordinates():
    """SLW-MON-3: position history is usable for track playback: every bucket has fix (the last valid fix:
    latitude, longitude, coordinate system, device time, speed, heading); a sample without a valid fix adds
    no coordinates to min/max/avg, and a bucket of only such samples has fix null."""
    samples = [_fix(i * 1000, 31.0 + i * 0.001, 121.0, heading=10.0) for i in range(6)]
    samples[2] = _fix(2000, 0.0, 0.0, valid=False)  # receiver without a fix reports zeros
    samples[5] = _fix(5000, 0.0, 0.0, valid=False)
    out = downsample(samples, 2)
    assert [b["count"] for b in out] == [3, 3]
    first, second = out
    assert first["fix"] == {
        "latitude_deg": 31.001,
        "longitude_deg": 121.0,
        "coordinate_system": "GCJ-02",
        "ts_ms": 1000,
        "speed_kmh": 30.0,
        "heading_deg": 10.0,
    }
    assert first["min"]["latitude_deg"] == 31.0 and first["avg"]["latitude_deg"] == 31.0005
    assert second["fix"]["ts_ms"] == 4000 and second["min"]["longitude_deg"] == 121.0
    assert second["last"]["body"]["fix_valid"] is False  # the raw last sample is still there, untouched
    only_fixless = downsample([_fix(0, 0.0, 0.0, valid=False)], 10)
    assert only_fixless[0]["fix"] is None and "latitude_deg" not in only_fixless[0]["avg"]
    assert "fix" not in downsample([_s(0, 50)], 10)[0]  # telemetry buckets are unchanged


def test_headings_are_averaged_on_the_circle():
    """SLW-MON-3: 350° and 10° average to 0°, not 180°."""
    out = downsample([_fix(0, 31.0, 121.0, heading=350.0), _fix(1, 31.0, 121.0, heading=10.0)], 1)
    assert out[0]["avg"]["heading_deg"] == 0.0
    assert out[0]["min"]["heading_deg"] == 10.0 and out[0]["max"]["heading_deg"] == 350.0
