"""Server-side downsampling of history for charts (pure).

Samples are grouped into at most ``max_points`` equal time buckets; each bucket reports the
min/max/avg of every scalar reading and derived value (so a spike is never averaged away:
the max is kept), the sample count, and its last sample's full body (positions need the
actual coordinates, and a cell chart needs one real vector per bucket).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Scalar fields summarised per bucket (body and derived); booleans are summarised as "any".
_SKIP = {"seq", "device_ts_ms", "boot_id", "kind", "event", "cell_count", "probe_count"}


def _scalars(sample: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in ("body", "derived"):
        for key, value in (sample.get(part) or {}).items():
            if key in _SKIP or isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int | float):
                out[key] = float(value)
    return out


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
    flags: dict[str, bool] = {}
    for s in bucket:
        for k, v in _scalars(s).items():
            mins[k] = min(mins.get(k, v), v)
            maxs[k] = max(maxs.get(k, v), v)
            sums[k] = sums.get(k, 0.0) + v
            counts[k] = counts.get(k, 0) + 1
        for k, b in _flags(s).items():
            flags[k] = flags.get(k, False) or b
    last = bucket[-1]
    return {
        "device_ts_ms": int(bucket[0]["device_ts_ms"]),
        "until_ms": int(last["device_ts_ms"]),
        "count": len(bucket),
        "min": mins,
        "max": maxs,
        "avg": {k: round(sums[k] / counts[k], 4) for k in sums},
        "any": flags,
        "last": last,
    }
