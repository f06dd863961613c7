"""Who the caller is (LCM-UI-1, LCM-SEC-5): user, tenant, groups, role and the actions the roles allow,
so the console can hide what the user may not do. The API stays the enforcement point: every route
authorises again."""

from __future__ import annotations

from pydantic import BaseModel, Field

from functions.api.app import app
from functions.api.http import Call, RouteDoc, endpoint
from shared.domain.auth import Action

NO_ROLE = "none"


class Me(BaseModel):
    username: str
    tenant_id: str
    tenant_name: str = Field(description="Display name of the tenant (its id until a tenant registry exists).")
    groups: list[str] = Field(description="Cognito groups of the token, sorted (unknown groups grant nothing).")
    role: str = Field(description=f"Most capable role: admin, operator, viewer, or {NO_ROLE!r}.")
    permissions: list[str] = Field(description=f"Actions the caller may take: {', '.join(a.value for a in Action)}.")


@endpoint(
    app,
    RouteDoc(
        "/v1/me",
        "GET",
        "The caller: user name, tenant, groups, role and permitted actions (any authenticated user, even "
        "without a role)",
        Me,
        tags=("me",),
        errors=(401,),
    ),
)
def me(call: Call) -> Me:
    p = call.principal
    return Me(
        username=p.username,
        tenant_id=p.tenant_id,
        tenant_name=p.tenant_id,
        groups=list(p.groups),
        role=p.role.value if p.role is not None else NO_ROLE,
        permissions=[a.value for a in p.permitted_actions()],
    )
