"""Storage: the DynamoDB tables of ``shared/dal/tables.py``, the S3 buckets, and the data key.

The key schemas are declared here on purpose rather than derived from the pynamodb models:
an infrastructure test compares the two, so a change on one side without the other fails.
Data is kept when the stack is deleted (RemovalPolicy.RETAIN; LCM-PF-9) and encrypted with a
customer-managed key (LCM-SEC-2).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, Fn, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.compliance import acknowledge

S = dynamodb.AttributeType.STRING
N = dynamodb.AttributeType.NUMBER
TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class GsiSpec:
    name: str
    partition_key: tuple[str, dynamodb.AttributeType]


@dataclass(frozen=True)
class TableSpec:
    """One table; ``setting`` is the :class:`shared.settings.Settings` field holding its name."""

    setting: str
    suffix: str
    partition_key: tuple[str, dynamodb.AttributeType]
    sort_key: tuple[str, dynamodb.AttributeType] | None = None
    ttl: bool = False
    gsis: tuple[GsiSpec, ...] = ()


#: Mirrors shared.dal.tables (DeviceItem, DeviceModelItem, BatteryIdentityItem, LatestStateItem,
#: HistoryItem, DedupeItem), in that order.
TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "devices_table",
        "devices",
        ("tenant_id", S),
        ("thing_name", S),
        gsis=(GsiSpec("by-thing", ("thing_name", S)),),
    ),
    TableSpec("device_models_table", "device-models", ("tenant_id", S), ("model_id", S)),
    TableSpec("battery_identities_table", "battery-identities", ("battery_code", S), ("owned_from_ms", N)),
    TableSpec("latest_state_table", "latest-state", ("tenant_id", S), ("state_key", S)),
    TableSpec("history_table", "telemetry-history", ("series", S), ("sample_key", S), ttl=True),
    TableSpec("dedupe_table", "dedupe", ("message_key", S), ttl=True),
)


def _attr(key: tuple[str, dynamodb.AttributeType]) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key[0], type=key[1])


class Storage(Construct):
    """Tables, buckets and the customer-managed data key."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "DataKey",
            alias=f"alias/voltops-{stage}-data",
            description=f"VoltOps {stage}: tables, buckets, stream, queues, topic and logs",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch Logs encrypts the function and API log groups with this key (LCM-SEC-11).
        # Its principal is regional (logs.<region>.amazonaws.com[.cn]); the condition limits the
        # grant to log groups of this account and region.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(Fn.join(".", ["logs", Aws.REGION, Aws.URL_SUFFIX]))],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )

        self.tables: dict[str, dynamodb.Table] = {}
        for spec in TABLES:
            table = dynamodb.Table(
                self,
                _logical(spec.suffix),
                table_name=f"voltops-{stage}-{spec.suffix}",
                partition_key=_attr(spec.partition_key),
                sort_key=_attr(spec.sort_key) if spec.sort_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
                encryption_key=self.key,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=TTL_ATTRIBUTE if spec.ttl else None,
                deletion_protection=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            for gsi in spec.gsis:
                table.add_global_secondary_index(
                    index_name=gsi.name,
                    partition_key=_attr(gsi.partition_key),
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            self.tables[spec.setting] = table

        # S3 server access logs cannot be delivered to an SSE-KMS bucket, so this one bucket uses
        # SSE-S3. It is the log sink itself: logging it into itself would loop.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(400),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        acknowledge(
            self.access_logs,
            {
                "AwsSolutions-S1": (
                    "This is the server-access-log destination of the other buckets; logging it into "
                    "itself would create a feedback loop of log objects."
                ),
            },
        )

        # Raw archive: every accepted uplink message as received, under
        # tenant=<tenant>/date=<yyyy-mm-dd>/ (Hive-style partitions for Athena; LCM-DA-1).
        # Bucket keys cut KMS requests per object by orders of magnitude at fleet scale.
        self.archive = self._data_bucket(
            "RawArchive",
            "archive/",
            [
                s3.LifecycleRule(
                    id="tier-raw-archive",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                            transition_after=Duration.days(30),
                        ),
                        s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(365)),
                    ],
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        # Quarantine: messages ingest refused, with the reason, kept long enough to investigate.
        self.quarantine = self._data_bucket(
            "Quarantine",
            "quarantine/",
            [
                s3.LifecycleRule(
                    id="expire-quarantine",
                    expiration=Duration.days(180),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )

    def _data_bucket(self, construct_id: str, log_prefix: str, rules: list[s3.LifecycleRule]) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            versioned=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=rules,
            removal_policy=RemovalPolicy.RETAIN,
        )


def _logical(suffix: str) -> str:
    return "".join(part.capitalize() for part in suffix.split("-")) + "Table"
