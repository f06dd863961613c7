"""Builds a :class:`NotificationService` on its production adapters (composition roots call this).

Storage and channel adapters are imported on first call, never at import time, so the domain
modules stay free of pynamodb and boto3. ``functions.services`` (notification and timer
functions) and ``functions.api.notifications_wiring`` (inbox and policy routes) build it here.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.domain.messaging import MqttPublisher
from shared.domain.notifications.ports import AlarmStatusReader, Channels, TimelineSink
from shared.domain.notifications.service import NotificationService, now_ms


def build_notification_service(
    publisher: MqttPublisher | None = None,
    channels: Channels | None = None,
    timeline: TimelineSink | None = None,
    clock_ms: Callable[[], int] = now_ms,
    alarms: AlarmStatusReader | None = None,
) -> NotificationService:
    """The service on DynamoDB with ``channels`` (default: SES, SNS SMS, Amazon Connect voice).

    ``publisher`` pushes in-app notifications to the console topic (None: stored only, e.g. for
    the API, which never creates notifications); ``timeline`` records what was done on the
    alarm's timeline (None: logged only)."""
    from shared.dal.notifications import (
        DynamoAlarmStatusReader,
        DynamoEscalationRepository,
        DynamoInbox,
        DynamoPolicyRepository,
        DynamoSendLedger,
    )

    if channels is None:
        from shared.adapters.channels import default_channels

        channels = default_channels()
    return NotificationService(
        inbox=DynamoInbox(),
        policies=DynamoPolicyRepository(),
        escalations=DynamoEscalationRepository(),
        ledger=DynamoSendLedger(),
        alarms=alarms or DynamoAlarmStatusReader(),
        channels=channels,
        publisher=publisher,
        timeline=timeline,
        clock_ms=clock_ms,
    )
