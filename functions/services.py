"""Composition root of the alarm, command, notification and fleet services (every function, the API).

Default (AWS): DynamoDB repositories, the IoT data plane for MQTT publishes, EventBridge for
events, SES/SNS/Connect for notification channels. The local stack calls :func:`configure`
to inject its broker publisher and outbox-recording channels; tests inject fakes and call
:func:`reset`. Nothing is built at import time; each service is built once per container.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from shared.domain.messaging import EventPublisher, MqttPublisher
from shared.settings import get_settings

if TYPE_CHECKING:
    from shared.domain.fleet.service import FleetView


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Overrides:
    publisher: MqttPublisher | None = None
    events: EventPublisher | None = None
    channels: Any = None
    clock_ms: Callable[[], int] | None = None


_overrides = _Overrides()


def configure(
    *,
    publisher: MqttPublisher | None = None,
    events: EventPublisher | None = None,
    channels: Any = None,
    clock_ms: Callable[[], int] | None = None,
) -> None:
    """Replace adapters (``None`` keeps the default) and drop every cached service."""
    global _overrides
    _overrides = _Overrides(publisher=publisher, events=events, channels=channels, clock_ms=clock_ms)
    clear_caches()


def reset() -> None:
    """Back to the defaults and re-read the settings (tests, after changing the environment)."""
    from shared.adapters import channels, iot, iot_data
    from shared.adapters import events as events_adapter
    from shared.dal import tables

    configure()
    get_settings.cache_clear()
    tables.bind_tables.cache_clear()
    iot.reset_clients()
    iot_data.reset_clients()
    events_adapter.reset_clients()
    channels.reset_clients()


def clear_caches() -> None:
    for f in (
        mqtt_publisher,
        event_publisher,
        device_directory,
        alarm_store,
        rule_sets,
        cached_rules,
        command_service,
        alarm_pipeline,
        alarm_desk,
        notification_service,
        fleet_view,
    ):
        f.cache_clear()


def clock() -> Callable[[], int]:
    return _overrides.clock_ms or now_ms


# ---- adapters ------------------------------------------------------------------------------------
@cache
def mqtt_publisher() -> MqttPublisher:
    if _overrides.publisher is not None:
        return _overrides.publisher
    from shared.adapters.iot_data import IotDataPublisher

    return IotDataPublisher()


@cache
def event_publisher() -> EventPublisher:
    if _overrides.events is not None:
        return _overrides.events
    from shared.adapters.events import EventBridgePublisher

    return EventBridgePublisher()


@cache
def device_directory() -> Any:
    from shared.dal.device_directory import DynamoDeviceDirectory

    return DynamoDeviceDirectory()


# ---- alarms ----------------------------------------------------------------------------------------
@cache
def alarm_store() -> Any:
    from shared.dal.alarms import DynamoAlarmRepository

    return DynamoAlarmRepository()


def default_rules() -> Any:
    from shared.domain.alarms.default_rules import DEFAULT_RULES, DEFAULT_RULES_VERSION
    from shared.domain.alarms.rulesets import DefaultRules

    return DefaultRules(version=DEFAULT_RULES_VERSION, rules=tuple(DEFAULT_RULES))


class _ScopeTargets:
    """``ScopeTargets`` over the device registry (cached directory: devices and models)."""

    def model_exists(self, tenant_id: str, model_id: str) -> bool:
        from functions.api import wiring

        return wiring.model_registry().resolve(tenant_id, model_id) is not None

    def device_model(self, tenant_id: str, thing_name: str) -> Any:
        from shared.dal.devices import DynamoDeviceRepository

        device = DynamoDeviceRepository().get(tenant_id, thing_name)
        return (device.kind, device.model_id) if device is not None else None


@cache
def rule_sets() -> Any:
    from shared.dal.alarm_rules import DynamoRuleSetRepository
    from shared.domain.alarms.rulesets import RuleSetService

    return RuleSetService(DynamoRuleSetRepository(), _ScopeTargets(), default_rules, clock())


@cache
def cached_rules() -> Any:
    from shared.dal.alarm_rules import DynamoRuleSetRepository
    from shared.domain.alarms.rulesets import CachedRules

    return CachedRules(DynamoRuleSetRepository(), cache(default_rules), get_settings().alarm_rules_cache_s)


class _AlarmObserver:
    """Command outcomes → the alarm pipeline (built lazily: the two services refer to each other)."""

    def on_sent(self, record: Any) -> None:
        alarm_pipeline().on_sent(record)

    def on_ack(self, record: Any) -> None:
        alarm_pipeline().on_ack(record)

    def on_overdue(self, record: Any) -> None:
        alarm_pipeline().on_overdue(record)


def build_command_service(
    *,
    publisher: MqttPublisher,
    clock_ms: Callable[[], int],
    observer: Any = None,
    devices: Any = None,
) -> Any:
    """The command service on DynamoDB (commands, device registry) with the given publisher."""
    from shared.dal.commands import DynamoCommandRepository
    from shared.dal.devices import DynamoDeviceRepository
    from shared.domain.commands.service import CommandService, RegistryDeviceLookup

    return CommandService(
        repo=DynamoCommandRepository(),
        publisher=publisher,
        devices=devices or RegistryDeviceLookup(DynamoDeviceRepository()),
        clock_ms=clock_ms,
        observer=observer,
    )


@cache
def command_service() -> Any:
    return build_command_service(publisher=mqtt_publisher(), clock_ms=clock(), observer=_AlarmObserver())


@cache
def alarm_pipeline() -> Any:
    from shared.domain.alarms.service import AlarmPipeline

    return AlarmPipeline(
        store=alarm_store(),
        rules=cached_rules(),
        commands=command_service(),
        events=event_publisher(),
        console=mqtt_publisher(),
        clock_ms=clock(),
        checkpoint_s=get_settings().alarm_state_checkpoint_s,
    )


@cache
def alarm_desk() -> Any:
    from shared.domain.alarms.desk import AlarmDesk

    return AlarmDesk(store=alarm_store(), events=event_publisher(), console=mqtt_publisher(), clock_ms=clock())


# ---- notifications ---------------------------------------------------------------------------------
class _AlarmTimeline:
    """``TimelineSink`` of the notification service: entries on the alarm's timeline."""

    def add(self, tenant_id: str, alarm_id: str, entry_type: str, at_ms: int, params: dict[str, Any]) -> None:
        from shared.contracts.alarms import TimelineEntry, TimelineEntryType

        key = ":".join(str(params.get(k, "")) for k in ("event_id", "channel", "contact"))
        alarm_store().add_timeline(
            tenant_id,
            TimelineEntry(
                alarm_id=alarm_id,
                entry_id=f"{entry_type}:{key}",
                at_ms=at_ms,
                type=TimelineEntryType(entry_type),
                actor="system",
                params=params,
            ),
        )


def build_notification_service(
    publisher: MqttPublisher | None = None,
    channels: Any = None,
    timeline: Any = None,
    clock_ms: Callable[[], int] = now_ms,
    alarms: Any = None,
) -> Any:
    """The notification service on DynamoDB with ``channels`` (default: SES, SNS SMS, Amazon
    Connect voice). ``publisher`` pushes in-app notifications to the console topic (None: stored
    only); ``timeline`` records what was done on the alarm's timeline (None: logged only)."""
    from shared.dal.notifications import (
        DynamoAlarmStatusReader,
        DynamoEscalationRepository,
        DynamoInbox,
        DynamoPolicyRepository,
        DynamoSendLedger,
    )
    from shared.domain.notifications.service import NotificationService

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


@cache
def notification_service() -> Any:
    return build_notification_service(
        publisher=mqtt_publisher(), channels=_overrides.channels, timeline=_AlarmTimeline(), clock_ms=clock()
    )


# ---- fleet (console read model) --------------------------------------------------------------------
class _LatestStates:
    """``LatestStates`` over :mod:`shared.dal.telemetry_store` (imported on first use)."""

    def latest_of_tenant(self, tenant_id: str, limit: int) -> Iterator[dict[str, Any]]:
        from shared.dal import telemetry_store

        return telemetry_store.latest_of_tenant(tenant_id, limit)


@cache
def fleet_view() -> FleetView:
    from shared.dal.devices import DynamoDeviceRepository
    from shared.domain.fleet.service import FleetView

    return FleetView(
        devices=DynamoDeviceRepository(),
        latest=_LatestStates(),
        alarms=alarm_store(),
        clock_ms=clock(),
        offline_after_ms=get_settings().fleet_offline_after_ms,
    )
