"""EventBridge adapter: puts platform events on the bus (the ``EventPublisher`` port).

The client comes from a cached factory (never built at import); :func:`reset_clients` drops it.
``PutEvents`` takes at most 10 entries per call and reports per-entry failures without raising:
any failed entry raises here, so the caller's retry re-sends (consumers dedupe by event id).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import boto3

from shared.domain.errors import Unavailable
from shared.settings import get_settings

MAX_ENTRIES = 10


@cache
def events_client() -> Any:
    s = get_settings()
    return boto3.client("events", region_name=s.region, endpoint_url=s.aws_endpoint_url)


def reset_clients() -> None:
    events_client.cache_clear()


class EventBridgePublisher:
    def __init__(self, bus_name: str | None = None) -> None:
        self._bus = bus_name or get_settings().event_bus

    def put(self, source: str, detail_type: str, details: Sequence[Mapping[str, Any]]) -> None:
        for i in range(0, len(details), MAX_ENTRIES):
            chunk = details[i : i + MAX_ENTRIES]
            entries = [
                {"Source": source, "DetailType": detail_type, "Detail": json.dumps(d), "EventBusName": self._bus}
                for d in chunk
            ]
            resp = events_client().put_events(Entries=entries)
            if resp.get("FailedEntryCount"):
                codes = sorted({e.get("ErrorCode", "?") for e in resp.get("Entries", []) if e.get("ErrorCode")})
                raise Unavailable(f"EventBridge refused {resp['FailedEntryCount']} event(s): {', '.join(codes)}")
