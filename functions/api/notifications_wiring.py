"""Composition root of the notification service for the API (inbox and policy routes).

The routes never create notifications, so the service is built without a console publisher
and with the default channels (never called here; their boto3 clients are built lazily).
Tests call :func:`reset` after changing the environment. Nothing here runs at import time.
"""

from __future__ import annotations

from functools import cache

from shared.domain.notifications import NotificationService
from shared.settings import get_settings


@cache
def notification_service() -> NotificationService:
    from shared.domain.notifications.wiring import build_notification_service

    return build_notification_service(publisher=None)


def reset() -> None:
    """Drop the cached service and re-read the settings and table bindings."""
    from shared.dal import tables

    notification_service.cache_clear()
    get_settings.cache_clear()
    tables.bind_tables.cache_clear()
