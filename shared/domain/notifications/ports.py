"""Ports of the notification domain and the records that cross them.

Adapters: ``shared.dal.notifications`` (DynamoDB: inbox, policies, escalations, send ledger,
alarm status), ``shared.adapters.channels`` (SES, SNS SMS, Amazon Connect voice, console push
over the IoT data plane), ``infra.local.outbox`` (local mode: every channel also appends to an
outbox file). Unit tests pass in-memory fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.alarms import AlarmLevel, AlarmStatus, ParamValue
from shared.contracts.notifications import (
    Channel,
    InAppNotification,
    Language,
    NotificationKind,
    NotificationPolicy,
    NotificationView,
)
from shared.domain.errors import DomainError
from shared.domain.notifications.messages import AlarmFacts

# ---- errors channels raise -----------------------------------------------------------------------


class DeliveryRejected(DomainError):
    """The provider refused this message for good (bad address, unverified sender, opted out).

    Not retried: the send is recorded as failed with this ``code``. Transient failures
    (throttling, outage) are :class:`shared.domain.errors.Unavailable` and are retried."""

    default_code = "delivery_rejected"


class ChannelNotConfigured(DeliveryRejected):
    """The channel has no provider configured here (e.g. voice without an Amazon Connect instance)."""

    default_code = "channel_not_configured"


# ---- ports ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryRef:
    """Which delivery a send is: its idempotency key (stable across retries) and what it is about."""

    key: str
    tenant_id: str
    alarm_id: str
    kind: NotificationKind
    level: AlarmLevel
    #: For template-only providers (Alibaba Cloud VMS/SMS): the device and the alarm code.
    thing_name: str = ""
    code: str = ""


class Channels(Protocol):
    """External channels, plus a hook told about each in-app delivery (local outbox; no-op in AWS).

    Providers that accept a client token (Amazon Connect) get ``ref.key``. Each send returns the
    provider's message/contact id. Raise :class:`DeliveryRejected` for permanent refusals,
    ``Unavailable`` for transient ones.
    """

    def send_email(self, to: str, subject: str, text: str, *, ref: DeliveryRef) -> str: ...

    def send_sms(self, to: str, text: str, *, ref: DeliveryRef) -> str: ...

    def call(self, to: str, speech: str, language: Language, *, ref: DeliveryRef) -> str: ...

    def in_app(self, notification: NotificationView) -> None: ...


class TimelineSink(Protocol):
    """Records what notifications did on the alarm's timeline ("notified", "escalated").

    ``params`` always carries ``delivery_id`` (or ``escalation_id``), stable across retries, so
    an implementation can derive a deterministic entry id and never duplicate an entry."""

    def add(
        self, tenant_id: str, alarm_id: str, entry_type: str, at_ms: int, params: dict[str, ParamValue]
    ) -> None: ...


class AlarmStatusReader(Protocol):
    """The alarm's current status (``active`` = not yet acknowledged); None if there is no such alarm."""

    def status(self, tenant_id: str, alarm_id: str) -> AlarmStatus | None: ...


class InboxRepository(Protocol):
    """In-app inboxes: a personal inbox per user and the tenant-wide one, read state per user.

    ``before`` is a storage cursor returned by :meth:`page` (the service wraps it in a token)."""

    def add(self, notification: InAppNotification, expires_at_s: int) -> bool:
        """Store once (idempotent); False when it was already stored."""
        ...

    def page(
        self, tenant_id: str, user: str, *, unread_only: bool, limit: int, before: str | None, now_ms: int
    ) -> tuple[list[NotificationView], str | None]: ...

    def mark_read(self, tenant_id: str, user: str, notification_id: str, now_ms: int) -> NotificationView | None: ...

    def mark_all_read(self, tenant_id: str, user: str, up_to_ms: int) -> None: ...

    def unread_count(self, tenant_id: str, user: str, cap: int, now_ms: int) -> int:
        """Unread notifications of the user (personal + tenant-wide), counted up to ``cap``."""
        ...


class PolicyRepository(Protocol):
    def latest(self, tenant_id: str) -> NotificationPolicy | None: ...

    def get(self, tenant_id: str, version: int) -> NotificationPolicy | None: ...

    def create(self, policy: NotificationPolicy) -> None:
        """Store a new version; ``Conflict`` when that version already exists."""
        ...


class ClaimResult(StrEnum):
    CLAIMED = "claimed"  # the caller sends now, then calls done() (or release() on a transient failure)
    DONE = "done"  # already sent
    BUSY = "busy"  # another worker claimed it moments ago


class SendLedger(Protocol):
    """At most one sender per delivery key at a time; a sent key is remembered for days."""

    def claim(self, key: str, now_ms: int) -> ClaimResult: ...

    def done(self, key: str, now_ms: int) -> None: ...

    def release(self, key: str) -> None: ...


# ---- escalation state ----------------------------------------------------------------------------


class EscalationStatus(StrEnum):
    PENDING = "pending"  # waiting for a step, a repeat or the end of quiet hours
    CANCELLED = "cancelled"  # acknowledged or cleared (possibly before its Raised event arrived)
    DONE = "done"  # nothing left to do (chain and repeats exhausted, nothing held)


class HeldDelivery(BaseModel):
    """An external delivery to make later (quiet hours) or again (a transient failure on the timer)."""

    model_config = ConfigDict(extra="forbid")

    key: str
    source: str = Field(default="", description="The event id or <alarm_id>#esc<n> it came from.")
    channel: Channel
    contact_id: str
    kind: NotificationKind
    step: int | None = None
    reason: str | None = None
    attempts: int = 0


class EscalationState(BaseModel):
    """One alarm's notification schedule (stored as the escalation item's body)."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str
    alarm_id: str
    thing_name: str
    level: AlarmLevel
    code: str
    params: dict[str, ParamValue] = Field(default_factory=dict)
    raised_at_ms: int
    policy_version: int = Field(description="The policy in force when the alarm was raised (0 = default).")
    status: EscalationStatus = EscalationStatus.PENDING
    fired: int = Field(default=0, description="Escalation firings so far (chain steps, then repeats).")
    next_fire_ms: int | None = None
    held: list[HeldDelivery] = Field(default_factory=list)
    release_at_ms: int | None = None
    cancel_reason: str | None = None
    applied_events: list[str] = Field(default_factory=list, description="AlarmEscalated event ids already applied.")

    @property
    def facts(self) -> AlarmFacts:
        return AlarmFacts(
            tenant_id=self.tenant_id,
            alarm_id=self.alarm_id,
            thing_name=self.thing_name,
            level=self.level,
            code=self.code,
            params=self.params,
            raised_at_ms=self.raised_at_ms,
        )

    @property
    def due_at_ms(self) -> int | None:
        """When the timer must look at it next (None: not waiting for anything)."""
        if self.status is not EscalationStatus.PENDING:
            return None
        times = [t for t in (self.next_fire_ms, self.release_at_ms if self.held else None) if t is not None]
        return min(times) if times else None


@dataclass(frozen=True)
class StoredEscalation:
    state: EscalationState
    revision: int  # optimistic-concurrency token: pass back to EscalationRepository.save


class EscalationRepository(Protocol):
    def get(self, tenant_id: str, alarm_id: str) -> StoredEscalation | None: ...

    def save(self, state: EscalationState, *, expected_revision: int | None, now_ms: int) -> None:
        """Write the state; ``expected_revision`` None = must not exist yet. ``Conflict`` when it changed."""
        ...

    def due(self, shard: int, now_ms: int, limit: int) -> list[StoredEscalation]:
        """Pending escalations of one shard whose due time is at or before ``now_ms``, earliest first."""
        ...
