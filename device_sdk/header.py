"""Uplink header source: ``boot_id``, ``seq`` and ``device_ts_ms`` for every message.

The platform dedupes on (thing, boot_id, seq), so the device must never reuse a pair: a new
random ``boot_id`` per boot and a ``seq`` that grows by one per message is enough and needs no
counter on flash (see ``shared.contracts.telemetry``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from shared.contracts.telemetry import UplinkHeader

M = TypeVar("M", bound=UplinkHeader)


def wall_clock_ms() -> int:
    """UTC epoch milliseconds of the device clock (LCM-PF-5: millisecond precision)."""
    return time.time_ns() // 1_000_000


class HeaderSource:
    """Hands out message headers; thread-safe, one instance per device boot.

    ``clock_ms`` is injectable so the simulator (and tests) can run on simulated time.
    """

    def __init__(self, boot_id: str | None = None, clock_ms: Callable[[], int] = wall_clock_ms) -> None:
        self.boot_id = boot_id or uuid.uuid4().hex
        self._clock_ms = clock_ms
        self._seq = 0
        self._lock = threading.Lock()

    @property
    def next_seq(self) -> int:
        """The seq the next header will carry (for diagnostics)."""
        return self._seq

    def now_ms(self) -> int:
        """The device clock, UTC epoch ms."""
        return self._clock_ms()

    def header(self, device_ts_ms: int | None = None) -> dict[str, Any]:
        """Return ``{boot_id, seq, device_ts_ms}`` for one new message and advance ``seq``."""
        with self._lock:
            seq = self._seq
            self._seq += 1
        return {
            "boot_id": self.boot_id,
            "seq": seq,
            "device_ts_ms": self._clock_ms() if device_ts_ms is None else device_ts_ms,
        }

    def stamp(self, model: type[M], device_ts_ms: int | None = None, **fields: Any) -> M:
        """Build a contract message with a fresh header, e.g. ``stamp(Position, latitude_deg=...)``."""
        return model(**self.header(device_ts_ms), **fields)
