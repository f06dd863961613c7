"""DeviceClient: one thing's MQTT 5 connection to the platform (ARC-2).

Same code path for AWS IoT Core and for the local mosquitto mTLS listener: an X.509 client
certificate per thing, the server checked against ``ca_path`` (LCM-SEC-3: encrypted in
transit; TLS record MACs detect tampering, LCM-SEC-1), client id = thing name.

Publishing is store-and-forward::

    publish_*() ──> size check ──> DiskOutbox (sqlite, durable) ──> sender thread
                                                                     │ token bucket ≤ 100/s
                                                                     ▼
                                                     awscrt MQTT5 PUBLISH QoS 1 ──PUBACK──> row deleted

* Nothing is lost across a broker outage or a restart: a row is deleted only after PUBACK.
* Order is kept: the sender sends rows in id order; when a publish fails (connection lost) it
  waits for every in-flight publish to settle, then resends from the oldest row still stored.
  A message whose PUBACK was lost may arrive twice — the platform dedupes on
  (thing, boot_id, seq), so delivery is at-least-once and in order, as MQTT QoS 1 promises.
* Reconnect is awscrt's own loop, with exponential back-off and jitter (see
  :class:`ClientConfig`): ``FULL`` jitter by default so a fleet that lost its broker does not
  reconnect in lock-step (AWS architecture blog, "Exponential Backoff and Jitter").
"""

from __future__ import annotations

import collections
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

from device_sdk.commands import CommandHandler, CommandOutcome, CommandProcessor
from device_sdk.header import HeaderSource, M, wall_clock_ms
from device_sdk.outbox import DiskOutbox, OverflowPolicy
from device_sdk.ratelimit import TokenBucket
from shared.contracts import topics
from shared.contracts.telemetry import (
    BatteryPackTelemetry,
    BootEvent,
    CommandAck,
    CommandName,
    FaultEvent,
    Position,
    StateChangeEvent,
    StorageCabinetTelemetry,
    UplinkHeader,
)

log = logging.getLogger(__name__)

#: PUBACK reason codes that mean "try again later" rather than "never".
_TRANSIENT_PUBACK = {mqtt5.PubackReasonCode.QUOTA_EXCEEDED, mqtt5.PubackReasonCode.UNSPECIFIED_ERROR}


class MessageTooLarge(ValueError):
    """The encoded message exceeds ``topics.MAX_MESSAGE_BYTES`` (IoT Core's 128 KB limit)."""


class ClientClosed(RuntimeError):
    """The client was closed; it accepts no more messages."""


@dataclass(frozen=True)
class ClientConfig:
    """Connection and buffering settings of one :class:`DeviceClient`.

    Reconnect back-off: after each failed attempt awscrt doubles the delay from
    ``min_reconnect_delay_ms`` up to ``max_reconnect_delay_ms`` and applies ``retry_jitter_mode``
    (FULL = uniform in [0, delay]); the delay resets to the minimum once a connection has stayed
    up for ``reset_backoff_after_ms``.
    """

    endpoint: str
    cert_path: str
    key_path: str
    buffer_dir: str
    port: int = 8883
    ca_path: str | None = None
    keep_alive_s: int = 60
    min_reconnect_delay_ms: int = 1_000
    max_reconnect_delay_ms: int = 60_000
    reset_backoff_after_ms: int = 30_000
    retry_jitter_mode: mqtt5.ExponentialBackoffJitterMode = mqtt5.ExponentialBackoffJitterMode.FULL
    connack_timeout_ms: int = 10_000
    ack_timeout_s: int = 30
    max_publishes_per_second: float = topics.MAX_PUBLISHES_PER_SECOND
    max_inflight: int = 20
    max_buffered_messages: int = 100_000
    overflow_policy: OverflowPolicy = OverflowPolicy.DROP_OLDEST
    #: sqlite ``synchronous`` for the outbox: NORMAL survives a process crash, FULL also power loss.
    buffer_synchronous: str = "NORMAL"
    #: Send the SDK version in CONNECT (AWS metrics); harmless on mosquitto.
    enable_metrics_collection: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.max_publishes_per_second <= topics.MAX_PUBLISHES_PER_SECOND:
            raise ValueError(f"max_publishes_per_second must be in (0, {topics.MAX_PUBLISHES_PER_SECOND}]")
        if self.max_inflight < 1:
            raise ValueError("max_inflight must be at least 1")
        if self.min_reconnect_delay_ms > self.max_reconnect_delay_ms:
            raise ValueError("min_reconnect_delay_ms must not exceed max_reconnect_delay_ms")


@dataclass(frozen=True)
class ClientStats:
    """A snapshot of the client's counters (for health reporting and tests)."""

    connected: bool
    buffered: int
    dropped_total: int
    published_total: int
    rejected_total: int
    connections_total: int
    commands_executed: int
    commands_acked: int


TelemetryMessage = BatteryPackTelemetry | StorageCabinetTelemetry
EventMessage = BootEvent | FaultEvent | StateChangeEvent


class DeviceClient:
    """A thing's connection: typed publishes, durable buffer with replay, commands with acks.

    Typical use::

        with DeviceClient("acme", "pack-0001", config, command_handler=on_command) as client:
            client.publish_telemetry(client.stamp(BatteryPackTelemetry, cell_voltages_v=[...]))

    ``command_handler(cmd)`` runs on the client's command thread; return normally for
    ``executed``, raise :class:`~device_sdk.commands.CommandRejected` for ``rejected``, any other
    exception for ``failed``. Expired and duplicate commands never reach it.
    """

    def __init__(
        self,
        tenant_id: str,
        thing_name: str,
        config: ClientConfig,
        command_handler: CommandHandler | None = None,
        *,
        supported_commands: Collection[CommandName] | None = None,
        header_source: HeaderSource | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.tenant_id = topics.check_id(tenant_id, "tenant")
        self.thing_name = topics.check_id(thing_name, "thing")
        self.config = config
        self.headers = header_source or HeaderSource(clock_ms=clock_ms)
        self._clock_ms = clock_ms
        self._downlink = topics.downlink(tenant_id, thing_name)
        self.outbox = DiskOutbox(
            Path(config.buffer_dir) / f"{tenant_id}__{thing_name}.sqlite3",
            max_messages=config.max_buffered_messages,
            overflow_policy=config.overflow_policy,
            synchronous=config.buffer_synchronous,
        )
        self._bucket = TokenBucket(config.max_publishes_per_second)
        self._processor = CommandProcessor(self.outbox, command_handler, clock_ms, supported_commands)

        self._cond = threading.Condition()
        self._connected = False
        self._closing = False
        self._closed = False
        self._need_subscribe = False
        self._subscribed = threading.Event()
        self._stopped = threading.Event()
        self._counters: collections.Counter[str] = collections.Counter()
        self._commands: queue.Queue[bytes | None] = queue.Queue()

        self._mqtt = mqtt5_client_builder.mtls_from_path(
            endpoint=config.endpoint,
            port=config.port,
            cert_filepath=config.cert_path,
            pri_key_filepath=config.key_path,
            ca_filepath=config.ca_path,
            client_id=thing_name,
            keep_alive_interval_sec=config.keep_alive_s,
            # Clean session: awscrt keeps no durable session anyway; the outbox is our session.
            session_behavior=mqtt5.ClientSessionBehaviorType.CLEAN,
            offline_queue_behavior=mqtt5.ClientOperationQueueBehaviorType.FAIL_ALL_ON_DISCONNECT,
            retry_jitter_mode=config.retry_jitter_mode,
            min_reconnect_delay_ms=config.min_reconnect_delay_ms,
            max_reconnect_delay_ms=config.max_reconnect_delay_ms,
            min_connected_time_to_reset_reconnect_delay_ms=config.reset_backoff_after_ms,
            connack_timeout_ms=config.connack_timeout_ms,
            ack_timeout_sec=config.ack_timeout_s,
            enable_metrics_collection=config.enable_metrics_collection,
            on_publish_received=self._on_publish_received,
            on_lifecycle_connection_success=self._on_connection_success,
            on_lifecycle_connection_failure=self._on_connection_failure,
            on_lifecycle_disconnection=self._on_disconnection,
            on_lifecycle_stopped=self._on_stopped,
        )
        self._sender = threading.Thread(target=self._send_loop, name=f"sdk-send-{thing_name}", daemon=True)
        self._command_worker = threading.Thread(target=self._command_loop, name=f"sdk-cmd-{thing_name}", daemon=True)
        self._started = False

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> DeviceClient:
        """Start connecting (asynchronously; awscrt keeps reconnecting until :meth:`close`)."""
        if self._started:
            return self
        self._started = True
        self._sender.start()
        self._command_worker.start()
        self._mqtt.start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._connected, timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """Block until the command topic subscription is granted; False on timeout."""
        return self._subscribed.wait(timeout)

    def flush(self, timeout: float) -> bool:
        """Block until every buffered message is acknowledged; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.outbox) == 0, timeout)

    def close(self, flush_timeout: float = 5.0, stop_timeout: float = 5.0) -> None:
        """Flush what can be sent within ``flush_timeout``, disconnect, close the buffer.

        Whatever is still unacknowledged stays on disk and is replayed by the next client
        opened on the same ``buffer_dir``.
        """
        if self._closed:
            return
        if self._started and flush_timeout > 0 and self._connected:
            self.flush(flush_timeout)
        self._commands.put(None)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._started:
            self._command_worker.join(stop_timeout)
            self._sender.join(stop_timeout)
            self._mqtt.stop()
            if not self._stopped.wait(stop_timeout):
                log.warning("%s: MQTT client did not report stopped within %.1fs", self.thing_name, stop_timeout)
        self._closed = True
        self.outbox.close()

    def __enter__(self) -> DeviceClient:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """True while an MQTT connection is up."""
        return self._connected

    def stats(self) -> ClientStats:
        """Counters for monitoring and tests."""
        c = self._counters
        return ClientStats(
            connected=self._connected,
            buffered=len(self.outbox) if not self._closed else 0,
            dropped_total=self.outbox.dropped_total if not self._closed else 0,
            published_total=c["published"],
            rejected_total=c["rejected"],
            connections_total=c["connections"],
            commands_executed=c["commands_executed"],
            commands_acked=c["commands_acked"],
        )

    # ---- building messages ----------------------------------------------------------------

    def header(self, device_ts_ms: int | None = None) -> dict[str, Any]:
        """``{boot_id, seq, device_ts_ms}`` for a new message; ``seq`` advances by one per call."""
        return self.headers.header(device_ts_ms)

    def stamp(self, model: type[M], device_ts_ms: int | None = None, **fields: Any) -> M:
        """Build a contract message with this client's header, e.g. ``stamp(Position, ...)``."""
        return self.headers.stamp(model, device_ts_ms, **fields)

    # ---- publishing -----------------------------------------------------------------------

    def publish_telemetry(self, message: TelemetryMessage) -> int:
        """Queue a pack/cabinet sample on ``up/telemetry``; returns its outbox position."""
        self._require(message, (BatteryPackTelemetry, StorageCabinetTelemetry))
        return self._enqueue(topics.UpType.TELEMETRY, message)

    def publish_position(self, message: Position) -> int:
        """Queue a GNSS fix on ``up/position``."""
        self._require(message, (Position,))
        return self._enqueue(topics.UpType.POSITION, message)

    def publish_event(self, message: EventMessage) -> int:
        """Queue a boot/fault/state-change event on ``up/event``."""
        self._require(message, (BootEvent, FaultEvent, StateChangeEvent))
        return self._enqueue(topics.UpType.EVENT, message)

    def publish_ack(self, message: CommandAck) -> int:
        """Queue a command acknowledgement on ``up/ack``."""
        self._require(message, (CommandAck,))
        return self._enqueue(topics.UpType.ACK, message)

    @staticmethod
    def _require(message: object, types: tuple[type[UplinkHeader], ...]) -> None:
        if not isinstance(message, types):
            names = ", ".join(t.__name__ for t in types)
            raise TypeError(f"expected {names}, got {type(message).__name__}")

    def _enqueue(self, up_type: topics.UpType, message: UplinkHeader) -> int:
        if self._closing or self._closed:
            raise ClientClosed(f"client {self.thing_name} is closed")
        payload = encode(message)
        topic = topics.uplink(self.tenant_id, self.thing_name, up_type)
        row_id = self.outbox.append(topic, payload)
        with self._cond:
            self._cond.notify_all()
        return row_id

    # ---- sender -----------------------------------------------------------------------------

    def _send_loop(self) -> None:
        """Move rows from the outbox to the broker, in order, at most ``max_inflight`` unacked."""
        inflight: collections.deque[tuple[int, Future[Any]]] = collections.deque()
        last_sent = 0  # highest row id handed to awscrt on the current pass
        rewind = False  # a publish failed: settle in-flight, then resend from the oldest row
        while True:
            with self._cond:
                self._cond.wait_for(functools.partial(self._sender_has_work, inflight, rewind), timeout=0.5)
                if self._closing:
                    return
                connected = self._connected
                need_subscribe, self._need_subscribe = self._need_subscribe, False
            if need_subscribe:
                self._subscribe()

            # Settle finished publishes strictly in order.
            while inflight and inflight[0][1].done():
                row_id, fut = inflight.popleft()
                if self._settle(row_id, fut):
                    continue
                rewind = True
            if rewind and not inflight:
                log.info("%s: publishes failed; resending from the oldest buffered message", self.thing_name)
                rewind = False
                last_sent = 0  # resend everything still stored, oldest first
            if not connected or rewind:
                continue

            room = self.config.max_inflight - len(inflight)
            for row in self.outbox.read_after(last_sent, room) if room > 0 else []:
                # Pace to IoT Core's per-connection limit; give up the wait if we are closing.
                while not self._bucket.acquire(timeout=0.2):
                    if self._closing:
                        return
                if not self._connected:
                    break
                packet = mqtt5.PublishPacket(
                    topic=row.topic,
                    payload=row.payload,
                    qos=mqtt5.QoS.AT_LEAST_ONCE,
                    payload_format_indicator=mqtt5.PayloadFormatIndicator.AWS_MQTT5_PFI_UTF8,
                    content_type="application/json",
                )
                fut = self._mqtt.publish(packet)
                fut.add_done_callback(self._wake)
                inflight.append((row.id, fut))
                last_sent = row.id

    def _sender_has_work(self, inflight: collections.deque[tuple[int, Future[Any]]], rewind: bool) -> bool:
        """Wake-up condition of the sender (called with ``_cond`` held)."""
        return (
            self._closing
            or bool(inflight and inflight[0][1].done())
            or self._need_subscribe
            or (self._connected and not rewind and len(inflight) < self.config.max_inflight and len(self.outbox) > 0)
        )

    def _settle(self, row_id: int, fut: Future[Any]) -> bool:
        """Handle one finished publish; False means it must be sent again."""
        exc = fut.exception()
        if exc is not None:
            log.debug("%s: publish of row %d failed (%s); will resend", self.thing_name, row_id, exc)
            return False
        puback = getattr(fut.result(), "puback", None)
        code = getattr(puback, "reason_code", None)
        if code is not None and int(code) >= 0x80:
            if code in _TRANSIENT_PUBACK:
                log.warning("%s: broker refused row %d for now (%s); will resend", self.thing_name, row_id, code)
                time.sleep(1.0)  # brief pause so a quota refusal is not hammered
                return False
            # A permanent refusal (e.g. NOT_AUTHORIZED) would block the queue forever if retried.
            log.error("%s: broker rejected row %d permanently (%s); dropped", self.thing_name, row_id, code)
            self._counters["rejected"] += 1
        else:
            self._counters["published"] += 1
        self.outbox.remove(row_id)
        with self._cond:
            self._cond.notify_all()  # flush() waiters
        return True

    def _wake(self, _fut: Future[Any]) -> None:
        with self._cond:
            self._cond.notify_all()

    def _subscribe(self) -> None:
        packet = mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(topic_filter=self._downlink, qos=mqtt5.QoS.AT_LEAST_ONCE)]
        )

        def done(fut: Future[Any]) -> None:
            exc = fut.exception()
            codes = [] if exc else list(fut.result().reason_codes)
            if exc is None and codes and all(int(c) < 0x80 for c in codes):
                self._subscribed.set()
            else:
                log.error("%s: subscribe to %s failed: %s", self.thing_name, self._downlink, exc or codes)

        self._mqtt.subscribe(packet).add_done_callback(done)

    # ---- awscrt callbacks (event-loop thread: never block here) ------------------------------

    def _on_connection_success(self, _data: mqtt5.LifecycleConnectSuccessData) -> None:
        log.info("%s: connected to %s:%d", self.thing_name, self.config.endpoint, self.config.port)
        with self._cond:
            self._connected = True
            self._need_subscribe = True  # clean session: subscriptions do not survive a reconnect
            self._counters["connections"] += 1
            self._cond.notify_all()

    def _on_connection_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        log.info("%s: connection attempt failed: %s", self.thing_name, data.exception)

    def _on_disconnection(self, data: mqtt5.LifecycleDisconnectData) -> None:
        log.info("%s: disconnected: %s", self.thing_name, data.exception)
        self._subscribed.clear()
        with self._cond:
            self._connected = False
            self._cond.notify_all()

    def _on_stopped(self, _data: mqtt5.LifecycleStoppedData) -> None:
        self._stopped.set()

    def _on_publish_received(self, data: mqtt5.PublishReceivedData) -> None:
        packet = data.publish_packet
        if packet.topic != self._downlink:
            log.warning("%s: message on unexpected topic %s ignored", self.thing_name, packet.topic)
            return
        self._commands.put(bytes(packet.payload or b""))

    # ---- commands -----------------------------------------------------------------------------

    def _command_loop(self) -> None:
        while True:
            payload = self._commands.get()
            if payload is None:
                return
            try:
                outcome = self._processor.process(payload)
                if outcome is not None:
                    self._ack(outcome)
            except Exception:  # one bad command must not kill the command thread
                log.exception("%s: command handling failed", self.thing_name)

    def _ack(self, outcome: CommandOutcome) -> None:
        if outcome.executed:
            self._counters["commands_executed"] += 1
        ack = self.stamp(CommandAck, command_id=outcome.command_id, status=outcome.status, reason=outcome.reason)
        try:
            self.publish_ack(ack)
            self._counters["commands_acked"] += 1
        except ClientClosed:
            log.warning("%s: closed before acking command %s", self.thing_name, outcome.command_id)


def encode(message: UplinkHeader) -> bytes:
    """The wire form of a contract message; raises :class:`MessageTooLarge` above 128 KB.

    ``exclude_none=False`` keeps explicit nulls: a dropped-out sensor is ``null``, never absent.
    """
    payload = message.model_dump_json(exclude_none=False).encode()
    if len(payload) > topics.MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"{type(message).__name__} is {len(payload)} bytes; the limit is {topics.MAX_MESSAGE_BYTES}"
        )
    return payload
