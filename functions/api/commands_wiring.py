"""Composition root of the command service (API; reusable by the ack and sweep functions).

Default (AWS): DynamoDB command records, the device registry in DynamoDB, publishes through the
IoT data plane, no observer. The local stack calls :func:`configure` to publish on its broker
(``infra.local.publisher.BrokerPublisher``) and to plug in the alarm service as observer; tests
inject fakes and call :func:`reset`. Nothing here runs at import time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from shared.domain.commands import CommandObserver, CommandService
from shared.domain.messaging import MqttPublisher
from shared.settings import get_settings


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class _Overrides:
    publisher: MqttPublisher | None = None
    observer: CommandObserver | None = None
    clock_ms: Callable[[], int] | None = None


_overrides = _Overrides()


def configure(
    *,
    publisher: MqttPublisher | None = None,
    observer: CommandObserver | None = None,
    clock_ms: Callable[[], int] | None = None,
) -> None:
    """Replace adapters (``None`` keeps the default) and drop the cached service."""
    global _overrides
    _overrides = _Overrides(publisher=publisher, observer=observer, clock_ms=clock_ms)
    command_service.cache_clear()


def reset() -> None:
    """Back to the defaults and re-read the settings (tests, after changing the environment)."""
    from shared.adapters import iot_data
    from shared.dal import tables

    configure()
    get_settings.cache_clear()
    tables.bind_tables.cache_clear()
    iot_data.reset_clients()


@cache
def command_service() -> CommandService:
    from shared.domain.commands.wiring import build_command_service

    o = _overrides
    if o.publisher is not None:
        publisher = o.publisher
    else:
        from shared.adapters.iot_data import IotDataPublisher

        publisher = IotDataPublisher()
    return build_command_service(publisher=publisher, clock_ms=o.clock_ms or now_ms, observer=o.observer)
