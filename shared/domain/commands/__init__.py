"""Device commands: record, publish, track to the ack, expire (SLW-CTL-1/2, SLW-IF-1, SLW-PR-1..4)."""

from shared.domain.commands.params import validate_params
from shared.domain.commands.ports import CommandObserver, CommandRepository, DeviceLookup
from shared.domain.commands.records import SendCommand
from shared.domain.commands.service import CommandService, command_id_for

__all__ = [
    "CommandObserver",
    "CommandRepository",
    "CommandService",
    "DeviceLookup",
    "SendCommand",
    "command_id_for",
    "validate_params",
]
