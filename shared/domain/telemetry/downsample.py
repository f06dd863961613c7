"""Server-side downsampling of history for charts (pure).

Samples are grouped into at most ``max_points`` equal time buckets; each bucket reports the
min/max/avg of every scalar reading and derived value (so a spike is never averaged away:
the max is kept), the sample count, and its last sample's full body (a cell chart needs one
real vector per bucket).

Positions (SLW-MON-3 track playback): a sample without a valid fix contributes no coordinates
(its latitude/longitude mean nothing), headings are averaged on the circle, and every position
bucket carries ``fix`` — its last valid fix as a real point of the track (latitude, longitude,
coordinate system, device time, speed, heading) or null when the bucket has none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Scalar fields summarised per bucket (body and derived); booleans are summarised as "any".
_SKIP = {"seq", "device_ts_ms", "boot_id", "kind", "event", "cell_count", "probe_count"}
#: Readings of a position sample that only mean something with a valid fix.
_FIX_READINGS = {"latitude_deg", "longitude_deg", "speed_kmh", "heading_deg", "altitude_m"}
#: Angles, averaged on the circle (350° and 10° average to 0°, not 180°).
_ANGLES = {"heading_deg"}


def _is_position(sample: dict[str, Any]) -> bool:
    return (sample.get("body") or {}).get("kind") == "position"


def _has_fix(sample: dict[str, Any]) -> bool:
    body = sample.get("body") or {}
    return (
        body.get("fix_valid", True) is True
        and isinstance(body.get("latitude_deg"), int | float)
        and isinstance(body.get("longitude_deg"), int | float)
    )


def _scalars(sample: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    no_fix = _is_position(sample) and not _has_fix(sample)
    for part in ("body", "derived"):
        for key, value in (sample.get(part) or {}).items():
            if key in _SKIP or isinstance(value, bool) or value is None:
                continue
            if no_fix and key in _FIX_READINGS:
                continue
            if isinstance(value, int | float):
                out[key] = float(value)
    return out


def _fix(bucket: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The bucket's last valid fix as one track point, or None."""
    for s in reversed(bucket):
        if _is_position(s) and _has_fix(s):
            body = s["body"]
            return {
                "latitude_deg": float(body["latitude_deg"]),
                "longitude_deg": float(body["longitude_deg"]),
                "coordinate_system": body.get("coordinate_system"),
                "ts_ms": int(s["device_ts_ms"]),
                "speed_kmh": body.get("speed_kmh"),
                "heading_deg": body.get("heading_deg"),
            }
    return None


def _flags(sample: dict[str, Any]) -> dict[str, bool]:
    return {k: v for k, v in (sample.get("body") or {}).items() if isinstance(v, bool)}


def downsample(samples: Sequence[dict[str, Any]], max_points: int) -> list[dict[str, Any]]:
    """Reduce ascending samples to at most ``max_points`` buckets.

    When there are no more samples than points, each sample becomes its own bucket
    (count 1), so the response shape never depends on the data volume.
    """
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    if not samples:
        return []
    t0 = int(samples[0]["device_ts_ms"])
    t1 = int(samples[-1]["device_ts_ms"])
    span = max(t1 - t0 + 1, 1)
    buckets: list[list[dict[str, Any]]] = []
    if len(samples) <= max_points:
        buckets = [[s] for s in samples]
    else:
        width = -(-span // max_points)  # ceil
        current: list[dict[str, Any]] = []
        current_idx = -1
        for s in samples:
            idx = (int(s["device_ts_ms"]) - t0) // width
            if idx != current_idx and current:
                buckets.append(current)
                current = []
            current_idx = idx
            current.append(s)
        if current:
            buckets.append(current)
    return [_summarise(b) for b in buckets]


def _summarise(bucket: list[dict[str, Any]]) -> dict[str, Any]:
    mins: dict[str, float] = {}
    maxs: dict[str, float] = {}
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    circle: dict[str, tuple[float, float]] = {}
    flags: dict[str, bool] = {}
    for s in bucket:
        for k, v in _scalars(s).items():
            mins[k] = min(mins.get(k, v), v)
            maxs[k] = max(maxs.get(k, v), v)
            sums[k] = sums.get(k, 0.0) + v
            counts[k] = counts.get(k, 0) + 1
            if k in _ANGLES:
                sin, cos = circle.get(k, (0.0, 0.0))
                circle[k] = (sin + math.sin(math.radians(v)), cos + math.cos(math.radians(v)))
        for k, b in _flags(s).items():
            flags[k] = flags.get(k, False) or b
    avg = {k: round(sums[k] / counts[k], 4) for k in sums}
    for k, (sin, cos) in circle.items():
        avg[k] = round(math.degrees(math.atan2(sin, cos)) % 360.0, 4) % 360.0
    last = bucket[-1]
    out = {
        "device_ts_ms": int(bucket[0]["device_ts_ms"]),
        "until_ms": int(last["device_ts_ms"]),
        "count": len(bucket),
        "min": mins,
        "max": maxs,
        "avg": avg,
        "any": flags,
        "last": last,
    }
    if any(_is_position(s) for s in bucket):
        out["fix"] = _fix(bucket)
    return out
