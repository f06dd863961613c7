"""DynamoDB repository of alarm rule-set versions (pk ``tenant#scope``, sk version; immutable)."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from shared.contracts.alarms import RuleSetVersion
from shared.dal.devices import storage_errors
from shared.dal.tables import AlarmRuleSetItem, bind_tables

_PAGE = 50


def scope_key(tenant_id: str, scope: str) -> str:
    return f"{tenant_id}#{scope}"


class DynamoRuleSetRepository:
    def __init__(self) -> None:
        bind_tables()

    def latest(self, tenant_id: str, scope: str) -> RuleSetVersion | None:
        with storage_errors("unexpected condition"):
            for item in AlarmRuleSetItem.query(scope_key(tenant_id, scope), scan_index_forward=False, limit=1):
                return RuleSetVersion.model_validate(item.body)
        return None

    def get(self, tenant_id: str, scope: str, version: int) -> RuleSetVersion | None:
        try:
            with storage_errors("unexpected condition"):
                item = AlarmRuleSetItem.get(scope_key(tenant_id, scope), version)
        except DoesNotExist:
            return None
        return RuleSetVersion.model_validate(item.body)

    def versions(self, tenant_id: str, scope: str, limit: int, before: int | None) -> tuple[list[RuleSetVersion], bool]:
        """Newest first; versions below ``before`` when given. Returns (page, more)."""
        cond = AlarmRuleSetItem.version < before if before is not None else None
        out: list[RuleSetVersion] = []
        more = False
        with storage_errors("unexpected condition"):
            for item in AlarmRuleSetItem.query(
                scope_key(tenant_id, scope), range_key_condition=cond, scan_index_forward=False, page_size=_PAGE
            ):
                if len(out) == limit:
                    more = True
                    break
                out.append(RuleSetVersion.model_validate(item.body))
        return out, more

    def create(self, version: RuleSetVersion) -> None:
        """Write a new version; :class:`Conflict` when that version number was taken meanwhile."""
        with storage_errors(
            f"version {version.version} of {version.scope} was created concurrently; reload and retry",
            "rule_set_changed",
        ):
            AlarmRuleSetItem(
                scope_key(version.tenant_id, version.scope),
                version.version,
                body=version.model_dump(mode="json"),
                created_at_ms=version.created_at_ms,
            ).save(condition=AlarmRuleSetItem.version.does_not_exist())
