"""Alarms: the alarm engine on the uplink stream, and the timers that act when nothing arrives (flows 2 and 3).

- Consumer: a second event source mapping on the uplink Kinesis stream, independent of ingest
  (its own checkpoint, so neither slows the other), that evaluates alarm rules per device in
  stream order, raises/clears alarms, issues protective commands and emits alarm events.
- Timers: a one-minute schedule that fires due escalations, expires unacknowledged commands
  and sweeps for devices that stopped talking; one at a time (reserved concurrency 1).

This module owns the permission to reach *devices* (their command topic).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.compliance import DESCRIBE_ENDPOINT_REASON, KMS_GRANT_REASONS, SMS_PUBLISH_REASON, acknowledge
from infra.constructs.ingest import stream_source
from infra.constructs.iot import iot_arn_prefix
from infra.constructs.lambda_defaults import FunctionSpec, LambdaFactory, failure_queue
from infra.constructs.notifications import NAG_IOT_PREFIX, NotificationChannels, grant_console_publish
from infra.constructs.storage import Storage
from shared.contracts.topics import ROOT, VERSION, Direction, DownType

ALARMS_HANDLER = "functions.alarms.handler.handler"
ALARMS_SERVICE = "alarms"
TIMERS_HANDLER = "functions.timers.handler.handler"
TIMERS_SERVICE = "timers"
#: No batching wait: a thermal runaway must reach the engine as soon as Lambda polls the shard
#: (once a second per shard), not after another window on top.
MAX_BATCHING_WINDOW = Duration.seconds(0)
#: One batch per shard at a time: the engine's per-device state (windows, durations) needs
#: stream order per device, which a higher factor would only keep per partition key anyway
#: at the cost of concurrent writers to the same state items.
PARALLELIZATION_FACTOR = 1
TIMER_RATE = Duration.minutes(1)
#: A sweep must end before the next tick is due, so ticks never queue up behind it.
TIMERS_TIMEOUT_SECONDS = 55
COMMAND_TOPICS = f"topic/{ROOT}/{VERSION}/*/*/{Direction.DOWN.value}/{DownType.COMMAND.value}"

#: Settings fields (tables) each function is told about; grants follow below.
CONSUMER_TABLES = (
    "devices_table",
    "device_models_table",
    "alarms_table",
    "alarm_timeline_table",
    "alarm_state_table",
    "alarm_rules_table",
    "commands_table",
)
TIMERS_TABLES = (
    *CONSUMER_TABLES,
    "escalations_table",
    "notifications_table",
    "notification_policies_table",
    "dedupe_table",
)


def command_topic_arn() -> str:
    """Every device's command topic (``voltops/v1/{tenant}/{thing}/down/cmd``), and nothing else."""
    return f"{iot_arn_prefix()}:{COMMAND_TOPICS}"


def grant_device_messaging(fn: lambda_.Function) -> None:
    """iot:Publish on device command topics and console topics (plus the endpoint lookup)."""
    fn.add_to_role_policy(iam.PolicyStatement(actions=["iot:Publish"], resources=[command_topic_arn()]))
    grant_console_publish(fn)
    acknowledge(
        fn.role,  # type: ignore[arg-type]
        {
            f"AwsSolutions-IAM5[Resource::{NAG_IOT_PREFIX}:{COMMAND_TOPICS}]": (
                "Commands (cut-off, eject, ...) go to voltops/v1/<tenant>/<thing>/down/cmd of a device chosen at "
                "run time; the pattern admits only command topics, never uplink or other downlink types."
            ),
        },
    )


class Alarms(Construct):
    """The alarm consumer with its failure queue, and the timers function with its schedule."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        storage: Storage,
        bus: events.IEventBus,
        stream: kinesis.IStream,
        lambdas: LambdaFactory,
        channels: NotificationChannels,
    ) -> None:
        super().__init__(scope, construct_id)
        t = storage.tables

        # --- consumer ---------------------------------------------------------------------------
        self.dlq = failure_queue(
            self,
            "AlarmConsumerFailures",
            storage.key,
            "This queue is itself the on-failure destination of the alarm consumer's event source "
            "mapping; a dead-letter queue behind it would only move the same pointers again.",
        )
        self.consumer = lambdas.function(
            "AlarmConsumerFunction",
            FunctionSpec(
                handler=ALARMS_HANDLER,
                service=ALARMS_SERVICE,
                description="Alarm engine: rules per device in stream order, alarms, protective commands, events",
                settings={
                    **{setting: t[setting].table_name for setting in CONSUMER_TABLES},
                    "event_bus": bus.event_bus_name,
                },
                memory_size=1024,
                timeout_seconds=60,
                wildcard_resource_reason=DESCRIBE_ENDPOINT_REASON,
            ),
        )
        for setting in ("devices_table", "device_models_table", "alarm_rules_table"):
            t[setting].grant_read_data(self.consumer)
        for setting in ("alarms_table", "alarm_timeline_table", "alarm_state_table", "commands_table"):
            t[setting].grant_read_write_data(self.consumer)
        bus.grant_put_events_to(self.consumer)
        grant_device_messaging(self.consumer)
        lambdas.allow_metrics(self.consumer)
        acknowledge(
            self.consumer.role,  # type: ignore[arg-type]
            {
                **KMS_GRANT_REASONS,
                **storage.index_findings(
                    "The engine resolves things through the devices table's by-thing index and reads a device's "
                    "alarms and commands through their tables' indexes.",
                    *CONSUMER_TABLES,
                ),
            },
        )
        # Same failure handling as ingest, with its own checkpoint on the stream.
        self.event_source = stream_source(
            stream, self.dlq, batching_window=MAX_BATCHING_WINDOW, parallelization_factor=PARALLELIZATION_FACTOR
        )
        self.consumer.add_event_source(self.event_source)

        # --- timers -----------------------------------------------------------------------------
        self.timers = lambdas.function(
            "TimersFunction",
            FunctionSpec(
                handler=TIMERS_HANDLER,
                service=TIMERS_SERVICE,
                description="Timers: due escalations, command ack deadlines, loss-of-communication sweep",
                settings={
                    **{setting: t[setting].table_name for setting in TIMERS_TABLES},
                    "event_bus": bus.event_bus_name,
                    **channels.settings(),
                },
                timeout_seconds=TIMERS_TIMEOUT_SECONDS,
                # Sweeps must not overlap: two would fire the same escalation step twice.
                reserved_concurrency=1,
                wildcard_resource_reason=f"{DESCRIBE_ENDPOINT_REASON} {SMS_PUBLISH_REASON}",
            ),
        )
        for setting in ("devices_table", "device_models_table", "alarm_rules_table"):
            t[setting].grant_read_data(self.timers)
        for setting in TIMERS_TABLES:
            if setting not in ("devices_table", "device_models_table", "alarm_rules_table"):
                t[setting].grant_read_write_data(self.timers)
        bus.grant_put_events_to(self.timers)
        grant_device_messaging(self.timers)
        channels.grant(self.timers)
        lambdas.allow_metrics(self.timers)
        acknowledge(
            self.timers.role,  # type: ignore[arg-type]
            {
                **KMS_GRANT_REASONS,
                **storage.index_findings(
                    "The timers query the sparse due/open-by-deadline/by-last-seen indexes for work that is due "
                    "and read alarms and devices through their indexes.",
                    *TIMERS_TABLES,
                ),
            },
        )
        # A tick that waited a minute is superseded by the next one; a failed sweep is redone by
        # the next tick rather than retried on top of it.
        self.timers.configure_async_invoke(max_event_age=Duration.minutes(1), retry_attempts=0)
        self.schedule = events.Rule(
            self,
            "TimersSchedule",
            description=f"VoltOps {stage}: run the alarm timers every minute",
            schedule=events.Schedule.rate(TIMER_RATE),
            targets=[targets.LambdaFunction(self.timers)],
        )


__all__ = [
    "ALARMS_HANDLER",
    "COMMAND_TOPICS",
    "TIMERS_HANDLER",
    "Alarms",
    "command_topic_arn",
    "grant_device_messaging",
]
