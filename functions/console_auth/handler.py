"""Console MQTT authorizer: the AWS IoT Core custom authorizer of operator consoles (thin handler).

IoT Core calls it for every MQTT-over-WebSocket CONNECT that names this authorizer. The MQTT
password is the user's Cognito ID token (base64-encoded by IoT); the answer allows exactly the
tenant's console topics, read-only (:mod:`shared.domain.auth.console_access`), until the token
expires. The local console gateway calls this same function before it lets a browser through to
the local broker.

Bad input never raises: a missing, malformed, expired or foreign token, or a client id that is
not ``console-<sub>-<random>``, is answered ``isAuthenticated: false`` and logged with the
reason — never with the token.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api import wiring
from shared.domain.auth import principal_from_claims
from shared.domain.auth.console_access import grant
from shared.domain.errors import Unauthorized, Unavailable

logger = Logger(service="console-auth")

DENY: dict[str, Any] = {"isAuthenticated": False}


def iot_arn_prefix(context: LambdaContext | None) -> str:
    """``arn:<partition>:iot:<region>:<account>`` of the account this function runs in."""
    arn = getattr(context, "invoked_function_arn", None)
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) < 5 or parts[0] != "arn" or not all(parts[1:5]):
        raise Unauthorized("no invocation context to scope the policy to this account", code="no_context")
    return f"arn:{parts[1]}:iot:{parts[3]}:{parts[4]}"


def _credentials(event: dict[str, Any]) -> tuple[str, str]:
    """(ID token, client id) from the MQTT part of the authorizer event."""
    mqtt = (event.get("protocolData") or {}).get("mqtt") if isinstance(event, dict) else None
    if not isinstance(mqtt, dict):
        raise Unauthorized("not an MQTT connection", code="no_mqtt")
    password, client_id = mqtt.get("password"), mqtt.get("clientId")
    if not isinstance(password, str) or not password:
        raise Unauthorized("no MQTT password (the ID token)", code="no_token")
    if not isinstance(client_id, str) or not client_id:
        raise Unauthorized("no MQTT client id", code="invalid_client_id")
    try:
        token = base64.b64decode(password, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("MQTT password is not base64 of an ASCII token", code="invalid_token") from exc
    return token, client_id


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    connection = ((event or {}).get("connectionMetadata") or {}).get("id") if isinstance(event, dict) else None
    try:
        token, client_id = _credentials(event)
        claims = wiring.token_verifier().verify(token)
        principal = principal_from_claims(claims)
        decision = grant(principal, claims, client_id, now_s=time.time(), arn_prefix=iot_arn_prefix(context))
    except Unauthorized as exc:
        logger.info(
            "console connection refused", extra={"connection": connection, "code": exc.code, "reason": str(exc)}
        )
        return dict(DENY)
    except Unavailable as exc:
        # The signing keys could not be fetched: refuse now, the console retries with back-off.
        logger.error(
            "console connection refused: verifier unavailable", extra={"connection": connection, "reason": str(exc)}
        )
        return dict(DENY)
    logger.info(
        "console connection allowed",
        extra={
            "connection": connection,
            "tenant": principal.tenant_id,
            "sub": principal.subject,
            "client_id": client_id,
            "disconnect_after_s": decision.disconnect_after_s,
        },
    )
    return decision.authorizer_response()
