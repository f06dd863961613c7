"""Notification contracts: the per-tenant notification policy (versioned) and in-app notifications.

A policy says who hears about an alarm, on which channel, and when (LCM-AL-2, SLW-EW-6):

* ``contacts`` — people with addresses per channel (``user`` = the console user name for
  in-app, ``email``, ``phone`` in E.164 for SMS and voice) and the language their e-mail,
  SMS and voice text is rendered in (default zh-CN);
* ``routes`` — for an alarm of level L, every route with ``min_level <= L`` applies at once
  when the alarm is raised (LCM-AL-1);
* ``escalation`` — for alarms at or above ``escalation.min_level`` (they must be
  acknowledged): while the alarm stays unacknowledged, step i fires ``after_s`` seconds after
  raising, then the last step repeats every ``repeat_interval_s`` up to ``max_repeats`` times;
* ``quiet_hours`` — a local-time window in which e-mail, SMS and voice of alarms *below* level
  3 are held until the window ends (sent then only if the alarm is still unacknowledged);
  level 3 is never held and in-app is always stored at once.

In-app recipients: there is no user directory yet, so in-app notifications go to the
``user`` of each routed contact (a personal inbox) and/or, with ``tenant_inbox``, to the
tenant-wide inbox :data:`TENANT_INBOX` that every user of the tenant reads beside their own.
Read state is per user for both. When a delivery reaches the tenant-wide inbox, personal
in-app copies of the same delivery are skipped (every user already sees it).

Stored text is never a sentence: a notification carries the alarm's ``code`` and ``params``
(rendered as ``alarm.<code>`` at the edge) and its ``kind``.
"""

from __future__ import annotations

import itertools
import re
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from shared.contracts.alarms import AlarmLevel, ParamValue
from shared.contracts.telemetry import Contract

#: The tenant-wide inbox: every user of the tenant reads it beside their personal inbox.
TENANT_INBOX = "_tenant"
CONTACT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
#: Console user names (Cognito user names in practice); the tenant inbox name is refused.
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
EMAIL_PATTERN = r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}$"
HHMM_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
#: Notification ids: ``t`` (tenant inbox) or ``u`` (personal), 13-digit creation ms, 16 hex.
NOTIFICATION_ID_PATTERN = r"^[tu][0-9]{13}[0-9a-f]{16}$"
NOTIFICATION_ID_RE = re.compile(NOTIFICATION_ID_PATTERN)
DEFAULT_TIME_ZONE = "Asia/Shanghai"

ContactId = Annotated[str, Field(pattern=CONTACT_ID_PATTERN)]


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"


#: Channels that leave the platform (held during quiet hours below level 3).
EXTERNAL_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS, Channel.VOICE})


class Language(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai") from exc
    return value


class Contact(Contract):
    """A person (or duty phone) notifications can reach."""

    contact_id: str = Field(pattern=CONTACT_ID_PATTERN, description="Referenced by routes and escalation steps.")
    name: str = Field(min_length=1, max_length=100)
    user: str | None = Field(default=None, pattern=USERNAME_PATTERN, description="Console user name (in-app).")
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    phone: str | None = Field(default=None, pattern=E164_PATTERN, description="E.164, e.g. +8613800138000.")
    language: Language = Language.ZH_CN

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if self.user is None and self.email is None and self.phone is None:
            raise ValueError(f"contact {self.contact_id!r} needs at least one of user, email and phone")
        if self.user == TENANT_INBOX:
            raise ValueError(f"{TENANT_INBOX!r} is the tenant-wide inbox, not a user name")
        return self

    def address(self, channel: Channel) -> str | None:
        """Where ``channel`` reaches this contact (None when the contact has no such address)."""
        if channel is Channel.IN_APP:
            return self.user
        if channel is Channel.EMAIL:
            return self.email
        return self.phone  # SMS and voice


class Target(Contract):
    """Who is notified on which channels; ``tenant_inbox`` also stores it in the tenant-wide inbox."""

    contacts: list[ContactId] = Field(default_factory=list, max_length=50)
    channels: list[Channel] = Field(default_factory=list, max_length=4)
    tenant_inbox: bool = False

    @model_validator(mode="after")
    def _someone(self) -> Target:
        if len(set(self.contacts)) != len(self.contacts):
            raise ValueError("contacts must be unique")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels must be unique")
        if not self.tenant_inbox and not (self.contacts and self.channels):
            raise ValueError("give contacts and channels, or tenant_inbox, or both")
        if bool(self.contacts) != bool(self.channels):
            raise ValueError("contacts and channels go together: give both or neither")
        return self


class Route(Target):
    """Applies to every alarm whose level is at least ``min_level``, at once when raised."""

    min_level: AlarmLevel


class EscalationStep(Target):
    """Fires ``after_s`` seconds after the alarm was raised, if it is still unacknowledged."""

    after_s: int = Field(ge=10, le=7 * 86400)


class EscalationPolicy(Contract):
    min_level: AlarmLevel = Field(
        default=AlarmLevel.LEVEL_1,
        description="Alarms at or above this level must be acknowledged; the chain runs until they are.",
    )
    steps: list[EscalationStep] = Field(default_factory=list, max_length=10)
    repeat_interval_s: int = Field(default=900, ge=60, le=86400, description="Repeat the last step this often.")
    max_repeats: int = Field(default=4, ge=0, le=48, description="Repeats of the last step after the chain.")

    @model_validator(mode="after")
    def _increasing(self) -> EscalationPolicy:
        after = [s.after_s for s in self.steps]
        if any(b <= a for a, b in itertools.pairwise(after)):
            raise ValueError("escalation steps must have strictly increasing after_s")
        return self


class QuietHours(Contract):
    """Local-time window (``start`` inclusive, ``end`` exclusive; may wrap midnight)."""

    start: str = Field(pattern=HHMM_PATTERN, examples=["22:00"])
    end: str = Field(pattern=HHMM_PATTERN, examples=["07:00"])
    time_zone: str = DEFAULT_TIME_ZONE

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_time_zone(value)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end must differ")
        return self


class PolicyDraft(Contract):
    """The body of ``PUT /v1/notification-policy``: becomes the tenant's next policy version."""

    contacts: list[Contact] = Field(default_factory=list, max_length=200)
    routes: list[Route] = Field(default_factory=list, max_length=20)
    escalation: EscalationPolicy = Field(default_factory=EscalationPolicy)
    quiet_hours: QuietHours | None = None
    time_zone: str = Field(default=DEFAULT_TIME_ZONE, description="Times in e-mail/SMS/voice text are shown in it.")
    comment: str = Field(default="", max_length=500)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_time_zone(value)

    @model_validator(mode="after")
    def _consistent(self) -> PolicyDraft:
        by_id = {c.contact_id: c for c in self.contacts}
        if len(by_id) != len(self.contacts):
            raise ValueError("contact_id values must be unique")
        targets: list[tuple[str, Target]] = [(f"routes[{i}]", r) for i, r in enumerate(self.routes)]
        targets += [(f"escalation.steps[{i}]", s) for i, s in enumerate(self.escalation.steps)]
        for where, target in targets:
            for cid in target.contacts:
                contact = by_id.get(cid)
                if contact is None:
                    raise ValueError(f"{where}: unknown contact {cid!r}")
                for channel in target.channels:
                    if contact.address(channel) is None:
                        need = {"in_app": "user", "email": "email"}.get(channel.value, "phone")
                        raise ValueError(f"{where}: contact {cid!r} has no {need} for channel {channel.value}")
        return self


class NotificationPolicy(PolicyDraft):
    """A stored policy version (immutable). Version 0 is the built-in default."""

    tenant_id: str
    version: int = Field(ge=0)
    created_by: str
    created_at_ms: int = Field(ge=0)

    def contact(self, contact_id: str) -> Contact | None:
        return next((c for c in self.contacts if c.contact_id == contact_id), None)


def default_policy(tenant_id: str) -> NotificationPolicy:
    """Used while a tenant has stored no policy.

    Every alarm goes to the tenant-wide inbox at once (the 24 h staffed monitoring sees it,
    SLW-EW-4); alarms of level 1 and above that stay unacknowledged are re-notified there after
    5 minutes and then every 15 minutes, four times. No e-mail/SMS/voice: there are no contacts
    until the tenant adds them.
    """
    return NotificationPolicy(
        tenant_id=tenant_id,
        version=0,
        created_by="system",
        created_at_ms=0,
        routes=[Route(min_level=AlarmLevel.PRE_WARNING, tenant_inbox=True)],
        escalation=EscalationPolicy(
            min_level=AlarmLevel.LEVEL_1,
            steps=[EscalationStep(after_s=300, tenant_inbox=True)],
            repeat_interval_s=900,
            max_repeats=4,
        ),
        comment="built-in default",
    )


# ---- in-app notifications ------------------------------------------------------------------------


class NotificationKind(StrEnum):
    ALARM_RAISED = "alarm_raised"
    ALARM_ESCALATED = "alarm_escalated"  # an escalation step, or an AlarmEscalated event (reason)
    ALARM_REMINDER = "alarm_reminder"  # a repeat of the last step: still not acknowledged
    ALARM_CLEARED = "alarm_cleared"


class InAppNotification(Contract):
    """One notification in one inbox (a user's, or the tenant-wide :data:`TENANT_INBOX`)."""

    notification_id: str = Field(pattern=NOTIFICATION_ID_PATTERN)
    tenant_id: str
    inbox: str = Field(description=f"The user name, or {TENANT_INBOX!r} for the tenant-wide inbox.")
    kind: NotificationKind
    created_at_ms: int
    event_id: str = Field(description="The alarm event (or escalation step) it came from.")
    alarm_id: str
    thing_name: str
    level: AlarmLevel
    code: str = Field(description="Alarm message code, rendered at the edge as alarm.<code>.")
    params: dict[str, ParamValue] = Field(default_factory=dict)
    step: int | None = Field(default=None, description="Escalation step (1-based) for escalations and reminders.")
    reason: str | None = Field(default=None, description="Code, e.g. command_ack_missing, not_acknowledged.")


class NotificationView(InAppNotification):
    """What the inbox API returns and the console stream pushes."""

    read: bool
    read_at_ms: int | None = None


class NotificationPage(Contract):
    items: list[NotificationView]
    next_token: str | None = Field(description="Pass as next_token for the next page; null on the last page.")


class UnreadCount(Contract):
    count: int = Field(ge=0)
    capped: bool = Field(description="True when there are more unread notifications than count (show 'count+').")


class ReadAllResult(Contract):
    read_up_to_ms: int = Field(description="Every notification created at or before this time is now read.")
