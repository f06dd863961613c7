"""Infrastructure tests: properties of the synthesized VoltOpsStack that matter (one synth per session)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.constructs import api as api_construct
from infra.constructs import ingest as ingest_construct
from infra.constructs.iot import iot_arn_prefix
from infra.constructs.lambda_defaults import LayerNotBuiltError, dependencies_layer_code
from infra.constructs.storage import TABLES
from shared.contracts import iot_rules
from shared.contracts.topics import device_policy_document
from shared.dal import tables as dal
from shared.settings import Settings

from .conftest import STAGE, Synth

pytestmark = pytest.mark.infra

#: Which Settings field names each pynamodb model's table (as shared.dal.tables.bind_tables does).
MODEL_SETTING = {
    dal.DeviceItem: "devices_table",
    dal.DeviceModelItem: "device_models_table",
    dal.BatteryIdentityItem: "battery_identities_table",
    dal.LatestStateItem: "latest_state_table",
    dal.HistoryItem: "history_table",
    dal.DedupeItem: "dedupe_table",
    dal.AlarmItem: "alarms_table",
    dal.AlarmTimelineItem: "alarm_timeline_table",
    dal.AlarmStateItem: "alarm_state_table",
    dal.AlarmRuleSetItem: "alarm_rules_table",
    dal.CommandItem: "commands_table",
    dal.NotificationItem: "notifications_table",
    dal.NotificationPolicyItem: "notification_policies_table",
    dal.EscalationItem: "escalations_table",
}


def _table_by_name(synth: Synth, name: str) -> dict[str, Any]:
    found = [r for r in synth.resources("AWS::DynamoDB::Table").values() if r["Properties"]["TableName"] == name]
    assert len(found) == 1, f"table {name} not in template"
    return found[0]


def _statements_of_role(synth: Synth, role_ref: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if role_ref in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _keys(key_schema: list[dict[str, str]]) -> dict[str, str]:
    """``{"HASH": name, "RANGE": name}`` — pynamodb does not keep the key order stable."""
    return {k["KeyType"]: k["AttributeName"] for k in key_schema}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- storage ---------------------------------------------------------------------------------


def test_tables_match_pynamodb_models(synth: Synth) -> None:
    """ARC-5, LCM-DA-1: every DynamoDB table has exactly the key schema, attribute types and GSIs of its model."""
    assert set(MODEL_SETTING) == set(dal.ALL_MODELS)
    assert len(synth.resources("AWS::DynamoDB::Table")) == len(dal.ALL_MODELS)
    suffix = {spec.setting: spec.suffix for spec in TABLES}
    for model, setting in MODEL_SETTING.items():
        schema = model._get_schema()
        props = _table_by_name(synth, f"voltops-{STAGE}-{suffix[setting]}")["Properties"]
        assert _keys(props["KeySchema"]) == _keys(schema["key_schema"]), model.__name__
        expected_attrs = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
        for gsi in schema["global_secondary_indexes"]:
            expected_attrs |= {a["AttributeName"]: a["AttributeType"] for a in gsi["attribute_definitions"]}
        actual_attrs = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        assert actual_attrs == expected_attrs, model.__name__
        expected_gsis = {
            g["index_name"]: (_keys(g["key_schema"]), g["projection"]) for g in schema["global_secondary_indexes"]
        }
        actual_gsis = {
            g["IndexName"]: (_keys(g["KeySchema"]), g["Projection"]) for g in props.get("GlobalSecondaryIndexes", [])
        }
        assert actual_gsis == expected_gsis, model.__name__
        has_ttl = dal.TTL_ATTRIBUTE in model.get_attributes()
        ttl = props.get("TimeToLiveSpecification")
        assert (ttl == {"AttributeName": dal.TTL_ATTRIBUTE, "Enabled": True}) if has_ttl else ttl is None


def test_tables_pitr_kms_on_demand_retained(synth: Synth) -> None:
    """LCM-SEC-2, LCM-PF-8, LCM-PF-9: PITR, customer-managed KMS, on-demand billing, retained on delete."""
    key_arn = synth.stack.resolve(synth.stack.storage.key.key_arn)
    for logical_id, table in synth.resources("AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, logical_id
        assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn}
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    synth.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_buckets_encrypted_versioned_private_ssl_only_with_lifecycle(synth: Synth) -> None:
    """LCM-SEC-2, LCM-SEC-3, LCM-SEC-11, LCM-PF-9: every bucket is encrypted, versioned, private, SSL-only, tiered."""
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) == 5  # access logs, raw archive, quarantine, console site, console CDN logs
    ssl_only = set()
    for policy in synth.resources("AWS::S3::BucketPolicy").values():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            if st["Effect"] == "Deny" and st.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                ssl_only.add(policy["Properties"]["Bucket"]["Ref"])
    access_logs = synth.stack.resolve(synth.stack.storage.access_logs.bucket_name)["Ref"]
    # SSE-S3 where KMS cannot or need not apply: the log sinks (S3 server access logs and CloudFront
    # standard logs cannot be delivered to SSE-KMS buckets) and the console's public static files.
    sse_s3 = {
        synth.stack.resolve(b.bucket_name)["Ref"]
        for b in (synth.stack.storage.access_logs, synth.stack.console.bucket, synth.stack.console.log_bucket)
    }
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert sse["SSEAlgorithm"] in {"aws:kms", "AES256"}
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["LifecycleConfiguration"]["Rules"], logical_id
        assert logical_id in ssl_only, f"{logical_id} lacks an aws:SecureTransport deny"
        assert bucket["DeletionPolicy"] == "Retain"
        if logical_id not in sse_s3:
            assert sse["SSEAlgorithm"] == "aws:kms"
        if logical_id != access_logs:
            assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": access_logs}
    archive_id = synth.stack.resolve(synth.stack.storage.archive.bucket_name)["Ref"]
    transitions = buckets[archive_id]["Properties"]["LifecycleConfiguration"]["Rules"][0]["Transitions"]
    assert [t["StorageClass"] for t in transitions] == ["INTELLIGENT_TIERING", "GLACIER"]


# --- IoT ---------------------------------------------------------------------------------------


def test_topic_rules_deploy_the_shared_definitions(synth: Synth) -> None:
    """ARC-5, LCM-PF-8: one TopicRule per iot_rules.RULES entry with its SQL, Kinesis target, key and error action."""
    rules = synth.resources("AWS::IoT::TopicRule")
    assert len(rules) == len(iot_rules.RULES)
    stack = synth.stack
    by_name = {r["Properties"]["RuleName"]: r["Properties"]["TopicRulePayload"] for r in rules.values()}
    payload = by_name[f"{iot_rules.UPLINK_INGEST.name}_{STAGE}"]
    assert payload["Sql"] == iot_rules.UPLINK_INGEST.sql
    assert payload["AwsIotSqlVersion"] == iot_rules.UPLINK_INGEST.sql_version
    assert payload["RuleDisabled"] is False
    (action,) = payload["Actions"]
    kinesis = action["Kinesis"]
    assert kinesis["PartitionKey"] == iot_rules.UPLINK_INGEST.target.partition_key == "${topic(3)}/${topic(4)}"
    stream = stack.ingest.streams[iot_rules.UPLINK_INGEST.target.stream]
    assert kinesis["StreamName"] == stack.resolve(stream.stream_name)
    assert payload["ErrorAction"]["Sqs"]["QueueUrl"] == stack.resolve(stack.iot.error_queue.queue_url)

    # The rule's role may put records on exactly that stream and nothing else.
    role_ref = {"Ref": kinesis["RoleArn"]["Fn::GetAtt"][0]}
    statements = _statements_of_role(synth, role_ref)
    assert statements == [
        {"Action": "kinesis:PutRecord", "Effect": "Allow", "Resource": stack.resolve(stream.stream_arn)}
    ]


def test_device_policy_is_the_contract_and_thing_scoped(synth: Synth) -> None:
    """LCM-SEC-5, ARC-9: the IoT policy equals device_policy_document(...) and allows only the thing's own topics."""
    _, policy = synth.one("AWS::IoT::Policy")
    expected = synth.stack.resolve(device_policy_document(iot_arn_prefix()))
    assert policy["Properties"]["PolicyDocument"] == expected
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        for resource in _as_list(statement["Resource"]):
            text = json.dumps(resource)
            assert "${iot:Connection.Thing.ThingName}" in text, f"{statement['Action']} not scoped to the thing"
            if statement["Action"] != "iot:Connect":
                assert "${iot:Connection.Thing.Attributes[tenant]}" in text
    thing_types = {r["Properties"]["ThingTypeName"] for r in synth.resources("AWS::IoT::ThingType").values()}
    assert thing_types == {"voltops-battery-pack", "voltops-storage-cabinet"}


# --- ingest ------------------------------------------------------------------------------------


def test_ingest_event_source_mapping_fails_safely(synth: Synth) -> None:
    """LCM-PF-8, ARC-3: bisect on error, partial batch failures, bounded retries/age, SQS on-failure destination."""
    stack = synth.stack
    ingest_fn = stack.resolve(stack.ingest.function.function_name)
    (props,) = [
        esm["Properties"]
        for esm in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if esm["Properties"]["FunctionName"] == ingest_fn
    ]
    assert props["EventSourceArn"] == stack.resolve(stack.ingest.stream.stream_arn)
    assert props["FunctionName"] == stack.resolve(stack.ingest.function.function_name)
    assert props["BisectBatchOnFunctionError"] is True
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["MaximumRetryAttempts"] == ingest_construct.RETRY_ATTEMPTS
    assert props["MaximumRecordAgeInSeconds"] == ingest_construct.MAX_RECORD_AGE.to_seconds()
    assert props["BatchSize"] == ingest_construct.BATCH_SIZE
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == stack.resolve(stack.ingest.dlq.queue_arn)

    queues = synth.resources("AWS::SQS::Queue")
    assert queues and all("KmsMasterKeyId" in q["Properties"] for q in queues.values())
    for policy in synth.resources("AWS::SQS::QueuePolicy").values():
        # Every queue denies plain HTTP; the only other grant allowed is EventBridge sending from a
        # named rule (the notification queue and its DLQ; test_alarms_infra checks which rule).
        st, *rule_grants = policy["Properties"]["PolicyDocument"]["Statement"]
        assert st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for grant in rule_grants:
            assert grant["Principal"] == {"Service": "events.amazonaws.com"} and grant["Action"] == "sqs:SendMessage"
            assert set(grant["Condition"]["ArnEquals"]) == {"aws:SourceArn"}
    assert len(synth.resources("AWS::SQS::QueuePolicy")) == len(queues)

    _, stream = synth.one("AWS::Kinesis::Stream")
    assert stream["Properties"]["StreamEncryption"]["EncryptionType"] == "KMS"
    assert stream["Properties"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert stream["Properties"]["RetentionPeriodHours"] >= 24 * 7


def test_ingest_role_is_least_privilege(synth: Synth) -> None:
    """LCM-SEC-5: ingest may put objects only, write its tables, read the stream, and put metrics in VoltOps only."""
    stack = synth.stack
    statements = _statements_of_role(synth, stack.resolve(stack.ingest.function.role.role_name))
    actions = {a for st in statements for a in _as_list(st["Action"])}
    assert not {a for a in actions if a.startswith("s3:") and a != "s3:PutObject"}
    assert not {a for a in actions if a.endswith(":*")}
    metrics = [st for st in statements if "cloudwatch:PutMetricData" in _as_list(st["Action"])]
    assert metrics == [
        {
            "Action": "cloudwatch:PutMetricData",
            "Condition": {"StringEquals": {"cloudwatch:namespace": Settings().metrics_namespace}},
            "Effect": "Allow",
            "Resource": "*",
        }
    ]
    history = stack.resolve(stack.storage.tables["history_table"].table_arn)
    history_actions = {a for st in statements if history in _as_list(st["Resource"]) for a in _as_list(st["Action"])}
    assert "dynamodb:PutItem" in history_actions and "dynamodb:Query" not in history_actions
    stream_arn = stack.resolve(stack.ingest.stream.stream_arn)
    kinesis = {a for st in statements if stream_arn in _as_list(st["Resource"]) for a in _as_list(st["Action"])}
    assert {"kinesis:GetRecords", "kinesis:GetShardIterator"} <= kinesis
    assert not {a for a in kinesis if a.startswith("kinesis:Put")}


# --- Lambda defaults -----------------------------------------------------------------------------


def test_lambda_defaults(synth: Synth) -> None:
    """ARC-3, LCM-SEC-11, LCM-SEC-2: runtime/arch/tracing/log retention/env from Settings on every function."""
    # VoltOps functions (our code asset); CDK's deploy-time helpers (BucketDeployment, the IoT endpoint
    # lookup) bring their own runtime and are acknowledged in infra/constructs/console.py.
    functions = {
        k: f
        for k, f in synth.resources("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"].startswith("functions.")
    }
    handlers = {f["Properties"]["Handler"] for f in functions.values()}
    assert handlers == {
        ingest_construct.INGEST_HANDLER,
        api_construct.API_HANDLER,
        "functions.alarms.handler.handler",
        "functions.notifications.handler.handler",
        "functions.timers.handler.handler",
        "functions.console_auth.handler.handler",
    }
    log_groups = synth.resources("AWS::Logs::LogGroup")
    settings_names = {name.upper() for name in Settings.model_fields}
    for logical_id, fn in functions.items():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.11"
        assert props["Architectures"] == ["x86_64"]  # matches the manylinux2014_x86_64 layer
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert len(props["Layers"]) == 1
        env = props["Environment"]["Variables"]
        assert set(env) - settings_names <= {
            "POWERTOOLS_SERVICE_NAME",
            "POWERTOOLS_METRICS_NAMESPACE",
            "POWERTOOLS_LOG_LEVEL",
        }, logical_id
        assert env["STAGE"] == STAGE and env["POWERTOOLS_SERVICE_NAME"]
        group = log_groups[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] >= 183  # six calendar months at the longest
        assert "KmsKeyId" in group["Properties"] and group["DeletionPolicy"] == "Retain"
    for group in log_groups.values():  # the API access log too
        assert group["Properties"]["RetentionInDays"] >= 183 and "KmsKeyId" in group["Properties"]
    ingest_env = synth.stack.ingest.function
    env = synth.raw["Resources"][synth.stack.resolve(ingest_env.function_name)["Ref"]]["Properties"]
    assert {"DEVICES_TABLE", "HISTORY_TABLE", "DEDUPE_TABLE", "ARCHIVE_BUCKET", "QUARANTINE_BUCKET"} <= set(
        env["Environment"]["Variables"]
    )


def test_missing_layer_fails_with_install_hint(tmp_path: Path) -> None:
    """ARC-5: synth without build/lambda-layer fails with a message naming the install step."""
    with pytest.raises(LayerNotBuiltError, match=r"scripts/build_lambda_layer\.sh"):
        dependencies_layer_code(tmp_path / "missing")


def test_arns_use_the_partition(synth: Synth) -> None:
    """ARC-5, ARC-9: no hard-coded arn:aws strings, so the stack deploys to the China regions too."""
    text = synth.template_path.read_text()
    assert not re.findall(r"arn:aws[a-z-]*:", text)


# --- API and Cognito -------------------------------------------------------------------------


def test_cognito_tenant_attribute_is_immutable_and_not_client_writable(synth: Synth) -> None:
    """LCM-SEC-5, LCM-SEC-4: custom:tenant_id is immutable, readable, never writable by the app client."""
    _, pool = synth.one("AWS::Cognito::UserPool")
    props = pool["Properties"]
    (tenant,) = [a for a in props["Schema"] if a["Name"] == api_construct.TENANT_ATTRIBUTE]
    assert tenant["Mutable"] is False
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["MfaConfiguration"] in {"OPTIONAL", "ON"}
    assert props["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    _, client = synth.one("AWS::Cognito::UserPoolClient")
    assert "custom:tenant_id" in client["Properties"]["ReadAttributes"]
    assert "custom:tenant_id" not in client["Properties"]["WriteAttributes"]
    assert client["Properties"]["GenerateSecret"] is False
    assert not synth.resources("AWS::Cognito::UserPoolUser")  # no user with a known password


def test_api_is_plain_cloudformation_mirroring_chalice_routes(synth: Synth) -> None:
    """ARC-6, ARC-5, LCM-SEC-5: no SAM transform; every Chalice route has a method, Cognito-authorized unless public."""
    assert "Transform" not in synth.raw
    assert not [r for r in synth.raw["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]
    routes = api_construct.chalice_routes()
    assert routes is not None, "functions/api/app.py must exist for the API to route"
    stack = synth.stack
    declared = {(r.path, m) for r in routes for m in r.methods}
    assert set(stack.api.methods) == declared
    public = {(r.path, m) for r in routes for m in r.public_methods}
    for (path, method), construct in stack.api.methods.items():
        props = synth.raw["Resources"][stack.resolve(construct.method_id)["Ref"]]["Properties"]
        assert props["HttpMethod"] == method
        assert props["Integration"]["Type"] == "AWS_PROXY"
        assert props["AuthorizationType"] == ("NONE" if (path, method) in public else "COGNITO_USER_POOLS"), path
    assert all(path.startswith(api_construct.API_PREFIX) for path, _ in declared)


def test_api_stage_logs_throttles_traces(synth: Synth) -> None:
    """LCM-SEC-11, LCM-PF-8: access logging, throttling, X-Ray and request validation on the stage."""
    _, stage = synth.one("AWS::ApiGateway::Stage")
    props = stage["Properties"]
    assert props["StageName"] == STAGE
    assert props["AccessLogSetting"]["DestinationArn"]
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == api_construct.THROTTLE_RATE
    assert settings["ThrottlingBurstLimit"] == api_construct.THROTTLE_BURST
    assert settings["DataTraceEnabled"] is False
    synth.template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": True, "ValidateRequestParameters": True}
    )
    _, fn_env = next(
        (k, v["Properties"]["Environment"]["Variables"])
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == api_construct.API_HANDLER
    )
    assert {"USER_POOL_ID", "USER_POOL_CLIENT_ID", "DEVICE_POLICY_NAME"} <= set(fn_env)


# --- events and monitoring ---------------------------------------------------------------------


def test_event_bus_with_archive(synth: Synth) -> None:
    """ARC-3, LCM-PF-9: the platform bus exists with an archive for replay."""
    bus_id, _ = synth.one("AWS::Events::EventBus")
    _, archive = synth.one("AWS::Events::Archive")
    assert archive["Properties"]["SourceArn"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert archive["Properties"]["RetentionDays"] >= 30


def test_alarms_cover_the_failure_paths(synth: Synth) -> None:
    """LCM-PF-8, LCM-SEC-11: DLQ depth, iterator age, error and quarantine alarms notify an encrypted SSL-only topic."""
    topic_id, topic = synth.one("AWS::SNS::Topic")
    assert "KmsMasterKeyId" in topic["Properties"]
    _, topic_policy = synth.one("AWS::SNS::TopicPolicy")
    assert any(
        st["Effect"] == "Deny" and st.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for st in topic_policy["Properties"]["PolicyDocument"]["Statement"]
    )
    alarms = synth.resources("AWS::CloudWatch::Alarm").values()
    assert all({"Ref": topic_id} in a["Properties"]["AlarmActions"] for a in alarms)
    metrics = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms}
    assert {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/Lambda", "Errors"),
        ("VoltOps", "QuarantinedMessages"),
    } <= metrics
    (quarantine,) = [a for a in alarms if a["Properties"]["MetricName"] == "QuarantinedMessages"]
    assert quarantine["Properties"]["Dimensions"] == [{"Name": "service", "Value": ingest_construct.INGEST_SERVICE}]
    synth.one("AWS::CloudWatch::Dashboard")


# --- policy checks -------------------------------------------------------------------------------


def test_cdk_nag_aws_solutions_has_no_unacknowledged_findings(synth: Synth) -> None:
    """LCM-SEC-2, LCM-SEC-3, LCM-SEC-5, LCM-SEC-11: cdk-nag AwsSolutions ran in the real app and found nothing open.

    cdk-nag 3 reports through CDK's validation plugins (validation-report.json), not through
    annotations, and fails the synth on any finding that is not acknowledged with a reason.
    """
    from cdk_nag import AwsSolutionsChecks

    # A successful plugin run leaves no entry in validation-report.json, so run the pack over
    # the synthesized stack once more through its test entry point and demand a clean report.
    report = AwsSolutionsChecks(verbose=True).validate_scope(synth.stack)
    findings = [f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}" for v in report.violations]
    assert findings == []
    assert report.success is True
    # The synth itself would have failed on any open finding; its report names none.
    failed = json.loads((synth.outdir / "validation-report.json").read_text())["pluginReports"]
    assert failed == []
    # Every acknowledgement travels with the template (so the plugin was attached with
    # write_suppressions_to_cloud_formation) and states a reason in words.
    acknowledged = [
        rule
        for resource in synth.raw["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert acknowledged
    for rule in acknowledged:
        assert len(rule["reason"].split()) >= 8, rule


def test_cfn_lint_has_no_findings(synth: Synth) -> None:
    """ARC-5: cfn-lint finds no errors or warnings in the synthesized template.

    Ignored: W3005 (redundant DependsOn). CDK adds an explicit DependsOn from each function to
    its role's default policy and role; harmless, and not something the app controls.
    """
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(synth.template_path, config=ManualArgs(regions=["us-east-1"], ignore_checks=["W3005"]))
    assert [str(m) for m in matches] == []


# --- Analytics -----------------------------------------------------------------------------------


def test_archive_is_queryable_by_athena_with_the_writers_layout(synth: Synth) -> None:
    """LCM-DA-1, LCM-SEC-5: a Glue table with partition projection covers exactly the keys the archive writer
    produces; the tenant partition is injected, so every Athena query must name its tenant."""
    from datetime import UTC, datetime
    from unittest import mock

    from infra.constructs.analytics import ARCHIVE_COLUMNS
    from shared.dal import archive as archive_dal
    from shared.domain.telemetry.ingest import StoredSample

    _, table = synth.one("AWS::Glue::Table")
    ti = table["Properties"]["TableInput"]
    params = ti["Parameters"]
    assert params["projection.enabled"] == "true" and params["projection.tenant.type"] == "injected"
    assert [k["Name"] for k in ti["PartitionKeys"]] == ["tenant", "date", "hour"]

    # Render the template's key prefix for one sample and compare with what the writer puts.
    template = synth.stack.resolve(params["storage.location.template"])
    prefix_template = "".join(p if isinstance(p, str) else "<bucket>" for p in template["Fn::Join"][1])
    arrival = int(datetime(2026, 3, 4, 5, 6, tzinfo=UTC).timestamp() * 1000)
    sample = StoredSample("acme", "t1", "telemetry", "k", "b", 1, arrival, arrival, {}, None)
    client = mock.Mock()
    with (
        mock.patch.object(archive_dal, "s3_client", return_value=client),
        mock.patch.object(archive_dal, "get_settings", return_value=Settings(archive_bucket="<bucket>")),
    ):
        archive_dal.S3RawArchive().put("batch1", [sample], [b"{}"])
    key = client.put_object.call_args.kwargs["Key"]
    expected = prefix_template.replace("${tenant}", "acme").replace("${date}", "2026-03-04").replace("${hour}", "05")
    assert f"s3://<bucket>/{key}".startswith(expected), (key, expected)
    line_fields = set(json.loads(client.put_object.call_args.kwargs["Body"].decode()).keys())
    assert line_fields == {name for name, _, _ in ARCHIVE_COLUMNS}
