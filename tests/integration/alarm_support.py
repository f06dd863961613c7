"""Builders shared by the alarm integration tests: a storage cabinet of the built-in catalogue on moto,
its uplink records as the topic rule puts them on Kinesis, and recording ports (MQTT, bus, clock).

The recording ports are injected with ``services.configure(publisher=, events=, clock_ms=)``, so a test
asserts what went on the wire and on the bus, not what a function meant to send.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from functions import services
from functions.alarms import handler as alarms_handler
from shared.contracts import topics
from shared.contracts.alarms import TimelineEntry
from shared.contracts.devices import DeviceKind, DeviceModel, DeviceStatus
from shared.contracts.telemetry import Command
from shared.domain.devices.catalogue import BUILT_IN_MODELS
from shared.domain.devices.records import Device
from tests.support.samples import kinesis_event, rule_output

#: A fixed platform time (2025-06-15); tests move their clock from here.
T0 = 1_750_000_000_000
#: The second-life LFP cabinet of the catalogue: 48 cells, 16 probes, 45 °C maximum.
CABINET: DeviceModel = next(m for m in BUILT_IN_MODELS if m.model_id == "sl-cab-lfp-48s")
#: How long after its device time a record reaches the platform (server time = device time + this).
ARRIVAL_DELAY_MS = 150


class Clock:
    """The platform clock the services read (``clock_ms``); tests set ``now``."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class RecordingPublisher:
    """``MqttPublisher`` that keeps every publish (topic, payload) in order."""

    published: list[tuple[str, bytes]] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.published.append((topic, payload))

    def commands(self, tenant: str | None = None, thing: str | None = None) -> list[Command]:
        """Commands on device command topics (``…/down/cmd``), optionally of one device."""
        out = []
        for topic, payload in self.published:
            parsed = topics.parse(topic) if topic.startswith(f"{topics.ROOT}/{topics.VERSION}/") else None
            if parsed is None or parsed.direction is not topics.Direction.DOWN:
                continue
            if (tenant is None or parsed.tenant == tenant) and (thing is None or parsed.thing == thing):
                out.append(Command.model_validate_json(payload))
        return out

    def console(self, tenant: str, stream: topics.ConsoleStream) -> list[dict[str, Any]]:
        topic = topics.console(tenant, stream)
        return [json.loads(p) for t, p in self.published if t == topic]


@dataclass
class RecordingEvents:
    """``EventPublisher`` that keeps every bus event as (source, detail-type, detail)."""

    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def put(self, source: str, detail_type: str, details: Any) -> None:
        self.events.extend((source, detail_type, json.loads(json.dumps(d))) for d in details)

    def of(self, detail_type: str, alarm_id: str | None = None) -> list[dict[str, Any]]:
        return [
            d
            for _, t, d in self.events
            if t == detail_type and (alarm_id is None or d["alarm"]["alarm_id"] == alarm_id)
        ]


@dataclass
class Ports:
    clock: Clock
    mqtt: RecordingPublisher
    events: RecordingEvents

    def install(self) -> None:
        """Inject the ports (drops every cached service: the next call builds them cold)."""
        services.configure(publisher=self.mqtt, events=self.events, clock_ms=self.clock)


def create_tables(*models: Any) -> None:
    """Create only the tables a test needs (table creation dominates the runtime on moto)."""
    from shared.dal.tables import bind_tables

    bind_tables()
    for model in models:
        model.create_table(billing_mode="PAY_PER_REQUEST", wait=False)


def alarm_tables() -> tuple[Any, ...]:
    from shared.dal.tables import (
        AlarmItem,
        AlarmRuleSetItem,
        AlarmStateItem,
        AlarmTimelineItem,
        CommandItem,
        DeviceItem,
        DeviceModelItem,
    )

    return (DeviceItem, DeviceModelItem, AlarmItem, AlarmTimelineItem, AlarmStateItem, AlarmRuleSetItem, CommandItem)


def seed_catalogue() -> None:
    """The built-in models in the ``_platform`` partition, as the API seeds them at cold start."""
    from shared.dal.device_models import DynamoDeviceModelRepository
    from shared.domain.devices.service import DeviceModelRegistry

    DeviceModelRegistry(DynamoDeviceModelRepository(), clock=lambda: T0).seed_catalogue()


def register(tenant: str, thing: str, model: DeviceModel = CABINET, status: DeviceStatus = DeviceStatus.ACTIVE) -> None:
    """A device of the registry (what provisioning leaves behind, minus the IoT certificate)."""
    from shared.dal.devices import DynamoDeviceRepository

    DynamoDeviceRepository().create(
        Device(
            tenant_id=tenant,
            thing_name=thing,
            kind=model.kind,
            model_id=model.model_id,
            serial_number=f"SN-{thing}",
            status=status,
            created_at_ms=T0,
            updated_at_ms=T0,
        )
    )


def cabinet_body(seq: int, ts: int, **readings: Any) -> dict[str, Any]:
    """A healthy cabinet sample of the catalogue model (every default rule quiet); ``readings`` override."""
    assert CABINET.kind is DeviceKind.STORAGE_CABINET
    body: dict[str, Any] = {
        "kind": "storage_cabinet",
        "boot_id": "boot-1",
        "seq": seq,
        "device_ts_ms": ts,
        "pack_voltage_v": 158.4,
        "current_a": 12.5,
        "soc_pct": 70.0,
        "insulation_resistance_kohm": 5200.0,
        "cell_voltages_v": [3.30] * CABINET.cell_count,
        "probe_temperatures_c": [25.0] * CABINET.probe_count,
        "state": "discharging",
        "h2_ppm": 5.0,
        "co_ppm": 3.0,
        "smoke_detected": False,
        "flame_detected": False,
        "water_ingress": False,
        "door_open": False,
        "module_pressure_kpa": 101.3,
        "breaker_closed": True,
    }
    body.update(readings)
    return body


@dataclass
class Feed:
    """One cabinet's uplink: builds its rule outputs (sequence numbers count up) and runs the alarms handler."""

    tenant: str
    thing: str
    clock: Clock
    seq: int = 0
    kinesis_seq: int = 1000

    def telemetry(self, ts: int, **readings: Any) -> bytes:
        self.seq += 1
        topic = topics.uplink(self.tenant, self.thing, topics.UpType.TELEMETRY)
        return rule_output(topic, cabinet_body(self.seq, ts, **readings), arrival_ms=ts + ARRIVAL_DELAY_MS)

    def ack(self, ts: int, command_id: str, status: str = "executed", reason: str | None = None) -> bytes:
        self.seq += 1
        body = {
            "kind": "ack",
            "boot_id": "boot-1",
            "seq": self.seq,
            "device_ts_ms": ts,
            "command_id": command_id,
            "status": status,
            "reason": reason,
        }
        return rule_output(
            topics.uplink(self.tenant, self.thing, topics.UpType.ACK), body, arrival_ms=ts + ARRIVAL_DELAY_MS
        )

    def batch(self, *records: bytes) -> dict[str, Any]:
        """A Kinesis batch of these records (fresh sequence numbers)."""
        event = kinesis_event(list(records), start_seq=self.kinesis_seq)
        self.kinesis_seq += len(records)
        return event

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run the alarms Lambda on a batch, the platform clock at the newest record's arrival."""
        arrivals = [json.loads(_data(r))["arrival_ms"] for r in event["Records"]]
        self.clock.now = max(self.clock.now, *arrivals)
        return alarms_handler.handler(event, None)

    def send(self, *records: bytes) -> dict[str, Any]:
        return self.deliver(self.batch(*records))

    def samples(self, start: int, count: int, step_ms: int = 1000, **readings: Any) -> list[bytes]:
        return [self.telemetry(start + i * step_ms, **readings) for i in range(count)]


def _data(record: dict[str, Any]) -> bytes:
    import base64

    return base64.b64decode(record["kinesis"]["data"])


def alarms_of(tenant: str, thing: str | None = None) -> list[Any]:
    """Every alarm of a tenant (optionally one device), newest first, straight from the store."""
    from shared.domain.alarms.ports import AlarmQuery

    page = services.alarm_store().query(tenant, AlarmQuery(thing_name=thing), 100, None)
    return list(page.items)


def timeline_of(tenant: str, alarm_id: str) -> list[TimelineEntry]:
    return sorted(services.alarm_store().timeline(tenant, alarm_id), key=lambda e: (e.at_ms, e.entry_id))


def command_records(tenant: str, thing: str) -> list[Any]:
    from shared.dal.commands import DynamoCommandRepository

    items, _ = DynamoCommandRepository().list_for_device(tenant, thing, 100, None)
    return list(items)
