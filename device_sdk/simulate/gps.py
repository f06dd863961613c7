"""GNSS track of a mobile pack: a seeded random route near a city centre, WGS-84."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

#: Shenzhen, Futian (WGS-84).
SHENZHEN = (22.5431, 114.0579)
_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True)
class Fix:
    latitude_deg: float
    longitude_deg: float
    speed_kmh: float
    heading_deg: float
    altitude_m: float


class RouteWalker:
    """Moves along a closed loop of waypoints (a random walk of 300–800 m legs) at riding speed."""

    def __init__(self, rng: random.Random, centre: tuple[float, float] = SHENZHEN, legs: int = 12) -> None:
        self._rng = rng
        self._lat0, self._lon0 = centre
        # Start somewhere within ~3 km of the centre, then walk; positions are metres east/north.
        x, y = rng.uniform(-3000, 3000), rng.uniform(-3000, 3000)
        heading = rng.uniform(0, 2 * math.pi)
        points = [(x, y)]
        for _ in range(legs - 1):
            heading += rng.gauss(0, 0.8)
            d = rng.uniform(300, 800)
            x, y = x + d * math.sin(heading), y + d * math.cos(heading)
            points.append((x, y))
        self._points = points  # the last leg returns to the start: a loop
        self._leg = 0
        self._along = 0.0
        self._altitude = rng.uniform(10, 40)
        self.speed_kmh = 0.0

    def _leg_vector(self) -> tuple[float, float, float]:
        (x0, y0), (x1, y1) = self._points[self._leg], self._points[(self._leg + 1) % len(self._points)]
        dx, dy = x1 - x0, y1 - y0
        return dx, dy, math.hypot(dx, dy) or 1.0

    def step(self, dt_s: float, moving: bool) -> None:
        """Advance ``dt_s`` seconds; ``moving`` picks a riding speed, else the pack stands still."""
        self.speed_kmh = max(0.0, self._rng.gauss(20, 4)) if moving else 0.0
        dist = self.speed_kmh / 3.6 * dt_s
        while dist > 0:
            _, _, length = self._leg_vector()
            step = min(dist, length - self._along)
            self._along += step
            dist -= step
            if self._along >= length - 1e-9:
                self._leg = (self._leg + 1) % len(self._points)
                self._along = 0.0

    def fix(self) -> Fix:
        """The current position with a few metres of receiver noise."""
        dx, dy, length = self._leg_vector()
        x0, y0 = self._points[self._leg]
        x = x0 + dx * self._along / length + self._rng.gauss(0, 2.0)
        y = y0 + dy * self._along / length + self._rng.gauss(0, 2.0)
        lat = self._lat0 + y / _M_PER_DEG_LAT
        lon = self._lon0 + x / (_M_PER_DEG_LAT * math.cos(math.radians(self._lat0)))
        heading = math.degrees(math.atan2(dx, dy)) % 360.0
        return Fix(round(lat, 7), round(lon, 7), round(self.speed_kmh, 1), round(heading, 1) % 360.0, self._altitude)
