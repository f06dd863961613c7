"""Notifications: alarm events on the platform bus -> SQS -> notification function (flow 2 of the architecture).

The function routes each ``voltops.alarms`` event by level and tenant policy to in-app (inbox +
console topic), e-mail (SES), SMS (SNS) and voice (Amazon Connect), and schedules escalations
that the timers function (``infra/constructs/alarms.py``) fires.

This module also owns the permissions for reaching *people* — console topics, the channels
and their configuration — because the timers function reaches them too.
"""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces import aws_events as events_refs
from constructs import Construct, Node

from infra.constructs.compliance import DESCRIBE_ENDPOINT_REASON, KMS_GRANT_REASONS, SMS_PUBLISH_REASON, acknowledge
from infra.constructs.iot import iot_arn_prefix
from infra.constructs.lambda_defaults import FunctionSpec, LambdaFactory, failure_queue
from infra.constructs.storage import Storage
from shared.contracts.alarms import ALARM_EVENT_PATTERN
from shared.contracts.topics import CONSOLE_ROOT
from shared.settings import Settings

NOTIFICATIONS_HANDLER = "functions.notifications.handler.handler"
NOTIFICATIONS_SERVICE = "notifications"
TIMEOUT_SECONDS = 60
BATCH_SIZE = 10
#: A message that failed this many deliveries goes to the DLQ (alarmed on) instead of looping.
MAX_RECEIVE_COUNT = 5
#: Caps concurrent pollers, so a burst of alarms cannot exceed the SES/SNS send quotas of a
#: fresh account; the queue absorbs the burst instead.
MAX_CONCURRENCY = 10
#: How cdk-nag renders ``iot_arn_prefix()`` in finding ids.
NAG_IOT_PREFIX = "arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>"
CONSOLE_TOPICS = f"topic/{CONSOLE_ROOT}/*"

#: CDK context keys (``-c key=value`` or cdk.json "context") for the channels.
SENDER_CONTEXT = "notification_sender"
VOICE_CONTEXT = ("voice_connect_instance_id", "voice_contact_flow_id", "voice_source_phone")


def console_topic_arn() -> str:
    """Every tenant's console topics (``voltops/console/v1/{tenant}/{stream}``), and nothing else."""
    return f"{iot_arn_prefix()}:{CONSOLE_TOPICS}"


def grant_console_publish(fn: lambda_.Function) -> None:
    """iot:Publish on console topics only, plus the endpoint lookup the publisher does at cold start."""
    fn.add_to_role_policy(iam.PolicyStatement(actions=["iot:Publish"], resources=[console_topic_arn()]))
    fn.add_to_role_policy(iam.PolicyStatement(actions=["iot:DescribeEndpoint"], resources=["*"]))
    acknowledge(
        fn.role,  # type: ignore[arg-type]
        {
            f"AwsSolutions-IAM5[Resource::{NAG_IOT_PREFIX}:{CONSOLE_TOPICS}]": (
                "Live console updates go to voltops/console/v1/<tenant>/<stream>; the tenant is known only per "
                "message. The pattern admits console topics only, never a device's topics."
            ),
        },
    )


@dataclass(frozen=True)
class NotificationChannels:
    """The configured sender and voice provider (CDK context), and the grants they imply."""

    sender: str = Settings.model_fields["notification_sender"].default
    connect_instance_id: str | None = None
    contact_flow_id: str | None = None
    source_phone: str | None = None

    def __post_init__(self) -> None:
        local, _, domain = self.sender.partition("@")
        if not local or not domain or "@" in domain:
            raise ValueError(f"{SENDER_CONTEXT} must be one e-mail address, got {self.sender!r}")
        voice = (self.connect_instance_id, self.contact_flow_id, self.source_phone)
        if any(voice) and not all(voice):
            raise ValueError(f"voice calls need all of {', '.join(VOICE_CONTEXT)} or none of them")

    @classmethod
    def from_context(cls, node: Node) -> NotificationChannels:
        """Read the channels from context; with none set, e-mail from the Settings default, no voice."""

        def value(key: str) -> str | None:
            found = node.try_get_context(key)
            return None if found in (None, "") else str(found)

        instance, flow, phone = (value(k) for k in VOICE_CONTEXT)
        return cls(
            sender=value(SENDER_CONTEXT) or cls.sender,
            connect_instance_id=instance,
            contact_flow_id=flow,
            source_phone=phone,
        )

    @property
    def voice_enabled(self) -> bool:
        return self.connect_instance_id is not None

    @property
    def sender_domain(self) -> str:
        return self.sender.partition("@")[2]

    def settings(self) -> dict[str, str]:
        """Settings fields for the functions that notify (NOTIFICATION_SENDER, VOICE_* when configured)."""
        values = {"notification_sender": self.sender}
        if self.voice_enabled:
            values |= {
                "voice_connect_instance_id": str(self.connect_instance_id),
                "voice_contact_flow_id": str(self.contact_flow_id),
                "voice_source_phone": str(self.source_phone),
            }
        return values

    def grant(self, fn: lambda_.Function) -> None:
        """E-mail from the sender only, SMS to phone numbers only, voice calls through the one instance."""
        ses_identity = f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}:identity"
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                # The sender may be verified as an address or through its domain.
                resources=[f"{ses_identity}/{self.sender}", f"{ses_identity}/{self.sender_domain}"],
                conditions={"StringEquals": {"ses:FromAddress": self.sender}},
            )
        )
        fn.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=["*"]))
        # SMS needs "*"; this Deny takes every topic and platform endpoint back out of it.
        fn.add_to_role_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY, actions=["sns:Publish"], resources=[f"arn:{Aws.PARTITION}:sns:*:*:*"]
            )
        )
        if not self.voice_enabled:
            return
        instance = f"arn:{Aws.PARTITION}:connect:{Aws.REGION}:{Aws.ACCOUNT_ID}:instance/{self.connect_instance_id}"
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["connect:StartOutboundVoiceContact"], resources=[instance, f"{instance}/contact/*"]
            )
        )
        nag_instance = (
            f"arn:<AWS::Partition>:connect:<AWS::Region>:<AWS::AccountId>:instance/{self.connect_instance_id}"
        )
        acknowledge(
            fn.role,  # type: ignore[arg-type]
            {
                f"AwsSolutions-IAM5[Resource::{nag_instance}/contact/*]": (
                    "StartOutboundVoiceContact creates a contact whose id Amazon Connect assigns at call time; "
                    "the wildcard covers contacts of the one configured Connect instance only."
                ),
            },
        )


@jsii.implements(events.IRuleTarget)
class _EncryptedQueueTarget:
    """An SQS target (with DLQ and retry policy) that grants nothing itself.

    ``aws_events_targets.SqsQueue`` on a KMS-encrypted queue grants ``events.amazonaws.com``
    SendMessage without any condition (unless a feature flag narrows it to the account), to
    avoid a dependency cycle through the key policy. The Notifications construct writes the
    queue policies itself instead, each limited to this rule's ARN.
    """

    def __init__(self, queue: sqs.IQueue, dead_letter_queue: sqs.IQueue) -> None:
        self._queue = queue
        self._dlq = dead_letter_queue

    def bind(self, _rule: events_refs.IRuleRef, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self._queue.queue_arn,
            target_resource=self._queue,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self._dlq.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_event_age_in_seconds=int(Duration.hours(24).to_seconds()), maximum_retry_attempts=185
            ),
        )


class Notifications(Construct):
    """The alarm-event rule, its queue and DLQ, and the notification function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        storage: Storage,
        bus: events.IEventBus,
        lambdas: LambdaFactory,
        channels: NotificationChannels,
    ) -> None:
        super().__init__(scope, construct_id)
        key = storage.key
        self.dlq = failure_queue(
            self,
            "NotificationFailures",
            key,
            "This queue is the dead-letter queue of the notification queue and of the EventBridge target; "
            "it is alarmed on and redriven by an operator after a fix.",
        )
        self.queue = sqs.Queue(
            self,
            "AlarmEventQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            # AWS's advice for a Lambda-polled queue: six times the function timeout, so a message
            # is not redelivered while a slow batch is still working on it.
            visibility_timeout=Duration.seconds(6 * TIMEOUT_SECONDS),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=MAX_RECEIVE_COUNT),
            removal_policy=RemovalPolicy.RETAIN,
        )

        # Every alarm lifecycle event; the function decides per level and tenant policy what to send.
        self.rule = events.Rule(
            self,
            "AlarmEvents",
            event_bus=bus,
            description=f"VoltOps {stage}: alarm lifecycle events to the notification queue",
            # The one pattern the local stack's bus rule uses too (shared.contracts.alarms).
            event_pattern=events.EventPattern(
                source=ALARM_EVENT_PATTERN["source"], detail_type=ALARM_EVENT_PATTERN["detail-type"]
            ),
            targets=[_EncryptedQueueTarget(self.queue, self.dlq)],
        )
        for queue in (self.queue, self.dlq):
            queue.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[queue.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": self.rule.rule_arn}},
                )
            )
        # SQS encrypts what EventBridge sends with the data key. The condition cannot name the rule:
        # the key policy would then depend on the rule, which depends on the queue and its key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )

        t = storage.tables
        self.function = lambdas.function(
            "NotificationFunction",
            FunctionSpec(
                handler=NOTIFICATIONS_HANDLER,
                service=NOTIFICATIONS_SERVICE,
                description="Alarm notifications: in-app, e-mail, SMS, voice; escalation scheduling",
                settings={
                    **{
                        s: t[s].table_name
                        for s in (
                            "notifications_table",
                            "notification_policies_table",
                            "escalations_table",
                            "alarms_table",
                            "alarm_timeline_table",
                            "dedupe_table",
                        )
                    },
                    **channels.settings(),
                },
                timeout_seconds=TIMEOUT_SECONDS,
                wildcard_resource_reason=f"{DESCRIBE_ENDPOINT_REASON} {SMS_PUBLISH_REASON}",
            ),
        )
        for setting in ("notifications_table", "notification_policies_table", "escalations_table", "dedupe_table"):
            t[setting].grant_read_write_data(self.function)
        t["alarms_table"].grant_read_data(self.function)
        t["alarm_timeline_table"].grant_write_data(self.function)
        channels.grant(self.function)
        grant_console_publish(self.function)
        lambdas.allow_metrics(self.function)
        acknowledge(
            self.function.role,  # type: ignore[arg-type]
            {
                **KMS_GRANT_REASONS,
                **storage.index_findings(
                    "Notifications read an alarm's siblings by time and find due escalations through the "
                    "tables' indexes.",
                    "alarms_table",
                    "escalations_table",
                ),
            },
        )

        self.event_source = sources.SqsEventSource(
            self.queue,
            batch_size=BATCH_SIZE,
            report_batch_item_failures=True,
            max_concurrency=MAX_CONCURRENCY,
        )
        self.function.add_event_source(self.event_source)


__all__ = [
    "CONSOLE_TOPICS",
    "NOTIFICATIONS_HANDLER",
    "NotificationChannels",
    "Notifications",
    "console_topic_arn",
    "grant_console_publish",
]
