"""State kept per condition between samples (part of the engine state, JSON round-trippable).

Plain slotted dataclasses rather than pydantic models: the engine builds several per sample and
pydantic validates them only when a stored state is loaded. Instances are **never mutated**
after construction — the engine builds new ones — so two engine states can share them safely.

Every time is device time in epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Latch:
    """A debounced condition (threshold, signal, consistency) with hysteresis.

    ``since`` is the first sample of the running phase: meeting the raise condition while off
    (pending ``for_s``), or meeting the clear condition while on (pending ``clear_for_s``).
    ``last`` is the latest sample of that phase (a gap longer than the maximum restarts it).
    A latch that is off with no running phase is not stored at all.
    """

    on: bool = False
    since: int | None = None
    last: int | None = None


#: The stored default: a latch that is not in the state is this one.
LATCH_OFF = Latch()
#: A latch seeded on: the rule is active but its condition's state was lost or restructured.
LATCH_ON = Latch(on=True)


@dataclass(slots=True)
class RateTrack:
    """Rate of change per element (one element for a metric).

    ``ts`` is the sample the previous values come from; ``run[i]`` is the start of element i's
    current run of consecutive slopes that met the rate (the earlier sample of its first slope);
    an empty ``run`` means no element is in a run (the common case, kept compact).
    """

    ts: int
    prev: list[float | None]
    run: list[int | None]


@dataclass(slots=True)
class JumpTrack:
    """Last value of a metric and the last jump (``at`` set while the jump holds)."""

    ts: int | None = None
    prev: float | None = None
    at: int | None = None
    before: float | None = None
    after: float | None = None


@dataclass(slots=True)
class DropTrack:
    """Per-element maxima in half-window buckets of device time (``bucket`` = index of ``cur``).

    ``prev`` is the bucket before ``cur`` and ``older`` the maximum of the two buckets before
    ``cur``, so the reference (``max(older, cur)``) covers between one and one and a half
    reference windows. An empty list is a bucket without any value.
    """

    bucket: int
    older: list[float | None]
    prev: list[float | None]
    cur: list[float | None]
