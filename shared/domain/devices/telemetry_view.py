"""Read side for operators: a device's latest state and its downsampled history (LCM-MON-1..3, LCM-DA-1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.contracts.topics import UpType
from shared.domain.auth import Action, Principal, authorize
from shared.domain.devices.ports import DeviceRepository, TelemetryReader
from shared.domain.devices.service import _check_thing, now_ms
from shared.domain.errors import Invalid, NotFound

DAY_MS = 86_400_000
MAX_WINDOW_MS = 31 * DAY_MS
DEFAULT_WINDOW_MS = DAY_MS
MAX_POINTS_RANGE = (10, 5000)
DEFAULT_MAX_POINTS = 500
#: Raw samples read for one history request; beyond this the answer says ``truncated``.
MAX_RAW_SAMPLES = 20_000

Downsampler = Callable[[list[dict[str, Any]], int], list[dict[str, Any]]]


@dataclass(frozen=True)
class HistoryQuery:
    message_type: str
    from_ms: int
    to_ms: int
    max_points: int


@dataclass(frozen=True)
class History:
    query: HistoryQuery
    raw_count: int
    truncated: bool
    downsampled: bool
    points: list[dict[str, Any]]


def history_query(
    message_type: str | None,
    from_ms: int | None,
    to_ms: int | None,
    max_points: int | None,
    now: int,
) -> HistoryQuery:
    """Defaults (last 24 h, telemetry, 500 points) and the precise range rules."""
    mtype = message_type or UpType.TELEMETRY.value
    known = [t.value for t in UpType]
    if mtype not in known:
        raise Invalid(f"type must be one of {known}, got {mtype!r}", code="invalid_type")
    to = now if to_ms is None else to_ms
    frm = to - DEFAULT_WINDOW_MS if from_ms is None else from_ms
    if frm < 0 or to < 0:
        raise Invalid("from_ms and to_ms must be UTC epoch milliseconds ≥ 0", code="invalid_range")
    if frm >= to:
        raise Invalid(f"from_ms ({frm}) must be before to_ms ({to})", code="invalid_range")
    if to - frm > MAX_WINDOW_MS:
        raise Invalid(
            f"window to_ms - from_ms is {to - frm} ms; at most 31 days ({MAX_WINDOW_MS} ms) per request",
            code="invalid_range",
        )
    points = DEFAULT_MAX_POINTS if max_points is None else max_points
    lo, hi = MAX_POINTS_RANGE
    if not lo <= points <= hi:
        raise Invalid(f"max_points must be between {lo} and {hi}, got {points}", code="invalid_max_points")
    return HistoryQuery(message_type=mtype, from_ms=frm, to_ms=to, max_points=points)


class DeviceTelemetry:
    """Latest state and history of the caller's own devices."""

    def __init__(
        self,
        *,
        devices: DeviceRepository,
        reader: TelemetryReader,
        downsample: Downsampler,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.devices = devices
        self.reader = reader
        self.downsample = downsample
        self.clock = clock

    def _check_own(self, principal: Principal, thing_name: str) -> None:
        authorize(principal, Action.READ)
        if self.devices.get(principal.tenant_id, _check_thing(thing_name)) is None:
            raise NotFound(f"device {thing_name!r} not found", code="device_not_found")

    def latest(self, principal: Principal, thing_name: str) -> dict[str, dict[str, Any]]:
        self._check_own(principal, thing_name)
        return self.reader.get_latest(principal.tenant_id, thing_name)

    def history(
        self,
        principal: Principal,
        thing_name: str,
        *,
        message_type: str | None = None,
        from_ms: int | None = None,
        to_ms: int | None = None,
        max_points: int | None = None,
    ) -> History:
        q = history_query(message_type, from_ms, to_ms, max_points, self.clock())
        self._check_own(principal, thing_name)
        raw = self.reader.query_history(
            principal.tenant_id, thing_name, q.message_type, q.from_ms, q.to_ms, MAX_RAW_SAMPLES + 1
        )
        truncated = len(raw) > MAX_RAW_SAMPLES
        raw = raw[:MAX_RAW_SAMPLES]
        # Always bucketed, so the response shape never depends on the data volume: below
        # max_points every sample is its own bucket (count 1).
        points = self.downsample(raw, q.max_points)
        downsampled = len(raw) > q.max_points
        return History(query=q, raw_count=len(raw), truncated=truncated, downsampled=downsampled, points=points)
