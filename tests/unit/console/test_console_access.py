"""The console's broker grant as data: one topic list → IoT policy and mosquitto ACL (no I/O)."""

from __future__ import annotations

import pytest

from shared.contracts import topics
from shared.domain.auth import Principal, Role
from shared.domain.auth.console_access import (
    MAX_SESSION_S,
    MIN_SESSION_S,
    client_id_allowed,
    console_topics,
    grant,
    iot_policy,
    mosquitto_acl_lines,
    principal_id,
    scope_of_policy,
    session_seconds,
)
from shared.domain.errors import Unauthorized

from .conftest import ARN_PREFIX, SUB, TENANT


def test_console_reads_its_tenant_streams_and_live_uplinks_only() -> None:
    """SLW-WEB-7, LCM-SEC-5: a console reads its tenant's console streams and live uplinks, nothing else."""
    assert [t.filter for t in console_topics(TENANT)] == [
        "voltops/console/v1/acme/#",
        "voltops/v1/acme/+/up/telemetry",
        "voltops/v1/acme/+/up/position",
    ]
    # Every console stream the platform publishes, and every live uplink a device sends, is covered.
    for stream in topics.ConsoleStream:
        assert topics.console(TENANT, stream).startswith("voltops/console/v1/acme/")
    assert topics.uplink(TENANT, "pack-1", topics.UpType.TELEMETRY).endswith("/up/telemetry")


def test_iot_policy_is_read_only_and_pinned_to_user_and_tenant() -> None:
    """LCM-SEC-5, SLW-WEB-7: connect as console-<sub>-*, subscribe/receive the tenant's topics; no publish."""
    policy = iot_policy(TENANT, SUB, ARN_PREFIX)
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": [f"{ARN_PREFIX}:client/console-{SUB}-*"]},
            {
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": [
                    f"{ARN_PREFIX}:topicfilter/voltops/console/v1/acme/*",
                    f"{ARN_PREFIX}:topicfilter/voltops/v1/acme/*/up/telemetry",
                    f"{ARN_PREFIX}:topicfilter/voltops/v1/acme/*/up/position",
                ],
            },
            {
                "Effect": "Allow",
                "Action": "iot:Receive",
                "Resource": [
                    f"{ARN_PREFIX}:topic/voltops/console/v1/acme/*",
                    f"{ARN_PREFIX}:topic/voltops/v1/acme/*/up/telemetry",
                    f"{ARN_PREFIX}:topic/voltops/v1/acme/*/up/position",
                ],
            },
        ],
    }
    assert all("Publish" not in s["Action"] and "Retain" not in s["Action"] for s in policy["Statement"])


def test_mosquitto_acl_comes_from_the_same_topic_list() -> None:
    """LCM-SEC-5, ARC-7: the local broker ACL grants read on exactly the policy's topics, for one broker user."""
    lines = mosquitto_acl_lines(TENANT, "console-acme")
    assert lines == ["user console-acme"] + [f"topic read {t.filter}" for t in console_topics(TENANT)]
    assert not any(line.startswith(("topic write", "topic readwrite", "pattern")) for line in lines)


@pytest.mark.parametrize("username", ["a b", "x\ntopic readwrite #", "", "ü"])
def test_acl_refuses_usernames_that_could_inject_lines(username: str) -> None:
    """LCM-SEC-5: a broker username with spaces or newlines could widen the ACL and is refused."""
    with pytest.raises(ValueError):
        mosquitto_acl_lines(TENANT, username)


@pytest.mark.parametrize("tenant", ["acme/#", "a+b", "", "x y"])
def test_unsafe_tenants_are_refused(tenant: str) -> None:
    """LCM-SEC-5: a tenant id with MQTT wildcards or separators never reaches a policy or an ACL."""
    with pytest.raises(topics.TopicError):
        iot_policy(tenant, SUB, ARN_PREFIX)
    with pytest.raises(topics.TopicError):
        mosquitto_acl_lines(tenant, "console-x")


@pytest.mark.parametrize(
    ("client_id", "ok"),
    [
        (f"console-{SUB}-a1b2c3", True),
        (f"console-{SUB}-tab_2-x", True),
        (f"console-{SUB}-", False),
        (f"console-{SUB}", False),
        ("console-someone-else-a1", False),
        (f"mqttjs_{SUB}", False),
        (f"console-{SUB}-a/b", False),
        (f"console-{SUB}-" + "a" * 100, False),
    ],
)
def test_client_id_must_be_the_users_console_id(client_id: str, ok: bool) -> None:
    """LCM-SEC-5: only console-<own sub>-<random> client ids (no taking over another's session)."""
    assert client_id_allowed(SUB, client_id) is ok


def test_scope_of_policy_reads_back_exactly_the_issued_policy() -> None:
    """LCM-SEC-5: the local gateway recovers tenant and user from a console policy and refuses anything else."""
    policy = iot_policy(TENANT, SUB, ARN_PREFIX)
    scope = scope_of_policy(policy)
    assert (scope.tenant, scope.subject) == (TENANT, SUB)
    widened = iot_policy(TENANT, SUB, ARN_PREFIX)
    widened["Statement"].append({"Effect": "Allow", "Action": "iot:Publish", "Resource": ["*"]})
    for bad in (widened, {}, {"Statement": []}, {"Statement": [{"Action": "iot:Connect", "Resource": ["x"]}]}):
        with pytest.raises(ValueError):
            scope_of_policy(bad)


def test_session_is_the_token_lifetime_within_iot_bounds() -> None:
    """LCM-SEC-5: the connection ends when the token expires, clamped to IoT Core's 300..86400 s."""
    assert session_seconds(1_000 + 3_600, 1_000) == 3_600
    assert session_seconds(1_000 + 10, 1_000) == MIN_SESSION_S
    assert session_seconds(1_000 + 10 * 86_400, 1_000) == MAX_SESSION_S


def test_principal_id_is_alphanumeric_and_bounded() -> None:
    """LCM-SEC-5: IoT's principalId must match [a-zA-Z0-9]{1,128}."""
    pid = principal_id(SUB)
    assert pid.isalnum() and len(pid) <= 128 and pid.startswith("console")
    assert principal_id("x" * 200) == ("console" + "x" * 200)[:128]


def test_grant_checks_client_id_and_sets_the_session() -> None:
    """LCM-SEC-5, SLW-WEB-7: a verified operator with a matching client id gets the tenant's read-only policy."""
    principal = Principal(subject=SUB, username="alice", tenant_id=TENANT, roles=frozenset({Role.VIEWER}))
    g = grant(principal, {"exp": 5_000}, f"console-{SUB}-tab1", now_s=1_000, arn_prefix=ARN_PREFIX)
    assert (g.disconnect_after_s, g.refresh_after_s) == (4_000, 4_000)
    assert g.policy == iot_policy(TENANT, SUB, ARN_PREFIX)
    with pytest.raises(Unauthorized) as exc:
        grant(principal, {"exp": 5_000}, "console-other-tab1", now_s=1_000, arn_prefix=ARN_PREFIX)
    assert exc.value.code == "invalid_client_id"
    odd = Principal(subject="a*b", username="x", tenant_id=TENANT, roles=frozenset())
    with pytest.raises(Unauthorized):
        grant(odd, {"exp": 5_000}, "console-a*b-1", now_s=1_000, arn_prefix=ARN_PREFIX)
