"""The IoT Core custom authorizer of the console: allow with the exact policy, deny every bad input (never raise)."""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

import pytest

from functions.console_auth.handler import handler
from shared.domain.auth.console_access import iot_policy

from .conftest import ARN_PREFIX, OTHER_KEY, SUB, TENANT, Context, claims, id_token

pytestmark = pytest.mark.usefixtures("trusted_verifier")

CLIENT_ID = f"console-{SUB}-k3x9"


def event(token: str | None, client_id: str | None = CLIENT_ID, *, raw_password: str | None = None) -> dict[str, Any]:
    mqtt: dict[str, Any] = {"username": "console?x-amz-customauthorizer-name=voltops-dev-console"}
    if raw_password is not None:
        mqtt["password"] = raw_password
    elif token is not None:
        mqtt["password"] = base64.b64encode(token.encode()).decode()
    if client_id is not None:
        mqtt["clientId"] = client_id
    return {
        "signatureVerified": False,
        "protocols": ["tls", "http", "mqtt"],
        "protocolData": {"tls": {"serverName": "example-ats.iot.us-east-1.amazonaws.com"}, "mqtt": mqtt},
        "connectionMetadata": {"id": "0c2f8a4e-1111-2222-3333-444455556666"},
    }


def test_valid_token_is_allowed_with_the_exact_console_policy() -> None:
    """LCM-SEC-5, SLW-WEB-7: a valid ID token and console client id → the tenant's read-only policy until expiry."""
    exp = int(time.time()) + 1800
    result = handler(event(id_token(claims(exp=exp))), Context())  # type: ignore[arg-type]
    assert set(result) == {
        "isAuthenticated",
        "principalId",
        "disconnectAfterInSeconds",
        "refreshAfterInSeconds",
        "policyDocuments",
    }
    assert result["isAuthenticated"] is True
    assert result["principalId"] == "console" + SUB.replace("-", "")
    assert result["principalId"].isalnum() and len(result["principalId"]) <= 128
    assert 1795 <= result["disconnectAfterInSeconds"] <= 1800
    assert result["refreshAfterInSeconds"] == result["disconnectAfterInSeconds"]
    assert len(result["policyDocuments"]) == 1 and isinstance(result["policyDocuments"][0], str)
    assert json.loads(result["policyDocuments"][0]) == iot_policy(TENANT, SUB, ARN_PREFIX)


def test_policy_uses_the_partition_region_and_account_of_the_function() -> None:
    """ARC-9, LCM-SEC-5: the policy's ARNs come from the invoked function's ARN (China partition too)."""

    class ChinaContext:
        invoked_function_arn = "arn:aws-cn:lambda:cn-north-1:111122223333:function:f"

    result = handler(event(id_token()), ChinaContext())  # type: ignore[arg-type]
    assert json.loads(result["policyDocuments"][0]) == iot_policy(TENANT, SUB, "arn:aws-cn:iot:cn-north-1:111122223333")


def test_short_lived_token_gets_iot_minimum_session() -> None:
    """LCM-SEC-5: a token with a minute left still gets the 300 s IoT Core demands (clamped, not refused)."""
    result = handler(event(id_token(claims(exp=int(time.time()) + 60))), Context())  # type: ignore[arg-type]
    assert result["isAuthenticated"] is True and result["disconnectAfterInSeconds"] == 300


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "wrong_signature",
        "wrong_client_id",
        "other_users_client_id",
        "missing_tenant",
        "access_token",
        "no_password",
        "not_base64",
        "not_a_jwt",
        "no_client_id",
        "not_mqtt",
    ],
)
def test_bad_connections_are_denied_without_raising(case: str, caplog: pytest.LogCaptureFixture) -> None:
    """LCM-SEC-5, LCM-SEC-10: expired/forged/foreign tokens and wrong client ids are denied with a logged reason."""
    now = int(time.time())
    tok = id_token()
    ev: dict[str, Any]
    if case == "expired":
        ev = event(id_token(claims(exp=now - 5, iat=now - 3605)))
    elif case == "wrong_signature":
        ev = event(id_token(key=OTHER_KEY))
    elif case == "wrong_client_id":
        ev = event(tok, client_id="mqttjs_1234")
    elif case == "other_users_client_id":
        ev = event(tok, client_id="console-11111111-2222-3333-4444-555555555555-x")
    elif case == "missing_tenant":
        ev = event(id_token(claims(**{"custom:tenant_id": None})))
    elif case == "access_token":
        ev = event(id_token(claims(token_use="access", client_id="console-client")))
    elif case == "no_password":
        ev = event(None)
    elif case == "not_base64":
        ev = event(None, raw_password="%%%not base64%%%")
    elif case == "not_a_jwt":
        ev = event("not-a-jwt")
    elif case == "no_client_id":
        ev = event(tok, client_id=None)
    else:
        ev = {"protocolData": {"http": {"headers": {}}}, "connectionMetadata": {"id": "x"}}
    with caplog.at_level(logging.INFO, logger="console-auth"):
        result = handler(ev, Context())  # type: ignore[arg-type]
    assert result == {"isAuthenticated": False}
    # The refusal is logged with its reason (structured extras), never with the token.
    [record] = [r for r in caplog.records if r.getMessage() == "console connection refused"]
    assert record.reason and record.code
    logged = repr(vars(record))
    assert tok.split(".")[2] not in logged and "eyJ" not in logged


def test_garbage_events_are_denied() -> None:
    """LCM-SEC-5: events that are not authorizer events at all are denied, not raised."""
    for ev in (None, [], "x", {"protocolData": None}, {"protocolData": {"mqtt": "x"}}):
        assert handler(ev, Context()) == {"isAuthenticated": False}  # type: ignore[arg-type]


def test_no_invocation_context_is_denied() -> None:
    """LCM-SEC-5: without the function's ARN the policy cannot be scoped to the account, so nothing is granted."""
    assert handler(event(id_token()), None) == {"isAuthenticated": False}
