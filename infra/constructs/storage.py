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

from infra.constructs.compliance import acknowledge, arn_token

S = dynamodb.AttributeType.STRING
N = dynamodb.AttributeType.NUMBER
TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class GsiSpec:
    name: str
    partition_key: tuple[str, dynamodb.AttributeType]
    sort_key: tuple[str, dynamodb.AttributeType] | None = None
    #: KEYS_ONLY where the reader fetches the few items it needs afterwards (sweeps over a sparse
    #: index); ALL elsewhere.
    projection: dynamodb.ProjectionType = dynamodb.ProjectionType.ALL


@dataclass(frozen=True)
class TableSpec:
    """One table; ``setting`` is the :class:`shared.settings.Settings` field holding its name."""

    setting: str
    suffix: str
    partition_key: tuple[str, dynamodb.AttributeType]
    sort_key: tuple[str, dynamodb.AttributeType] | None = None
    ttl: bool = False
    gsis: tuple[GsiSpec, ...] = ()


#: Mirrors shared.dal.tables.ALL_MODELS (DeviceItem, DeviceModelItem, BatteryIdentityItem,
#: LatestStateItem, HistoryItem, DedupeItem, then the alarm pipeline's AlarmItem, AlarmTimelineItem,
#: AlarmStateItem, AlarmRuleSetItem, CommandItem, NotificationItem, NotificationPolicyItem,
#: EscalationItem), in that order.
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
    # --- alarms, commands, notifications ---
    TableSpec(
        "alarms_table",
        "alarms",
        ("tenant_id", S),
        ("alarm_id", S),
        gsis=(
            GsiSpec("by-time", ("tenant_id", S), ("time_key", S)),
            GsiSpec("by-device", ("device_key", S), ("time_key", S)),
            GsiSpec("by-status", ("status_key", S), ("time_key", S)),
        ),
    ),
    TableSpec("alarm_timeline_table", "alarm-timeline", ("alarm_key", S), ("entry_key", S)),
    TableSpec(
        "alarm_state_table",
        "alarm-state",
        ("device_key", S),
        ("item", S),
        gsis=(GsiSpec("by-last-seen", ("comm_shard", N), ("last_seen_ms", N), dynamodb.ProjectionType.KEYS_ONLY),),
    ),
    TableSpec("alarm_rules_table", "alarm-rules", ("scope_key", S), ("version", N)),
    TableSpec(
        "commands_table",
        "commands",
        ("tenant_id", S),
        ("command_id", S),
        gsis=(
            GsiSpec("by-device", ("device_key", S), ("issued_key", S)),
            GsiSpec("open-by-deadline", ("open_shard", N), ("ack_deadline_ms", N)),
        ),
    ),
    TableSpec("notifications_table", "notifications", ("recipient_key", S), ("notification_key", S), ttl=True),
    TableSpec("notification_policies_table", "notification-policies", ("tenant_id", S), ("version", N)),
    TableSpec(
        "escalations_table",
        "escalations",
        ("alarm_key", S),
        gsis=(GsiSpec("due", ("due_shard", N), ("due_at_ms", N)),),
    ),
)
#: Settings field -> its table's spec.
TABLE_SPECS = {spec.setting: spec for spec in TABLES}


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
                    sort_key=_attr(gsi.sort_key) if gsi.sort_key else None,
                    projection_type=gsi.projection,
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

    def index_findings(self, why: str, *settings: str) -> dict[str, str]:
        """cdk-nag acknowledgements for the ``<table>/index/*`` resource CDK's table grants add.

        Only tables that have indexes get one (CDK adds the index ARN only for those); ``why``
        says what the function queries them for, the reason names the table and its indexes.
        """
        findings = {}
        for setting in settings:
            spec = TABLE_SPECS[setting]
            if not spec.gsis:
                continue
            names = ", ".join(gsi.name for gsi in spec.gsis)
            findings[f"AwsSolutions-IAM5[Resource::{arn_token(self.tables[setting])}/index/*]"] = (
                f"{why} The wildcard covers only the indexes ({names}) of the {spec.suffix} table."
            )
        return findings

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
