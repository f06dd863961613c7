"""Quiet hours: a local-time window in which e-mail, SMS and voice below level 3 are held.

Level 3 is never held (LCM-AL-1: act now) and in-app notifications are always stored at once;
held deliveries are sent when the window ends if the alarm is still unacknowledged (the
service decides; this module only answers "is it quiet now" and "when does it end").
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from shared.contracts.alarms import AlarmLevel
from shared.contracts.notifications import QuietHours


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _local(q: QuietHours, at_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(at_ms / 1000, tz=ZoneInfo(q.time_zone))


def in_quiet_hours(q: QuietHours | None, at_ms: int) -> bool:
    """True when ``at_ms`` falls in the window (start inclusive, end exclusive, may wrap midnight)."""
    if q is None:
        return False
    local = _local(q, at_ms)
    now = local.hour * 60 + local.minute
    start, end = _minutes(q.start), _minutes(q.end)
    if start < end:
        return start <= now < end
    return now >= start or now < end


def quiet_end_ms(q: QuietHours, at_ms: int) -> int:
    """The first end of the window strictly after ``at_ms`` (UTC epoch ms)."""
    local = _local(q, at_ms)
    end = _minutes(q.end)
    end_time = dt.time(end // 60, end % 60)
    candidate = dt.datetime.combine(local.date(), end_time, tzinfo=local.tzinfo)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), end_time, tzinfo=local.tzinfo)
    return int(candidate.timestamp() * 1000)


def holds_external(q: QuietHours | None, level: AlarmLevel, at_ms: int) -> bool:
    """Whether external channels are held for an alarm of ``level`` at ``at_ms`` (never for level 3)."""
    return level < AlarmLevel.LEVEL_3 and in_quiet_hours(q, at_ms)
