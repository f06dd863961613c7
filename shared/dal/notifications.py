"""DynamoDB storage of notifications (pynamodb): inboxes, policy versions, escalations, send ledger.

Keys (``shared/dal/tables.py``):

* ``NotificationItem`` — pk ``recipient_key``, sk ``created_ms(13)#notification_id``:
  ``<tenant>#_tenant`` is the tenant-wide inbox, ``<tenant>#u:<user>`` a personal inbox and
  ``<tenant>#r:<user>`` the user's read state of the tenant-wide inbox (one *mark* item per
  notification read, same sk, plus a ``watermark`` item: everything created at or before its
  ``read_at_ms`` is read — "mark all read" is one write, whatever the inbox size). User names
  are percent-encoded, so no user name can reach another key. Personal items carry their own
  ``read_at_ms``. Items expire by TTL (``expires_at``); reads skip expired ones.
* ``NotificationPolicyItem`` — pk tenant, sk version (immutable, conditional create).
* ``EscalationItem`` — pk ``tenant#alarm_id``; ``step`` = firings so far; ``updated_at_ms`` is
  the optimistic-concurrency revision (strictly increasing on every write); the sparse GSI
  ``due`` holds only pending items (``due_shard`` / ``due_at_ms``).
* ``DedupeItem`` — the send ledger, keys ``notify#...``: ``processed_at_ms`` 0 = claimed (a
  lease until ``expires_at``), > 0 = sent (remembered for ``dedupe_ttl_hours``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from pynamodb.exceptions import DoesNotExist, UpdateError

from shared.contracts.alarms import AlarmStatus
from shared.contracts.notifications import (
    TENANT_INBOX,
    InAppNotification,
    NotificationPolicy,
    NotificationView,
)
from shared.dal.devices import storage_errors
from shared.dal.tables import (
    AlarmItem,
    DedupeItem,
    EscalationItem,
    NotificationItem,
    NotificationPolicyItem,
    bind_tables,
)
from shared.domain.errors import Conflict
from shared.domain.notifications.escalation import shard_of
from shared.domain.notifications.ports import ClaimResult, EscalationState, StoredEscalation
from shared.settings import get_settings

WATERMARK = "watermark"  # sorts after every ``<13 digits>#...`` key
_PAGE = 100
#: How long a claimed send is protected before another worker may take it over.
CLAIM_LEASE_S = 60


# ---- keys -----------------------------------------------------------------------------------------


def tenant_inbox_key(tenant_id: str) -> str:
    return f"{tenant_id}#{TENANT_INBOX}"


def personal_key(tenant_id: str, user: str) -> str:
    return f"{tenant_id}#u:{quote(user, safe='')}"


def read_state_key(tenant_id: str, user: str) -> str:
    return f"{tenant_id}#r:{quote(user, safe='')}"


def sort_key(created_at_ms: int, notification_id: str) -> str:
    return f"{created_at_ms:013d}#{notification_id}"


def inbox_key(n: InAppNotification) -> str:
    return tenant_inbox_key(n.tenant_id) if n.inbox == TENANT_INBOX else personal_key(n.tenant_id, n.inbox)


def _floor_key(after_ms: int) -> str:
    """Smallest sort key of an item created after ``after_ms``."""
    return f"{after_ms + 1:013d}"


# ---- inbox ------------------------------------------------------------------------------------------


def _view(item: NotificationItem, read_at_ms: int | None) -> NotificationView:
    return NotificationView.model_validate({**item.body, "read": read_at_ms is not None, "read_at_ms": read_at_ms})


class DynamoInbox:
    """Implements ``InboxRepository``."""

    def __init__(self) -> None:
        bind_tables()

    def add(self, notification: InAppNotification, expires_at_s: int) -> bool:
        item = NotificationItem(
            inbox_key(notification),
            sort_key(notification.created_at_ms, notification.notification_id),
            created_at_ms=notification.created_at_ms,
            body=notification.model_dump(mode="json"),
            expires_at=expires_at_s,
        )
        try:
            with storage_errors("notification exists", "notification_exists"):
                item.save(condition=NotificationItem.recipient_key.does_not_exist())
        except Conflict:
            return False
        return True

    # -- reading

    def _watermark(self, tenant_id: str, user: str) -> int:
        with storage_errors("unexpected condition"):
            try:
                item = NotificationItem.get(read_state_key(tenant_id, user), WATERMARK, consistent_read=True)
            except DoesNotExist:
                return 0
        return int(item.read_at_ms or 0)

    @staticmethod
    def _items(
        pk: str, before: str | None, floor: str | None, now_s: int, *, unread_filter: bool = False
    ) -> Iterator[NotificationItem]:
        """Items of one partition, newest first, with ``floor <= sk < before``; expired skipped."""
        hi = before if before is not None else "9" * 13 + "~"  # above every ``<13 digits>#...`` key
        lo = floor if floor is not None else "0"
        cond = NotificationItem.notification_key.between(lo, hi)
        flt: Any = (NotificationItem.expires_at > now_s) | NotificationItem.expires_at.does_not_exist()
        if unread_filter:
            flt = flt & NotificationItem.read_at_ms.does_not_exist()
        with storage_errors("unexpected condition"):
            for item in NotificationItem.query(
                pk, range_key_condition=cond, filter_condition=flt, scan_index_forward=False, page_size=_PAGE
            ):
                if item.notification_key == before or item.notification_key == WATERMARK:
                    continue
                yield item

    def _tenant_views(
        self, tenant_id: str, user: str, before: str | None, watermark: int, now_s: int, *, unread_only: bool
    ) -> Iterator[NotificationView]:
        """Tenant-wide items joined with the user's marks (both newest first: a merge join)."""
        floor = _floor_key(watermark) if unread_only else None
        items = self._items(tenant_inbox_key(tenant_id), before, floor, now_s)
        marks = self._items(read_state_key(tenant_id, user), before, _floor_key(watermark), now_s)
        mark = next(marks, None)
        for item in items:
            while mark is not None and mark.notification_key > item.notification_key:
                mark = next(marks, None)
            read_at: int | None = None
            if mark is not None and mark.notification_key == item.notification_key:
                read_at = int(mark.read_at_ms or 0)
            elif int(item.created_at_ms) <= watermark:
                read_at = watermark
            if unread_only and read_at is not None:
                continue
            yield _view(item, read_at)

    def _personal_views(
        self, tenant_id: str, user: str, before: str | None, watermark: int, now_s: int, *, unread_only: bool
    ) -> Iterator[NotificationView]:
        floor = _floor_key(watermark) if unread_only else None
        for item in self._items(personal_key(tenant_id, user), before, floor, now_s, unread_filter=unread_only):
            read_at = int(item.read_at_ms) if item.read_at_ms is not None else None
            if read_at is None and int(item.created_at_ms) <= watermark:
                read_at = watermark
            yield _view(item, read_at)

    def _merged(
        self, tenant_id: str, user: str, before: str | None, now_ms: int, *, unread_only: bool
    ) -> Iterator[NotificationView]:
        watermark = self._watermark(tenant_id, user)
        now_s = now_ms // 1000
        return heapq.merge(
            self._personal_views(tenant_id, user, before, watermark, now_s, unread_only=unread_only),
            self._tenant_views(tenant_id, user, before, watermark, now_s, unread_only=unread_only),
            key=lambda v: sort_key(v.created_at_ms, v.notification_id),
            reverse=True,
        )

    def page(
        self, tenant_id: str, user: str, *, unread_only: bool, limit: int, before: str | None, now_ms: int
    ) -> tuple[list[NotificationView], str | None]:
        out: list[NotificationView] = []
        more = False
        for view in self._merged(tenant_id, user, before, now_ms, unread_only=unread_only):
            if len(out) == limit:
                more = True
                break
            out.append(view)
        last = out[-1] if out else None
        return out, sort_key(last.created_at_ms, last.notification_id) if more and last else None

    def unread_count(self, tenant_id: str, user: str, cap: int, now_ms: int) -> int:
        count = 0
        for _ in self._merged(tenant_id, user, None, now_ms, unread_only=True):
            count += 1
            if count >= cap:
                break
        return count

    # -- read state

    def mark_read(self, tenant_id: str, user: str, notification_id: str, now_ms: int) -> NotificationView | None:
        created = int(notification_id[1:14])
        sk = sort_key(created, notification_id)
        watermark = self._watermark(tenant_id, user)
        if notification_id.startswith("t"):
            return self._mark_tenant(tenant_id, user, sk, watermark, now_ms)
        with storage_errors("unexpected condition"):
            try:
                item = NotificationItem.get(personal_key(tenant_id, user), sk, consistent_read=True)
            except DoesNotExist:
                return None
            if item.read_at_ms is None:
                if int(item.created_at_ms) <= watermark:
                    return _view(item, watermark)
                try:
                    item.update(
                        actions=[NotificationItem.read_at_ms.set(now_ms)],
                        condition=NotificationItem.read_at_ms.does_not_exist(),
                    )
                except UpdateError:  # read concurrently: keep the first time
                    item.refresh(consistent_read=True)
        return _view(item, int(item.read_at_ms) if item.read_at_ms is not None else now_ms)

    def _mark_tenant(self, tenant_id: str, user: str, sk: str, watermark: int, now_ms: int) -> NotificationView | None:
        with storage_errors("unexpected condition"):
            try:
                item = NotificationItem.get(tenant_inbox_key(tenant_id), sk, consistent_read=True)
            except DoesNotExist:
                return None
        if int(item.created_at_ms) <= watermark:
            return _view(item, watermark)
        mark = NotificationItem(
            read_state_key(tenant_id, user),
            sk,
            created_at_ms=int(item.created_at_ms),
            read_at_ms=now_ms,
            body={},
            expires_at=item.expires_at,
        )
        try:
            with storage_errors("marked already", "already_read"):
                mark.save(condition=NotificationItem.recipient_key.does_not_exist())
        except Conflict:
            with storage_errors("unexpected condition"):
                mark.refresh(consistent_read=True)
        return _view(item, int(mark.read_at_ms or now_ms))

    def mark_all_read(self, tenant_id: str, user: str, up_to_ms: int) -> None:
        key = read_state_key(tenant_id, user)
        item = NotificationItem(key, WATERMARK, created_at_ms=0, read_at_ms=up_to_ms, body={})
        try:
            with storage_errors("watermark is newer", "watermark_newer"):
                item.save(
                    condition=NotificationItem.recipient_key.does_not_exist() | (NotificationItem.read_at_ms < up_to_ms)
                )
        except Conflict:
            pass  # a later "mark all read" already moved it further


# ---- policies -----------------------------------------------------------------------------------------


class DynamoPolicyRepository:
    """Implements ``PolicyRepository``: immutable versions, newest by a descending query."""

    def __init__(self) -> None:
        bind_tables()

    def latest(self, tenant_id: str) -> NotificationPolicy | None:
        with storage_errors("unexpected condition"):
            for item in NotificationPolicyItem.query(tenant_id, scan_index_forward=False, limit=1):
                return NotificationPolicy.model_validate(item.body)
        return None

    def get(self, tenant_id: str, version: int) -> NotificationPolicy | None:
        with storage_errors("unexpected condition"):
            try:
                item = NotificationPolicyItem.get(tenant_id, version)
            except DoesNotExist:
                return None
        return NotificationPolicy.model_validate(item.body)

    def create(self, policy: NotificationPolicy) -> None:
        item = NotificationPolicyItem(
            policy.tenant_id,
            policy.version,
            body=policy.model_dump(mode="json"),
            created_at_ms=policy.created_at_ms,
        )
        with storage_errors(
            f"notification policy version {policy.version} was written concurrently; reload and retry",
            "policy_changed",
        ):
            item.save(condition=NotificationPolicyItem.version.does_not_exist())


# ---- escalations ---------------------------------------------------------------------------------------


def alarm_key(tenant_id: str, alarm_id: str) -> str:
    return f"{tenant_id}#{alarm_id}"


def _stored(item: EscalationItem) -> StoredEscalation:
    state = EscalationState.model_validate(item.body)
    return StoredEscalation(state=state, revision=int(item.updated_at_ms))


class DynamoEscalationRepository:
    """Implements ``EscalationRepository``."""

    def __init__(self) -> None:
        bind_tables()

    def get(self, tenant_id: str, alarm_id: str) -> StoredEscalation | None:
        with storage_errors("unexpected condition"):
            try:
                return _stored(EscalationItem.get(alarm_key(tenant_id, alarm_id), consistent_read=True))
            except DoesNotExist:
                return None

    def save(self, state: EscalationState, *, expected_revision: int | None, now_ms: int) -> None:
        key = alarm_key(state.tenant_id, state.alarm_id)
        due = state.due_at_ms
        revision = now_ms if expected_revision is None else max(now_ms, expected_revision + 1)
        item = EscalationItem(
            key,
            due_shard=shard_of(state.tenant_id, state.alarm_id) if due is not None else None,
            due_at_ms=due,
            step=state.fired,
            updated_at_ms=revision,
            body=state.model_dump(mode="json"),
        )
        condition = (
            EscalationItem.alarm_key.does_not_exist()
            if expected_revision is None
            else EscalationItem.updated_at_ms == expected_revision
        )
        with storage_errors(f"escalation of alarm {state.alarm_id} changed concurrently", "escalation_changed"):
            item.save(condition=condition)

    def due(self, shard: int, now_ms: int, limit: int) -> list[StoredEscalation]:
        with storage_errors("unexpected condition"):
            return [
                _stored(item)
                for item in EscalationItem.due.query(
                    shard, EscalationItem.due_at_ms <= now_ms, limit=limit, page_size=min(limit, _PAGE)
                )
            ]


# ---- send ledger ------------------------------------------------------------------------------------------


class DynamoSendLedger:
    """Implements ``SendLedger`` on the dedupe table (keys ``notify#...``)."""

    def __init__(self) -> None:
        bind_tables()
        self._ttl_s = get_settings().dedupe_ttl_hours * 3600

    def claim(self, key: str, now_ms: int) -> ClaimResult:
        now_s = now_ms // 1000
        item = DedupeItem(key, processed_at_ms=0, expires_at=now_s + CLAIM_LEASE_S)
        lease_expired = (DedupeItem.processed_at_ms == 0) & (DedupeItem.expires_at < now_s)
        try:
            with storage_errors("claimed", "send_claimed"):
                item.save(condition=DedupeItem.message_key.does_not_exist() | lease_expired)
            return ClaimResult.CLAIMED
        except Conflict:
            pass
        with storage_errors("unexpected condition"):
            try:
                existing = DedupeItem.get(key, consistent_read=True)
            except DoesNotExist:  # released in between: let the caller retry later
                return ClaimResult.BUSY
        return ClaimResult.DONE if int(existing.processed_at_ms) > 0 else ClaimResult.BUSY

    def done(self, key: str, now_ms: int) -> None:
        with storage_errors("unexpected condition"):
            DedupeItem(key, processed_at_ms=now_ms, expires_at=now_ms // 1000 + self._ttl_s).save()

    def release(self, key: str) -> None:
        try:
            with storage_errors("not claimed", "send_not_claimed"):
                DedupeItem(key).delete(condition=DedupeItem.processed_at_ms == 0)
        except Conflict:
            pass  # sent meanwhile, or gone


# ---- alarm status -------------------------------------------------------------------------------------------


class DynamoAlarmStatusReader:
    """Implements ``AlarmStatusReader`` from the alarm item's body (``active`` = not yet acknowledged)."""

    def __init__(self) -> None:
        bind_tables()

    def status(self, tenant_id: str, alarm_id: str) -> AlarmStatus | None:
        with storage_errors("unexpected condition"):
            try:
                item = AlarmItem.get(tenant_id, alarm_id, consistent_read=True)
            except DoesNotExist:
                return None
        body = item.body if isinstance(item.body, dict) else {}
        return AlarmStatus(body.get("status") or item.status)
