"""Notification routes (LCM-AL-2, SLW-EW-6): the caller's in-app inbox (personal + tenant-wide,
read state per user) and the tenant's notification policy (current version; PUT a new one).

Views are thin; :class:`shared.domain.notifications.NotificationService` decides (tenant from
the token, roles, pagination, policy validation).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from functions import services
from functions.api.app import app
from functions.api.http import Call, RouteDoc, endpoint
from shared.contracts.notifications import (
    NotificationPage,
    NotificationPolicy,
    NotificationView,
    PolicyDraft,
    ReadAllResult,
    UnreadCount,
)
from shared.domain.auth import Action
from shared.domain.devices.paging import DEFAULT_LIMIT, MAX_LIMIT

INBOX = ("notifications",)
POLICY = ("notification-policy",)


class NotificationListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unread_only: bool = Field(default=False, description="Only notifications the caller has not read.")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Page size, 1..{MAX_LIMIT}.")
    next_token: str | None = Field(default=None, max_length=512, description="Opaque token from the previous page.")


@endpoint(
    app,
    RouteDoc(
        "/v1/notifications",
        "GET",
        "The caller's notifications, newest first: their own inbox and the tenant-wide one (paginated)",
        NotificationPage,
        query=NotificationListQuery,
        action=Action.READ,
        tags=INBOX,
    ),
)
def list_notifications(call: Call) -> NotificationPage:
    q = call.query(NotificationListQuery)
    return services.notification_service().inbox(call.principal, q.unread_only, q.limit, q.next_token)


@endpoint(
    app,
    RouteDoc(
        "/v1/notifications/unread-count",
        "GET",
        "How many of the caller's notifications are unread (for the badge; capped at 999)",
        UnreadCount,
        action=Action.READ,
        tags=INBOX,
        errors=(401, 403),
    ),
)
def unread_notifications(call: Call) -> UnreadCount:
    return services.notification_service().unread_count(call.principal)


@endpoint(
    app,
    RouteDoc(
        "/v1/notifications/{notification_id}/read",
        "POST",
        "Mark one notification read for the caller (idempotent: the first read time is kept)",
        NotificationView,
        action=Action.READ,
        tags=INBOX,
        errors=(401, 403, 404, 503),
    ),
)
def read_notification(call: Call, notification_id: str) -> NotificationView:
    return services.notification_service().mark_read(call.principal, notification_id)


@endpoint(
    app,
    RouteDoc(
        "/v1/notifications/read-all",
        "POST",
        "Mark every notification the caller can see as read, up to now (one write, whatever the count)",
        ReadAllResult,
        action=Action.READ,
        tags=INBOX,
        errors=(401, 403, 503),
    ),
)
def read_all_notifications(call: Call) -> ReadAllResult:
    return services.notification_service().mark_all_read(call.principal)


@endpoint(
    app,
    RouteDoc(
        "/v1/notification-policy",
        "GET",
        "The tenant's current notification policy (version 0 = the built-in default)",
        NotificationPolicy,
        action=Action.READ,
        tags=POLICY,
        errors=(401, 403),
    ),
)
def get_notification_policy(call: Call) -> NotificationPolicy:
    return services.notification_service().get_policy(call.principal)


@endpoint(
    app,
    RouteDoc(
        "/v1/notification-policy",
        "PUT",
        "Store a new version of the tenant's notification policy: contacts, routes by level, escalation "
        "chain with repeats, quiet hours (never for level 3); returns the stored version",
        NotificationPolicy,
        request=PolicyDraft,
        action=Action.MANAGE_NOTIFICATIONS,
        tags=POLICY,
        errors=(400, 401, 403, 409, 422, 503),
    ),
)
def put_notification_policy(call: Call) -> NotificationPolicy:
    return services.notification_service().put_policy(call.principal, call.body(PolicyDraft))
