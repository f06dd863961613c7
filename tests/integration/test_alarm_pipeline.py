"""The alarms Lambda on moto: Kinesis batch → validation → rule engine → alarm records, protective commands on the
wire, timeline, bus events; engine state in DynamoDB (redelivery, retries and cold starts change nothing twice)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions import services
from shared.contracts import topics
from shared.contracts.alarms import ALARM_EVENT_PATTERN, ALARM_EVENT_SOURCE, AlarmLevel, AlarmStatus
from shared.contracts.commands import CommandStatus
from shared.contracts.telemetry import CommandName
from shared.domain.alarms.service import alarm_id_for
from shared.domain.errors import Unavailable
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

TENANT = "acme"
OK: dict[str, list[Any]] = {"batchItemFailures": []}
_things = itertools.count(1)


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """moto with the alarm tables and the catalogue, once per module (each test has its own cabinet)."""
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        services.reset()
        create_tables(*alarm_tables())
        seed_catalogue()
        yield
        services.reset()


@pytest.fixture
def ports(aws: None) -> Iterator[Ports]:
    p = Ports(Clock(), RecordingPublisher(), RecordingEvents())
    p.install()
    yield p
    services.configure()


@pytest.fixture
def feed(ports: Ports) -> Feed:
    """A registered cabinet of the catalogue model, new for each test."""
    thing = f"cab-{next(_things):04d}"
    register(TENANT, thing)
    return Feed(TENANT, thing, ports.clock)


def only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def entry_types(alarm_id: str) -> list[str]:
    return [e.type.value for e in timeline_of(TENANT, alarm_id)]


def raise_on(feed: Feed, start: int, **readings: Any) -> None:
    """Three samples a second apart with ``readings``: enough for every 2 s default rule."""
    assert feed.send(*feed.samples(start, 3, **readings)) == OK


# ---- raising -------------------------------------------------------------------------------------------------


def test_rising_h2_raises_a_prewarning_with_its_evidence(ports: Ports, feed: Feed) -> None:
    """ARC-3, LCM-AL-1, LCM-AL-3, SLW-EW-1, SLW-EW-2, SLW-EW-5, LCM-PF-6, SLW-WEB-7: H2 rising past 100 ppm for 2 s
    raises one level-0 pre-warning: code and params (value, threshold, clear threshold, unit), the effective rule
    version, the three trigger samples; timeline `raised`; AlarmRaised on the EventBridge bus (the notification rule's
    pattern matches it) and on the tenant's console; the rule's set_reporting_interval (500 ms) command on the device
    topic."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    bridge = boto3.client("events", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="alarm-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bridge.create_event_bus(Name="voltops-events")
    bridge.put_rule(Name="alarms", EventBusName="voltops-events", EventPattern=json.dumps(ALARM_EVENT_PATTERN))
    bridge.put_targets(Rule="alarms", EventBusName="voltops-events", Targets=[{"Id": "q", "Arn": arn}])
    services.configure(publisher=ports.mqtt, clock_ms=ports.clock)  # the real EventBridge adapter

    h2 = [5.0, 60.0, 120.0, 140.0, 160.0]
    out = feed.send(*[feed.telemetry(T0 + i * 1000, h2_ppm=v) for i, v in enumerate(h2)])
    assert out == OK

    alarm = only(alarms_of(TENANT, feed.thing))
    assert alarm.alarm_id == alarm_id_for(TENANT, feed.thing, "h2_prewarning", f"{TENANT}#{feed.thing}#boot-1#5")
    assert (alarm.rule_id, alarm.code, alarm.level, alarm.status) == (
        "h2_prewarning",
        "h2_prewarning",
        AlarmLevel.PRE_WARNING,
        AlarmStatus.ACTIVE,
    )
    assert alarm.params == {
        "metric": "h2_ppm",
        "op": "ge",
        "value": 160.0,
        "threshold": 100.0,
        "clear_threshold": 80.0,
        "unit": "ppm",
    }
    assert alarm.rule_version == "default@1"
    assert (alarm.device_kind.value, alarm.model_id) == ("storage_cabinet", "sl-cab-lfp-48s")
    assert alarm.device_ts_ms == T0 + 4000 and alarm.raised_at_ms == T0 + 4000 + ARRIVAL_DELAY_MS
    assert [(s.device_ts_ms, s.values["value"]) for s in alarm.trigger] == [
        (T0 + 2000, 120.0),
        (T0 + 3000, 140.0),
        (T0 + 4000, 160.0),
    ]
    assert alarm.trigger[-1].message_key == f"{TENANT}#{feed.thing}#boot-1#5"

    cmd = only(ports.mqtt.commands(TENANT, feed.thing))
    assert (cmd.name, cmd.params) == (CommandName.SET_REPORTING_INTERVAL, {"interval_ms": 500})
    assert cmd.idempotency_key == f"{alarm.alarm_id}:action:0" and cmd.expires_at_ms > cmd.issued_at_ms
    record = only(command_records(TENANT, feed.thing))
    assert record.command_id == cmd.command_id and record.status is CommandStatus.SENT
    assert record.origin.type == "alarm" and record.origin.alarm_id == alarm.alarm_id
    assert (record.origin.rule_id, record.origin.rule_version) == ("h2_prewarning", "default@1")
    assert record.origin.samples == alarm.trigger

    timeline = timeline_of(TENANT, alarm.alarm_id)
    assert sorted(e.type.value for e in timeline) == ["command_sent", "raised"]
    raised = next(e for e in timeline if e.type.value == "raised")
    assert (raised.actor, raised.params, raised.at_ms) == ("system", {"level": 0}, alarm.raised_at_ms)
    sent = next(e for e in timeline if e.type.value == "command_sent")
    assert sent.params["command_id"] == cmd.command_id and sent.params["command"] == "set_reporting_interval"

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(only(messages)["Body"])
    assert (event["source"], event["detail-type"]) == (ALARM_EVENT_SOURCE, "AlarmRaised")
    assert event["detail"]["event_id"] == f"{alarm.alarm_id}:raised"
    assert event["detail"]["alarm"]["alarm_id"] == alarm.alarm_id and event["detail"]["alarm"]["level"] == 0
    pushed = only(ports.mqtt.console(TENANT, topics.ConsoleStream.ALARMS))
    assert pushed["type"] == "AlarmRaised" and pushed["alarm"]["alarm_id"] == alarm.alarm_id


def test_water_ingress_and_smoke_cut_off_the_cabinet_and_stay_latched(ports: Ports, feed: Feed) -> None:
    """SLW-PR-4, SLW-EW-3, SLW-CTL-1, LCM-AL-4: water ingress (then smoke) held 2 s raises a level-3 alarm whose cut_off
    goes out at once on voltops/v1/<tenant>/<thing>/down/cmd with an expiry after its issue; each rule has its own alarm
    and command; a level-3 alarm does not clear by itself when the sensor goes quiet."""
    raise_on(feed, T0, water_ingress=True)
    water = only(alarms_of(TENANT, feed.thing))
    assert (water.rule_id, water.level, water.device_ts_ms) == ("water_ingress", AlarmLevel.LEVEL_3, T0 + 2000)
    assert water.params == {"signal": "water_ingress", "value": True}
    assert [t for t, _ in ports.mqtt.published if "/down/" in t] == [f"voltops/v1/{TENANT}/{feed.thing}/down/cmd"]
    cut = only(ports.mqtt.commands(TENANT, feed.thing))
    assert cut.name is CommandName.CUT_OFF and cut.params == {}
    assert cut.expires_at_ms > cut.issued_at_ms and cut.expires_at_ms - cut.issued_at_ms == 30_000
    assert cut.issued_at_ms == water.raised_at_ms

    raise_on(feed, T0 + 3000, water_ingress=True, smoke_detected=True)
    smoke = only([a for a in alarms_of(TENANT, feed.thing) if a.rule_id == "smoke"])
    assert smoke.level is AlarmLevel.LEVEL_3 and smoke.device_ts_ms == T0 + 5000
    cuts = ports.mqtt.commands(TENANT, feed.thing)
    assert [c.name for c in cuts] == [CommandName.CUT_OFF, CommandName.CUT_OFF]
    assert cuts[1].idempotency_key == f"{smoke.alarm_id}:action:0"

    assert feed.send(*feed.samples(T0 + 10_000, 12, step_ms=10_000)) == OK  # two quiet minutes
    assert {a.rule_id: a.status for a in alarms_of(TENANT, feed.thing)} == {
        "water_ingress": AlarmStatus.ACTIVE,
        "smoke": AlarmStatus.ACTIVE,
    }
    assert len(ports.mqtt.commands()) == 2 and ports.events.of("AlarmCleared") == []


# ---- idempotency ----------------------------------------------------------------------------------------------


def test_a_redelivered_batch_raises_and_sends_nothing_twice(ports: Ports, feed: Feed) -> None:
    """ARC-3, LCM-PF-8, SLW-PR-4: the same Kinesis batch delivered twice (warm), and again after a cold start, leaves
    one alarm, one cut_off publish, one AlarmRaised event and the same timeline."""
    event = feed.batch(*feed.samples(T0, 3, smoke_detected=True))
    assert feed.deliver(event) == OK
    alarm = only(alarms_of(TENANT, feed.thing))
    timeline = timeline_of(TENANT, alarm.alarm_id)
    published = list(ports.mqtt.published)

    assert feed.deliver(event) == OK
    ports.install()  # cold start: engine state comes from DynamoDB
    assert feed.deliver(event) == OK

    assert only(alarms_of(TENANT, feed.thing)) == alarm
    assert ports.mqtt.published == published
    assert len(ports.mqtt.commands()) == 1 and len(ports.events.of("AlarmRaised")) == 1
    assert timeline_of(TENANT, alarm.alarm_id) == timeline


class FlakyEvents(RecordingEvents):
    """A bus that refuses the next ``failures`` puts (throttling), then accepts."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def put(self, source: str, detail_type: str, details: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise Unavailable("EventBridge refused 1 event(s): ThrottlingException")
        super().put(source, detail_type, details)


def test_a_failed_transition_is_retried_from_its_record_without_duplicates(ports: Ports, feed: Feed) -> None:
    """ARC-3, LCM-PF-8, SLW-PR-4: the bus failing after the alarm and its cut_off were written makes the handler report
    the device's first record; Lambda's retry completes the transition on the same alarm id (no second alarm, no second
    publish of the cut_off) and the event goes out."""
    flaky = FlakyEvents(failures=1)
    services.configure(publisher=ports.mqtt, events=flaky, clock_ms=ports.clock)
    event = feed.batch(*feed.samples(T0, 3, water_ingress=True))
    assert feed.deliver(event) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["kinesis"]["sequenceNumber"]}]
    }
    first = only(alarms_of(TENANT, feed.thing))
    assert len(ports.mqtt.commands()) == 1 and flaky.events == []

    assert feed.deliver(event) == OK
    assert only(alarms_of(TENANT, feed.thing)).alarm_id == first.alarm_id
    assert len(ports.mqtt.commands()) == 1
    assert [d["event_id"] for d in flaky.of("AlarmRaised")] == [f"{first.alarm_id}:raised"]
    assert entry_types(first.alarm_id).count("raised") == 1


# ---- clearing and the one-active-alarm guard ------------------------------------------------------------------------


def test_condition_gone_clears_the_alarm_and_releases_the_guard(ports: Ports, feed: Feed) -> None:
    """LCM-AL-1, LCM-AL-3, LCM-PF-6, SLW-EW-5: H2 back below the clear threshold (80 ppm) for 60 s clears the pre-
    warning by itself (cleared by system, condition_gone), restores the 1 s reporting interval, emits AlarmCleared and
    releases the active guard, so the next rise is a new alarm."""
    raise_on(feed, T0, h2_ppm=150.0)
    alarm = only(alarms_of(TENANT, feed.thing))
    store = services.alarm_store()
    assert store.active_alarm_id(TENANT, feed.thing, "h2_prewarning") == alarm.alarm_id

    quiet = T0 + 3000
    assert feed.send(*feed.samples(quiet, 6, step_ms=10_000, h2_ppm=10.0)) == OK  # 50 s below: not yet
    assert only(alarms_of(TENANT, feed.thing)).status is AlarmStatus.ACTIVE
    assert feed.send(feed.telemetry(quiet + 60_000, h2_ppm=10.0)) == OK
    cleared = only(alarms_of(TENANT, feed.thing))
    assert cleared.status is AlarmStatus.CLEARED
    assert (cleared.cleared_by, cleared.clear_reason) == ("system", "condition_gone")
    assert cleared.cleared_at_ms == ports.clock.now
    assert store.active_alarm_id(TENANT, feed.thing, "h2_prewarning") is None
    assert [d["alarm"]["status"] for d in ports.events.of("AlarmCleared", alarm.alarm_id)] == ["cleared"]
    assert [(c.name, c.params) for c in ports.mqtt.commands()] == [
        (CommandName.SET_REPORTING_INTERVAL, {"interval_ms": 500}),
        (CommandName.SET_REPORTING_INTERVAL, {"interval_ms": 1000}),
    ]
    cleared_entry = only([e for e in timeline_of(TENANT, alarm.alarm_id) if e.type.value == "cleared"])
    assert (cleared_entry.actor, cleared_entry.params) == ("system", {"reason": "condition_gone"})
    assert entry_types(alarm.alarm_id).count("command_sent") == 2

    raise_on(feed, quiet + 70_000, h2_ppm=150.0)
    again = [a for a in alarms_of(TENANT, feed.thing) if a.alarm_id != alarm.alarm_id]
    assert only(again).status is AlarmStatus.ACTIVE


def test_one_active_alarm_per_rule_and_device_even_when_engine_state_is_lost(ports: Ports, feed: Feed) -> None:
    """LCM-AL-3, LCM-PF-8, SLW-EW-5, SLW-PR-2: H2 at 1200 ppm raises the pre-warning and the second stage (two rules,
    two alarms, stop charge and discharge); with the device's engine state lost and the function cold, the engine
    decides to raise again on new samples, and the active guard in DynamoDB keeps it at one alarm per rule, no new
    command."""
    raise_on(feed, T0, h2_ppm=1200.0)
    alarms = {a.rule_id: a for a in alarms_of(TENANT, feed.thing)}
    assert set(alarms) == {"h2_prewarning", "h2_high"} and alarms["h2_high"].level is AlarmLevel.LEVEL_2
    sent = [c.name for c in ports.mqtt.commands()]
    assert sorted(sent) == sorted(
        [CommandName.SET_REPORTING_INTERVAL, CommandName.STOP_CHARGE, CommandName.STOP_DISCHARGE]
    )

    from shared.dal.alarms import ENGINE_ITEM, device_key
    from shared.dal.tables import AlarmStateItem

    AlarmStateItem(device_key(TENANT, feed.thing), ENGINE_ITEM).delete()
    ports.install()
    raise_on(feed, T0 + 10_000, h2_ppm=1250.0)
    assert {a.rule_id: a.alarm_id for a in alarms_of(TENANT, feed.thing)} == {r: a.alarm_id for r, a in alarms.items()}
    assert len(ports.mqtt.commands()) == 3 and len(ports.events.of("AlarmRaised")) == 2


# ---- acks of protective commands ----------------------------------------------------------------------------------


def test_an_executed_cut_off_ack_is_recorded_on_the_alarm(ports: Ports, feed: Feed) -> None:
    """SLW-PR-4, SLW-CTL-2, SLW-IF-1, LCM-AL-3: the device's up/ack for the cut_off marks the command acked and puts
    `command_acked` (actor device) on the alarm's timeline; nothing escalates; a redelivered ack changes nothing."""
    raise_on(feed, T0, water_ingress=True)
    alarm = only(alarms_of(TENANT, feed.thing))
    cut = only(ports.mqtt.commands())
    ack = feed.ack(T0 + 2500, cut.command_id)
    assert feed.send(ack) == OK

    record = only(command_records(TENANT, feed.thing))
    assert record.status is CommandStatus.ACKED and record.acked_at_ms == T0 + 2500 + ARRIVAL_DELAY_MS
    acked = only([e for e in timeline_of(TENANT, alarm.alarm_id) if e.type.value == "command_acked"])
    assert acked.actor == "device" and acked.params["command_id"] == cut.command_id
    assert acked.params["status"] == "acked" and acked.at_ms == record.acked_at_ms
    assert ports.events.of("AlarmEscalated") == []

    assert feed.send(ack) == OK
    assert entry_types(alarm.alarm_id).count("command_acked") == 1


def test_a_rejected_cut_off_escalates_the_alarm(ports: Ports, feed: Feed) -> None:
    """SLW-PR-4, SLW-IF-1, SLW-EW-4: a device that rejects the cut_off leaves the command rejected, the timeline
    `command_failed` with the reason code, and escalates the alarm at once (AlarmEscalated, command_rejected)."""
    raise_on(feed, T0, smoke_detected=True)
    alarm = only(alarms_of(TENANT, feed.thing))
    cut = only(ports.mqtt.commands())
    assert feed.send(feed.ack(T0 + 2500, cut.command_id, status="rejected", reason="interlock_open")) == OK

    record = only(command_records(TENANT, feed.thing))
    assert (record.status, record.ack_reason) == (CommandStatus.REJECTED, "interlock_open")
    timeline = timeline_of(TENANT, alarm.alarm_id)
    failed = only([e for e in timeline if e.type.value == "command_failed"])
    assert failed.params["reason"] == "interlock_open" and failed.params["status"] == "rejected"
    escalated = only([e for e in timeline if e.type.value == "escalated"])
    assert escalated.params == {"reason": "command_rejected"}
    event = only(ports.events.of("AlarmEscalated", alarm.alarm_id))
    assert event["reason"] == "command_rejected" and event["alarm"]["status"] == "active"


# ---- what the pipeline skips, and cold starts -----------------------------------------------------------------------


def test_a_record_of_an_unknown_device_is_skipped(ports: Ports, feed: Feed) -> None:
    """ARC-3, LCM-SEC-5: records of a device nobody registered, and of the same thing name under another tenant, are
    skipped without failing the batch; the registered cabinet's records in the same batch are evaluated."""
    stranger = Feed(TENANT, "cab-9999", ports.clock)
    spoof = Feed("bolt", feed.thing, ports.clock)
    records = []
    for i in range(3):
        ts = T0 + i * 1000
        records += [
            stranger.telemetry(ts, smoke_detected=True),
            spoof.telemetry(ts, smoke_detected=True),
            feed.telemetry(ts, h2_ppm=150.0),
        ]
    assert feed.send(*records) == OK
    assert [a.rule_id for a in alarms_of(TENANT, feed.thing)] == ["h2_prewarning"]
    assert alarms_of(TENANT, "cab-9999") == [] and alarms_of("bolt", feed.thing) == []
    assert [c.name for c in ports.mqtt.commands()] == [CommandName.SET_REPORTING_INTERVAL]
    assert ports.mqtt.commands(TENANT, feed.thing) == ports.mqtt.commands()


def test_engine_state_survives_a_cold_start_mid_duration(ports: Ports, feed: Feed) -> None:
    """ARC-3, LCM-AL-1, LCM-PF-8: two samples of a 2 s H2 phase in one batch, a cold start (every cached service
    dropped), then the rest: the rule raises at the third sample, exactly as a warm function would, with all three as
    evidence."""
    assert feed.send(*feed.samples(T0, 2, h2_ppm=150.0)) == OK
    assert alarms_of(TENANT, feed.thing) == []
    services.reset()
    ports.install()
    assert feed.send(*feed.samples(T0 + 2000, 3, h2_ppm=150.0)) == OK
    alarm = only(alarms_of(TENANT, feed.thing))
    assert alarm.device_ts_ms == T0 + 2000
    assert [s.device_ts_ms for s in alarm.trigger] == [T0, T0 + 1000, T0 + 2000]
