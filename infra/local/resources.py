"""Create in moto what the CDK stack creates in AWS (names from :mod:`shared.settings`).

Only resources, never behaviour: tables, buckets, the uplink stream, the event bus with the
alarm-notification rule and queue, the SES sender identity, IoT thing types and the device
policy, the Cognito user pool with its app client and groups, and the DLQs that the event
source mappings would have in AWS.
"""

from __future__ import annotations

import json
import secrets
import string
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3

from infra.local.moto import LOCAL_REGION
from shared.contracts.alarms import ALARM_EVENT_PATTERN
from shared.settings import Settings, get_settings

UPLINK_SHARDS = 2
GROUPS = ("operator", "admin", "viewer")
SEED_TENANT = "demo"
SEED_USERNAME = "operator@demo.local"


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    tenant_id: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class LocalResources:
    user_pool_id: str
    user_pool_client_id: str
    jwks_url: str
    jwt_issuer: str
    ingest_dlq_url: str
    alarms_dlq_url: str
    notifications_queue_url: str
    operator: Login


def ingest_dlq_name(settings: Settings) -> str:
    """Failure destination of the uplink stream's event source mapping."""
    return f"{settings.uplink_stream}-ingest-dlq"


def alarms_dlq_name(settings: Settings) -> str:
    """Failure destination of the alarms consumer's event source mapping."""
    return f"{settings.uplink_stream}-alarms-dlq"


NOTIFICATIONS_QUEUE = "voltops-alarm-notifications"
NOTIFICATIONS_MAX_RECEIVES = 5


def _notifications_queue(session: boto3.session.Session, s: Settings) -> str:
    """Bus rule (the shared pattern) → queue (with its DLQ) that feeds the notification function."""
    sqs = session.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{NOTIFICATIONS_QUEUE}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=NOTIFICATIONS_QUEUE,
        Attributes={
            "VisibilityTimeout": "5",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(NOTIFICATIONS_MAX_RECEIVES)}
            ),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = session.client("events")
    events.put_rule(Name="alarm-notifications", EventBusName=s.event_bus, EventPattern=json.dumps(ALARM_EVENT_PATTERN))
    events.put_targets(Rule="alarm-notifications", EventBusName=s.event_bus, Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


def random_password() -> str:
    """A random password satisfying the pool's policy (one of each character class)."""
    rng = secrets.SystemRandom()
    core = secrets.token_urlsafe(18)
    extra = [rng.choice(cls) for cls in (string.ascii_uppercase, string.ascii_lowercase, string.digits, "!#%+")]
    return core + "".join(extra)


def create_all(endpoint: str, settings: Settings | None = None) -> LocalResources:
    """Create every resource; the moto server must be running and the env pointed at it.

    Independent groups are created concurrently (moto requests are slow-ish, ~10 ms each).
    """
    from shared.adapters.iot import ensure_device_prerequisites
    from shared.dal.tables import create_all_tables

    s = settings or get_settings()

    def storage() -> tuple[str, str, str]:
        s3 = boto3.session.Session().client("s3")
        for bucket in (s.archive_bucket, s.quarantine_bucket):
            s3.create_bucket(Bucket=bucket)
        session = boto3.session.Session()
        session.client("kinesis").create_stream(StreamName=s.uplink_stream, ShardCount=UPLINK_SHARDS)
        session.client("events").create_event_bus(Name=s.event_bus)
        session.client("ses").verify_email_identity(EmailAddress=s.notification_sender)
        sqs = session.client("sqs")
        ingest_dlq = str(sqs.create_queue(QueueName=ingest_dlq_name(s))["QueueUrl"])
        alarms_dlq = str(sqs.create_queue(QueueName=alarms_dlq_name(s))["QueueUrl"])
        return ingest_dlq, alarms_dlq, _notifications_queue(session, s)

    def iot() -> None:
        # Same thing types (with searchable attributes) and policy document as the CDK stack;
        # the policy's ARNs are arn:aws:iot:us-east-1:123456789012:... under moto.
        ensure_device_prerequisites(s.device_policy_name)

    with ThreadPoolExecutor(4) as pool:
        tables = pool.submit(create_all_tables)
        dlq = pool.submit(storage)
        things = pool.submit(iot)
        users = pool.submit(_create_user_pool)
        tables.result()
        things.result()
        dlq_url, alarms_dlq_url, notifications_url = dlq.result()
        pool_id, client_id, login = users.result()
    return LocalResources(
        user_pool_id=pool_id,
        user_pool_client_id=client_id,
        jwks_url=f"{endpoint}/{pool_id}/.well-known/jwks.json",
        # moto signs tokens with the AWS-shaped issuer, whatever endpoint served them.
        jwt_issuer=f"https://cognito-idp.{LOCAL_REGION}.amazonaws.com/{pool_id}",
        ingest_dlq_url=dlq_url,
        alarms_dlq_url=alarms_dlq_url,
        notifications_queue_url=notifications_url,
        operator=login,
    )


def _create_user_pool() -> tuple[str, str, Login]:
    idp = boto3.session.Session().client("cognito-idp")
    pool = idp.create_user_pool(
        PoolName="voltops-local",
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": True,
            }
        },
        UsernameAttributes=["email"],
        Schema=[
            {"Name": "email", "AttributeDataType": "String", "Mutable": True, "Required": True},
            # The tenant comes from the verified identity, so nobody may change it later.
            {
                "Name": "tenant_id",
                "AttributeDataType": "String",
                "Mutable": False,
                "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"},
            },
        ],
    )["UserPool"]
    pool_id = pool["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="voltops-console",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["email", "email_verified", "custom:tenant_id"],
        WriteAttributes=["email"],  # never custom:tenant_id: users must not move tenants
    )["UserPoolClient"]
    for group in GROUPS:
        idp.create_group(UserPoolId=pool_id, GroupName=group)

    password = random_password()
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=SEED_USERNAME,
        UserAttributes=[
            {"Name": "email", "Value": SEED_USERNAME},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "custom:tenant_id", "Value": SEED_TENANT},
        ],
        MessageAction="SUPPRESS",
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=SEED_USERNAME, Password=password, Permanent=True)
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username=SEED_USERNAME, GroupName="admin")
    login = Login(username=SEED_USERNAME, password=password, tenant_id=SEED_TENANT, groups=("admin",))
    return pool_id, client["ClientId"], login
