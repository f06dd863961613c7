"""Notifications: routing by level and per-tenant policy, channels, escalation, in-app inbox.

See ``docs/notifications.md``. The service takes its ports as arguments; the wired,
DynamoDB-backed service comes from ``functions.services.build_notification_service``.
"""

from shared.domain.notifications.ports import (
    AlarmStatusReader,
    ChannelNotConfigured,
    Channels,
    DeliveryRejected,
    TimelineSink,
)
from shared.domain.notifications.service import DeliveryOutcome, EventOutcome, NotificationService, NoTimeline

__all__ = [
    "AlarmStatusReader",
    "ChannelNotConfigured",
    "Channels",
    "DeliveryOutcome",
    "DeliveryRejected",
    "EventOutcome",
    "NoTimeline",
    "NotificationService",
    "TimelineSink",
]
