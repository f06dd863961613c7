"""Escalation planner (pure): which firing comes next and when.

Firings are numbered from 0: firing ``n < len(steps)`` is chain step ``n + 1``; after the
chain the last step repeats every ``repeat_interval_s``, ``max_repeats`` times. Step ``i``
is due ``after_s[i]`` after the alarm was raised; after a firing the next one keeps its gap
to the previous step (``after_s[n+1] - after_s[n]``) measured from when the firing was due
— or from the moment of an ``AlarmEscalated`` jump, which fires the next step at once and so
shifts the rest of the chain earlier.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared.contracts.alarms import AlarmLevel
from shared.contracts.notifications import NotificationKind, NotificationPolicy, Target
from shared.domain.notifications.routing import route_targets

#: Due escalations are spread over this many GSI partitions (``due_shard``) and queried per shard.
SHARDS = 8


def shard_of(tenant_id: str, alarm_id: str) -> int:
    """Stable shard of an alarm (same on every host and run, unlike ``hash()``)."""
    digest = hashlib.sha256(f"{tenant_id}#{alarm_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % SHARDS


@dataclass(frozen=True)
class Firing:
    index: int  # 0-based firing number
    step: int  # 1-based chain step (the last step's number for repeats)
    repeat: int  # 0 for a chain step, 1.. for repeats of the last step
    targets: tuple[Target, ...]

    @property
    def kind(self) -> NotificationKind:
        return NotificationKind.ALARM_REMINDER if self.repeat else NotificationKind.ALARM_ESCALATED


def needs_escalation(policy: NotificationPolicy, level: AlarmLevel) -> bool:
    """Alarms at or above the escalation level must be acknowledged (and have a chain to run)."""
    return level >= policy.escalation.min_level and bool(policy.escalation.steps)


def first_fire_ms(policy: NotificationPolicy, level: AlarmLevel, raised_at_ms: int) -> int | None:
    if not needs_escalation(policy, level):
        return None
    return raised_at_ms + policy.escalation.steps[0].after_s * 1000


def total_firings(policy: NotificationPolicy) -> int:
    steps = policy.escalation.steps
    return len(steps) + policy.escalation.max_repeats if steps else 0


def firing(policy: NotificationPolicy, n: int) -> Firing | None:
    """Firing ``n`` of the chain and its repeats; None once they are exhausted."""
    if n < 0 or n >= total_firings(policy):
        return None
    return _firing(policy, n)


def _firing(policy: NotificationPolicy, n: int) -> Firing:
    steps = policy.escalation.steps
    if n < len(steps):
        return Firing(index=n, step=n + 1, repeat=0, targets=(steps[n],))
    return Firing(index=n, step=len(steps), repeat=n - len(steps) + 1, targets=(steps[-1],))


def forced_firing(policy: NotificationPolicy, level: AlarmLevel, n: int) -> Firing:
    """For an ``AlarmEscalated`` event, which always notifies: the next step; past the chain the
    last step again (even beyond ``max_repeats``); with no chain at all, the level's routes again."""
    if policy.escalation.steps:
        return _firing(policy, n)
    return Firing(index=n, step=1, repeat=0, targets=tuple(route_targets(policy, level)))


def next_fire_ms(policy: NotificationPolicy, n: int, ref_ms: int) -> int | None:
    """When firing ``n + 1`` is due, firing ``n`` having been due (or forced) at ``ref_ms``."""
    nxt = n + 1
    if nxt >= total_firings(policy):
        return None
    steps = policy.escalation.steps
    if nxt < len(steps):  # then n < len(steps) too
        return ref_ms + (steps[nxt].after_s - steps[n].after_s) * 1000
    return ref_ms + policy.escalation.repeat_interval_s * 1000
