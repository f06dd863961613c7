"""Local stand-in for Lambda's Kinesis event source mapping.

One poller thread per shard reads the stream from TRIM_HORIZON, calls the handler in-process
with the exact Lambda Kinesis event shape, and honours ``ReportBatchItemFailures``: records
before the first failed one are checkpointed, the batch is retried from the first failed
record with a short back-off, and after ``max_retries`` the failing record's batch info goes
to the on-failure destination (an SQS queue in moto, like the DLQ of the mapping in AWS) and
processing continues after it. The poll interval is short (50 ms) so publish → stored is
sub-second.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from infra.local.moto import LOCAL_ACCOUNT, LOCAL_REGION

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

BATCH_SIZE = 100
POLL_INTERVAL_S = 0.05
MAX_RETRIES = 3
RETRY_BACKOFF_S = (0.05, 0.2, 0.5)
STOP_TIMEOUT_S = 10.0


@dataclass
class LambdaContext:
    """Just enough of the Lambda context object for in-process handlers (powertools reads it)."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_s: float = 60.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


def kinesis_event(records: list[dict[str, Any]], stream_arn: str, shard_id: str) -> dict[str, Any]:
    """The event Lambda passes for a batch of ``get_records`` results."""
    out = []
    for r in records:
        arrival = r["ApproximateArrivalTimestamp"]
        out.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode("ascii"),
                    "approximateArrivalTimestamp": arrival.timestamp()
                    if isinstance(arrival, dt.datetime)
                    else float(arrival),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{LOCAL_ACCOUNT}:role/local-ingest",
                "awsRegion": LOCAL_REGION,
                "eventSourceARN": stream_arn,
            }
        )
    return {"Records": out}


def first_failure(response: Any, records: list[dict[str, Any]]) -> int | None:
    """Index of the first failed record per ``batchItemFailures`` (None = all succeeded).

    As in Lambda: an unknown, empty or malformed item identifier fails the whole batch.
    """
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures") or []
    if not failures:
        return None
    index = {r["SequenceNumber"]: i for i, r in enumerate(records)}
    positions = []
    for f in failures:
        ident = f.get("itemIdentifier") if isinstance(f, dict) else None
        if not ident or ident not in index:
            return 0
        positions.append(index[ident])
    return min(positions)


@dataclass
class PollerStats:
    invocations: int = 0
    records_in: int = 0
    records_done: int = 0
    retries: int = 0
    dead_lettered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)


class KinesisPoller:
    """Event source mapping of one stream to one in-process handler (``ReportBatchItemFailures``)."""

    def __init__(
        self,
        stream_name: str,
        handler: Handler,
        dlq_url: str,
        function_name: str = "ingest",
        batch_size: int = BATCH_SIZE,
        poll_interval_s: float = POLL_INTERVAL_S,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self.stream_name = stream_name
        self.handler = handler
        self.dlq_url = dlq_url
        self.function_name = function_name
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.max_retries = max_retries
        self.stats = PollerStats()
        #: Last sequence number fully handled per shard (the mapping's checkpoint).
        self.checkpoints: dict[str, str] = {}
        self._caught_up: dict[str, bool] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stream_arn = ""

    def start(self) -> KinesisPoller:
        kinesis = boto3.session.Session().client("kinesis")
        desc = kinesis.describe_stream_summary(StreamName=self.stream_name)["StreamDescriptionSummary"]
        self._stream_arn = desc["StreamARN"]
        shards = [s["ShardId"] for s in kinesis.list_shards(StreamName=self.stream_name)["Shards"]]
        for shard in shards:
            self._caught_up[shard] = False
            t = threading.Thread(target=self._run_shard, args=(shard,), name=f"poller-{shard}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=STOP_TIMEOUT_S)
        self._threads.clear()

    @property
    def idle(self) -> bool:
        """Every shard has been read to its end and nothing is in flight."""
        return bool(self._caught_up) and all(self._caught_up.values())

    # -- per shard ----------------------------------------------------------------------
    def _iterator(self, kinesis: Any, shard: str) -> str:
        checkpoint = self.checkpoints.get(shard)
        if checkpoint is None:
            it = kinesis.get_shard_iterator(
                StreamName=self.stream_name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )
        else:
            it = kinesis.get_shard_iterator(
                StreamName=self.stream_name,
                ShardId=shard,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                StartingSequenceNumber=checkpoint,
            )
        return str(it["ShardIterator"])

    def _run_shard(self, shard: str) -> None:
        kinesis = boto3.session.Session().client("kinesis")
        sqs = boto3.session.Session().client("sqs")
        iterator: str | None = None
        while not self._stop.is_set():
            try:
                if iterator is None:
                    iterator = self._iterator(kinesis, shard)
                resp = kinesis.get_records(ShardIterator=iterator, Limit=self.batch_size)
                iterator = resp.get("NextShardIterator")
                records = resp.get("Records", [])
                if not records:
                    self._caught_up[shard] = True
                    if iterator is None:  # closed shard
                        return
                    self._stop.wait(self.poll_interval_s)
                    continue
                self._caught_up[shard] = False
                self.stats.add(records_in=len(records))
                self._deliver(shard, records, sqs)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("poller %s/%s failed; resuming from the checkpoint", self.stream_name, shard)
                iterator = None
                self._stop.wait(0.5)

    def _deliver(self, shard: str, records: list[dict[str, Any]], sqs: Any) -> None:
        attempt = 0
        while records and not self._stop.is_set():
            event = kinesis_event(records, self._stream_arn, shard)
            self.stats.add(invocations=1)
            error: str | None = None
            try:
                response = self.handler(event, LambdaContext(self.function_name))
                failed_at = first_failure(response, records)
            except Exception as exc:
                log.exception("%s raised; the batch will be retried", self.function_name)
                failed_at, error = 0, f"{type(exc).__name__}: {exc}"
            if failed_at is None:
                self._checkpoint(shard, records)
                return
            self._checkpoint(shard, records[:failed_at])
            records = records[failed_at:]
            attempt += 1
            if attempt <= self.max_retries:
                self.stats.add(retries=1)
                self._stop.wait(RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S)) - 1])
                continue
            # Retries exhausted: the record that keeps failing goes to the failure destination.
            self._dead_letter(sqs, shard, records[0], attempt, error)
            self._checkpoint(shard, records[:1])
            records = records[1:]
            attempt = 0

    def _checkpoint(self, shard: str, done: list[dict[str, Any]]) -> None:
        if done:
            self.checkpoints[shard] = done[-1]["SequenceNumber"]
            self.stats.add(records_done=len(done))

    def _dead_letter(self, sqs: Any, shard: str, record: dict[str, Any], attempts: int, error: str | None) -> None:
        arrival = record["ApproximateArrivalTimestamp"]
        arrival_s = arrival.isoformat() if isinstance(arrival, dt.datetime) else str(arrival)
        body = {
            # The shape of Lambda's on-failure record for stream sources; the data stays in the
            # stream (read it back with the sequence number), plus the partition key locally.
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": LambdaContext(self.function_name).invoked_function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": error},
            "version": "1.0",
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
            "KinesisBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": record["SequenceNumber"],
                "endSequenceNumber": record["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival_s,
                "approximateArrivalOfLastRecord": arrival_s,
                "batchSize": 1,
                "streamArn": self._stream_arn,
            },
            "partitionKey": record["PartitionKey"],
        }
        sqs.send_message(QueueUrl=self.dlq_url, MessageBody=json.dumps(body))
        self.stats.add(dead_lettered=1)
        log.error(
            "%s: record %s of %s dead-lettered after %d attempts",
            self.function_name,
            record["SequenceNumber"],
            shard,
            attempts,
        )


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda passes for a batch of SQS messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": m.get("Attributes", {}).get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": m.get("Attributes", {}).get("SentTimestamp", str(int(time.time() * 1000))),
                },
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": LOCAL_REGION,
            }
            for m in messages
        ]
    }


class SqsPoller:
    """Event source mapping of one SQS queue to an in-process handler (``ReportBatchItemFailures``).

    Messages the handler reports as failed (or all, if it raises) are left on the queue and come
    back after the visibility timeout; the queue's redrive policy moves them to its DLQ after
    ``maxReceiveCount`` receives, exactly as in AWS (moto implements the redrive)."""

    def __init__(
        self,
        queue_url: str,
        handler: Handler,
        function_name: str,
        batch_size: int = 10,
        wait_s: int = 1,
    ) -> None:
        self.queue_url = queue_url
        self.handler = handler
        self.function_name = function_name
        self.batch_size = batch_size
        self.wait_s = wait_s
        self.stats = PollerStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue_arn = ""
        self._empty = False

    def start(self) -> SqsPoller:
        sqs = boto3.session.Session().client("sqs")
        attrs = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]
        self._queue_arn = attrs["QueueArn"]
        self._thread = threading.Thread(target=self._run, name=f"sqs-{self.function_name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_S)
            self._thread = None

    @property
    def idle(self) -> bool:
        return self._empty

    def _run(self) -> None:
        sqs = boto3.session.Session().client("sqs")
        while not self._stop.is_set():
            try:
                resp = sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=self.batch_size,
                    WaitTimeSeconds=self.wait_s,
                    AttributeNames=["All"],
                )
                messages = resp.get("Messages", [])
                if not messages:
                    self._empty = True
                    continue
                self._empty = False
                self.stats.add(records_in=len(messages), invocations=1)
                self._deliver(sqs, messages)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("sqs poller %s failed; resuming", self.function_name)
                self._stop.wait(0.5)

    def _deliver(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        failed: set[str] = set()
        try:
            response = self.handler(sqs_event(messages, self._queue_arn), LambdaContext(self.function_name))
            for f in (response or {}).get("batchItemFailures", []) if isinstance(response, dict) else []:
                failed.add(str(f.get("itemIdentifier")))
        except Exception:
            log.exception("%s raised; the batch returns to the queue", self.function_name)
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if failed:
            self.stats.add(retries=len(failed))
        for i in range(0, len(done), 10):
            chunk = done[i : i + 10]
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)],
            )
        self.stats.add(records_done=len(done))


class PeriodicTimer:
    """A clock for scheduled functions (EventBridge ``rate(...)`` schedules in AWS)."""

    def __init__(self, fn: Callable[[], Any], interval_s: float, name: str) -> None:
        self.fn = fn
        self.interval_s = interval_s
        self.name = name
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PeriodicTimer:
        self._thread = threading.Thread(target=self._run, name=f"timer-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_S)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.fn()
            except Exception:
                log.exception("scheduled %s failed; next run in %.1fs", self.name, self.interval_s)
            self.runs += 1
