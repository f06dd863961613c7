"""The timers Lambda on moto (``run_sweeps``): protective commands without an ack escalate their alarm, and devices
gone silent raise the loss-of-communication alarm, which their next message clears."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from functions import services
from functions.timers.handler import run_sweeps
from shared.contracts.alarms import AlarmLevel, AlarmStatus, SilenceCondition
from shared.contracts.commands import CommandStatus
from shared.domain.alarms.default_rules import DEFAULT_RULES
from tests.integration.alarm_support import (
    ARRIVAL_DELAY_MS,
    T0,
    Clock,
    Feed,
    Ports,
    RecordingEvents,
    RecordingPublisher,
    alarm_tables,
    alarms_of,
    command_records,
    create_tables,
    register,
    seed_catalogue,
    timeline_of,
)

TENANT, THING = "acme", "cab-0001"
#: The default loss-of-communication rule (the only silence rule of the defaults).
SILENCE = next(r for r in DEFAULT_RULES if isinstance(r.condition, SilenceCondition))
AFTER_S = next(r.condition.after_s for r in DEFAULT_RULES if isinstance(r.condition, SilenceCondition))
SILENCE_MS = int(AFTER_S * 1000)


class NoChannels:
    """Notification channels that must not be used: no escalation is due in these tests."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"notification channel {name} used")


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """moto with the alarm, command and escalation tables and the catalogue, once per module."""
    from shared.dal.tables import EscalationItem

    with pytest.MonkeyPatch.context() as mp, mock_aws():
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        services.reset()
        create_tables(*alarm_tables(), EscalationItem)
        seed_catalogue()
        yield
        services.reset()


@pytest.fixture
def ports(aws: None) -> Iterator[Ports]:
    """Every sweep reads whole indexes: each test starts with no device state, alarm or command of another."""
    from shared.dal.tables import AlarmItem, AlarmStateItem, AlarmTimelineItem, CommandItem, DeviceItem

    for model in (DeviceItem, AlarmItem, AlarmTimelineItem, AlarmStateItem, CommandItem):
        with model.batch_write() as batch:
            for item in model.scan():
                batch.delete(item)
    register(TENANT, THING)
    p = Ports(Clock(), RecordingPublisher(), RecordingEvents())
    services.configure(publisher=p.mqtt, events=p.events, channels=NoChannels(), clock_ms=p.clock)
    yield p
    services.configure()


@pytest.fixture
def feed(ports: Ports) -> Feed:
    return Feed(TENANT, THING, ports.clock)


def sweep(ports: Ports, now_ms: int) -> dict[str, int]:
    """One timer run at ``now_ms`` (the platform clock reads the same time, as in AWS)."""
    ports.clock.now = now_ms
    return run_sweeps(now_ms)


def only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def test_a_cut_off_without_ack_escalates_its_alarm_once(ports: Ports, feed: Feed) -> None:
    """SLW-PR-4, SLW-EW-4, LCM-AL-3: a cut_off not acked by its deadline (15 s) makes the timer escalate the alarm:
    timeline `escalated` (command_ack_missing) and AlarmEscalated on the bus; later runs, up to and past the command's
    expiry (then expired), do not escalate again."""
    assert feed.send(*feed.samples(T0, 3, water_ingress=True)) == {"batchItemFailures": []}
    alarm = only(alarms_of(TENANT, THING))
    cut = only(ports.mqtt.commands())
    deadline = cut.issued_at_ms + 15_000

    assert sweep(ports, deadline - 1) == {"commands_overdue": 0, "escalations": 0, "silence_alarms": 0}
    assert ports.events.of("AlarmEscalated") == []
    assert sweep(ports, deadline)["commands_overdue"] == 1

    escalated = only([e for e in timeline_of(TENANT, alarm.alarm_id) if e.type.value == "escalated"])
    assert (escalated.params, escalated.actor, escalated.at_ms) == (
        {"reason": "command_ack_missing"},
        "system",
        deadline,
    )
    event = only(ports.events.of("AlarmEscalated", alarm.alarm_id))
    assert (
        event["reason"] == "command_ack_missing"
        and event["event_id"] == f"{alarm.alarm_id}:escalated:cmd:{cut.command_id}"
    )
    assert only(command_records(TENANT, THING)).status is CommandStatus.SENT

    sweep(ports, deadline + 60_000)  # past the 30 s expiry
    assert only(command_records(TENANT, THING)).status is CommandStatus.EXPIRED
    assert sweep(ports, deadline + 120_000)["commands_overdue"] == 0
    assert len(ports.events.of("AlarmEscalated")) == 1
    types = [e.type.value for e in timeline_of(TENANT, alarm.alarm_id)]
    assert types.count("escalated") == 1
    assert types.count("command_expired") == 1  # the platform's expiry is on the timeline too


def test_an_acked_cut_off_never_escalates(ports: Ports, feed: Feed) -> None:
    """SLW-PR-4, SLW-IF-1: a cut_off acked in time leaves the open-command index; the timer finds nothing."""
    feed.send(*feed.samples(T0, 3, smoke_detected=True))
    cut = only(ports.mqtt.commands())
    feed.send(feed.ack(T0 + 3000, cut.command_id))
    assert sweep(ports, cut.issued_at_ms + 60_000) == {"commands_overdue": 0, "escalations": 0, "silence_alarms": 0}
    assert ports.events.of("AlarmEscalated") == []


def test_a_silent_cabinet_raises_communication_lost_once_and_its_next_message_clears_it(
    ports: Ports, feed: Feed
) -> None:
    """SLW-IF-1, SLW-EW-4, LCM-AL-1, LCM-AL-3: a cabinet whose engine state was saved with its last message long ago is
    found by the timer after the rule's silence (300 s) and gets one level-1 communication_lost alarm (params: how long,
    the rule's after_s, the last arrival); later runs do not raise it again; its next message clears it (system,
    AlarmCleared) and puts the device back under watch, so a second silence is a new alarm."""
    assert SILENCE.rule_id == "communication_lost" and SILENCE.level is AlarmLevel.LEVEL_1
    feed.send(feed.telemetry(T0))
    feed.send(feed.telemetry(T0 + 61_000))  # past the 60 s checkpoint: the engine state is written
    last = T0 + 61_000 + ARRIVAL_DELAY_MS

    assert sweep(ports, last + SILENCE_MS - 1)["silence_alarms"] == 0
    assert sweep(ports, last + SILENCE_MS)["silence_alarms"] == 1
    alarm = only(alarms_of(TENANT, THING))
    assert (alarm.rule_id, alarm.level, alarm.status) == ("communication_lost", AlarmLevel.LEVEL_1, AlarmStatus.ACTIVE)
    assert alarm.params == {
        "silent_s": SILENCE_MS / 1000,
        "after_s": AFTER_S,
        "last_arrival_ms": last,
    }
    assert alarm.raised_at_ms == last + SILENCE_MS and alarm.trigger == []
    assert [d["alarm"]["alarm_id"] for d in ports.events.of("AlarmRaised")] == [alarm.alarm_id]
    assert ports.mqtt.commands() == []  # the rule has no protective action

    assert sweep(ports, last + SILENCE_MS + 60_000)["silence_alarms"] == 0
    assert sweep(ports, last + 2 * SILENCE_MS)["silence_alarms"] == 0
    assert len(alarms_of(TENANT, THING)) == 1

    back = last + 2 * SILENCE_MS + 10_000
    assert feed.send(feed.telemetry(back)) == {"batchItemFailures": []}
    cleared = only(alarms_of(TENANT, THING))
    assert (cleared.status, cleared.cleared_by, cleared.clear_reason) == (
        AlarmStatus.CLEARED,
        "system",
        "condition_gone",
    )
    assert [d["alarm"]["alarm_id"] for d in ports.events.of("AlarmCleared")] == [alarm.alarm_id]
    assert services.alarm_store().active_alarm_id(TENANT, THING, SILENCE.rule_id) is None

    assert sweep(ports, back + ARRIVAL_DELAY_MS + SILENCE_MS)["silence_alarms"] == 1
    assert [a.status for a in alarms_of(TENANT, THING)] == [AlarmStatus.ACTIVE, AlarmStatus.CLEARED]


def test_a_device_never_heard_from_is_not_silent(ports: Ports) -> None:
    """SLW-IF-1, SLW-EW-4: a registered cabinet that never sent anything has nothing to lose: no alarm, however late."""
    assert sweep(ports, T0 + 7 * 86_400_000)["silence_alarms"] == 0
    assert alarms_of(TENANT, THING) == []


def test_a_decommissioned_cabinet_does_not_raise_communication_lost(ports: Ports, feed: Feed) -> None:
    """SLW-IF-1, LCM-AL-1: a cabinet taken out of service stops talking on purpose; the timer raises no loss-of-
    communication alarm for it."""
    from shared.contracts.devices import DeviceStatus
    from shared.dal.devices import DynamoDeviceRepository

    feed.send(feed.telemetry(T0))
    feed.send(feed.telemetry(T0 + 61_000))  # engine state written with the last arrival
    devices = DynamoDeviceRepository()
    device = devices.get(TENANT, THING)
    assert device is not None
    retired = device.model_copy(update={"status": DeviceStatus.DECOMMISSIONED, "updated_at_ms": T0 + 70_000})
    devices.replace(retired, expected_status="active")
    services.configure(publisher=ports.mqtt, events=ports.events, channels=NoChannels(), clock_ms=ports.clock)

    assert sweep(ports, T0 + 61_000 + ARRIVAL_DELAY_MS + SILENCE_MS)["silence_alarms"] == 0
    assert alarms_of(TENANT, THING) == []

    assert (TENANT, THING) not in services.alarm_store().silent_devices(T0 + 86_400_000)


def test_a_short_tenant_silence_is_cleared_by_the_next_message_of_a_warm_pipeline(ports: Ports, feed: Feed) -> None:
    """SLW-IF-1, SLW-WEB-3, LCM-AL-1: with a tenant loss-of-communication rule of 30 s (the shortest allowed), the
    timer raises it after 30 s of silence and the cabinet's very next message clears it, although the alarms
    function stayed warm and last wrote the engine state less than a checkpoint (60 s) ago."""
    from shared.contracts.alarms import RuleSetVersion
    from shared.dal.alarm_rules import DynamoRuleSetRepository

    short = SILENCE.model_copy(update={"condition": SilenceCondition(after_s=30)})
    DynamoRuleSetRepository().create(
        RuleSetVersion(
            tenant_id=TENANT,
            scope="tenant",
            version=1,
            rules=[short],
            disabled=[],
            comment="30 s",
            created_by="ada",
            created_at_ms=T0,
        )
    )
    feed.send(feed.telemetry(T0))
    feed.send(feed.telemetry(T0 + 61_000))  # past the checkpoint: the engine state is written
    last = T0 + 61_000 + ARRIVAL_DELAY_MS
    assert sweep(ports, last + 31_000)["silence_alarms"] == 1
    alarm = only(alarms_of(TENANT, THING))
    assert (alarm.rule_id, alarm.rule_version, alarm.params["after_s"]) == (
        "communication_lost",
        "default@1+tenant@1",
        30,
    )

    assert feed.send(feed.telemetry(last + 35_000)) == {"batchItemFailures": []}
    cleared = only(alarms_of(TENANT, THING))
    assert (cleared.status, cleared.cleared_by) == (AlarmStatus.CLEARED, "system")
