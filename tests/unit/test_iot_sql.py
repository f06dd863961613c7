"""The local IoT SQL evaluator (ARC-7: the local rules engine runs the deployed rule SQL)."""

from __future__ import annotations

import base64
import json

import pytest

from infra.local.iot_sql import (
    IotSqlEvaluationError,
    IotSqlUnsupported,
    MessageContext,
    compile_sql,
    compile_template,
    topic_matches,
    validate_filter,
)
from shared.contracts import iot_rules, topics

TOPIC = "voltops/v1/demo/pack-001/up/telemetry"


def ctx(payload: bytes = b'{"a": 1}', topic: str = TOPIC, **kw) -> MessageContext:
    return MessageContext(topic=topic, payload=payload, timestamp_ms=1_700_000_000_123, **kw)


def test_every_deployed_rule_compiles() -> None:
    """ARC-7: every rule definition the CDK deploys is accepted by the local IoT SQL evaluator."""
    for rule in iot_rules.RULES:
        compiled = compile_sql(rule.sql, rule.sql_version)
        assert compiled.topic_filter == topics.UPLINK_FILTER
        compile_template(rule.target.partition_key)


def test_uplink_rule_output_forwards_every_byte() -> None:
    """ARC-7, LCM-SEC-1: the uplink rule forwards the exact payload bytes (malformed ones too)."""
    rule = compile_sql(iot_rules.UPLINK_INGEST.sql)
    payload = b"\x00\xffnot json{"
    out = rule.evaluate(ctx(payload, client_id="pack-001", principal="abc123"))
    assert out == {
        "payload_b64": base64.b64encode(payload).decode(),
        "topic": TOPIC,
        "arrival_ms": 1_700_000_000_123,
        "client_id": "pack-001",
        "principal": "abc123",
    }
    assert json.loads(json.dumps(out)) == out


def test_undefined_values_are_left_out() -> None:
    """ARC-7: undefined SQL values are omitted from the output, as IoT Core does."""
    rule = compile_sql("SELECT clientid() AS c, principal() AS p, topic(7) AS t7, topic(6) AS t6 FROM '#'")
    assert rule.evaluate(ctx()) == {"t6": "telemetry"}


def test_topic_levels_are_one_based() -> None:
    """ARC-7: topic(n) counts levels from 1, as IoT Core does."""
    rule = compile_sql("SELECT topic(1) AS a, topic(3) AS tenant, topic(4) AS thing FROM 'voltops/#'")
    assert rule.evaluate(ctx()) == {"a": "voltops", "tenant": "demo", "thing": "pack-001"}


def test_select_star_merges_json_object_and_refuses_non_json() -> None:
    """ARC-7: SELECT * merges a JSON object and fails on a non-JSON payload, as IoT Core does."""
    rule = compile_sql("SELECT *, topic() AS topic FROM 'voltops/#'")
    assert rule.evaluate(ctx(b'{"x": 2}')) == {"x": 2, "topic": TOPIC}
    with pytest.raises(IotSqlEvaluationError):
        rule.evaluate(ctx(b"not json"))
    with pytest.raises(IotSqlEvaluationError):
        rule.evaluate(ctx(b"[1, 2]"))


def test_keywords_are_case_insensitive_and_whitespace_free() -> None:
    """ARC-7: SQL keywords are case-insensitive and whitespace-tolerant."""
    rule = compile_sql("select   encode(*,'base64')  as   b\nfrom\t'a/+'")
    assert rule.evaluate(ctx(b"hi", topic="a/b")) == {"b": "aGk="}


def test_evaluate_refuses_a_non_matching_topic() -> None:
    """ARC-7: a message on a topic outside the rule's FROM filter is refused."""
    rule = compile_sql("SELECT topic() AS t FROM 'a/+'")
    with pytest.raises(IotSqlEvaluationError):
        rule.evaluate(ctx(topic="b/c"))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM 'a/#' WHERE temperature > 50",
        "SELECT temperature FROM 'a/#'",
        "SELECT state.reported AS s FROM 'a/#'",
        "SELECT topic() FROM 'a/#'",  # no alias
        "SELECT newuuid() AS id FROM 'a/#'",
        "SELECT encode(*, 'hex') AS b FROM 'a/#'",
        "SELECT encode(payload, 'base64') AS b FROM 'a/#'",
        "SELECT topic() AS a, timestamp() AS a FROM 'a/#'",  # duplicate alias
        "SELECT * AS x FROM 'a/#'",
        "SELECT topic(0) AS t FROM 'a/#'",
        "SELECT DISTINCT topic() AS t FROM 'a/#'",
        "SELECT topic() AS t FROM a/b",  # unquoted filter
        "SELECT topic() AS t FROM 'a/#/b'",
        "SELECT topic() AS t FROM 'a/b+'",
        "SELECT topic() AS t FROM ''",
        "SELECT topic() AS t",
        "DELETE FROM 'a'",
        "SELECT topic() + 1 AS t FROM 'a/#'",
        "SELECT topic() AS t FROM 'a/#'; DROP TABLE x",
        "SELECT timestamp() AS t, FROM 'a/#'",
    ],
)
def test_unsupported_sql_is_refused_at_load_time(sql: str) -> None:
    """ARC-7: SQL outside the supported subset is refused loudly when the rule is loaded."""
    with pytest.raises(IotSqlUnsupported):
        compile_sql(sql)


def test_unsupported_sql_version_is_refused() -> None:
    """ARC-7: an unsupported SQL version is refused."""
    with pytest.raises(IotSqlUnsupported, match="version"):
        compile_sql("SELECT topic() AS t FROM 'a'", sql_version="2015-10-08")


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/+/c", "a//c", True),  # an empty level is a level
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),  # '#' includes the parent level
        ("a/#", "a/b/c", True),
        ("#", "a/b", True),
        ("+/#", "$SYS/x", False),  # wildcards never match $ topics at the first level
        ("#", "$aws/things", False),
        ("$aws/#", "$aws/things", True),
        ("a/b", "a/b/", False),
        ("a/b/", "a/b/", True),
        ("a/+", "a/+", False),  # a topic name cannot contain wildcards
        (topics.UPLINK_FILTER, TOPIC, True),
        (topics.UPLINK_FILTER, "voltops/v1/demo/pack-001/down/cmd", False),
        (topics.UPLINK_FILTER, "voltops/v1/demo/pack-001/up/telemetry/extra", False),
    ],
)
def test_topic_matching(topic_filter: str, topic: str, expected: bool) -> None:
    """ARC-7: MQTT wildcard matching of topic filters (+ and #)."""
    assert topic_matches(validate_filter(topic_filter), topic) is expected


def test_substitution_template() -> None:
    """ARC-7: ${...} substitution templates (partition keys) render like IoT Core's."""
    tpl = compile_template(iot_rules.UPLINK_INGEST.target.partition_key)
    assert tpl.render(ctx()) == "demo/pack-001"
    assert compile_template("static").render(ctx()) == "static"
    assert compile_template("${timestamp()}-${topic()}").render(ctx()) == f"1700000000123-{TOPIC}"


def test_substitution_of_an_undefined_value_fails_at_evaluation() -> None:
    """ARC-7: a substitution of an undefined value fails at evaluation, not silently."""
    tpl = compile_template("${topic(9)}")
    with pytest.raises(IotSqlEvaluationError):
        tpl.render(ctx())
    with pytest.raises(IotSqlEvaluationError):
        compile_template("${clientid()}").render(ctx())


@pytest.mark.parametrize("text", ["${topic(3)", "${nope()}", "${topic() topic()}", "${encode(*, 'base64')}", "${a.b}"])
def test_unsupported_templates_are_refused(text: str) -> None:
    """ARC-7: substitution templates outside the supported subset are refused loudly when loaded."""
    with pytest.raises(IotSqlUnsupported):
        compile_template(text)
