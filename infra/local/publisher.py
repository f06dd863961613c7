"""The platform's MQTT publishes locally: :class:`shared.domain.messaging.MqttPublisher` on mosquitto.

In AWS the functions publish through the IoT data plane (``shared.adapters.iot_data``); the local
stack injects this instead (``functions.services.configure(publisher=...)``). It is a
paho-mqtt MQTT 5 client on the broker's plain loopback listener — the platform's own access, like
the rules engine's — and :meth:`BrokerPublisher.publish` returns only once the broker has the
message (PUBACK for QoS 1) or raises, so a command is marked ``sent`` only when it really left.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
PUBLISH_TIMEOUT_S = 5.0


class PublishError(RuntimeError):
    """The broker did not take the message (not connected, refused, or no PUBACK in time)."""


class BrokerPublisher:
    """Thread-safe QoS 0/1 publisher; reconnects by itself (paho's network thread)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        publish_timeout_s: float = PUBLISH_TIMEOUT_S,
    ) -> None:
        self.host, self.port = host, port
        self.publish_timeout_s = publish_timeout_s
        self._lock = threading.Lock()
        self._connected = threading.Condition(self._lock)
        self._is_connected = False
        self._closed = False
        #: PUBACK reason codes by message id, filled by the network thread, taken by the publisher.
        self._results: dict[int, Any] = {}
        # A unique client id by default: a second publisher with the same id would make the broker
        # drop the first, and the two would take turns kicking each other off.
        client_id = client_id or f"voltops-publisher-{uuid.uuid4().hex[:12]}"
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        try:
            self._client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise PublishError(f"cannot connect to the broker at {host}:{port}: {exc}") from exc
        self._client.loop_start()
        if not self._wait_connected(connect_timeout_s):
            self.close()
            raise PublishError(f"broker at {host}:{port} did not accept the connection within {connect_timeout_s}s")

    # -- paho callbacks (network thread) ---------------------------------------------------------
    def _on_connect(self, _c: object, _u: object, _f: object, reason: Any, _p: object) -> None:
        if reason.is_failure:
            log.error("broker refused the publisher: %s", reason)
            return
        with self._connected:
            self._is_connected = True
            self._connected.notify_all()

    def _on_disconnect(self, _c: object, _u: object, _f: object, reason: Any, _p: object) -> None:
        with self._connected:
            self._is_connected = False
        if not self._closed:
            log.warning("publisher disconnected from the broker (%s); reconnecting", reason)

    def _on_publish(self, _c: object, _u: object, mid: int, reason: Any, _p: object) -> None:
        with self._lock:
            self._results[mid] = reason

    # -- MqttPublisher -----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._is_connected

    def _wait_connected(self, timeout: float) -> bool:
        with self._connected:
            return self._connected.wait_for(lambda: self._is_connected or self._closed, timeout) and not self._closed

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish and wait for the broker (PUBACK at QoS 1); :class:`PublishError` otherwise."""
        if qos not in (0, 1):
            raise PublishError(f"only QoS 0 and 1 are used by the platform, not {qos}")
        deadline = time.monotonic() + self.publish_timeout_s
        if self._closed:
            raise PublishError("publisher is closed")
        if not self._wait_connected(self.publish_timeout_s):
            raise PublishError(f"not connected to the broker at {self.host}:{self.port}")
        info = self._client.publish(topic, payload, qos=qos)
        try:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        except (RuntimeError, ValueError) as exc:
            raise PublishError(f"publish to {topic} failed: {exc}") from exc
        with self._lock:
            reason = self._results.pop(info.mid, None)
        if not info.is_published():
            # Still queued in paho; if it goes out later the device dedupes by command id.
            raise PublishError(f"no PUBACK for {topic} within {self.publish_timeout_s}s")
        if reason is not None and getattr(reason, "is_failure", False):
            raise PublishError(f"broker refused the publish to {topic}: {reason}")

    def close(self) -> None:
        """Disconnect and stop the network thread (idempotent)."""
        with self._connected:
            if self._closed:
                return
            self._closed = True
            self._connected.notify_all()
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> BrokerPublisher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
