"""Alarm-rule routes (ARC-3, SLW-WEB-3): the effective rules of a device, the platform
defaults, a scope's current version and history, a new version, a diff, a roll back.

The scope (``tenant``, ``model:<model_id>``, ``device:<thing_name>``) travels in the query or
body, never in the path, so a colon never needs URL-escaping."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from functions import services
from functions.api.app import app
from functions.api.http import Call, RouteDoc, endpoint
from functions.api.schemas import _Query
from shared.contracts.alarms import SCOPE_PATTERN, AlarmRule, RuleSetDraft, RuleSetVersion
from shared.domain.alarms.rulesets import EffectiveRuleSet, RuleSetDiff
from shared.domain.auth import Action

TAGS = ("alarm-rules",)
WRITE_ERRORS = (400, 401, 403, 404, 409, 422, 503)


class ScopeQuery(_Query):
    scope: str = Field(pattern=SCOPE_PATTERN, description="tenant, model:<model_id> or device:<thing_name>.")


class VersionsQuery(ScopeQuery):
    limit: int = Field(default=20, ge=1, le=100)
    before: int | None = Field(default=None, ge=1, description="Versions older than this (next page).")


class DiffQuery(ScopeQuery):
    from_version: int = Field(ge=0, description="0 = the empty set before version 1.")
    to_version: int = Field(ge=0)


class NewRuleSetVersion(RuleSetDraft):
    """A new version of one scope's rule set."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    scope: str = Field(pattern=SCOPE_PATTERN)


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: str = Field(pattern=SCOPE_PATTERN)
    version: int = Field(ge=1, description="The version whose content becomes current again.")
    comment: str = Field(default="", max_length=500)


class VersionList(BaseModel):
    scope: str
    items: list[RuleSetVersion]
    next_before: int | None = Field(description="Pass as before for the next page; null on the last page.")


class DefaultRuleSet(BaseModel):
    version: int
    rules: list[AlarmRule]


@endpoint(
    app,
    RouteDoc(
        "/v1/devices/{thing_name}/alarm-rules",
        "GET",
        "Effective alarm rules of a device (platform default → tenant → model → device) with each rule's source",
        EffectiveRuleSet,
        action=Action.READ,
        tags=TAGS,
    ),
)
def device_alarm_rules(call: Call, thing_name: str) -> EffectiveRuleSet:
    return services.rule_sets().effective_for_device(call.principal, thing_name)  # type: ignore[no-any-return]


@endpoint(
    app,
    RouteDoc(
        "/v1/alarm-rules/default",
        "GET",
        "The platform's default rule set (what applies where no scope overrides it)",
        DefaultRuleSet,
        action=Action.READ,
        tags=TAGS,
    ),
)
def default_alarm_rules(call: Call) -> DefaultRuleSet:
    d = services.rule_sets().defaults(call.principal)
    return DefaultRuleSet(version=d.version, rules=list(d.rules))


@endpoint(
    app,
    RouteDoc(
        "/v1/alarm-rules",
        "GET",
        "Current version of a scope's rule set",
        RuleSetVersion,
        query=ScopeQuery,
        action=Action.READ,
        tags=TAGS,
    ),
)
def current_alarm_rules(call: Call) -> RuleSetVersion:
    q = call.query(ScopeQuery)
    return services.rule_sets().current(call.principal, q.scope)  # type: ignore[no-any-return]


@endpoint(
    app,
    RouteDoc(
        "/v1/alarm-rules",
        "POST",
        "Create a new version of a scope's rule set (rules replace by rule_id; disabled switches rules off)",
        RuleSetVersion,
        status=201,
        request=NewRuleSetVersion,
        action=Action.MANAGE_ALARM_RULES,
        tags=TAGS,
        errors=WRITE_ERRORS,
    ),
)
def create_alarm_rules(call: Call) -> RuleSetVersion:
    body = call.body(NewRuleSetVersion)
    draft = RuleSetDraft(rules=body.rules, disabled=body.disabled, comment=body.comment)
    return services.rule_sets().create_version(call.principal, body.scope, draft)  # type: ignore[no-any-return]


@endpoint(
    app,
    RouteDoc(
        "/v1/alarm-rules/versions",
        "GET",
        "Version history of a scope, newest first (paginated with before)",
        VersionList,
        query=VersionsQuery,
        action=Action.READ,
        tags=TAGS,
    ),
)
def alarm_rule_versions(call: Call) -> VersionList:
    q = call.query(VersionsQuery)
    items, next_before = services.rule_sets().versions(call.principal, q.scope, q.limit, q.before)
    return VersionList(scope=q.scope, items=items, next_before=next_before)


@endpoint(
    app,
    RouteDoc(
        "/v1/alarm-rules/versions/{version}",
        "GET",
        "One version of a scope's rule set",
        RuleSetVersion,
        query=ScopeQuery,
        action=Action.READ,
        tags=TAGS,
    ),
)
def alarm_rule_version(call: Call, version: str) -> RuleSetVersion:
    q = call.query(ScopeQuery)
    return services.rule_sets().get_version(call.principal, q.scope, _version(version))  # type: ignore[no-any-return]


@endpoint(
    app,
    RouteDoc(
        "/v1/alarm-rules/diff",
        "GET",
        "What changed between two versions of a scope (rules added, removed, changed; disabled ids)",
        RuleSetDiff,
        query=DiffQuery,
        action=Action.READ,
        tags=TAGS,
    ),
)
def alarm_rule_diff(call: Call) -> RuleSetDiff:
    q = call.query(DiffQuery)
    return services.rule_sets().diff(call.principal, q.scope, q.from_version, q.to_version)  # type: ignore[no-any-return]


@endpoint(
    app,
    RouteDoc(
        "/v1/alarm-rules/rollback",
        "POST",
        "Roll a scope back: a new version with the content of an older one (history is kept)",
        RuleSetVersion,
        status=201,
        request=Rollback,
        action=Action.MANAGE_ALARM_RULES,
        tags=TAGS,
        errors=WRITE_ERRORS,
    ),
)
def rollback_alarm_rules(call: Call) -> RuleSetVersion:
    body = call.body(Rollback)
    return services.rule_sets().rollback(call.principal, body.scope, body.version, body.comment)  # type: ignore[no-any-return]


def _version(raw: str) -> int:
    from shared.domain.errors import NotFound

    if not raw.isdigit() or not 1 <= int(raw) <= 10**9:
        raise NotFound(f"version {raw[:20]!r} not found", code="rule_set_not_found")
    return int(raw)
