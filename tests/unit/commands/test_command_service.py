"""Command service with in-memory fakes: record → publish → ack / sweep, idempotency, isolation."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts import topics
from shared.contracts.commands import CommandOrigin, CommandRecord, CommandStatus
from shared.contracts.telemetry import AckStatus, Command, CommandAck, CommandName
from shared.domain.auth import Role
from shared.domain.commands import SendCommand, command_id_for
from shared.domain.commands.service import PENDING_RETRY_MS
from shared.domain.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable

TENANT, THING = "acme", "cab-0001"
ALARM = CommandOrigin(type="alarm", alarm_id="a1", rule_id="thermal_runaway", rule_version="default@1")


def issue(world: Any, key: str = "k1", name: CommandName = CommandName.CUT_OFF, **kw: Any) -> CommandRecord:
    args: dict[str, Any] = {
        "tenant_id": TENANT,
        "thing_name": THING,
        "name": name,
        "params": {},
        "reason": "protective_action:thermal_runaway",
        "origin": ALARM,
        "idempotency_key": key,
    }
    args.update(kw)
    return world.service.issue(**args)


def ack(command_id: str, status: AckStatus = AckStatus.EXECUTED, reason: str | None = None, seq: int = 0) -> CommandAck:
    return CommandAck(
        boot_id="b1", seq=seq, device_ts_ms=1_750_000_000_500, command_id=command_id, status=status, reason=reason
    )


def operator_request(**kw: Any) -> SendCommand:
    body: dict[str, Any] = {"name": "restart", "reason": "firmware hang reported by site", "idempotency_key": "op-1"}
    body.update(kw)
    return SendCommand.model_validate(body)


# ---- issue -------------------------------------------------------------------------------------------


def test_issue_records_publishes_and_marks_sent(world: Any) -> None:
    """SLW-CTL-1, SLW-PR-1, SLW-IF-1: a command is recorded with id, expiry and idempotency key, published at once
    as the wire Command on the device's command topic at QoS 1, and marked sent; the observer hears of it."""
    t0 = world.clock.now
    rec = issue(world, ttl_s=30, ack_timeout_s=15)
    assert rec.status is CommandStatus.SENT and rec.sent_at_ms == t0
    assert rec.command_id == command_id_for(TENANT, THING, "k1") and rec.command_id.startswith("c")
    assert (rec.issued_at_ms, rec.expires_at_ms, rec.ack_deadline_ms) == (t0, t0 + 30_000, t0 + 15_000)
    [(topic, payload, qos)] = [p for p in world.publisher.published if "/down/" in p[0]]
    assert topic == topics.downlink(TENANT, THING) and qos == 1
    wire = Command.model_validate_json(payload)
    assert wire.command_id == rec.command_id and wire.name is CommandName.CUT_OFF
    assert (wire.issued_at_ms, wire.expires_at_ms, wire.idempotency_key) == (t0, t0 + 30_000, "k1")
    assert world.repo.get(TENANT, rec.command_id) == rec
    assert world.repo.due_at[(TENANT, rec.command_id)] == rec.ack_deadline_ms
    assert world.observer.events() == [("sent", "sent")]


def test_ack_deadline_never_after_expiry(world: Any) -> None:
    """SLW-CTL-2: the ack deadline is issue time + ack timeout, capped at the expiry; ttl is bounded to an hour."""
    rec = issue(world, ttl_s=5, ack_timeout_s=15)
    assert rec.ack_deadline_ms == rec.expires_at_ms == rec.issued_at_ms + 5_000
    for ttl in (0, 3601):
        with pytest.raises(Invalid) as err:
            issue(world, key=f"ttl-{ttl}", ttl_s=ttl)
        assert err.value.code == "invalid_ttl"


def test_retried_issue_returns_the_same_command_and_never_publishes_twice(world: Any) -> None:
    """SLW-PR-2, SLW-CTL-2: the same idempotency key on the same device is the same command: one record, one
    publish; the key is scoped to the device, and reusing it for another command is a conflict."""
    first = issue(world)
    world.clock.advance(500)
    again = issue(world)
    assert again == first
    assert len(world.publisher.commands()) == 1
    other_device = world.service.issue(
        tenant_id="bolt",
        thing_name="bolt-0001",
        name=CommandName.CUT_OFF,
        params={},
        reason="r",
        origin=ALARM,
        idempotency_key="k1",
    )
    assert other_device.command_id != first.command_id
    with pytest.raises(Conflict) as err:
        issue(world, name=CommandName.STOP_CHARGE)
    assert err.value.code == "idempotency_key_reused"


def test_publish_failure_leaves_pending_and_a_retry_or_the_sweep_sends_it(world: Any) -> None:
    """SLW-PR-1, SLW-CTL-2: a failed publish leaves the command pending and raises Unavailable; a retry with the
    same key publishes it and marks it sent; the sweep republishes pending commands meanwhile."""
    world.publisher.fail = 1
    with pytest.raises(Unavailable) as err:
        issue(world)
    assert err.value.code == "publish_failed"
    cid = command_id_for(TENANT, THING, "k1")
    assert world.repo.get(TENANT, cid).status is CommandStatus.PENDING
    assert world.observer.calls == []
    retried = issue(world)
    assert retried.status is CommandStatus.SENT and len(world.publisher.commands()) == 1

    world.publisher.fail = 2
    with pytest.raises(Unavailable):
        issue(world, key="k2")
    cid2 = command_id_for(TENANT, THING, "k2")
    assert world.service.sweep(world.clock.now) == []  # not due yet: the retry delay
    world.clock.advance(PENDING_RETRY_MS)
    assert world.service.sweep(world.clock.now) == []  # due, but the broker is still down
    assert world.repo.get(TENANT, cid2).status is CommandStatus.PENDING
    [swept] = world.service.sweep(world.clock.now)
    assert swept.command_id == cid2 and swept.status is CommandStatus.SENT
    assert [c["command_id"] for c in world.publisher.commands()] == [cid, cid2]


def test_commands_go_only_to_active_devices_of_the_tenant(world: Any) -> None:
    """SLW-CTL-1, LCM-SEC-5: an unknown device or another tenant's is not found; a revoked one is a conflict;
    nothing is recorded or published."""
    with pytest.raises(NotFound):
        issue(world, thing_name="cab-9999")
    with pytest.raises(NotFound):
        issue(world, thing_name="bolt-0001")  # exists, but in tenant bolt
    with pytest.raises(Conflict) as err:
        issue(world, thing_name="cab-revoked")
    assert err.value.code == "device_not_active" and err.value.details == {"status": "revoked"}
    with pytest.raises(Invalid) as bad:
        issue(world, thing_name="cab/0001")
    assert bad.value.code == "invalid_thing_name"
    assert world.repo.items == {} and world.publisher.published == []


def test_operator_command_needs_the_role_a_reason_and_valid_parameters(world: Any, as_user: Any) -> None:
    """SLW-CTL-2, SLW-IF-1: operators send commands with a reason; viewers cannot; parameters are checked first."""
    with pytest.raises(Forbidden):
        world.service.send_operator_command(as_user(Role.VIEWER), THING, operator_request())
    with pytest.raises(Invalid) as err:
        world.service.send_operator_command(as_user(), THING, operator_request(reason="   "))
    assert err.value.code == "reason_required"
    with pytest.raises(Invalid) as err:
        world.service.send_operator_command(
            as_user(), THING, operator_request(name="set_parameters", params={"max_volts": 4})
        )
    assert err.value.code == "unknown_parameter"
    rec = world.service.send_operator_command(
        as_user(),
        THING,
        operator_request(name="set_parameters", params={"max_charge_current_a": 80}, ttl_s=60),
    )
    assert rec.origin.type == "operator" and rec.origin.user == "user-operator"
    assert rec.reason == "firmware hang reported by site" and rec.params == {"max_charge_current_a": 80}
    assert rec.expires_at_ms - rec.issued_at_ms == 60_000 and rec.ack_deadline_ms - rec.issued_at_ms == 15_000
    with pytest.raises(NotFound):  # the tenant comes from the caller: bolt's device is not acme's
        world.service.send_operator_command(as_user(), "bolt-0001", operator_request(idempotency_key="x"))


def test_console_gets_every_status_change_and_its_failure_never_fails_the_command(world: Any) -> None:
    """SLW-CTL-2, SLW-PR-1: each status change is pushed to the tenant's console stream, after the command itself
    went out (a cut-off never waits for a console update); a console outage is only logged."""
    rec = issue(world)
    assert "/down/" in world.publisher.published[0][0]
    world.service.record_ack(TENANT, THING, ack(rec.command_id), world.clock.now)
    updates = world.publisher.console()
    assert [u["status"] for u in updates] == ["sent", "acked"]
    assert {t for t, _, _ in world.publisher.published if "/down/" not in t} == {
        topics.console(TENANT, topics.ConsoleStream.COMMANDS)
    }
    assert updates[-1]["command_id"] == rec.command_id and updates[-1]["thing_name"] == THING
    world.publisher.fail_console = True
    assert issue(world, key="k2").status is CommandStatus.SENT


# ---- acks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (AckStatus.EXECUTED, CommandStatus.ACKED),
        (AckStatus.REJECTED, CommandStatus.REJECTED),
        (AckStatus.FAILED, CommandStatus.FAILED),
        (AckStatus.EXPIRED, CommandStatus.EXPIRED),
    ],
)
def test_ack_maps_to_the_final_status(world: Any, status: AckStatus, expected: CommandStatus) -> None:
    """SLW-IF-1, SLW-PR-3: the device's ack (executed/rejected/failed/expired) becomes the command's final status,
    with its reason, arrival and device time; the command leaves the open index; the observer is told."""
    rec = issue(world)
    arrival = world.clock.advance(800)
    done = world.service.record_ack(TENANT, THING, ack(rec.command_id, status, "some_code"), arrival)
    assert done is not None and done.status is expected
    assert (done.acked_at_ms, done.ack_status, done.ack_reason) == (arrival, status.value, "some_code")
    assert done.detail["ack_device_ts_ms"] == 1_750_000_000_500
    assert (TENANT, rec.command_id) not in world.repo.due_at
    assert world.observer.events()[-1] == ("ack", expected.value)


def test_ack_is_idempotent_and_ignores_strangers(world: Any) -> None:
    """SLW-IF-1, LCM-SEC-5: a redelivered ack changes nothing; a different second answer is ignored; an ack for an
    unknown command, or from another device than the command's, is ignored (None)."""
    rec = issue(world)
    first = world.service.record_ack(TENANT, THING, ack(rec.command_id), world.clock.now)
    writes, calls = world.repo.writes, len(world.observer.calls)
    assert world.service.record_ack(TENANT, THING, ack(rec.command_id, seq=1), world.clock.now + 5) == first
    assert world.service.record_ack(TENANT, THING, ack(rec.command_id, AckStatus.FAILED), world.clock.now) == first
    assert (world.repo.writes, len(world.observer.calls)) == (writes, calls)
    assert world.service.record_ack(TENANT, THING, ack("c" + "0" * 24), world.clock.now) is None
    other = issue(world, key="k2")
    assert world.service.record_ack(TENANT, "cab-0002", ack(other.command_id), world.clock.now) is None
    assert world.service.record_ack("bolt", THING, ack(other.command_id), world.clock.now) is None
    assert world.repo.get(TENANT, other.command_id).status is CommandStatus.SENT


def test_an_ack_faster_than_the_sent_mark_wins(world: Any) -> None:
    """SLW-IF-1: when the device acks before the service marks the command sent, the ack is kept, not overwritten."""
    cid = command_id_for(TENANT, THING, "fast")
    world.repo.before_replace = lambda: world.service.record_ack(TENANT, THING, ack(cid), world.clock.now)
    rec = issue(world, key="fast")
    assert rec.status is CommandStatus.ACKED
    assert world.repo.get(TENANT, cid).status is CommandStatus.ACKED


# ---- sweep -------------------------------------------------------------------------------------------


def test_missing_ack_is_flagged_once_then_expires(world: Any) -> None:
    """SLW-PR-4, SLW-IF-1: no ack by the deadline → the observer (alarm escalation) is told once and the command
    stays sent with ack_overdue; past the expiry it is closed as expired without a second notice."""
    rec = issue(world, ttl_s=30, ack_timeout_s=10)
    assert world.service.sweep(world.clock.advance(9_999)) == []
    [flagged] = world.service.sweep(world.clock.advance(1))
    assert flagged.status is CommandStatus.SENT and flagged.detail["ack_overdue"] is True
    assert world.observer.events() == [("sent", "sent"), ("overdue", "sent")]
    assert world.repo.due_at[(TENANT, rec.command_id)] == rec.expires_at_ms
    assert world.service.sweep(world.clock.advance(5_000)) == []
    [closed] = world.service.sweep(world.clock.advance(15_000))
    assert closed.status is CommandStatus.EXPIRED and closed.detail["closed_by"] == "platform"
    assert [e for e, _ in world.observer.calls].count("overdue") == 1
    assert (TENANT, rec.command_id) not in world.repo.due_at
    assert world.publisher.console()[-1]["status"] == "expired"


def test_expiry_without_earlier_notice_tells_the_observer_and_a_late_device_answer_wins(world: Any) -> None:
    """SLW-PR-4, SLW-IF-1: a sweep that first sees a command after its expiry closes it and tells the observer
    once; if the device's ack arrives later, it records what really happened."""
    rec = issue(world, ttl_s=20, ack_timeout_s=20)
    [closed] = world.service.sweep(world.clock.advance(60_000))
    assert closed.status is CommandStatus.EXPIRED
    assert world.observer.events()[-1] == ("overdue", "expired")
    late = world.service.record_ack(TENANT, THING, ack(rec.command_id), world.clock.advance(1_000))
    assert late is not None and late.status is CommandStatus.ACKED
    assert world.observer.events()[-1] == ("ack", "acked")


def test_never_published_command_fails_at_expiry(world: Any) -> None:
    """SLW-PR-1, SLW-PR-4: a command that could not be published before its expiry is closed as failed
    (not_published), never sent late."""
    world.publisher.fail = 10_000
    with pytest.raises(Unavailable):
        issue(world, ttl_s=5, ack_timeout_s=5)
    [closed] = world.service.sweep(world.clock.advance(5_000))
    assert closed.status is CommandStatus.FAILED and closed.detail["failure"] == "not_published"
    assert world.observer.events() == [("overdue", "failed")]
    world.publisher.fail = 0
    assert issue(world, ttl_s=5, ack_timeout_s=5).status is CommandStatus.FAILED  # a retry returns it, unsent
    assert world.publisher.commands() == []


def test_overdue_notice_is_retried_when_the_observer_fails(world: Any) -> None:
    """SLW-PR-4: if the alarm service cannot take the overdue notice, nothing is flagged and the next sweep tells
    it again, so an escalation is never lost."""
    rec = issue(world, ttl_s=60, ack_timeout_s=10)
    world.observer.fail = {"overdue"}
    assert world.service.sweep(world.clock.advance(10_000)) == []
    assert not world.repo.get(TENANT, rec.command_id).detail.get("ack_overdue")
    world.observer.fail = set()
    [flagged] = world.service.sweep(world.clock.advance(1_000))
    assert flagged.detail["ack_overdue"] is True
    assert [e for e, _ in world.observer.calls].count("overdue") == 2


def test_sweep_skips_commands_acked_meanwhile(world: Any) -> None:
    """SLW-IF-1: an ack that lands between the sweep's read and its write wins; the sweep leaves the command."""
    rec = issue(world, ttl_s=60, ack_timeout_s=10)
    world.repo.before_replace = lambda: world.service.record_ack(TENANT, THING, ack(rec.command_id), world.clock.now)
    world.observer.calls.clear()
    assert world.service.sweep(world.clock.advance(10_000)) == []
    assert world.repo.get(TENANT, rec.command_id).status is CommandStatus.ACKED
    # The notice went out just before the ack landed (at worst an extra escalation, never a lost one).
    assert [e for e, _ in world.observer.calls] == ["overdue", "ack"]


# ---- queries -----------------------------------------------------------------------------------------


def test_get_and_list_are_tenant_scoped_and_paginated(world: Any, as_user: Any) -> None:
    """SLW-CTL-2, LCM-SEC-5: a device's commands newest first, paginated; another tenant sees none of them."""
    made = []
    for i in range(5):
        made.append(issue(world, key=f"k{i}"))
        world.clock.advance(10)
    op = as_user(Role.VIEWER)
    page, token = world.service.list_for_device(op, THING, 2, None)
    seen = [r.command_id for r in page]
    while token:
        page, token = world.service.list_for_device(op, THING, 2, token)
        seen += [r.command_id for r in page]
    assert seen == [r.command_id for r in reversed(made)]
    assert world.service.get(op, made[0].command_id) == made[0]
    stranger = as_user(Role.OPERATOR, tenant="bolt")
    with pytest.raises(NotFound):
        world.service.get(stranger, made[0].command_id)
    with pytest.raises(NotFound):
        world.service.list_for_device(stranger, THING, 10, None)
    with pytest.raises(NotFound):
        world.service.get(op, "../etc")
    with pytest.raises(Invalid) as err:
        world.service.list_for_device(op, THING, 10, "bm90LWEtdG9rZW4")
    assert err.value.code == "invalid_next_token"
    with pytest.raises(Forbidden):
        world.service.get(as_user(None), made[0].command_id)
