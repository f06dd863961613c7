"""Local stand-in for the AWS IoT rules engine.

Evaluates **the same rule definitions** the CDK stack deploys
(:data:`shared.contracts.iot_rules.RULES`) on the local broker's traffic and performs their
actions against moto. It subscribes on the plain listener (the platform's own view of the
broker) with a persistent MQTT 5 session and QoS 1, and acknowledges a message only after its
actions ran, so nothing is lost if the engine falls behind or reconnects.

Local difference: a subscriber cannot see the publisher's client id or certificate, so
``clientid()`` and ``principal()`` are *Undefined* (left out of the rule output) locally.
Ingest takes tenant and thing from the topic, which the broker's ACL already enforces.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import queue
import threading
import time
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from infra.local.iot_sql import (
    CompiledRule,
    IotSqlEvaluationError,
    IotSqlUnsupported,
    MessageContext,
    Template,
    compile_sql,
    compile_template,
)
from shared.contracts.iot_rules import RULES, KinesisTarget, TopicRuleDefinition

log = logging.getLogger(__name__)

#: Where the rule error action writes, in the quarantine bucket (one JSON object per failure).
RULE_ERROR_PREFIX = "rule-errors/"
ACTION_ATTEMPTS = 3
CONNECT_TIMEOUT_S = 10.0
SESSION_EXPIRY_S = 3600
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LoadedRule:
    definition: TopicRuleDefinition
    sql: CompiledRule
    stream_name: str
    partition_key: Template


def load_rules(rules: tuple[TopicRuleDefinition, ...], streams: Mapping[str, str]) -> tuple[LoadedRule, ...]:
    """Compile every rule; refuse loudly what the local engine cannot run exactly."""
    loaded = []
    for rule in rules:
        sql = compile_sql(rule.sql, rule.sql_version)
        target = rule.target
        if not isinstance(target, KinesisTarget):
            raise IotSqlUnsupported(f"rule {rule.name}: action {type(target).__name__} is not implemented locally")
        if target.stream not in streams:
            raise IotSqlUnsupported(f"rule {rule.name}: no local stream for logical target {target.stream!r}")
        loaded.append(LoadedRule(rule, sql, streams[target.stream], compile_template(target.partition_key)))
    return tuple(loaded)


@dataclass
class RulesEngineStats:
    received: int = 0
    actions_ok: int = 0
    error_actions: int = 0
    lost: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)


class RulesEngine:
    """Subscribes to every rule's FROM filter and runs the rule actions.

    Messages are spread over ``workers`` threads by topic hash: one device's messages are
    always handled by the same worker, so per-device order survives (as it does through the
    Kinesis partition key in AWS).
    """

    def __init__(
        self,
        host: str,
        port: int,
        streams: Mapping[str, str],
        error_bucket: str,
        rules: tuple[TopicRuleDefinition, ...] = RULES,
        workers: int = 4,
        client_id: str = "voltops-local-rules-engine",
    ) -> None:
        self.rules = load_rules(rules, streams)
        self.host, self.port = host, port
        self.error_bucket = error_bucket
        self.client_id = client_id
        self.stats = RulesEngineStats()
        self._queues: list[queue.Queue[mqtt.MQTTMessage | None]] = [queue.Queue() for _ in range(workers)]
        self._threads: list[threading.Thread] = []
        self._client: mqtt.Client | None = None
        self._subscribed = threading.Event()
        self._pending_subs: set[int] = set()
        self._stopping = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> RulesEngine:
        for i, q in enumerate(self._queues):
            t = threading.Thread(target=self._work, args=(q,), name=f"rules-engine-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,  # PUBACK only after the rule actions ran
        )
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=0.1, max_delay=2)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        client.connect(self.host, self.port, keepalive=30, clean_start=False, properties=props)
        client.loop_start()
        self._client = client
        if not self._subscribed.wait(CONNECT_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"rules engine could not subscribe on {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        # Queued messages are not acknowledged, so the broker still owns them (in AWS the rules
        # engine never stops); do not drain them into a stream nobody reads any more.
        self._stopping.set()
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join(timeout=STOP_TIMEOUT_S)
        self._threads.clear()

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if reason.is_failure:
            log.error("rules engine connect refused: %s", reason)
            return
        filters = sorted({r.sql.topic_filter for r in self.rules})
        result, mid = client.subscribe([(f, 1) for f in filters])
        if result == mqtt.MQTT_ERR_SUCCESS and mid is not None:
            self._pending_subs.add(mid)

    def _on_subscribe(self, _c: object, _u: object, mid: int, reasons: list[Any], _p: object) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            log.error("rules engine subscription refused: %s", failed)
            return
        self._pending_subs.discard(mid)
        self._subscribed.set()

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.stats.add(received=1)
        # Stamp the arrival now, before any queueing (timestamp() is the broker's receive time).
        msg.timestamp = time.time()
        index = zlib.crc32(msg.topic.encode()) % len(self._queues)
        self._queues[index].put(msg)

    # -- actions ------------------------------------------------------------------------
    def _work(self, q: queue.Queue[mqtt.MQTTMessage | None]) -> None:
        session = boto3.session.Session()
        kinesis = session.client("kinesis")
        s3 = session.client("s3")
        while True:
            msg = q.get()
            if msg is None or self._stopping.is_set():
                return
            ctx = MessageContext(
                topic=msg.topic,
                payload=bytes(msg.payload),
                timestamp_ms=int(msg.timestamp * 1000),
            )
            for rule in self.rules:
                if rule.sql.matches(ctx.topic):
                    self._run(rule, ctx, kinesis, s3)
            client = self._client
            if client is not None and msg.qos > 0:
                client.ack(msg.mid, msg.qos)

    def _run(self, rule: LoadedRule, ctx: MessageContext, kinesis: Any, s3: Any) -> None:
        error: Exception | None = None
        for attempt in range(ACTION_ATTEMPTS):
            try:
                output = rule.sql.evaluate(ctx)
                key = rule.partition_key.render(ctx)
                kinesis.put_record(
                    StreamName=rule.stream_name,
                    Data=json.dumps(output, separators=(",", ":")).encode(),
                    PartitionKey=key,
                )
                self.stats.add(actions_ok=1)
                return
            except Exception as exc:  # noqa: BLE001 - every failure goes to the error action
                error = exc
                if not _retryable(exc):
                    break
                time.sleep(0.05 * (attempt + 1))
        self._error_action(rule, ctx, error, s3)

    def _error_action(self, rule: LoadedRule, ctx: MessageContext, error: Exception | None, s3: Any) -> None:
        """Like the AWS rule error action: the original payload and the failure, kept in S3."""
        now = dt.datetime.now(dt.UTC)
        key = f"{RULE_ERROR_PREFIX}{rule.definition.name}/{now:%Y/%m/%d}/{ctx.timestamp_ms}-{uuid.uuid4().hex}.json"
        body = {
            "ruleName": rule.definition.name,
            "topic": ctx.topic,
            "arrivalMs": ctx.timestamp_ms,
            "base64OriginalPayload": base64.b64encode(ctx.payload).decode(),
            "failures": [
                {
                    "failedAction": "KinesisAction",
                    "failedResource": rule.stream_name,
                    "errorMessage": f"{type(error).__name__}: {error}",
                }
            ],
        }
        for _ in range(ACTION_ATTEMPTS):
            try:
                s3.put_object(Bucket=self.error_bucket, Key=key, Body=json.dumps(body).encode())
                self.stats.add(error_actions=1)
                return
            except Exception:  # noqa: BLE001
                time.sleep(0.1)
        self.stats.add(lost=1)
        log.error("rule %s: action and error action failed for %s: %s", rule.definition.name, ctx.topic, error)


def _retryable(exc: Exception) -> bool:
    return not isinstance(exc, IotSqlEvaluationError)
