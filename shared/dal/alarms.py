"""DynamoDB repository of alarms, their timelines, active-alarm guards and the engine state.

The only code that touches these tables (pynamodb). Idempotency lives in the keys:

* an alarm id is derived from tenant, thing, rule and the sample that raised it, and is
  written with ``attribute_not_exists`` — a redelivered sample never raises twice;
* the ``active#<rule>`` guard item makes "one active alarm per rule and device" a storage
  invariant, not a hope;
* timeline entries have deterministic ids, so a retried write lands on the same item;
* the engine state carries a version: a write that lost a race fails and the caller reloads.
"""

from __future__ import annotations

import zlib
from typing import Any

from pynamodb.exceptions import DoesNotExist, PynamoDBException

from shared.contracts.alarms import Alarm, TimelineEntry
from shared.dal.devices import storage_errors
from shared.dal.tables import AlarmItem, AlarmStateItem, AlarmTimelineItem, bind_tables
from shared.domain.alarms.ports import AlarmPage, AlarmQuery, StoredState
from shared.domain.errors import Conflict

ENGINE_ITEM = "engine"
ACTIVE_PREFIX = "active#"
#: Shards of the last-seen index (loss-of-communication sweep): spreads the hot partition.
COMM_SHARDS = 8
_PAGE = 100


def device_key(tenant_id: str, thing_name: str) -> str:
    return f"{tenant_id}#{thing_name}"


def time_key(raised_at_ms: int, alarm_id: str) -> str:
    return f"{raised_at_ms:013d}#{alarm_id}"


def comm_shard(tenant_id: str, thing_name: str) -> int:
    return zlib.crc32(device_key(tenant_id, thing_name).encode()) % COMM_SHARDS


def _to_item(alarm: Alarm) -> AlarmItem:
    return AlarmItem(
        alarm.tenant_id,
        alarm.alarm_id,
        time_key=time_key(alarm.raised_at_ms, alarm.alarm_id),
        device_key=device_key(alarm.tenant_id, alarm.thing_name),
        status_key=f"{alarm.tenant_id}#{alarm.status.value}",
        thing_name=alarm.thing_name,
        rule_id=alarm.rule_id,
        level=int(alarm.level),
        status=alarm.status.value,
        raised_at_ms=alarm.raised_at_ms,
        updated_at_ms=alarm.updated_at_ms,
        body=alarm.model_dump(mode="json"),
    )


def _to_alarm(item: AlarmItem) -> Alarm:
    return Alarm.model_validate(item.body)


class DynamoAlarmRepository:
    def __init__(self) -> None:
        bind_tables()

    # ---- alarms ---------------------------------------------------------------------------------
    def create(self, alarm: Alarm) -> bool:
        """Write a new alarm; ``False`` when this alarm id already exists (a redelivery)."""
        try:
            with storage_errors("alarm exists", "alarm_exists"):
                _to_item(alarm).save(condition=AlarmItem.alarm_id.does_not_exist())
        except Conflict:
            return False
        return True

    def get(self, tenant_id: str, alarm_id: str) -> Alarm | None:
        try:
            with storage_errors("unexpected condition"):
                return _to_alarm(AlarmItem.get(tenant_id, alarm_id, consistent_read=True))
        except DoesNotExist:
            return None

    def replace(self, alarm: Alarm, *, expected_updated_at_ms: int) -> None:
        """Save a changed alarm if nobody changed it meanwhile (optimistic lock on updated_at_ms)."""
        with storage_errors(f"alarm {alarm.alarm_id} changed concurrently; reload and retry", "alarm_changed"):
            _to_item(alarm).save(condition=AlarmItem.updated_at_ms == expected_updated_at_ms)

    def query(self, tenant_id: str, q: AlarmQuery, limit: int, after: str | None) -> AlarmPage:
        """Newest first. Uses the device index, else the status index, else the time index."""
        lo = time_key(q.from_ms, "") if q.from_ms is not None else None
        hi = time_key(q.to_ms, "~") if q.to_ms is not None else None
        range_cond: Any = None
        if lo is not None and hi is not None:
            range_cond = AlarmItem.time_key.between(lo, hi)
        elif lo is not None:
            range_cond = AlarmItem.time_key >= lo
        elif hi is not None:
            range_cond = AlarmItem.time_key <= hi
        filters: Any = None
        parts = [
            AlarmItem.level >= q.level_min if q.level_min is not None else None,
            AlarmItem.rule_id == q.rule_id if q.rule_id else None,
        ]
        if q.thing_name is not None:
            index: Any = AlarmItem.by_device
            hash_value = device_key(tenant_id, q.thing_name)
            hash_attr = "device_key"
            parts.append(AlarmItem.status == q.status.value if q.status else None)
        elif q.status is not None:
            index, hash_value, hash_attr = AlarmItem.by_status, f"{tenant_id}#{q.status.value}", "status_key"
        else:
            index, hash_value, hash_attr = AlarmItem.by_time, tenant_id, "tenant_id"
        for part in parts:
            if part is not None:
                filters = part if filters is None else filters & part
        start = None
        if after is not None:
            alarm_id = after.split("#", 1)[1] if "#" in after else after
            start = {
                hash_attr: {"S": hash_value},
                "time_key": {"S": after},
                "tenant_id": {"S": tenant_id},
                "alarm_id": {"S": alarm_id},
            }
        items: list[Alarm] = []
        more = False
        with storage_errors("unexpected condition"):
            results = index.query(
                hash_value,
                range_key_condition=range_cond,
                filter_condition=filters,
                scan_index_forward=False,
                last_evaluated_key=start,
                page_size=_PAGE,
            )
            for item in results:
                if len(items) == limit:
                    more = True
                    break
                items.append(_to_alarm(item))
        last = items[-1] if items else None
        return AlarmPage(items=items, after=time_key(last.raised_at_ms, last.alarm_id) if more and last else None)

    # ---- timeline ------------------------------------------------------------------------------
    def add_timeline(self, tenant_id: str, entry: TimelineEntry) -> None:
        """Append one entry (idempotent: the same entry id lands on the same item)."""
        with storage_errors("unexpected condition"):
            AlarmTimelineItem(
                f"{tenant_id}#{entry.alarm_id}",
                f"{entry.at_ms:013d}#{entry.entry_id}",
                body=entry.model_dump(mode="json"),
            ).save()

    def timeline(self, tenant_id: str, alarm_id: str, limit: int = 500) -> list[TimelineEntry]:
        with storage_errors("unexpected condition"):
            items = AlarmTimelineItem.query(f"{tenant_id}#{alarm_id}", limit=limit, page_size=_PAGE)
            return [TimelineEntry.model_validate(i.body) for i in items]

    # ---- one active alarm per rule and device ---------------------------------------------
    def claim_active(self, tenant_id: str, thing_name: str, rule_id: str, alarm_id: str, now_ms: int) -> str:
        """Make ``alarm_id`` the active alarm of (device, rule) unless another one already is.

        Returns the id that is active afterwards (``alarm_id`` or the earlier one)."""
        key = device_key(tenant_id, thing_name)
        item = AlarmStateItem(key, ACTIVE_PREFIX + rule_id, alarm_id=alarm_id, updated_at_ms=now_ms)
        try:
            with storage_errors("active alarm exists", "alarm_active"):
                item.save(
                    condition=AlarmStateItem.item.does_not_exist() | (AlarmStateItem.alarm_id == alarm_id),
                )
            return alarm_id
        except Conflict:
            existing = self.active_alarm_id(tenant_id, thing_name, rule_id)
            return existing or alarm_id

    def active_alarm_id(self, tenant_id: str, thing_name: str, rule_id: str) -> str | None:
        try:
            with storage_errors("unexpected condition"):
                item = AlarmStateItem.get(
                    device_key(tenant_id, thing_name), ACTIVE_PREFIX + rule_id, consistent_read=True
                )
        except DoesNotExist:
            return None
        return item.alarm_id

    def release_active(self, tenant_id: str, thing_name: str, rule_id: str, alarm_id: str) -> None:
        """Drop the guard if it still names ``alarm_id`` (idempotent)."""
        item = AlarmStateItem(device_key(tenant_id, thing_name), ACTIVE_PREFIX + rule_id)
        try:
            item.delete(condition=AlarmStateItem.alarm_id == alarm_id)
        except PynamoDBException as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise

    # ---- engine state --------------------------------------------------------------------------
    def load_state(self, tenant_id: str, thing_name: str) -> StoredState:
        try:
            with storage_errors("unexpected condition"):
                item = AlarmStateItem.get(device_key(tenant_id, thing_name), ENGINE_ITEM, consistent_read=True)
        except DoesNotExist:
            return StoredState(state=None, version=0)
        return StoredState(state=item.state, version=int(item.version or 0))

    def state_version(self, tenant_id: str, thing_name: str) -> int:
        """The stored version of the engine state (0 = none): a cheap freshness check."""
        try:
            with storage_errors("unexpected condition"):
                item = AlarmStateItem.get(
                    device_key(tenant_id, thing_name), ENGINE_ITEM, consistent_read=True, attributes_to_get=["version"]
                )
        except DoesNotExist:
            return 0
        return int(item.version or 0)

    def save_state(
        self,
        tenant_id: str,
        thing_name: str,
        state: dict[str, Any],
        *,
        expected_version: int,
        last_seen_ms: int | None,
        now_ms: int,
    ) -> int:
        """Write the state if its stored version is still ``expected_version``; returns the new
        version. :class:`Conflict` (code ``state_changed``) when someone else wrote meanwhile."""
        new_version = expected_version + 1
        item = AlarmStateItem(
            device_key(tenant_id, thing_name),
            ENGINE_ITEM,
            version=new_version,
            state=state,
            comm_shard=comm_shard(tenant_id, thing_name) if last_seen_ms is not None else None,
            last_seen_ms=last_seen_ms,
            updated_at_ms=now_ms,
        )
        cond = (
            AlarmStateItem.item.does_not_exist()
            if expected_version == 0
            else AlarmStateItem.version == expected_version
        )
        with storage_errors("engine state changed concurrently", "state_changed"):
            item.save(condition=cond)
        return new_version

    def silent_devices(self, seen_before_ms: int, limit_per_shard: int = 500) -> list[tuple[str, str]]:
        """(tenant, thing) of devices whose last message is older than ``seen_before_ms``, from
        every shard of the last-seen index (an equal share each, so no shard starves)."""
        out: list[tuple[str, str]] = []
        with storage_errors("unexpected condition"):
            for shard in range(COMM_SHARDS):
                for item in AlarmStateItem.by_last_seen.query(
                    shard, AlarmStateItem.last_seen_ms < seen_before_ms, limit=limit_per_shard, page_size=_PAGE
                ):
                    tenant, _, thing = item.device_key.partition("#")
                    out.append((tenant, thing))
        return out
