"""What an operator console may do on the message broker: read its tenant's live streams, nothing else.

The console (a browser) connects over MQTT-over-WebSockets with its Cognito ID token as the MQTT
password. In AWS, IoT Core's custom authorizer (``functions/console_auth``) verifies the token
and returns :func:`iot_policy`; locally, the console gateway (``infra/local/console_gateway.py``)
calls the same authorizer and the local broker enforces :func:`mosquitto_acl_lines`. Both are
derived from the one list :func:`console_topics`, so the two runtimes grant the same topics:

* ``voltops/console/v1/{tenant}/#`` — alarms, notifications and command updates the platform
  pushes to the tenant's consoles;
* ``voltops/v1/{tenant}/+/up/telemetry`` and ``.../up/position`` — live device values and the
  live map.

Read-only: no publish anywhere (a console changes state only through the REST API, which audits).
Pure: no I/O, no clock; the caller passes the time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.contracts import topics
from shared.domain.auth.principal import Principal
from shared.domain.errors import Unauthorized

#: Every console's MQTT client id is ``console-<sub>-<random>``: the subject pins a connection
#: to its user, the random part lets one user keep several tabs open.
CLIENT_ID_PREFIX = "console"
#: Cognito subjects are UUIDs; anything outside this set could widen a policy resource.
_SUBJECT = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_CLIENT_SUFFIX = r"[A-Za-z0-9_-]{1,64}"
#: AWS IoT Core's limit on MQTT client ids.
MAX_CLIENT_ID = 128
#: AWS IoT Core accepts ``disconnectAfterInSeconds`` and ``refreshAfterInSeconds`` in this range.
MIN_SESSION_S = 300
MAX_SESSION_S = 86_400
#: ``principalId`` must match ``[a-zA-Z0-9]{1,128}``.
_PRINCIPAL_ID_MAX = 128
#: Uplink message types a console shows live (values and the map); events and acks reach it
#: through the console streams (alarms, command updates) instead.
LIVE_UPLINK_TYPES = (topics.UpType.TELEMETRY, topics.UpType.POSITION)


@dataclass(frozen=True)
class ConsoleTopic:
    """One MQTT topic filter a console may subscribe to (and receive on), and why."""

    filter: str
    purpose: str


def console_topics(tenant: str) -> tuple[ConsoleTopic, ...]:
    """The topic filters a console of ``tenant`` may read — the single source of both grants."""
    return (
        ConsoleTopic(topics.console_filter(tenant), "alarms, notifications and command updates"),
        ConsoleTopic(topics.uplink_type_filter(tenant, topics.UpType.TELEMETRY), "live device values"),
        ConsoleTopic(topics.uplink_type_filter(tenant, topics.UpType.POSITION), "live map"),
    )


def _policy_pattern(topic_filter: str) -> str:
    """An MQTT filter as an IoT policy resource: ``+`` and a trailing ``#`` become ``*``.

    IoT matches a SUBSCRIBE's filter literally against ``topicfilter/`` resources, where ``*``
    matches any characters (including ``+`` and ``#``), and each delivered topic against
    ``topic/`` resources.
    """
    levels = topic_filter.split("/")
    return "/".join("*" if level in {"+", "#"} else level for level in levels)


def check_subject(subject: str) -> str:
    if not _SUBJECT.match(subject):
        raise Unauthorized("token sub is not a Cognito subject (letters, digits, '-')", code="invalid_token")
    return subject


def client_id_pattern(subject: str) -> str:
    """The IoT policy pattern of this user's console client ids."""
    return f"{CLIENT_ID_PREFIX}-{check_subject(subject)}-*"


def client_id_allowed(subject: str, client_id: str) -> bool:
    """True if ``client_id`` is ``console-<subject>-<random>`` (letters, digits, ``_``, ``-``)."""
    if not _SUBJECT.match(subject) or len(client_id) > MAX_CLIENT_ID:
        return False
    return re.fullmatch(rf"{CLIENT_ID_PREFIX}-{re.escape(subject)}-{_CLIENT_SUFFIX}", client_id) is not None


def iot_policy(tenant: str, subject: str, arn_prefix: str) -> dict[str, Any]:
    """The IoT policy of one console connection: connect as its own client ids, read its tenant's streams.

    ``arn_prefix`` is ``arn:<partition>:iot:<region>:<account>``. No ``iot:Publish`` and no
    ``iot:Retain*``: a console never writes to the broker.
    """
    patterns = [_policy_pattern(t.filter) for t in console_topics(tenant)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": [f"{arn_prefix}:client/{client_id_pattern(subject)}"],
            },
            {
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": [f"{arn_prefix}:topicfilter/{p}" for p in patterns],
            },
            {"Effect": "Allow", "Action": "iot:Receive", "Resource": [f"{arn_prefix}:topic/{p}" for p in patterns]},
        ],
    }


@dataclass(frozen=True)
class ConsoleScope:
    """Whose console a policy was issued for (read back by the local gateway)."""

    tenant: str
    subject: str


def scope_of_policy(document: Mapping[str, Any]) -> ConsoleScope:
    """Invert :func:`iot_policy`: the tenant and subject of a console policy.

    Raises ``ValueError`` unless ``document`` is exactly what :func:`iot_policy` issues for that
    tenant and subject, so a caller that grants by this scope grants no more than the policy.
    """
    try:
        statements = document["Statement"]
        connect = next(s for s in statements if s["Action"] == "iot:Connect")["Resource"][0]
        subscribe = next(s for s in statements if s["Action"] == "iot:Subscribe")["Resource"][0]
    except (KeyError, IndexError, TypeError, StopIteration) as exc:
        raise ValueError("not a console policy (no Connect/Subscribe statement)") from exc
    prefix, sep, client = str(connect).partition(":client/")
    match = re.fullmatch(rf"{CLIENT_ID_PREFIX}-([A-Za-z0-9-]{{1,64}})-\*", client)
    root = f"{prefix}:topicfilter/{topics.CONSOLE_ROOT}/"
    if not sep or match is None or not str(subscribe).startswith(root):
        raise ValueError("not a console policy (unexpected client or topic resources)")
    tenant = str(subscribe)[len(root) :].removesuffix("/*")
    scope = ConsoleScope(tenant=tenant, subject=match.group(1))
    try:
        expected = iot_policy(scope.tenant, scope.subject, prefix)
    except (topics.TopicError, Unauthorized) as exc:
        raise ValueError(f"not a console policy: {exc}") from exc
    if dict(document) != expected:
        raise ValueError("policy differs from the console policy of its tenant")
    return scope


def mosquitto_acl_lines(tenant: str, username: str) -> list[str]:
    """mosquitto ``acl_file`` lines for the broker user that carries ``tenant``'s console connections."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", username):
        raise ValueError(f"broker username {username!r} must be letters, digits, '_', '.', '-'")
    return [f"user {username}", *(f"topic read {t.filter}" for t in console_topics(tenant))]


@dataclass(frozen=True)
class ConsoleGrant:
    """What the custom authorizer returns for an accepted console connection."""

    principal: Principal
    principal_id: str
    disconnect_after_s: int
    refresh_after_s: int
    policy: dict[str, Any]

    def authorizer_response(self) -> dict[str, Any]:
        """The AWS IoT custom-authorizer response (policy documents as JSON strings)."""
        return {
            "isAuthenticated": True,
            "principalId": self.principal_id,
            "disconnectAfterInSeconds": self.disconnect_after_s,
            "refreshAfterInSeconds": self.refresh_after_s,
            "policyDocuments": [json.dumps(self.policy, separators=(",", ":"))],
        }


def principal_id(subject: str) -> str:
    """IoT's ``principalId`` (``[a-zA-Z0-9]{1,128}``) for a console user."""
    return (CLIENT_ID_PREFIX + re.sub(r"[^A-Za-z0-9]", "", subject))[:_PRINCIPAL_ID_MAX]


def session_seconds(expires_at_s: float, now_s: float) -> int:
    """Seconds until the token expires, clamped to what IoT accepts (300..86400).

    A token with less than five minutes left still gets the five minutes IoT demands; the
    console refreshes its ID token before expiry and reconnects with the new one.
    """
    return int(min(MAX_SESSION_S, max(MIN_SESSION_S, expires_at_s - now_s)))


def grant(
    principal: Principal, claims: Mapping[str, Any], client_id: str, *, now_s: float, arn_prefix: str
) -> ConsoleGrant:
    """Decide a console connection of a verified caller; :class:`Unauthorized` with the reason if refused.

    ``claims`` are the verified token's (for its expiry); ``principal`` is built from them.
    """
    subject = check_subject(principal.subject)
    if not client_id_allowed(subject, client_id):
        raise Unauthorized(
            f"MQTT client id must be {CLIENT_ID_PREFIX}-<sub>-<random> for this user", code="invalid_client_id"
        )
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        raise Unauthorized("token has no exp claim", code="invalid_token")
    seconds = session_seconds(float(exp), now_s)
    return ConsoleGrant(
        principal=principal,
        principal_id=principal_id(subject),
        disconnect_after_s=seconds,
        # The grant depends on the token alone, which cannot change before it expires: a refresh
        # earlier than the disconnect would return the same policy.
        refresh_after_s=seconds,
        policy=iot_policy(principal.tenant_id, subject, arn_prefix),
    )
