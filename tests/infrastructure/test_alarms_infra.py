"""Infrastructure tests of the alarm, command and notification pipeline (same session synth as test_stack)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam

from infra.constructs import alarms as alarms_construct
from infra.constructs import ingest as ingest_construct
from infra.constructs import monitoring as monitoring_construct
from infra.constructs import notifications as notifications_construct
from infra.constructs.api import API_HANDLER
from infra.constructs.notifications import NotificationChannels
from infra.constructs.storage import TABLE_SPECS
from shared.contracts.alarms import ALARM_EVENT_PATTERN, AlarmEventType
from shared.dal import tables as dal
from shared.settings import Settings

from .conftest import STAGE, Synth
from .test_stack import _as_list, _keys, _statements_of_role, _table_by_name

pytestmark = pytest.mark.infra

ALARM_MODELS = {
    dal.AlarmItem: "alarms_table",
    dal.AlarmTimelineItem: "alarm_timeline_table",
    dal.AlarmStateItem: "alarm_state_table",
    dal.AlarmRuleSetItem: "alarm_rules_table",
    dal.CommandItem: "commands_table",
    dal.NotificationItem: "notifications_table",
    dal.NotificationPolicyItem: "notification_policies_table",
    dal.EscalationItem: "escalations_table",
}
HANDLERS = {
    "alarms": alarms_construct.ALARMS_HANDLER,
    "notifications": notifications_construct.NOTIFICATIONS_HANDLER,
    "timers": alarms_construct.TIMERS_HANDLER,
    "api": API_HANDLER,
    "ingest": ingest_construct.INGEST_HANDLER,
}


def _function(synth: Synth, name: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, v)
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == HANDLERS[name]
    ]
    return found


def _statements(synth: Synth, name: str) -> list[dict[str, Any]]:
    _, fn = _function(synth, name)
    return _statements_of_role(synth, {"Ref": fn["Properties"]["Role"]["Fn::GetAtt"][0]})


def _allowed(statements: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [
        st for st in statements if st["Effect"] == "Allow" and any(a.startswith(prefix) for a in _as_list(st["Action"]))
    ]


def _table_ref(synth: Synth, setting: str) -> Any:
    return synth.stack.resolve(synth.stack.storage.tables[setting].table_name)


def _table_actions(statements: list[dict[str, Any]], synth: Synth, setting: str) -> set[str]:
    arn = synth.stack.resolve(synth.stack.storage.tables[setting].table_arn)
    return {a for st in statements if arn in _as_list(st["Resource"]) for a in _as_list(st["Action"])}


# --- storage -------------------------------------------------------------------------------------


def test_alarm_pipeline_tables_match_pynamodb_models(synth: Synth) -> None:
    """ARC-5, LCM-AL-3, LCM-PF-9: the 8 alarm/command/notification tables have their models' keys, GSIs,
    projections and TTL, on demand, with PITR, the customer key, deletion protection and retention."""
    key_arn = synth.stack.resolve(synth.stack.storage.key.key_arn)
    for model, setting in ALARM_MODELS.items():
        schema = model._get_schema()
        table = _table_by_name(synth, f"voltops-{STAGE}-{TABLE_SPECS[setting].suffix}")
        props = table["Properties"]
        assert _keys(props["KeySchema"]) == _keys(schema["key_schema"]), model.__name__
        expected_attrs = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
        expected_gsis = {}
        for gsi in schema["global_secondary_indexes"]:
            expected_attrs |= {a["AttributeName"]: a["AttributeType"] for a in gsi["attribute_definitions"]}
            expected_gsis[gsi["index_name"]] = (_keys(gsi["key_schema"]), gsi["projection"])
        assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == expected_attrs
        actual_gsis = {
            g["IndexName"]: (_keys(g["KeySchema"]), g["Projection"]) for g in props.get("GlobalSecondaryIndexes", [])
        }
        assert actual_gsis == expected_gsis, model.__name__
        ttl = props.get("TimeToLiveSpecification")
        if model is dal.NotificationItem:
            assert ttl == {"AttributeName": dal.TTL_ATTRIBUTE, "Enabled": True}
        else:
            assert ttl is None, model.__name__
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn}
        assert props["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    # The loss-of-communication sweep reads keys only; the rest project everything.
    state = _table_by_name(synth, f"voltops-{STAGE}-alarm-state")["Properties"]
    assert state["GlobalSecondaryIndexes"][0]["Projection"] == {"ProjectionType": "KEYS_ONLY"}


# --- alarm consumer ------------------------------------------------------------------------------


def test_alarm_consumer_is_a_second_independent_stream_consumer(synth: Synth) -> None:
    """ARC-3, LCM-AL-1, LCM-PF-8: a second event source mapping on the uplink stream (own checkpoint), failing
    safely like ingest (partial failures, bisect, bounded retries/age, its own SQS DLQ), unbatched, one batch
    per shard."""
    stack = synth.stack
    stream_arn = stack.resolve(stack.ingest.stream.stream_arn)
    on_stream = {
        esm["Properties"]["FunctionName"]["Ref"]: esm["Properties"]
        for esm in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if esm["Properties"]["EventSourceArn"] == stream_arn
    }
    alarms_id, _ = _function(synth, "alarms")
    ingest_id, _ = _function(synth, "ingest")
    assert set(on_stream) == {alarms_id, ingest_id}
    props, ingest = on_stream[alarms_id], on_stream[ingest_id]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == ingest["MaximumRetryAttempts"] == ingest_construct.RETRY_ATTEMPTS
    assert props["MaximumRecordAgeInSeconds"] == ingest["MaximumRecordAgeInSeconds"]
    assert props["StartingPosition"] == ingest["StartingPosition"]
    assert props["MaximumBatchingWindowInSeconds"] <= 1
    assert props["ParallelizationFactor"] == 1
    dlq = props["DestinationConfig"]["OnFailure"]["Destination"]
    assert dlq == stack.resolve(stack.alarms.dlq.queue_arn)
    assert dlq != ingest["DestinationConfig"]["OnFailure"]["Destination"]
    queue = synth.raw["Resources"][dlq["Fn::GetAtt"][0]]["Properties"]
    assert "KmsMasterKeyId" in queue and queue["MessageRetentionPeriod"] == 14 * 86400


def test_alarm_consumer_role_is_least_privilege(synth: Synth) -> None:
    """LCM-SEC-5: the engine reads devices, models and rules, writes alarms/timeline/state/commands, puts events
    on the platform bus, and nothing of the notification side."""
    statements = _statements(synth, "alarms")
    for setting in ("devices_table", "device_models_table", "alarm_rules_table"):
        actions = _table_actions(statements, synth, setting)
        assert "dynamodb:Query" in actions and not {"dynamodb:PutItem", "dynamodb:UpdateItem"} & actions, setting
    for setting in ("alarms_table", "alarm_timeline_table", "alarm_state_table", "commands_table"):
        assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"} <= _table_actions(
            statements, synth, setting
        ), setting
    for setting in ("notifications_table", "escalations_table", "history_table", "dedupe_table"):
        assert not _table_actions(statements, synth, setting), setting
    (put,) = _allowed(statements, "events:")
    assert put["Action"] == "events:PutEvents"
    assert put["Resource"] == synth.stack.resolve(synth.stack.events.bus.event_bus_arn)
    assert not _allowed(statements, "ses:") and not _allowed(statements, "sns:")


# --- notifications -------------------------------------------------------------------------------


def test_alarm_events_rule_feeds_an_encrypted_queue_with_dlq(synth: Synth) -> None:
    """LCM-AL-2, LCM-PF-8, LCM-SEC-2: a rule on the platform bus matches every alarm event (the shared pattern)
    and targets an encrypted, SSL-only queue with a DLQ; only this rule may send to it; the notification
    function consumes it with partial batch failures."""
    stack = synth.stack
    notifications = stack.notifications
    rules = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventBusName") == stack.resolve(stack.events.bus.event_bus_name)
    ]
    (rule,) = rules
    assert rule["EventPattern"] == ALARM_EVENT_PATTERN
    assert set(rule["EventPattern"]["detail-type"]) == {t.value for t in AlarmEventType}
    assert rule["EventPattern"]["source"] == ["voltops.alarms"]
    (target,) = rule["Targets"]
    queue_arn = stack.resolve(notifications.queue.queue_arn)
    dlq_arn = stack.resolve(notifications.dlq.queue_arn)
    assert target["Arn"] == queue_arn
    assert target["DeadLetterConfig"] == {"Arn": dlq_arn}

    queue = synth.raw["Resources"][queue_arn["Fn::GetAtt"][0]]["Properties"]
    assert "KmsMasterKeyId" in queue
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
    _, fn = _function(synth, "notifications")
    assert queue["VisibilityTimeout"] >= 6 * fn["Properties"]["Timeout"]

    rule_arn = stack.resolve(notifications.rule.rule_arn)
    for arn in (queue_arn, dlq_arn):
        queue_ref = {"Ref": arn["Fn::GetAtt"][0]}
        (policy,) = [
            p for p in synth.resources("AWS::SQS::QueuePolicy").values() if p["Properties"]["Queues"] == [queue_ref]
        ]
        allows = [st for st in policy["Properties"]["PolicyDocument"]["Statement"] if st["Effect"] == "Allow"]
        assert allows == [
            {
                "Action": "sqs:SendMessage",
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Resource": arn,
            }
        ]

    (esm,) = [
        e["Properties"]
        for e in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if e["Properties"]["EventSourceArn"] == queue_arn
    ]
    assert esm["FunctionName"] == {"Ref": _function(synth, "notifications")[0]}
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["ScalingConfig"]["MaximumConcurrency"] == notifications_construct.MAX_CONCURRENCY


def test_messaging_channels_only_on_notification_and_timer_functions(synth: Synth) -> None:
    """LCM-SEC-5, LCM-AL-2, SLW-EW-6: SES (sender identity and From address only), SMS (sns:Publish with every
    topic denied) and voice are granted to the notification and timer functions and to no other role."""
    sender = Settings().notification_sender
    for name in ("notifications", "timers"):
        statements = _statements(synth, name)
        (ses,) = _allowed(statements, "ses:")
        assert sorted(_as_list(ses["Action"])) == ["ses:SendEmail", "ses:SendRawEmail"]
        resources = [json.dumps(r) for r in _as_list(ses["Resource"])]
        assert len(resources) == 2 and all(":ses:" in r and ":identity/" in r for r in resources)
        assert any(r.endswith(f':identity/{sender}"]]}}') for r in resources)
        assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": sender}}
        (sms,) = _allowed(statements, "sns:")
        assert sms["Resource"] == "*"
        denies = [st for st in statements if st["Effect"] == "Deny"]
        assert denies == [
            {
                "Action": "sns:Publish",
                "Effect": "Deny",
                "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sns:*:*:*"]]},
            }
        ]
        # No Connect instance in the test context: no voice permission at all.
        assert not _allowed(statements, "connect:")
    allowed_roles = {
        synth.raw["Resources"][_function(synth, n)[0]]["Properties"]["Role"]["Fn::GetAtt"][0]
        for n in ("notifications", "timers")
    }
    for policy in synth.resources("AWS::IAM::Policy").values():
        roles = {r["Ref"] for r in policy["Properties"].get("Roles", [])}
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any(_allowed(statements, prefix) for prefix in ("ses:", "sns:", "connect:")):
            assert roles <= allowed_roles, roles


def test_voice_channel_is_scoped_to_the_configured_connect_instance() -> None:
    """LCM-SEC-5, SLW-EW-6, ARC-9: with a Connect instance in context, voice calls are allowed on that instance's
    contacts only (partition-aware ARNs); a partial voice configuration or a malformed sender is refused."""
    from constructs import Node

    app = App(
        context={
            "notification_sender": "ops@alerts.example.cn",
            "voice_connect_instance_id": "inst-1",
            "voice_contact_flow_id": "flow-1",
            "voice_source_phone": "+8613800000000",
        }
    )
    stack = Stack(app, "ChannelProbe")
    channels = NotificationChannels.from_context(Node.of(stack))
    assert channels.settings() == {
        "notification_sender": "ops@alerts.example.cn",
        "voice_connect_instance_id": "inst-1",
        "voice_contact_flow_id": "flow-1",
        "voice_source_phone": "+8613800000000",
    }
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))

    class _Fn:  # the two members NotificationChannels.grant uses
        def __init__(self) -> None:
            self.role = role

        def add_to_role_policy(self, statement: iam.PolicyStatement) -> None:
            role.add_to_policy(statement)

    channels.grant(_Fn())  # type: ignore[arg-type]
    document = stack.resolve(role.node.find_child("DefaultPolicy").document.to_json())  # type: ignore[attr-defined]
    (voice,) = [st for st in document["Statement"] if st["Action"] == "connect:StartOutboundVoiceContact"]
    instance = ["arn:", {"Ref": "AWS::Partition"}, ":connect:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}]
    assert voice["Resource"] == [
        {"Fn::Join": ["", [*instance, ":instance/inst-1"]]},
        {"Fn::Join": ["", [*instance, ":instance/inst-1/contact/*"]]},
    ]
    with pytest.raises(ValueError, match="voice calls need all"):
        NotificationChannels(connect_instance_id="inst-1")
    with pytest.raises(ValueError, match="one e-mail address"):
        NotificationChannels(sender="alarms.example")
    assert NotificationChannels().settings() == {"notification_sender": Settings().notification_sender}


# --- timers ----------------------------------------------------------------------------------------


def test_timers_run_every_minute_one_at_a_time(synth: Synth) -> None:
    """ARC-3, LCM-AL-2, LCM-PF-8: a rate(1 minute) schedule invokes the timers function, whose reserved concurrency
    of 1 keeps sweeps from overlapping; a sweep ends before the next tick and stale ticks are dropped."""
    fn_id, fn = _function(synth, "timers")
    props = fn["Properties"]
    assert props["ReservedConcurrentExecutions"] == 1
    assert props["Timeout"] < 60
    (rule,) = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if r["Properties"].get("ScheduleExpression")
    ]
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert [t["Arn"] for t in rule["Targets"]] == [{"Fn::GetAtt": [fn_id, "Arn"]}]
    (invoke,) = [
        p["Properties"]
        for p in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if p["Properties"]["FunctionName"] == {"Ref": fn_id}
    ]
    assert invoke["MaximumRetryAttempts"] == 0 and invoke["MaximumEventAgeInSeconds"] == 60
    statements = _statements(synth, "timers")
    for setting in ("escalations_table", "commands_table", "alarm_state_table", "notifications_table"):
        assert {"dynamodb:Query", "dynamodb:UpdateItem"} <= _table_actions(statements, synth, setting), setting
    for setting in ("devices_table", "device_models_table", "alarm_rules_table"):
        assert "dynamodb:PutItem" not in _table_actions(statements, synth, setting), setting


# --- IoT publish -----------------------------------------------------------------------------------


def test_iot_publish_limited_to_command_and_console_topics(synth: Synth) -> None:
    """LCM-SEC-5, ARC-9: iot:Publish only on voltops/v1/*/*/down/cmd and voltops/console/v1/* (no iot:*, no
    topic/*): the engine, the timers and the API reach devices and consoles, notifications consoles only."""
    stack = synth.stack
    command = stack.resolve(alarms_construct.command_topic_arn())
    console = stack.resolve(notifications_construct.console_topic_arn())
    assert json.dumps(command).endswith(':topic/voltops/v1/*/*/down/cmd"]]}')
    assert json.dumps(console).endswith(':topic/voltops/console/v1/*"]]}')
    for policy in synth.resources("AWS::IAM::Policy").values():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = _as_list(st["Action"])
            assert "iot:*" not in actions and "*" not in actions
            text = json.dumps(st["Resource"])
            assert "topic/*" not in text and "topic/voltops/*" not in text
            if "iot:Publish" in actions:
                assert actions == ["iot:Publish"]
                assert all(r in (command, console) for r in _as_list(st["Resource"])), st
    expected = {"alarms": [console, command], "timers": [console, command], "api": [console, command]}
    expected["notifications"] = [console]
    for name, resources in expected.items():
        (publish,) = [st for st in _statements(synth, name) if "iot:Publish" in _as_list(st["Action"])]
        assert sorted(map(json.dumps, _as_list(publish["Resource"]))) == sorted(map(json.dumps, resources)), name
        (describe,) = [st for st in _statements(synth, name) if "iot:DescribeEndpoint" in _as_list(st["Action"])]
        assert describe["Resource"] == "*"
    assert not [st for st in _statements(synth, "ingest") if "iot:Publish" in _as_list(st["Action"])]


# --- API and environment -----------------------------------------------------------------------------


def test_api_can_work_alarms_commands_and_notifications(synth: Synth) -> None:
    """LCM-AL-3, LCM-SEC-5: the API reads and writes alarms, timeline, engine state (manual clear), rule sets,
    commands, inboxes and policies, puts events on the bus, and has no messaging channel."""
    statements = _statements(synth, "api")
    for setting in (
        "alarms_table",
        "alarm_timeline_table",
        "alarm_state_table",
        "alarm_rules_table",
        "commands_table",
        "notifications_table",
        "notification_policies_table",
    ):
        assert {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteItem"} <= _table_actions(
            statements, synth, setting
        ), setting
    assert not _table_actions(statements, synth, "escalations_table")
    assert [st["Action"] for st in _allowed(statements, "events:")] == ["events:PutEvents"]


def test_functions_get_their_table_and_bus_names_as_settings(synth: Synth) -> None:
    """ARC-5, ARC-3: each pipeline function's environment names exactly its tables, the bus and (for the ones that
    notify) the sender, as upper-cased shared.settings fields pointing at the real resources."""
    expected = {
        "alarms": {*alarms_construct.CONSUMER_TABLES, "event_bus"},
        "timers": {*alarms_construct.TIMERS_TABLES, "event_bus", "notification_sender"},
        "notifications": {
            "notifications_table",
            "notification_policies_table",
            "escalations_table",
            "alarms_table",
            "alarm_timeline_table",
            "dedupe_table",
            "notification_sender",
        },
    }
    platform = {"STAGE", "METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    platform.add("POWERTOOLS_LOG_LEVEL")
    for name, fields in expected.items():
        env = _function(synth, name)[1]["Properties"]["Environment"]["Variables"]
        assert set(env) - platform == {f.upper() for f in fields}, name
        for field in fields:
            if field.endswith("_table"):
                assert env[field.upper()] == _table_ref(synth, field), (name, field)
        if "event_bus" in fields:
            assert env["EVENT_BUS"] == synth.stack.resolve(synth.stack.events.bus.event_bus_name)
        if "notification_sender" in fields:
            assert env["NOTIFICATION_SENDER"] == Settings().notification_sender
    api_env = _function(synth, "api")[1]["Properties"]["Environment"]["Variables"]
    for setting in ALARM_MODELS.values():
        assert api_env[setting.upper()] == _table_ref(synth, setting)


# --- monitoring ----------------------------------------------------------------------------------------


def test_alarm_pipeline_is_monitored(synth: Synth) -> None:
    """LCM-PF-8, LCM-AL-1: any message in either new DLQ, the engine's own iterator age over 30 s, errors of the
    three functions and a late notification queue each raise a CloudWatch alarm on the operations topic."""
    stack = synth.stack
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]

    def on(metric: str, dimension: dict[str, Any]) -> list[dict[str, Any]]:
        return [a for a in alarms if a["MetricName"] == metric and dimension in a.get("Dimensions", [])]

    def queue_dim(queue: Any) -> dict[str, Any]:
        return {"Name": "QueueName", "Value": stack.resolve(queue.queue_name)}

    def fn_dim(name: str) -> dict[str, Any]:
        return {"Name": "FunctionName", "Value": {"Ref": _function(synth, name)[0]}}

    for queue in (stack.alarms.dlq, stack.notifications.dlq):
        (depth,) = on("ApproximateNumberOfMessagesVisible", queue_dim(queue))
        assert depth["Threshold"] == 1 and depth["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    (age,) = on("IteratorAge", fn_dim("alarms"))
    assert age["Threshold"] == monitoring_construct.ALARM_ENGINE_ITERATOR_AGE_MS <= 30_000
    assert age["Statistic"] == "Maximum" and age["Period"] == 60
    for name in ("alarms", "notifications", "timers"):
        (errors,) = on("Errors", fn_dim(name))
        assert errors["Threshold"] == 1, name
    (oldest,) = on("ApproximateAgeOfOldestMessage", queue_dim(stack.notifications.queue))
    assert oldest["Threshold"] == monitoring_construct.NOTIFICATION_QUEUE_AGE_S
    topic = stack.resolve(stack.monitoring.topic.topic_arn)
    assert all(topic in a["AlarmActions"] for a in alarms)
