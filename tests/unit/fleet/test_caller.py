"""What GET /v1/me tells the console about the caller: groups, the most capable role, the permitted actions."""

from __future__ import annotations

from shared.domain.auth import Action, Role, principal_from_claims


def claims(groups):
    return {"token_use": "id", "sub": "s-1", "cognito:username": "alice", "custom:tenant_id": "acme", **groups}


def test_role_and_permissions_follow_the_permission_table():
    """LCM-UI-1, LCM-SEC-5: the most capable role wins; permissions are exactly the actions the roles allow
    (what the API enforces); unknown groups are shown but grant nothing; no group → no role, no permission."""
    admin = principal_from_claims(claims({"cognito:groups": ["viewer", "admin", "ops-team"]}))
    assert admin.role is Role.ADMIN and admin.groups == ("admin", "ops-team", "viewer")
    assert admin.permitted_actions() == list(Action)

    operator = principal_from_claims(claims({"cognito:groups": ["operator"]}))
    assert operator.role is Role.OPERATOR
    assert [a.value for a in operator.permitted_actions()] == [
        "read",
        "manage_devices",
        "handle_alarms",
        "send_commands",
    ]
    assert all(operator.can(a) == (a in operator.permitted_actions()) for a in Action)

    viewer = principal_from_claims(claims({"cognito:groups": "viewer"}))
    assert viewer.role is Role.VIEWER and viewer.permitted_actions() == [Action.READ] and viewer.groups == ("viewer",)

    nobody = principal_from_claims(claims({"cognito:groups": ["ops-team"]}))
    assert nobody.role is None and nobody.permitted_actions() == [] and nobody.groups == ("ops-team",)
    assert principal_from_claims(claims({})).groups == ()
