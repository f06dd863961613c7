"""Monitoring: alarms on the failure paths of ingest, the alarm pipeline and the API; an alarm topic; a dashboard."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.lambda_defaults import METRICS_NAMESPACE

QUARANTINE_METRIC = "QuarantinedMessages"
#: Iterator age above which the alarm engine is late (ms). Much tighter than ingest's: a thermal
#: runaway has to reach the engine within seconds, not a minute.
ALARM_ENGINE_ITERATOR_AGE_MS = 30_000
#: Age of the oldest waiting alarm event (s) above which notifications are late.
NOTIFICATION_QUEUE_AGE_S = 120
#: Iterator age above which ingest is falling behind the fleet (ms).
ITERATOR_AGE_ALARM_MS = 60_000
#: Quarantined messages per 5 minutes that deserve a look: a single misbehaving device emits a
#: few, a firmware or contract mismatch emits many.
QUARANTINE_ALARM_PER_5_MIN = 10


class Monitoring(Construct):
    """Alarms routed to one encrypted SNS topic, plus an operations dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        key: kms.IKey,
        ingest_function: lambda_.IFunction,
        ingest_service: str,
        ingest_dlq: sqs.IQueue,
        rule_error_queue: sqs.IQueue,
        api_function: lambda_.IFunction,
        api: apigw.RestApi,
        alarm_consumer: lambda_.IFunction,
        alarm_consumer_dlq: sqs.IQueue,
        notification_function: lambda_.IFunction,
        notification_queue: sqs.IQueue,
        notification_dlq: sqs.IQueue,
        timers_function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"VoltOps {stage} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # CloudWatch publishes alarm notifications to the encrypted topic with this key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        action = cw_actions.SnsAction(self.topic)

        one_minute = Duration.minutes(1)
        five_minutes = Duration.minutes(5)
        ingest_dlq_depth = ingest_dlq.metric_approximate_number_of_messages_visible(
            period=one_minute, statistic="Maximum"
        )
        rule_errors_depth = rule_error_queue.metric_approximate_number_of_messages_visible(
            period=one_minute, statistic="Maximum"
        )
        iterator_age = ingest_function.metric("IteratorAge", period=one_minute, statistic="Maximum")
        quarantined = cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=QUARANTINE_METRIC,
            # Powertools Metrics adds the `service` dimension (POWERTOOLS_SERVICE_NAME).
            dimensions_map={"service": ingest_service},
            period=five_minutes,
            statistic="Sum",
        )
        ingest_errors = ingest_function.metric_errors(period=five_minutes, statistic="Sum")
        api_errors = api_function.metric_errors(period=five_minutes, statistic="Sum")
        api_5xx = api.metric_server_error(period=five_minutes, statistic="Sum")

        # The alarm pipeline. Its iterator age is the consumer's own (Lambda IteratorAge per
        # function), not the stream's GetRecords.IteratorAgeMilliseconds, which mixes in ingest.
        engine_age = alarm_consumer.metric("IteratorAge", period=one_minute, statistic="Maximum")
        engine_dlq_depth = alarm_consumer_dlq.metric_approximate_number_of_messages_visible(
            period=one_minute, statistic="Maximum"
        )
        notification_dlq_depth = notification_dlq.metric_approximate_number_of_messages_visible(
            period=one_minute, statistic="Maximum"
        )
        notification_age = notification_queue.metric_approximate_age_of_oldest_message(
            period=one_minute, statistic="Maximum"
        )
        engine_errors = alarm_consumer.metric_errors(period=five_minutes, statistic="Sum")
        notification_errors = notification_function.metric_errors(period=five_minutes, statistic="Sum")
        timers_errors = timers_function.metric_errors(period=five_minutes, statistic="Sum")

        specs: list[tuple[str, cw.IMetric, float, int, str]] = [
            ("IngestDlqDepth", ingest_dlq_depth, 1, 1, "Ingest batches gave up and were parked in the DLQ"),
            ("RuleErrorsDepth", rule_errors_depth, 1, 1, "IoT rules could not deliver uplink to the stream"),
            ("IngestIteratorAge", iterator_age, ITERATOR_AGE_ALARM_MS, 5, "Ingest is falling behind the stream"),
            ("IngestErrors", ingest_errors, 1, 1, "Ingest function invocations failed"),
            ("Quarantine", quarantined, QUARANTINE_ALARM_PER_5_MIN, 1, "Many uplink messages quarantined"),
            ("ApiErrors", api_errors, 1, 1, "API function invocations failed"),
            ("Api5xx", api_5xx, 5, 1, "API returned 5xx responses"),
            ("AlarmEngineIteratorAge", engine_age, ALARM_ENGINE_ITERATOR_AGE_MS, 1, "Alarm engine is behind"),
            ("AlarmEngineDlqDepth", engine_dlq_depth, 1, 1, "Alarm engine batches gave up and were parked"),
            ("AlarmEngineErrors", engine_errors, 1, 1, "Alarm engine invocations failed"),
            ("NotificationDlqDepth", notification_dlq_depth, 1, 1, "Alarm events could not be notified"),
            ("NotificationQueueAge", notification_age, NOTIFICATION_QUEUE_AGE_S, 1, "Notifications are late"),
            ("NotificationErrors", notification_errors, 1, 1, "Notification function invocations failed"),
            ("TimersErrors", timers_errors, 1, 1, "Timer sweeps (escalations, command expiry, offline) failed"),
        ]
        self.alarms: dict[str, cw.Alarm] = {}
        for name, metric, threshold, periods, description in specs:
            alarm = cw.Alarm(
                self,
                name,
                alarm_description=f"VoltOps {stage}: {description}",
                metric=metric,
                threshold=threshold,
                evaluation_periods=periods,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
            self.alarms[name] = alarm

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"voltops-{stage}")
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Ingest invocations / errors",
                left=[ingest_function.metric_invocations(period=five_minutes), ingest_errors],
            ),
            cw.GraphWidget(title="Ingest iterator age (ms)", left=[iterator_age]),
            cw.GraphWidget(title="Ingest duration (p99)", left=[ingest_function.metric_duration(statistic="p99")]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Failure queues", left=[ingest_dlq_depth, rule_errors_depth]),
            cw.GraphWidget(title="Quarantined messages", left=[quarantined]),
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values())),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Alarm engine iterator age (ms)", left=[engine_age]),
            cw.GraphWidget(title="Alarm pipeline errors", left=[engine_errors, notification_errors, timers_errors]),
            cw.GraphWidget(
                title="Notification queue age (s) / DLQs",
                left=[notification_age],
                right=[engine_dlq_depth, notification_dlq_depth],
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="API requests", left=[api.metric_count(period=five_minutes)]),
            cw.GraphWidget(title="API latency (p99)", left=[api.metric_latency(statistic="p99")]),
            cw.GraphWidget(title="API 4xx / 5xx", left=[api.metric_client_error(period=five_minutes), api_5xx]),
        )
