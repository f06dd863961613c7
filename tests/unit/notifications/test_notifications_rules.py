"""Policy contract, routing, quiet hours, escalation planning and message rendering (pure code)."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from shared.contracts.alarms import AlarmLevel
from shared.contracts.notifications import (
    TENANT_INBOX,
    Channel,
    Contact,
    EscalationPolicy,
    EscalationStep,
    Language,
    NotificationKind,
    NotificationPolicy,
    PolicyDraft,
    QuietHours,
    Route,
    default_policy,
)
from shared.domain.notifications import escalation as plan
from shared.domain.notifications.messages import AlarmFacts, render
from shared.domain.notifications.quiet_hours import holds_external, in_quiet_hours, quiet_end_ms
from shared.domain.notifications.routing import recipients, route_targets
from tests.unit.notifications.fakes import T_DAY, T_NIGHT, full_policy


def _policy(draft: PolicyDraft) -> NotificationPolicy:
    return NotificationPolicy.model_validate(
        {**draft.model_dump(), "tenant_id": "acme", "version": 1, "created_by": "ada", "created_at_ms": 0}
    )


def _ms(local: str, tz: str = "Asia/Shanghai") -> int:
    from zoneinfo import ZoneInfo

    return int(dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


# ---- policy contract ------------------------------------------------------------------------------


def test_policy_refuses_dangling_references_and_missing_addresses():
    """LCM-AL-2, SLW-EW-6: a policy that routes a channel to a contact without that address, or names
    an unknown contact, is refused with the place of the mistake — never discovered at 3 a.m."""
    duty = Contact(contact_id="duty", name="Duty", email="duty@acme.example")
    with pytest.raises(ValidationError, match=r"routes\[0\]: contact 'duty' has no phone for channel sms"):
        PolicyDraft(contacts=[duty], routes=[Route(min_level=AlarmLevel.LEVEL_1, contacts=["duty"], channels=["sms"])])
    with pytest.raises(ValidationError, match=r"escalation.steps\[0\]: unknown contact 'boss'"):
        PolicyDraft(
            contacts=[duty],
            escalation=EscalationPolicy(steps=[EscalationStep(after_s=60, contacts=["boss"], channels=["email"])]),
        )
    with pytest.raises(ValidationError, match="strictly increasing"):
        EscalationPolicy(
            steps=[EscalationStep(after_s=600, tenant_inbox=True), EscalationStep(after_s=300, tenant_inbox=True)]
        )
    with pytest.raises(ValidationError, match="contact_id values must be unique"):
        PolicyDraft(contacts=[duty, duty])


def test_contact_fields_are_validated():
    """LCM-AL-2: phone numbers are E.164, e-mail looks like one, the tenant inbox is not a user name,
    a contact is reachable somehow, time zones are IANA names."""
    with pytest.raises(ValidationError, match="phone"):
        Contact(contact_id="a", name="A", phone="13800138000")
    with pytest.raises(ValidationError, match="email"):
        Contact(contact_id="a", name="A", email="not-an-address")
    with pytest.raises(ValidationError, match="user"):
        Contact(contact_id="a", name="A", user=TENANT_INBOX)
    with pytest.raises(ValidationError, match="at least one of user, email and phone"):
        Contact(contact_id="a", name="A")
    with pytest.raises(ValidationError, match="unknown time zone"):
        QuietHours(start="22:00", end="07:00", time_zone="Asia/Atlantis")
    with pytest.raises(ValidationError, match="must differ"):
        QuietHours(start="22:00", end="22:00")
    with pytest.raises(ValidationError, match="contacts and channels go together"):
        Route(min_level=AlarmLevel.LEVEL_1, contacts=["a"], tenant_inbox=True)
    assert Contact(contact_id="a", name="A", phone="+8613800138000").language is Language.ZH_CN


def test_default_policy_reaches_the_tenant_inbox_and_reminds_unacknowledged_alarms():
    """SLW-EW-4, LCM-AL-2: without a stored policy every alarm lands in the tenant-wide inbox (24 h staffed
    monitoring) and level ≥ 1 alarms are re-notified there after 5 min, then every 15 min, 4 times."""
    p = default_policy("acme")
    assert p.version == 0
    for level in AlarmLevel:
        rs = recipients(p, route_targets(p, level))
        assert [(r.channel, r.address) for r in rs] == [(Channel.IN_APP, TENANT_INBOX)]
    assert plan.first_fire_ms(p, AlarmLevel.PRE_WARNING, 0) is None
    assert plan.first_fire_ms(p, AlarmLevel.LEVEL_1, 0) == 300_000
    assert plan.total_firings(p) == 5
    # the draft round-trips through JSON (what the API stores and returns)
    assert NotificationPolicy.model_validate_json(p.model_dump_json()) == p


# ---- routing ------------------------------------------------------------------------------------------------


def test_routes_by_level_union_of_channels_tenant_inbox_first():
    """LCM-AL-2, SLW-EW-6: an alarm gets every route at or below its level; the tenant-wide inbox replaces
    personal in-app copies; the same address is notified once; each contact keeps its language."""
    p = _policy(full_policy())
    level1 = recipients(p, route_targets(p, AlarmLevel.LEVEL_1))
    assert [(r.channel, r.address) for r in level1] == [(Channel.IN_APP, TENANT_INBOX)]
    level3 = recipients(p, route_targets(p, AlarmLevel.LEVEL_3))
    assert [(r.channel.value, r.label) for r in level3] == [
        ("in_app", TENANT_INBOX),
        ("email", "duty"),
        ("sms", "duty"),
        ("email", "eng"),
        ("sms", "eng"),
        ("voice", "duty"),
    ]
    assert {r.label: r.language for r in level3}["eng"] is Language.EN
    step1 = recipients(p, p.escalation.steps[0:1])
    assert [(r.channel.value, r.address) for r in step1] == [
        ("in_app", "carol"),
        ("sms", "+8613800000003"),
        ("voice", "+8613800000003"),
    ]


# ---- quiet hours --------------------------------------------------------------------------------------------


def test_quiet_hours_wrap_midnight_in_local_time_and_never_hold_level_3():
    """SLW-EW-6, LCM-AL-1: 22:00-07:00 Asia/Shanghai holds e-mail/SMS/voice below level 3; level 3 is never
    held; the window end is the next local 07:00."""
    q = QuietHours(start="22:00", end="07:00")
    assert in_quiet_hours(q, _ms("2025-06-15T22:00:00"))
    assert in_quiet_hours(q, _ms("2025-06-16T06:59:59"))
    assert not in_quiet_hours(q, _ms("2025-06-16T07:00:00"))
    assert not in_quiet_hours(q, _ms("2025-06-15T21:59:00"))
    assert in_quiet_hours(q, T_NIGHT) and not in_quiet_hours(q, T_DAY)
    assert quiet_end_ms(q, _ms("2025-06-15T23:10:00")) == _ms("2025-06-16T07:00:00")
    assert quiet_end_ms(q, _ms("2025-06-16T01:00:00")) == _ms("2025-06-16T07:00:00")
    assert holds_external(q, AlarmLevel.LEVEL_2, T_NIGHT)
    assert not holds_external(q, AlarmLevel.LEVEL_3, T_NIGHT)
    assert not holds_external(None, AlarmLevel.PRE_WARNING, T_NIGHT)
    day_window = QuietHours(start="12:00", end="14:00", time_zone="Europe/Berlin")
    assert in_quiet_hours(day_window, _ms("2025-06-16T13:00:00", "Europe/Berlin"))
    assert quiet_end_ms(day_window, _ms("2025-06-16T13:00:00", "Europe/Berlin")) == _ms(
        "2025-06-16T14:00:00", "Europe/Berlin"
    )


# ---- escalation planning ------------------------------------------------------------------------------------


def test_escalation_chain_then_repeats_then_exhausted():
    """SLW-EW-4: step i fires after_s after raising; the last step then repeats every repeat_interval_s up to
    max_repeats; gaps are kept from when each firing was due."""
    p = _policy(full_policy(repeats=2))
    raised = 1_000_000
    first = plan.first_fire_ms(p, AlarmLevel.LEVEL_2, raised)
    assert first == raised + 300_000
    assert plan.first_fire_ms(p, AlarmLevel.PRE_WARNING, raised) is None  # below the escalation level
    f0, f1, f2, f3 = (plan.firing(p, n) for n in range(4))
    assert f0 and (f0.step, f0.repeat, f0.kind) == (1, 0, NotificationKind.ALARM_ESCALATED)
    assert f1 and (f1.step, f1.repeat) == (2, 0)
    assert f2 and (f2.step, f2.repeat, f2.kind) == (2, 1, NotificationKind.ALARM_REMINDER)
    assert f3 and f3.repeat == 2
    assert plan.firing(p, 4) is None
    assert plan.next_fire_ms(p, 0, first) == raised + 900_000
    assert plan.next_fire_ms(p, 1, raised + 900_000) == raised + 1_500_000
    assert plan.next_fire_ms(p, 3, 0) is None
    # a jump (AlarmEscalated) beyond the chain still notifies: the last step again
    forced = plan.forced_firing(p, AlarmLevel.LEVEL_2, 7)
    assert (forced.step, forced.repeat) == (2, 6)
    # with no chain at all, a forced firing re-notifies the level's routes
    no_chain = _policy(full_policy(steps=[]))
    assert plan.forced_firing(no_chain, AlarmLevel.LEVEL_3, 0).targets == tuple(
        route_targets(no_chain, AlarmLevel.LEVEL_3)
    )
    assert {plan.shard_of("acme", f"al-{i}") for i in range(200)} == set(range(plan.SHARDS))
    assert plan.shard_of("acme", "al-1") == plan.shard_of("acme", "al-1")


# ---- rendering ------------------------------------------------------------------------------------------------


def test_messages_render_code_and_params_in_the_contacts_language():
    """LCM-AL-2, SLW-EW-6: e-mail/SMS/voice text comes from the code + params in zh-CN or en, times in the
    policy's zone; unknown codes fall back to the code itself."""
    facts = AlarmFacts(
        tenant_id="acme",
        alarm_id="al-1",
        thing_name="pack-0001",
        level=AlarmLevel.LEVEL_3,
        code="cell_overvoltage",
        params={"cell": 7, "v": 3.71},
        raised_at_ms=_ms("2025-06-16T08:30:00"),
    )
    zh = render(NotificationKind.ALARM_RAISED, facts, Language.ZH_CN, "Asia/Shanghai")
    assert "三级报警" in zh.subject and "单体过压" in zh.subject
    assert "2025-06-16 08:30:00" in zh.text and "cell=7, v=3.71" in zh.text
    assert zh.short.startswith("【VoltOps】") and len(zh.short) < 70
    assert "请立即登录控制台" in zh.speech
    en = render(NotificationKind.ALARM_ESCALATED, facts, Language.EN, "UTC", step=2, reason="command_ack_missing")
    assert "Level 3 alarm Cell overvoltage" in en.subject
    assert "2025-06-16 00:30:00 (UTC)" in en.text and "Escalation step: 2" in en.text
    assert "not acknowledged by the device" in en.short
    unknown = AlarmFacts(**{**facts.__dict__, "code": "brand_new_rule", "params": {}})
    assert "brand_new_rule" in render(NotificationKind.ALARM_CLEARED, unknown, Language.EN, "UTC").subject
