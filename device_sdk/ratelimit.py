"""Token bucket that keeps one MQTT connection under AWS IoT Core's publish rate limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Classic token bucket: ``rate`` tokens per second, at most ``burst`` stored.

    IoT Core throttles (drops) publishes above 100/s per connection, so the SDK paces itself
    instead of losing messages. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.rate = float(rate_per_s)
        self.capacity = float(burst if burst is not None else rate_per_s)
        if self.capacity < 1:
            raise ValueError("burst must allow at least one token")
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def try_acquire(self) -> bool:
        """Take one token if available, without waiting."""
        with self._lock:
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False

    def wait_time(self) -> float:
        """Seconds until a token will be available (0 if one is now)."""
        with self._lock:
            self._refill()
            return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def acquire(self, timeout: float | None = None) -> bool:
        """Block until a token is taken; False if ``timeout`` seconds pass first."""
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            if self.try_acquire():
                return True
            wait = self.wait_time()
            if deadline is not None:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return False
                wait = min(wait, remaining)
            self._sleep(max(wait, 0.0005))
