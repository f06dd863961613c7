"""Local Kinesis event source mapping: event shape, partial batch failures, DLQ (ARC-3, ARC-7)."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from infra.local.pollers import KinesisPoller, first_failure

STREAM = "test-uplink"


@pytest.fixture
def aws() -> Iterator[tuple[object, str]]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        dlq = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="dlq")["QueueUrl"]
        yield kinesis, dlq


def put(kinesis, n: int) -> list[str]:
    return [
        kinesis.put_record(StreamName=STREAM, Data=json.dumps({"i": i}).encode(), PartitionKey="demo/a")[
            "SequenceNumber"
        ]
        for i in range(n)
    ]


def wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_first_failure() -> None:
    """ARC-3: the poller finds the first failed record of a ReportBatchItemFailures response."""
    recs = [{"SequenceNumber": s} for s in ("1", "2", "3")]
    assert first_failure({"batchItemFailures": []}, recs) is None
    assert first_failure(None, recs) is None
    assert first_failure({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}, recs) == 1
    # Lambda fails the whole batch on an identifier it does not know, or an empty one.
    assert first_failure({"batchItemFailures": [{"itemIdentifier": "9"}]}, recs) == 0
    assert first_failure({"batchItemFailures": [{"itemIdentifier": ""}]}, recs) == 0


def test_event_has_the_lambda_kinesis_shape_and_all_records_arrive_in_order(aws) -> None:
    """ARC-3, ARC-7: the local poller calls the handler with Lambda's Kinesis event shape, in stream order."""
    kinesis, dlq = aws
    seen: list[dict] = []

    def handler(event, context):
        assert context.function_name == "ingest"
        seen.extend(event["Records"])
        return {"batchItemFailures": []}

    seqs = put(kinesis, 5)
    poller = KinesisPoller(STREAM, handler, dlq).start()
    try:
        wait_for(lambda: len(seen) == 5)
    finally:
        poller.stop()
    assert [r["kinesis"]["sequenceNumber"] for r in seen] == seqs
    first = seen[0]
    assert first["eventSource"] == "aws:kinesis"
    assert first["eventID"].endswith(":" + seqs[0])
    assert first["kinesis"]["partitionKey"] == "demo/a"
    assert json.loads(base64.b64decode(first["kinesis"]["data"])) == {"i": 0}
    assert isinstance(first["kinesis"]["approximateArrivalTimestamp"], float)
    assert poller.checkpoints and next(iter(poller.checkpoints.values())) == seqs[-1]


def test_partial_failure_retries_from_the_first_failed_record(aws) -> None:
    """ARC-3, LCM-PF-8: a partial batch failure is retried from the first failed record, as Lambda does."""
    kinesis, dlq = aws
    calls: list[list[str]] = []
    seqs = put(kinesis, 4)

    def handler(event, _ctx):
        ids = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        calls.append(ids)
        if len(calls) == 1:
            return {"batchItemFailures": [{"itemIdentifier": seqs[2]}]}
        return {"batchItemFailures": []}

    poller = KinesisPoller(STREAM, handler, dlq).start()
    try:
        wait_for(lambda: poller.stats.records_done == 4)
    finally:
        poller.stop()
    assert calls[0] == seqs
    assert calls[1] == seqs[2:]
    assert poller.stats.dead_lettered == 0


def test_a_record_that_keeps_failing_goes_to_the_dlq_and_the_rest_continue(aws) -> None:
    """ARC-3, LCM-PF-8: a poison record goes to the DLQ after bounded retries and the stream moves on."""
    kinesis, dlq = aws
    seqs = put(kinesis, 3)
    delivered: list[str] = []

    def handler(event, _ctx):
        ids = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        if ids[0] == seqs[1]:
            raise RuntimeError("poison")
        delivered.append(ids[0])
        failures = [{"itemIdentifier": i} for i in ids if i == seqs[1]]
        return {"batchItemFailures": failures}

    poller = KinesisPoller(STREAM, handler, dlq, max_retries=2).start()
    try:
        wait_for(lambda: poller.stats.dead_lettered == 1 and poller.stats.records_done == 3)
    finally:
        poller.stop()
    assert seqs[2] in delivered  # the record after the poison one was still processed
    msgs = boto3.client("sqs", region_name="us-east-1").receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)
    body = json.loads(msgs["Messages"][0]["Body"])
    assert body["KinesisBatchInfo"]["startSequenceNumber"] == seqs[1]
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert "poison" in body["responseContext"]["functionError"]
