"""From verified JWT claims to a :class:`Principal`, and role checks (LCM-SEC-5 least privilege).

The signature, issuer and expiry are checked by the token verifier adapter; this module
decides what the verified claims *mean*:

* the tenant comes only from ``custom:tenant_id`` — an immutable Cognito custom attribute that
  app clients may not write — never from a request field;
* only ID tokens carry custom attributes, so an access token is refused with a precise reason;
* roles come from ``cognito:groups``; unknown groups grant nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from shared.contracts.topics import TopicError, check_id
from shared.domain.errors import Forbidden, Unauthorized

TENANT_CLAIM = "custom:tenant_id"
GROUPS_CLAIM = "cognito:groups"


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


class Action(StrEnum):
    READ = "read"
    MANAGE_DEVICES = "manage_devices"  # register, revoke, decommission
    MANAGE_MODELS = "manage_models"  # add tenant device models
    HANDLE_ALARMS = "handle_alarms"  # acknowledge, clear, assign, comment
    SEND_COMMANDS = "send_commands"  # operator commands to devices (with a reason)
    MANAGE_ALARM_RULES = "manage_alarm_rules"  # new rule-set versions, roll back
    MANAGE_NOTIFICATIONS = "manage_notifications"  # the tenant's notification policy


#: Which role may do what; a caller needs one role that allows the action.
PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset({Action.READ}),
    Role.OPERATOR: frozenset({Action.READ, Action.MANAGE_DEVICES, Action.HANDLE_ALARMS, Action.SEND_COMMANDS}),
    Role.ADMIN: frozenset(Action),
}

#: Roles from the most to the least capable.
ROLE_ORDER: tuple[Role, ...] = (Role.ADMIN, Role.OPERATOR, Role.VIEWER)


@dataclass(frozen=True)
class Principal:
    """The verified caller."""

    subject: str
    username: str
    tenant_id: str
    roles: frozenset[Role]
    #: Every ``cognito:groups`` entry as sent, sorted (unknown groups grant nothing; shown to the caller).
    groups: tuple[str, ...] = ()

    def can(self, action: Action) -> bool:
        return any(action in PERMISSIONS[r] for r in self.roles)

    @property
    def role(self) -> Role | None:
        """The most capable of the caller's roles (admin > operator > viewer); None without any."""
        return next((r for r in ROLE_ORDER if r in self.roles), None)

    def permitted_actions(self) -> list[Action]:
        """What the caller may do, in declaration order (a console hides the rest; the API still checks)."""
        return [a for a in Action if self.can(a)]


class TokenVerifier(Protocol):
    """Verifies a bearer token (signature, issuer, audience, expiry) and returns its claims.

    Raises :class:`Unauthorized` with the precise reason when the token is not acceptable.
    """

    def verify(self, token: str) -> dict[str, Any]: ...


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build the principal from claims the verifier has already checked cryptographically."""
    token_use = claims.get("token_use")
    if token_use != "id":  # noqa: S105 - a claim value, not a secret
        raise Unauthorized(
            f"token_use is {token_use!r}; send the Cognito ID token (token_use 'id'), which carries {TENANT_CLAIM}",
            code="invalid_token",
        )
    tenant = claims.get(TENANT_CLAIM)
    if not isinstance(tenant, str) or not tenant:
        raise Unauthorized(
            f"token has no {TENANT_CLAIM} claim; the user is not assigned to a tenant",
            code="invalid_token",
        )
    try:
        check_id(tenant, "tenant")
    except TopicError as exc:
        raise Unauthorized(f"{TENANT_CLAIM} claim is not a valid tenant id: {exc}", code="invalid_token") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("token has no sub claim", code="invalid_token")
    groups = claims.get(GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    known = {r.value for r in Role}
    roles = frozenset(Role(g) for g in groups if isinstance(g, str) and g in known)
    username = claims.get("cognito:username")
    return Principal(
        subject=subject,
        username=username if isinstance(username, str) else subject,
        tenant_id=tenant,
        roles=roles,
        groups=tuple(sorted({g for g in groups if isinstance(g, str)})),
    )


#: Roles allowed per action, sorted (documentation and error details).
PERMISSIONS_BY_ACTION: Mapping[Action, list[str]] = {
    a: sorted(r.value for r, acts in PERMISSIONS.items() if a in acts) for a in Action
}


def authorize(principal: Principal, action: Action) -> None:
    """Raise :class:`Forbidden` unless one of the caller's roles allows ``action``."""
    if not principal.can(action):
        have = ", ".join(sorted(r.value for r in principal.roles)) or "none"
        allowed = PERMISSIONS_BY_ACTION[action]
        raise Forbidden(
            f"action {action.value!r} needs one of the roles [{', '.join(allowed)}]; caller has [{have}]",
            code="forbidden",
            details={"action": action.value, "allowed_roles": allowed},
        )
