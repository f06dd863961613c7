"""Who gets what: a policy's targets resolved into recipients per channel (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.contracts.alarms import AlarmLevel
from shared.contracts.notifications import TENANT_INBOX, Channel, Language, NotificationPolicy, Target


@dataclass(frozen=True)
class Recipient:
    """One delivery: a channel and an address (``contact_id`` None = the tenant-wide inbox)."""

    channel: Channel
    address: str
    contact_id: str | None
    language: Language = Language.ZH_CN

    @property
    def label(self) -> str:
        """Stable name of the recipient in keys and timeline entries."""
        return self.contact_id or TENANT_INBOX


def route_targets(policy: NotificationPolicy, level: AlarmLevel) -> list[Target]:
    """Every route that applies to an alarm of ``level`` (``min_level <= level``)."""
    return [r for r in policy.routes if level >= r.min_level]


def recipients(policy: NotificationPolicy, targets: Sequence[Target]) -> list[Recipient]:
    """The union of the targets' deliveries, each (channel, address) once.

    The tenant-wide inbox comes first when any target asks for it; personal in-app copies are
    then skipped, because every user of the tenant reads the tenant-wide inbox anyway."""
    out: list[Recipient] = []
    seen: set[tuple[Channel, str]] = set()
    tenant_inbox = any(t.tenant_inbox for t in targets)
    if tenant_inbox:
        out.append(Recipient(Channel.IN_APP, TENANT_INBOX, None))
        seen.add((Channel.IN_APP, TENANT_INBOX))
    for target in targets:
        for contact_id in target.contacts:
            contact = policy.contact(contact_id)
            if contact is None:  # the policy validator refuses this; stay safe with old versions
                continue
            for channel in target.channels:
                if channel is Channel.IN_APP and tenant_inbox:
                    continue
                address = contact.address(channel)
                if address is None or (channel, address) in seen:
                    continue
                seen.add((channel, address))
                out.append(Recipient(channel, address, contact_id, contact.language))
    return out


def recipient_for(policy: NotificationPolicy, channel: Channel, contact_id: str) -> Recipient | None:
    """Re-resolve a held delivery against the policy (None if the contact or address is gone)."""
    contact = policy.contact(contact_id)
    address = contact.address(channel) if contact else None
    if contact is None or address is None:
        return None
    return Recipient(channel, address, contact_id, contact.language)
