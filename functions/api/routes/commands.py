"""Command routes (SLW-CTL-1/2, SLW-IF-1): send an operator command with a reason, follow it to the ack.

Views are thin; :class:`shared.domain.commands.CommandService` decides (role, tenant, device
state, parameters, idempotency).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from functions import services
from functions.api.app import app
from functions.api.http import Call, RouteDoc, endpoint
from functions.api.schemas import PageQuery
from shared.contracts.commands import CommandRecord
from shared.domain.auth import Action
from shared.domain.commands import SendCommand

TAGS = ("commands",)


class CommandList(BaseModel):
    items: list[CommandRecord] = Field(description="Newest first.")
    next_token: str | None = Field(description="Pass as next_token for the next page; null on the last page.")


@endpoint(
    app,
    RouteDoc(
        "/v1/devices/{thing_name}/commands",
        "POST",
        "Send a command to an active device (restart, fault reset, cut-off, stop charge/discharge, "
        "reporting interval, set parameters) with a reason; recorded, published at once, tracked to the "
        "ack. A retry with the same idempotency_key returns the same command (201) and never sends it twice",
        CommandRecord,
        status=201,
        request=SendCommand,
        action=Action.SEND_COMMANDS,
        tags=TAGS,
        errors=(400, 401, 403, 404, 409, 422, 503),
    ),
)
def send_command(call: Call, thing_name: str) -> CommandRecord:
    return services.command_service().send_operator_command(call.principal, thing_name, call.body(SendCommand))


@endpoint(
    app,
    RouteDoc(
        "/v1/devices/{thing_name}/commands",
        "GET",
        "A device's commands, newest first (paginated)",
        CommandList,
        query=PageQuery,
        action=Action.READ,
        tags=TAGS,
    ),
)
def list_device_commands(call: Call, thing_name: str) -> CommandList:
    q = call.query(PageQuery)
    items, token = services.command_service().list_for_device(call.principal, thing_name, q.limit, q.next_token)
    return CommandList(items=items, next_token=token)


@endpoint(
    app,
    RouteDoc(
        "/v1/commands/{command_id}", "GET", "One command and its status", CommandRecord, action=Action.READ, tags=TAGS
    ),
)
def get_command(call: Call, command_id: str) -> CommandRecord:
    return services.command_service().get(call.principal, command_id)
