"""Builds a :class:`CommandService` on its production adapters (the composition roots call this).

The storage adapters are imported on first call, never at import time, so the domain modules of
this context stay free of pynamodb; ``functions.api.commands_wiring`` (API) and
``functions.services`` (alarm pipeline, timers) both build the service here.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.contracts.devices import DeviceStatus
from shared.domain.commands.ports import CommandObserver, DeviceLookup
from shared.domain.commands.service import CommandService
from shared.domain.devices.ports import DeviceRepository
from shared.domain.messaging import MqttPublisher


class RegistryDeviceLookup:
    """``DeviceLookup`` over the device repository (consistent reads: a revocation counts at once)."""

    def __init__(self, devices: DeviceRepository) -> None:
        self._devices = devices

    def status(self, tenant_id: str, thing_name: str) -> DeviceStatus | None:
        device = self._devices.get(tenant_id, thing_name)
        return device.status if device is not None else None


def build_command_service(
    *,
    publisher: MqttPublisher,
    clock_ms: Callable[[], int],
    observer: CommandObserver | None = None,
    devices: DeviceLookup | None = None,
) -> CommandService:
    """The service on DynamoDB (commands, device registry) with the given publisher and observer."""
    from shared.dal.commands import DynamoCommandRepository
    from shared.dal.devices import DynamoDeviceRepository

    return CommandService(
        repo=DynamoCommandRepository(),
        publisher=publisher,
        devices=devices or RegistryDeviceLookup(DynamoDeviceRepository()),
        clock_ms=clock_ms,
        observer=observer,
    )
