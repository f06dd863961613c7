"""Ports for messages the platform sends out of a function (MQTT publish, bus events).

Adapters: :mod:`shared.adapters.iot_data` (AWS IoT data plane) and
:mod:`shared.adapters.events` (EventBridge); the local stack injects a publisher on its broker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class MqttPublisher(Protocol):
    """Publishes one MQTT message (QoS 1 by default); raises on failure so the caller retries."""

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None: ...


class EventPublisher(Protocol):
    """Puts events on the platform bus; ``detail`` is JSON-serialisable. Raises on failure."""

    def put(self, source: str, detail_type: str, details: Sequence[Mapping[str, Any]]) -> None: ...
