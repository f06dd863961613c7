"""IoT: thing types, the device policy, and one topic rule per ``shared.contracts.iot_rules.RULES`` entry.

Rule SQL and targets come from the shared definitions (the local rules engine evaluates the
same ones), so this construct only maps a logical stream name to the real stream.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.compliance import acknowledge
from shared.contracts import iot_rules
from shared.contracts.devices import DeviceKind
from shared.contracts.topics import device_policy_document
from shared.domain.devices.naming import thing_type_for

#: Same as shared.adapters.iot.ensure_device_prerequisites (the local stack's thing types).
THING_SEARCHABLE_ATTRIBUTES = ("tenant", "kind", "model")


def iot_arn_prefix() -> str:
    """``arn:<partition>:iot:<region>:<account>`` with tokens, so China regions work too."""
    return f"arn:{Aws.PARTITION}:iot:{Aws.REGION}:{Aws.ACCOUNT_ID}"


def device_registration_statements() -> list[iam.PolicyStatement]:
    """What device registration (shared/adapters/iot.py) calls, scoped as far as IoT allows."""
    prefix = iot_arn_prefix()
    return [
        # These three have no resource-level permissions in IAM.
        iam.PolicyStatement(
            actions=["iot:DescribeEndpoint", "iot:CreateKeysAndCertificate", "iot:CreateCertificateFromCsr"],
            resources=["*"],
        ),
        iam.PolicyStatement(actions=["iot:CreateThing", "iot:DescribeThing"], resources=[f"{prefix}:thing/*"]),
        iam.PolicyStatement(
            actions=[
                "iot:UpdateCertificate",
                "iot:AttachPolicy",
                "iot:DetachPolicy",
                "iot:AttachThingPrincipal",
                "iot:DetachThingPrincipal",
            ],
            # Principal attachment is authorised on the certificate (IoT guide) and on the
            # thing (service authorization reference); both are listed.
            resources=[f"{prefix}:cert/*", f"{prefix}:thing/*"],
        ),
    ]


class Iot(Construct):
    """Everything AWS IoT Core needs to accept devices and route their uplink."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        key: kms.IKey,
        streams: dict[str, kinesis.IStream],
    ) -> None:
        super().__init__(scope, construct_id)
        self.thing_types: dict[DeviceKind, iot.CfnThingType] = {}
        for kind in DeviceKind:
            self.thing_types[kind] = iot.CfnThingType(
                self,
                f"ThingType{kind.value.title().replace('_', '')}",
                # The registration code names thing types with this same function. Thing types
                # are per account and region, so one stage per account/region (AWS's advice anyway).
                thing_type_name=thing_type_for(kind),
                thing_type_properties=iot.CfnThingType.ThingTypePropertiesProperty(
                    thing_type_description=f"VoltOps {kind.value} devices",
                    # `tenant` is also read by the device policy's policy variables.
                    searchable_attributes=list(THING_SEARCHABLE_ATTRIBUTES),
                ),
            )

        self.device_policy = iot.CfnPolicy(
            self,
            "DevicePolicy",
            policy_name=f"voltops-{stage}-device",
            policy_document=device_policy_document(iot_arn_prefix()),
        )

        # Messages a rule could not deliver (stream throttled, key disabled, ...) land here
        # instead of being dropped; monitoring alarms on its depth.
        self.error_queue = sqs.Queue(
            self,
            "RuleErrors",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.error_queue,
            {
                "AwsSolutions-SQS3": (
                    "This queue is the error action of the IoT topic rules, i.e. already the place "
                    "undeliverable messages go; it is alarmed on and drained by an operator."
                ),
            },
        )
        error_role = iam.Role(
            self,
            "RuleErrorRole",
            assumed_by=iam.ServicePrincipal("iot.amazonaws.com"),
            description="IoT topic rules: error action to the rule-errors queue only",
        )
        # Written out instead of queue.grant_send_messages, which would add wildcard KMS actions.
        error_role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.error_queue.queue_arn])
        )
        key.grant(error_role, "kms:GenerateDataKey", "kms:Decrypt")

        self.rules: dict[str, iot.CfnTopicRule] = {}
        for rule in iot_rules.RULES:
            stream = streams.get(rule.target.stream)
            if stream is None:
                raise ValueError(f"rule {rule.name}: no stream for logical name {rule.target.stream!r}")
            # One role per rule, allowed to put records on exactly its stream (LCM-SEC-5).
            role = iam.Role(
                self,
                f"{_camel(rule.name)}Role",
                assumed_by=iam.ServicePrincipal("iot.amazonaws.com"),
                description=f"IoT rule {rule.name}: PutRecord on its target stream only",
            )
            role.add_to_policy(iam.PolicyStatement(actions=["kinesis:PutRecord"], resources=[stream.stream_arn]))
            if stream.encryption_key is not None:
                stream.encryption_key.grant(role, "kms:GenerateDataKey")
            self.rules[rule.name] = iot.CfnTopicRule(
                self,
                _camel(rule.name),
                # Rule names are regional per account: the stage keeps dev and prod apart.
                rule_name=f"{rule.name}_{stage}",
                topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                    description=rule.description,
                    sql=rule.sql,
                    aws_iot_sql_version=rule.sql_version,
                    rule_disabled=False,
                    actions=[
                        iot.CfnTopicRule.ActionProperty(
                            kinesis=iot.CfnTopicRule.KinesisActionProperty(
                                stream_name=stream.stream_name,
                                partition_key=rule.target.partition_key,
                                role_arn=role.role_arn,
                            )
                        )
                    ],
                    error_action=iot.CfnTopicRule.ActionProperty(
                        sqs=iot.CfnTopicRule.SqsActionProperty(
                            queue_url=self.error_queue.queue_url,
                            role_arn=error_role.role_arn,
                            use_base64=False,
                        )
                    ),
                ),
            )


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
