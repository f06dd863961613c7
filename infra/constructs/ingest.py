"""Ingest: the uplink Kinesis stream and the ingest function it feeds (flow 1 of the architecture).

IoT rule -> Kinesis -> ingest Lambda (validate, dedupe, latest state, history, raw archive,
quarantine) with partial batch failures, bisecting and an SQS on-failure destination.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.compliance import KMS_GRANT_REASONS, acknowledge, arn_token
from infra.constructs.lambda_defaults import FunctionSpec, LambdaFactory, failure_queue
from infra.constructs.storage import Storage

INGEST_HANDLER = "functions.ingest.handler.handler"
INGEST_SERVICE = "ingest"
BATCH_SIZE = 100
RETRY_ATTEMPTS = 5
#: A record older than this goes to the DLQ instead of blocking its shard for ever.
MAX_RECORD_AGE = Duration.days(1)
#: The Kinesis on-failure destination receives only pointers (shard, sequence numbers), not the
#: data. Keeping records for 7 days leaves a week to read them back and replay after a fix.
STREAM_RETENTION = Duration.days(7)


def stream_source(
    stream: kinesis.IStream,
    dlq: sqs.IQueue,
    *,
    batching_window: Duration,
    parallelization_factor: int = 1,
) -> sources.KinesisEventSource:
    """A consumer of the uplink stream: partial batch failures, bisect on error, bounded retries
    and record age, pointers to an SQS destination. TRIM_HORIZON: a new or re-created mapping
    starts at the oldest retained record rather than silently skipping what arrived before it."""
    return sources.KinesisEventSource(
        stream,
        starting_position=lambda_.StartingPosition.TRIM_HORIZON,
        batch_size=BATCH_SIZE,
        max_batching_window=batching_window,
        parallelization_factor=parallelization_factor,
        bisect_batch_on_error=True,
        report_batch_item_failures=True,
        retry_attempts=RETRY_ATTEMPTS,
        max_record_age=MAX_RECORD_AGE,
        on_failure=sources.SqsDlq(dlq),
    )


class Ingest(Construct):
    """The uplink stream, its consumer and the consumer's failure destination."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        bus: events.IEventBus,
        lambdas: LambdaFactory,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # On-demand capacity: the fleet grows from a few devices to 10^6 without anyone
        # resharding, and per-device order still holds because the partition key is the
        # tenant/thing. Provisioned shards become cheaper only at steady, predictable high
        # throughput; switching is a one-property change (stream_mode) without data loss.
        self.stream = kinesis.Stream(
            self,
            "UplinkStream",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            # The AWS-managed aws/kinesis key: records live here for days, not years, and a
            # customer-managed key would add a KMS call per producer and consumer data key
            # (cdk-nag KDS3). Long-lived copies (tables, archive) use the customer key.
            encryption=kinesis.StreamEncryption.MANAGED,
            retention_period=STREAM_RETENTION,
            removal_policy=RemovalPolicy.RETAIN,
        )
        #: Logical stream names used by shared.contracts.iot_rules targets.
        self.streams: dict[str, kinesis.IStream] = {"uplink": self.stream}

        self.dlq = failure_queue(
            self,
            "IngestFailures",
            storage.key,
            "This queue is itself the on-failure destination of the ingest event source "
            "mapping; a dead-letter queue behind it would only move the same pointers again.",
        )

        t = storage.tables
        self.function = lambdas.function(
            "IngestFunction",
            FunctionSpec(
                handler=INGEST_HANDLER,
                service=INGEST_SERVICE,
                description="Uplink ingest: validate, dedupe, latest state, history, raw archive, quarantine",
                settings={
                    **{setting: table.table_name for setting, table in t.items()},
                    "archive_bucket": storage.archive.bucket_name,
                    "quarantine_bucket": storage.quarantine.bucket_name,
                    "uplink_stream": self.stream.stream_name,
                    "event_bus": bus.event_bus_name,
                },
                memory_size=1024,
                # A full batch with its DynamoDB and S3 writes fits well inside a minute; a
                # timeout only re-drives the batch, which idempotent writes make safe.
                timeout_seconds=60,
                reserved_concurrency=reserved_concurrency,
            ),
        )
        # LCM-SEC-5: each table gets only the access ingest needs.
        for setting in ("devices_table", "device_models_table", "battery_identities_table"):
            t[setting].grant_read_data(self.function)
        t["latest_state_table"].grant_read_write_data(self.function)  # conditional update on seq
        t["dedupe_table"].grant_read_write_data(self.function)
        t["history_table"].grant_write_data(self.function)
        # PutObject only (no tagging, ACL or abort rights), on the two buckets ingest writes.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[storage.archive.arn_for_objects("*"), storage.quarantine.arn_for_objects("*")],
            )
        )
        storage.key.grant(self.function, "kms:GenerateDataKey")  # SSE-KMS with bucket keys
        bus.grant_put_events_to(self.function)
        lambdas.allow_metrics(self.function)
        acknowledge(
            self.function.role,  # type: ignore[arg-type]
            {
                **KMS_GRANT_REASONS,
                f"AwsSolutions-IAM5[Resource::{arn_token(t['devices_table'])}/index/*]": (
                    "Ingest resolves a thing to its tenant through the devices table's by-thing index; "
                    "the wildcard covers that table's indexes only."
                ),
                f"AwsSolutions-IAM5[Resource::{arn_token(storage.archive)}/*]": (
                    "Raw archive objects are keyed tenant=<id>/date=<day>/<message>; ingest writes new "
                    "objects anywhere under those prefixes (PutObject only)."
                ),
                f"AwsSolutions-IAM5[Resource::{arn_token(storage.quarantine)}/*]": (
                    "Quarantined messages are written under per-tenant/day keys chosen at run time; "
                    "ingest may only PutObject there."
                ),
            },
        )

        self.event_source = stream_source(self.stream, self.dlq, batching_window=Duration.seconds(1))
        self.function.add_event_source(self.event_source)
