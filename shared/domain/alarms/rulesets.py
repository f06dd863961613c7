"""Alarm rule sets as versioned data (ARC-3, SLW-WEB-3): overlay, versions, diff, roll back.

Scopes overlay in a fixed order — the platform default set, then ``tenant``, then
``model:<model_id>``, then ``device:<thing_name>`` — each later scope replacing rules by
``rule_id`` and switching rule ids off with ``disabled``. Every write is a new immutable
version of one scope; a roll back writes a new version with an old content (history is never
rewritten). The effective version label (``default@1+tenant@3+device:x@2``) goes on every
alarm and automatic command, so one can always tell which rules decided.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, Field

from shared.contracts.alarms import SCOPE_PATTERN, AlarmRule, RuleSetDraft, RuleSetVersion
from shared.contracts.devices import DeviceKind
from shared.domain.auth import Action, Principal, authorize
from shared.domain.errors import Invalid, NotFound

TENANT_SCOPE = "tenant"


class RuleSetRepository(Protocol):
    def latest(self, tenant_id: str, scope: str) -> RuleSetVersion | None: ...

    def get(self, tenant_id: str, scope: str, version: int) -> RuleSetVersion | None: ...

    def versions(
        self, tenant_id: str, scope: str, limit: int, before: int | None
    ) -> tuple[list[RuleSetVersion], bool]: ...

    def create(self, version: RuleSetVersion) -> None: ...


class ScopeTargets(Protocol):
    """Checks that a scope names something of the tenant (a device model, a device)."""

    def model_exists(self, tenant_id: str, model_id: str) -> bool: ...

    def device_model(self, tenant_id: str, thing_name: str) -> tuple[DeviceKind, str] | None: ...


@dataclass(frozen=True)
class DefaultRules:
    version: int
    rules: tuple[AlarmRule, ...]


def device_scope(thing_name: str) -> str:
    return f"device:{thing_name}"


def model_scope(model_id: str) -> str:
    return f"model:{model_id}"


def check_scope(scope: str) -> str:
    if not re.match(SCOPE_PATTERN, scope):
        raise Invalid(
            f"scope {scope[:80]!r} must be 'tenant', 'model:<model_id>' or 'device:<thing_name>'", code="invalid_scope"
        )
    return scope


class EffectiveRule(BaseModel):
    """A rule as it applies to a device, with the scope (and version) it comes from."""

    rule: AlarmRule
    source: str = Field(description="'default' or the scope that set it last, e.g. model:lfp-16s280-ess.")
    source_version: int


class EffectiveRuleSet(BaseModel):
    thing_name: str
    version: str
    rules: list[EffectiveRule]
    disabled: list[str]


class RuleChange(BaseModel):
    rule_id: str
    change: str = Field(description="added, removed or changed")
    before: AlarmRule | None = None
    after: AlarmRule | None = None


class RuleSetDiff(BaseModel):
    scope: str
    from_version: int
    to_version: int
    changes: list[RuleChange]
    disabled_added: list[str]
    disabled_removed: list[str]


def version_label(defaults: DefaultRules, layers: Sequence[RuleSetVersion]) -> str:
    """``default@1+tenant@3+device:x@2``: which versions decided (stored on alarms and commands)."""
    return "+".join([f"default@{defaults.version}"] + [f"{v.scope}@{v.version}" for v in layers])


def resolve(
    defaults: DefaultRules, layers: Sequence[RuleSetVersion], kind: DeviceKind | None
) -> tuple[str, list[EffectiveRule], list[str]]:
    """Overlay ``layers`` (in order) on the defaults; keep rules for ``kind`` (all if None).

    Returns the version label, the effective rules (enabled ones and disabled ones alike,
    each with its source) and the rule ids switched off by a scope."""
    by_id: dict[str, EffectiveRule] = {
        r.rule_id: EffectiveRule(rule=r, source="default", source_version=defaults.version) for r in defaults.rules
    }
    disabled: set[str] = set()
    for layer in layers:
        for rule in layer.rules:
            by_id[rule.rule_id] = EffectiveRule(rule=rule, source=layer.scope, source_version=layer.version)
            disabled.discard(rule.rule_id)
        disabled.update(layer.disabled)
    rules = [e for e in by_id.values() if kind is None or kind in e.rule.kinds]
    return version_label(defaults, layers), rules, sorted(disabled)


def active_rules(effective: Sequence[EffectiveRule], disabled: Sequence[str]) -> tuple[AlarmRule, ...]:
    off = set(disabled)
    return tuple(e.rule for e in effective if e.rule.enabled and e.rule.rule_id not in off)


def diff(scope: str, a: RuleSetVersion | None, b: RuleSetVersion | None) -> RuleSetDiff:
    before = {r.rule_id: r for r in (a.rules if a else [])}
    after = {r.rule_id: r for r in (b.rules if b else [])}
    changes: list[RuleChange] = []
    for rule_id in sorted(set(before) | set(after)):
        x, y = before.get(rule_id), after.get(rule_id)
        if x is None:
            changes.append(RuleChange(rule_id=rule_id, change="added", after=y))
        elif y is None:
            changes.append(RuleChange(rule_id=rule_id, change="removed", before=x))
        elif x != y:
            changes.append(RuleChange(rule_id=rule_id, change="changed", before=x, after=y))
    da, db = set(a.disabled if a else []), set(b.disabled if b else [])
    return RuleSetDiff(
        scope=scope,
        from_version=a.version if a else 0,
        to_version=b.version if b else 0,
        changes=changes,
        disabled_added=sorted(db - da),
        disabled_removed=sorted(da - db),
    )


class RuleSetService:
    """Reads and writes rule-set versions for the API; resolves effective rules for evaluation."""

    def __init__(
        self,
        repo: RuleSetRepository,
        targets: ScopeTargets,
        defaults: Callable[[], DefaultRules],
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.repo = repo
        self.targets = targets
        self._defaults = defaults
        self._clock_ms = clock_ms

    # ---- evaluation side --------------------------------------------------------------------------
    def layers_for(self, tenant_id: str, thing_name: str, model_id: str | None) -> list[RuleSetVersion]:
        scopes = [TENANT_SCOPE] + ([model_scope(model_id)] if model_id else []) + [device_scope(thing_name)]
        return [v for v in (self.repo.latest(tenant_id, s) for s in scopes) if v is not None]

    def effective(
        self, tenant_id: str, thing_name: str, kind: DeviceKind, model_id: str | None
    ) -> tuple[str, tuple[AlarmRule, ...]]:
        """Version label and the enabled rules of the device's kind (what the engine runs)."""
        label, rules, disabled = resolve(self._defaults(), self.layers_for(tenant_id, thing_name, model_id), kind)
        return label, active_rules(rules, disabled)

    # ---- API side ---------------------------------------------------------------------------------
    def effective_for_device(self, principal: Principal, thing_name: str) -> EffectiveRuleSet:
        authorize(principal, Action.READ)
        found = self.targets.device_model(principal.tenant_id, thing_name)
        if found is None:
            raise NotFound(f"device {thing_name[:128]!r} not found", code="device_not_found")
        kind, model_id = found
        label, rules, disabled = resolve(
            self._defaults(), self.layers_for(principal.tenant_id, thing_name, model_id), kind
        )
        return EffectiveRuleSet(thing_name=thing_name, version=label, rules=rules, disabled=disabled)

    def defaults(self, principal: Principal) -> DefaultRules:
        authorize(principal, Action.READ)
        return self._defaults()

    def current(self, principal: Principal, scope: str) -> RuleSetVersion:
        authorize(principal, Action.READ)
        self._check_target(principal.tenant_id, check_scope(scope))
        found = self.repo.latest(principal.tenant_id, scope)
        if found is None:
            raise NotFound(f"scope {scope!r} has no rule-set version yet", code="rule_set_not_found")
        return found

    def get_version(self, principal: Principal, scope: str, version: int) -> RuleSetVersion:
        authorize(principal, Action.READ)
        check_scope(scope)
        found = self.repo.get(principal.tenant_id, scope, version)
        if found is None:
            raise NotFound(f"version {version} of {scope!r} not found", code="rule_set_not_found")
        return found

    def versions(
        self, principal: Principal, scope: str, limit: int, before: int | None
    ) -> tuple[list[RuleSetVersion], int | None]:
        authorize(principal, Action.READ)
        check_scope(scope)
        items, more = self.repo.versions(principal.tenant_id, scope, limit, before)
        return items, (items[-1].version if more and items else None)

    def create_version(self, principal: Principal, scope: str, draft: RuleSetDraft) -> RuleSetVersion:
        authorize(principal, Action.MANAGE_ALARM_RULES)
        self._check_target(principal.tenant_id, check_scope(scope))
        self._check_rules(principal.tenant_id, scope, draft)
        latest = self.repo.latest(principal.tenant_id, scope)
        version = RuleSetVersion(
            tenant_id=principal.tenant_id,
            scope=scope,
            version=(latest.version if latest else 0) + 1,
            rules=draft.rules,
            disabled=sorted(set(draft.disabled)),
            comment=draft.comment,
            created_by=principal.username,
            created_at_ms=self._clock_ms(),
        )
        self.repo.create(version)
        return version

    def rollback(self, principal: Principal, scope: str, to_version: int, comment: str) -> RuleSetVersion:
        authorize(principal, Action.MANAGE_ALARM_RULES)
        old = self.get_version(principal, scope, to_version)
        latest = self.repo.latest(principal.tenant_id, scope)
        assert latest is not None  # old exists, so a latest does
        version = RuleSetVersion(
            tenant_id=principal.tenant_id,
            scope=scope,
            version=latest.version + 1,
            rules=old.rules,
            disabled=old.disabled,
            comment=comment or f"roll back to version {to_version}",
            created_by=principal.username,
            created_at_ms=self._clock_ms(),
            rolled_back_from=to_version,
        )
        self.repo.create(version)
        return version

    def diff(self, principal: Principal, scope: str, from_version: int, to_version: int) -> RuleSetDiff:
        """Changes from ``from_version`` to ``to_version`` (0 = the empty set before version 1)."""
        authorize(principal, Action.READ)
        check_scope(scope)
        a = self.get_version(principal, scope, from_version) if from_version else None
        b = self.get_version(principal, scope, to_version) if to_version else None
        return diff(scope, a, b)

    # ---- checks ------------------------------------------------------------------------------------
    def _check_target(self, tenant_id: str, scope: str) -> None:
        kind, _, name = scope.partition(":")
        if kind == "model" and not self.targets.model_exists(tenant_id, name):
            raise NotFound(f"device model {name!r} not found", code="model_not_found")
        if kind == "device" and self.targets.device_model(tenant_id, name) is None:
            raise NotFound(f"device {name!r} not found", code="device_not_found")

    def _check_rules(self, tenant_id: str, scope: str, draft: RuleSetDraft) -> None:
        # A scope may switch off any rule a scope beneath it defines (default, tenant, the model).
        known = {r.rule_id for r in self._defaults().rules}
        below: list[str] = [] if scope == TENANT_SCOPE else [TENANT_SCOPE]
        if scope.startswith("device:"):
            found = self.targets.device_model(tenant_id, scope.split(":", 1)[1])
            if found is not None:
                below.append(model_scope(found[1]))
        for layer_scope in below:
            latest = self.repo.latest(tenant_id, layer_scope)
            known.update(r.rule_id for r in (latest.rules if latest else []))
        known.update(r.rule_id for r in draft.rules)
        unknown = sorted(set(draft.disabled) - known)
        if unknown:
            raise Invalid(
                f"disabled names rule ids that no rule defines: {', '.join(unknown)}",
                code="unknown_rule_id",
                details={"rule_ids": unknown},
            )
        if scope.startswith("device:"):
            found = self.targets.device_model(tenant_id, scope.split(":", 1)[1])
            if found is not None:
                kind = found[0]
                wrong = [r.rule_id for r in draft.rules if kind not in r.kinds]
                if wrong:
                    raise Invalid(
                        f"rules {', '.join(wrong)} do not apply to this device's kind {kind.value}",
                        code="rule_kind_mismatch",
                    )


class CachedRules:
    """Effective rules per device, cached for ``ttl_s`` in a warm function (``RuleSource``).

    A rule edit therefore takes effect within ``ttl_s`` everywhere (documented); scopes are
    cached separately so a tenant's thousand devices share one read of the tenant scope."""

    def __init__(
        self,
        repo: RuleSetRepository,
        defaults: Callable[[], DefaultRules],
        ttl_s: float,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self._defaults = defaults
        self.ttl_s = ttl_s
        self._clock_s = clock_s
        self._scopes: dict[tuple[str, str], tuple[float, RuleSetVersion | None]] = {}
        # Same layers and kind → the very same tuple (the engine caches compiled rules by identity).
        self._resolved: dict[tuple[str, DeviceKind], tuple[AlarmRule, ...]] = {}

    def _latest(self, tenant_id: str, scope: str) -> RuleSetVersion | None:
        key = (tenant_id, scope)
        now = self._clock_s()
        hit = self._scopes.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        found = self.repo.latest(tenant_id, scope)
        if len(self._scopes) > 200_000:
            self._scopes.clear()
        self._scopes[key] = (now, found)
        return found

    def effective(
        self, tenant_id: str, thing_name: str, kind: DeviceKind, model_id: str | None
    ) -> tuple[str, tuple[AlarmRule, ...]]:
        scopes = [TENANT_SCOPE] + ([model_scope(model_id)] if model_id else []) + [device_scope(thing_name)]
        layers = [v for v in (self._latest(tenant_id, s) for s in scopes) if v is not None]
        label = version_label(self._defaults(), layers)
        key = (f"{tenant_id}|{label}", kind)
        hit = self._resolved.get(key)
        if hit is None:
            label, rules, disabled = resolve(self._defaults(), layers, kind)
            hit = active_rules(rules, disabled)
            if len(self._resolved) > 10_000:
                self._resolved.clear()
            self._resolved[key] = hit
        return label, hit
