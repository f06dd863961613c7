"""Alarm and alarm-rule routes in-process against moto with real Cognito JWTs; the alarms come from the real alarm
pipeline (Kinesis batches through the alarms Lambda), with a recording MQTT publisher, bus and clock injected."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from functions import services
from shared.contracts import topics
from shared.contracts.devices import DeviceKind
from shared.contracts.telemetry import CommandName
from shared.domain.alarms.default_rules import DEFAULT_RULES
from shared.settings import get_settings
from tests.integration.alarm_support import (
    CABINET,
    T0,
    Clock,
    Feed,
    Ports,
    RecordingEvents,
    RecordingPublisher,
    register,
)

OK: dict[str, list[Any]] = {"batchItemFailures": []}
MODEL_SCOPE = f"model:{CABINET.model_id}"


@dataclass
class Desk:
    api: Any
    ports: Ports
    a: Feed  # cab-a of the caller's tenant
    b: Feed  # cab-b of the caller's tenant
    x: Feed  # cab-x of the other tenant (bolt)

    @property
    def clock(self) -> Clock:
        return self.ports.clock

    def raise_on(self, feed: Feed, start: int, **readings: Any) -> dict[str, Any]:
        """Three samples a second apart; returns the alarm they raised (the newest of the device)."""
        assert feed.send(*feed.samples(start, 3, **readings)) == OK
        r = self.api.get(f"/v1/alarms?thing_name={feed.thing}&limit=1", user="bob" if feed is self.x else "alice")
        assert r.status_code == 200, r.json_body
        return r.json_body["items"][0]  # type: ignore[no-any-return]

    def at(self, ms: int) -> None:
        self.clock.now = ms


@pytest.fixture
def desk(api: Any) -> Iterator[Desk]:
    from functions.api import wiring

    ports = Ports(Clock(), RecordingPublisher(), RecordingEvents())
    ports.install()
    wiring.model_registry()  # the API seeds the built-in catalogue at cold start
    for tenant, thing in ((api.acme, "cab-a"), (api.acme, "cab-b"), (api.bolt, "cab-x")):
        register(tenant, thing)
    yield Desk(
        api,
        ports,
        Feed(api.acme, "cab-a", ports.clock),
        Feed(api.acme, "cab-b", ports.clock),
        Feed(api.bolt, "cab-x", ports.clock),
    )
    services.configure()


def error(r: Any) -> dict[str, Any]:
    return r.json_body["error"]  # type: ignore[no-any-return]


def rules_of(r: Any) -> list[str]:
    assert r.status_code == 200, r.json_body
    return [a["rule_id"] for a in r.json_body["items"]]


def rule_json(rule_id: str, **condition: Any) -> dict[str, Any]:
    """A default rule as JSON with some condition fields replaced (what a console would post)."""
    rule = next(r for r in DEFAULT_RULES if r.rule_id == rule_id).model_dump(mode="json")
    rule["condition"].update(condition)
    return rule


# ---- alarms: reading -------------------------------------------------------------------------------------------


def test_list_filters_and_pages(desk: Desk) -> None:
    """LCM-AL-3, LCM-AL-4, SLW-EW-4: the tenant's alarms newest first, filtered by status, minimum level, device,
    rule and raise time, paged with an opaque next_token that round-trips; a forged token or an inverted time range
    is 400, an unknown parameter or level is 422; another tenant's alarms never appear."""
    api = desk.api
    h2 = desk.raise_on(desk.a, T0, h2_ppm=150.0)
    water = desk.raise_on(desk.b, T0 + 10_000, water_ingress=True)
    smoke = desk.raise_on(desk.a, T0 + 20_000, smoke_detected=True, h2_ppm=150.0)
    desk.raise_on(desk.x, T0 + 30_000, smoke_detected=True)
    assert api.post(f"/v1/alarms/{water['alarm_id']}/acknowledge", {}).status_code == 200
    assert [h2["rule_id"], water["rule_id"], smoke["rule_id"]] == ["h2_prewarning", "water_ingress", "smoke"]

    def listed(q: str = "", user: str = "alice") -> list[str]:
        return rules_of(api.get(f"/v1/alarms?{q}", user=user))

    assert listed() == ["smoke", "water_ingress", "h2_prewarning"]
    assert listed("status=active") == ["smoke", "h2_prewarning"]
    assert listed("status=acknowledged") == ["water_ingress"]
    assert listed("status=cleared") == []
    assert listed("level_min=3") == ["smoke", "water_ingress"]
    assert listed("level_min=0") == listed()
    assert listed("thing_name=cab-a") == ["smoke", "h2_prewarning"]
    assert listed("thing_name=cab-a&status=active&level_min=3") == ["smoke"]
    assert listed("thing_name=cab-b&status=active") == []
    assert listed("rule_id=h2_prewarning") == ["h2_prewarning"]
    assert listed(f"from_ms={water['raised_at_ms']}&to_ms={water['raised_at_ms']}") == ["water_ingress"]
    assert listed(f"from_ms={T0 + 10_000}&to_ms={T0 + 20_000}") == ["water_ingress"]
    assert listed(f"from_ms={T0 + 10_000}") == ["smoke", "water_ingress"]
    assert listed(f"to_ms={T0 + 10_000}") == ["h2_prewarning"]
    assert listed(f"status=active&from_ms={T0 + 10_000}") == ["smoke"]
    assert listed(user="bob") == ["smoke"] and listed("thing_name=cab-a", user="bob") == []

    def pages(q: str) -> list[list[str]]:
        out, token = [], None
        while True:
            r = api.get(f"/v1/alarms?limit=1&{q}" + (f"&next_token={token}" if token else ""))
            assert r.status_code == 200, r.json_body
            out.append([a["alarm_id"] for a in r.json_body["items"]])
            token = r.json_body["next_token"]
            if token is None:
                return out

    assert pages("") == [[smoke["alarm_id"]], [water["alarm_id"]], [h2["alarm_id"]]]
    assert pages("status=active") == [[smoke["alarm_id"]], [h2["alarm_id"]]]
    assert pages("thing_name=cab-a") == [[smoke["alarm_id"]], [h2["alarm_id"]]]
    r = api.get("/v1/alarms?limit=2")
    assert len(r.json_body["items"]) == 2 and r.json_body["next_token"]

    assert error(api.get("/v1/alarms?next_token=bm9wZQ"))["code"] == "invalid_next_token"
    assert api.get("/v1/alarms?next_token=%%%").status_code == 400
    r = api.get(f"/v1/alarms?from_ms={T0 + 1}&to_ms={T0}")
    assert r.status_code == 400 and error(r)["code"] == "invalid_time_range"
    for q in ("level_min=4", "status=open", "limit=0", "limit=101", "colour=red", "from_ms=-1"):
        r = api.get(f"/v1/alarms?{q}")
        assert r.status_code == 422 and error(r)["code"] == "validation_failed", q


def test_one_alarm_and_tenant_isolation(desk: Desk) -> None:
    """LCM-AL-3, LCM-SEC-5: an alarm is readable by id in its tenant only; an unknown id and another tenant's alarm
    are the same 404 for reading, the timeline and every change; no token (or no tenant in it) is 401, no role 403."""
    api = desk.api
    mine = desk.raise_on(desk.a, T0, smoke_detected=True)
    theirs = desk.raise_on(desk.x, T0, smoke_detected=True)

    r = api.get(f"/v1/alarms/{mine['alarm_id']}")
    assert r.status_code == 200 and r.json_body == mine
    assert r.json_body["tenant_id"] == api.acme and r.json_body["thing_name"] == "cab-a"
    assert api.get(f"/v1/alarms/{theirs['alarm_id']}", user="bob").json_body == theirs

    for path in (f"/v1/alarms/{theirs['alarm_id']}", "/v1/alarms/al-000000000000000000000000", "/v1/alarms/nope"):
        r = api.get(path)
        assert r.status_code == 404 and error(r)["code"] == "alarm_not_found", path
    assert api.get(f"/v1/alarms/{theirs['alarm_id']}/timeline").status_code == 404
    for action, body in (("acknowledge", {}), ("clear", {"reason": "x"}), ("assign", {"assignee": "me"})):
        r = api.post(f"/v1/alarms/{theirs['alarm_id']}/{action}", body)
        assert r.status_code == 404 and error(r)["code"] == "alarm_not_found", action
    assert api.post(f"/v1/alarms/{theirs['alarm_id']}/comments", {"text": "hi"}).status_code == 404
    assert api.get(f"/v1/alarms/{theirs['alarm_id']}", user="bob").json_body == theirs  # untouched

    assert api.get("/v1/alarms", user=None).status_code == 401
    assert api.get(f"/v1/alarms/{mine['alarm_id']}", user="nobody").status_code == 401  # no tenant claim
    assert api.get(f"/v1/alarms/{mine['alarm_id']}", user="nora").status_code == 403  # no role


# ---- alarms: handling ------------------------------------------------------------------------------------------


def test_acknowledge_assign_comment_and_the_timeline(desk: Desk) -> None:
    """LCM-AL-3, SLW-EW-4, LCM-SEC-5, SLW-WEB-7: a viewer reads but cannot acknowledge, assign, comment or clear
    (403); an operator acknowledges an active alarm once (then 409), with AlarmAcknowledged on the bus and the
    console; assigns and unassigns; comments (201); the timeline lists all of it in time order."""
    api = desk.api
    alarm = desk.raise_on(desk.a, T0, smoke_detected=True)
    path = f"/v1/alarms/{alarm['alarm_id']}"

    assert api.get(path, user="vera").status_code == 200
    for action, body in (
        ("acknowledge", {}),
        ("assign", {"assignee": "vera"}),
        ("comments", {"text": "seen"}),
        ("clear", {"reason": "x"}),
    ):
        r = api.post(f"{path}/{action}", body, user="vera")
        assert r.status_code == 403 and error(r)["code"] == "forbidden", (action, r.json_body)
    assert api.get(path).json_body["status"] == "active"

    desk.at(T0 + 60_000)
    r = api.post(f"{path}/acknowledge", {"comment": "crew on the way"})
    assert r.status_code == 200, r.json_body
    acked = r.json_body
    assert acked["status"] == "acknowledged" and acked["acknowledged_at_ms"] == T0 + 60_000
    assert acked["acknowledged_by"].startswith("alice") and acked["updated_at_ms"] == T0 + 60_000
    event = desk.ports.events.of("AlarmAcknowledged", alarm["alarm_id"])
    assert [e["event_id"] for e in event] == [f"{alarm['alarm_id']}:acknowledged"]
    pushed = desk.ports.mqtt.console(api.acme, topics.ConsoleStream.ALARMS)
    assert [p["type"] for p in pushed] == ["AlarmRaised", "AlarmAcknowledged"]
    r = api.post(f"{path}/acknowledge", {})
    assert r.status_code == 409 and error(r)["code"] == "alarm_not_active"

    desk.at(T0 + 61_000)
    r = api.post(f"{path}/assign", {"assignee": "ada"})
    assert r.status_code == 200 and r.json_body["assignee"] == "ada" and r.json_body["status"] == "acknowledged"
    desk.at(T0 + 62_000)
    r = api.post(f"{path}/comments", {"text": "breaker opened on site"})
    assert r.status_code == 201, r.json_body
    assert (r.json_body["type"], r.json_body["params"]) == ("commented", {"text": "breaker opened on site"})
    assert r.json_body["actor"].startswith("alice") and r.json_body["at_ms"] == T0 + 62_000
    desk.at(T0 + 63_000)
    assert api.post(f"{path}/assign", {"assignee": None}).json_body["assignee"] is None

    for action, raw, status in (
        ("comments", "{}", 422),
        ("comments", '{"text": ""}', 422),
        ("acknowledge", '{"colour": "red"}', 422),
        ("assign", "{}", 422),
        ("comments", "not json", 400),
        ("clear", "", 400),
    ):
        assert api.post(f"{path}/{action}", None, raw=raw).status_code == status, (action, raw)

    r = api.get(f"{path}/timeline", user="vera")
    assert r.status_code == 200 and r.json_body["alarm_id"] == alarm["alarm_id"]
    entries = r.json_body["entries"]
    assert [e["type"] for e in entries] == [
        "command_sent",  # the cut_off goes out first, in the same millisecond
        "raised",
        "acknowledged",
        "assigned",
        "commented",
        "assigned",
    ]
    assert [e["at_ms"] for e in entries] == sorted(e["at_ms"] for e in entries)
    assert entries[2]["params"] == {"comment": "crew on the way"} and entries[3]["params"] == {"assignee": "ada"}
    assert entries[0]["params"]["command"] == "cut_off" and entries[1]["actor"] == "system"


def test_clear_by_hand_with_a_reason(desk: Desk) -> None:
    """LCM-AL-3, SLW-EW-4: an operator clears an alarm with a reason (kept with the record, timeline, AlarmCleared);
    the guard is released; clearing or acknowledging it again is 409; a reason is required (422)."""
    api = desk.api
    alarm = desk.raise_on(desk.a, T0, water_ingress=True)
    path = f"/v1/alarms/{alarm['alarm_id']}"
    assert api.post(f"{path}/clear", {}).status_code == 422

    desk.at(T0 + 120_000)
    r = api.post(f"{path}/clear", {"reason": "sensor replaced, cabinet dry"})
    assert r.status_code == 200, r.json_body
    cleared = r.json_body
    assert (cleared["status"], cleared["clear_reason"], cleared["cleared_at_ms"]) == (
        "cleared",
        "sensor replaced, cabinet dry",
        T0 + 120_000,
    )
    assert cleared["cleared_by"].startswith("alice")
    assert api.get(path).json_body == cleared
    assert services.alarm_store().active_alarm_id(api.acme, "cab-a", "water_ingress") is None
    assert [e["alarm"]["status"] for e in desk.ports.events.of("AlarmCleared", alarm["alarm_id"])] == ["cleared"]
    last = api.get(f"{path}/timeline").json_body["entries"][-1]
    assert (last["type"], last["params"]) == ("cleared", {"reason": "sensor replaced, cabinet dry"})

    r = api.post(f"{path}/clear", {"reason": "again"})
    assert r.status_code == 409 and error(r)["code"] == "alarm_cleared"
    assert api.post(f"{path}/acknowledge", {}).status_code == 409


def _still_wet_after_manual_clear(desk: Desk, cold: bool) -> None:
    api = desk.api
    first = desk.raise_on(desk.a, T0, water_ingress=True)
    desk.at(T0 + 10_000)
    assert api.post(f"/v1/alarms/{first['alarm_id']}/clear", {"reason": "reset by site"}).status_code == 200
    if cold:
        desk.ports.install()  # the alarms function starts cold: its engine state comes from DynamoDB
    second = desk.raise_on(desk.a, T0 + 11_000, water_ingress=True)
    assert second["alarm_id"] != first["alarm_id"] and second["status"] == "active"
    assert second["device_ts_ms"] == T0 + 13_000  # the rule's 2 s again, from the first sample after the clear
    assert api.get(f"/v1/alarms/{first['alarm_id']}").json_body["status"] == "cleared"
    cuts = [c for c in desk.ports.mqtt.commands(api.acme, "cab-a") if c.name is CommandName.CUT_OFF]
    assert [c.idempotency_key for c in cuts] == [f"{first['alarm_id']}:action:0", f"{second['alarm_id']}:action:0"]


def test_a_condition_still_holding_after_a_manual_clear_raises_a_new_alarm_cold(desk: Desk) -> None:
    """LCM-AL-1, LCM-AL-3, SLW-PR-4: water still detected after an operator's clear: the next samples (alarms
    function cold) raise a NEW alarm after the rule's 2 s, with a new cut_off."""
    _still_wet_after_manual_clear(desk, cold=True)


def test_a_condition_still_holding_after_a_manual_clear_raises_a_new_alarm_warm(desk: Desk) -> None:
    """LCM-AL-1, LCM-AL-3, SLW-PR-4: the same with the alarms function warm (its engine state cached in memory):
    the next samples after the clear raise a NEW alarm after the rule's 2 s, with a new cut_off."""
    _still_wet_after_manual_clear(desk, cold=False)


# ---- alarm rules ----------------------------------------------------------------------------------------------


def test_effective_rules_of_a_device_show_each_source(desk: Desk) -> None:
    """SLW-WEB-3, ARC-3, SLW-IF-2: a device's effective rules overlay default → tenant → model → device, each rule
    with the scope and version it comes from, rule ids switched off listed; each new scope version starts at 1."""
    api = desk.api
    r = api.get("/v1/devices/cab-a/alarm-rules", user="vera")
    assert r.status_code == 200, r.json_body
    base = r.json_body
    assert base["version"] == "default@1" and base["disabled"] == []
    assert {e["source"] for e in base["rules"]} == {"default"}
    ids = {e["rule"]["rule_id"] for e in base["rules"]}
    assert {"smoke", "water_ingress", "h2_prewarning", "communication_lost"} <= ids
    assert ids == {r.rule_id for r in DEFAULT_RULES if DeviceKind.STORAGE_CABINET in r.kinds}

    def post(scope: str, rules: list[dict[str, Any]], disabled: list[str] | None = None) -> dict[str, Any]:
        body = {"scope": scope, "rules": rules, "disabled": disabled or [], "comment": f"{scope} thresholds"}
        r = api.post("/v1/alarm-rules", body, user="ada")
        assert r.status_code == 201, r.json_body
        return r.json_body  # type: ignore[no-any-return]

    tenant = post("tenant", [rule_json("h2_prewarning", value=50.0)])
    assert (tenant["version"], tenant["scope"], tenant["tenant_id"]) == (1, "tenant", api.acme)
    assert tenant["created_by"].startswith("ada") and tenant["rolled_back_from"] is None
    assert post(MODEL_SCOPE, [rule_json("co_prewarning", value=100.0)])["version"] == 1
    assert post("device:cab-a", [rule_json("h2_prewarning", value=40.0)], disabled=["soc_low"])["version"] == 1

    eff = api.get("/v1/devices/cab-a/alarm-rules").json_body
    assert eff["version"] == f"default@1+tenant@1+{MODEL_SCOPE}@1+device:cab-a@1"
    source = {e["rule"]["rule_id"]: (e["source"], e["source_version"]) for e in eff["rules"]}
    assert source["h2_prewarning"] == ("device:cab-a", 1)
    assert source["co_prewarning"] == (MODEL_SCOPE, 1)
    assert source["smoke"] == ("default", 1)
    h2 = next(e["rule"] for e in eff["rules"] if e["rule"]["rule_id"] == "h2_prewarning")
    assert h2["condition"]["value"] == 40.0
    assert eff["disabled"] == ["soc_low"]

    other = api.get("/v1/devices/cab-b/alarm-rules").json_body
    assert other["version"] == f"default@1+tenant@1+{MODEL_SCOPE}@1"
    assert {e["rule"]["rule_id"]: e["source"] for e in other["rules"]}["h2_prewarning"] == "tenant"
    assert api.get("/v1/devices/cab-x/alarm-rules").status_code == 404  # bolt's device
    assert api.get("/v1/devices/cab-x/alarm-rules", user="bob").json_body["version"] == "default@1"


def test_versions_diff_and_rollback(desk: Desk) -> None:
    """SLW-WEB-3, SLW-IF-2, LCM-AL-3: a scope's versions are immutable history: current, list (newest first, paged
    with before), one version, the diff between two, and a roll back that writes a new version with the old content."""
    api = desk.api
    v1 = {"scope": "tenant", "rules": [rule_json("h2_prewarning", value=50.0)], "comment": "first"}
    v2 = {
        "scope": "tenant",
        "rules": [rule_json("h2_prewarning", value=70.0), rule_json("co_prewarning", value=100.0)],
        "disabled": ["soc_low"],
        "comment": "second",
    }
    assert api.post("/v1/alarm-rules", v1, user="ada").json_body["version"] == 1
    assert api.post("/v1/alarm-rules", v2, user="ada").json_body["version"] == 2
    assert api.get("/v1/alarm-rules?scope=tenant", user="vera").json_body["version"] == 2
    assert api.get("/v1/alarm-rules?scope=tenant", user="bob").status_code == 404  # bolt has none

    r = api.get("/v1/alarm-rules/versions?scope=tenant")
    assert [v["version"] for v in r.json_body["items"]] == [2, 1] and r.json_body["next_before"] is None
    page = api.get("/v1/alarm-rules/versions?scope=tenant&limit=1").json_body
    assert [v["version"] for v in page["items"]] == [2] and page["next_before"] == 2
    page = api.get(f"/v1/alarm-rules/versions?scope=tenant&limit=1&before={page['next_before']}").json_body
    assert [v["version"] for v in page["items"]] == [1] and page["next_before"] is None
    one = api.get("/v1/alarm-rules/versions/1?scope=tenant").json_body
    assert one["comment"] == "first" and one["rules"][0]["condition"]["value"] == 50.0
    assert api.get("/v1/alarm-rules/versions/9?scope=tenant").status_code == 404
    assert api.get("/v1/alarm-rules/versions/x?scope=tenant").status_code == 404

    diff = api.get("/v1/alarm-rules/diff?scope=tenant&from_version=1&to_version=2").json_body
    assert (diff["from_version"], diff["to_version"]) == (1, 2)
    changes = {c["rule_id"]: c for c in diff["changes"]}
    assert {k: c["change"] for k, c in changes.items()} == {"co_prewarning": "added", "h2_prewarning": "changed"}
    assert changes["h2_prewarning"]["before"]["condition"]["value"] == 50.0
    assert changes["h2_prewarning"]["after"]["condition"]["value"] == 70.0
    assert (diff["disabled_added"], diff["disabled_removed"]) == (["soc_low"], [])
    back = api.get("/v1/alarm-rules/diff?scope=tenant&from_version=2&to_version=1").json_body
    assert [(c["rule_id"], c["change"]) for c in back["changes"]] == [
        ("co_prewarning", "removed"),
        ("h2_prewarning", "changed"),
    ]
    assert back["disabled_removed"] == ["soc_low"]
    first = api.get("/v1/alarm-rules/diff?scope=tenant&from_version=0&to_version=1").json_body
    assert [(c["rule_id"], c["change"]) for c in first["changes"]] == [("h2_prewarning", "added")]

    r = api.post("/v1/alarm-rules/rollback", {"scope": "tenant", "version": 1, "comment": "too noisy"}, user="ada")
    assert r.status_code == 201, r.json_body
    v3 = r.json_body
    assert (v3["version"], v3["rolled_back_from"], v3["comment"]) == (3, 1, "too noisy")
    assert (v3["rules"], v3["disabled"]) == (one["rules"], one["disabled"])
    assert api.get("/v1/alarm-rules?scope=tenant").json_body == v3
    assert [v["version"] for v in api.get("/v1/alarm-rules/versions?scope=tenant").json_body["items"]] == [3, 2, 1]
    assert api.get("/v1/alarm-rules/diff?scope=tenant&from_version=1&to_version=3").json_body["changes"] == []
    assert api.post("/v1/alarm-rules/rollback", {"scope": "tenant", "version": 9}, user="ada").status_code == 404
    assert api.post("/v1/alarm-rules/rollback", {"scope": "tenant", "version": 1}, user="alice").status_code == 403


def test_rule_set_writes_are_checked(desk: Desk) -> None:
    """SLW-WEB-3, LCM-SEC-5: only an admin writes rules (viewer and operator 403); a disabled id no rule defines is
    400, a model or device scope naming nothing of the tenant 404, a rule for the wrong device kind 400, and a body
    that breaks the schema 422; nothing is written by a refused request."""
    api = desk.api
    good = {"scope": "tenant", "rules": [rule_json("h2_prewarning", value=50.0)]}
    for user in ("vera", "alice"):
        r = api.post("/v1/alarm-rules", good, user=user)
        assert r.status_code == 403 and error(r)["code"] == "forbidden", user

    def refused(body: dict[str, Any], status: int, code: str) -> None:
        r = api.post("/v1/alarm-rules", body, user="ada")
        assert r.status_code == status and error(r)["code"] == code, (body, r.json_body)

    refused({"scope": "tenant", "disabled": ["no_such_rule"]}, 400, "unknown_rule_id")
    refused({"scope": "model:no-such-model", "rules": []}, 404, "model_not_found")
    refused({"scope": "device:cab-x", "rules": []}, 404, "device_not_found")  # bolt's device
    pack_only = rule_json("h2_prewarning") | {"rule_id": "pack_rule", "kinds": ["battery_pack"]}
    refused({"scope": "device:cab-a", "rules": [pack_only]}, 400, "rule_kind_mismatch")
    refused({"scope": "fleet", "rules": []}, 422, "validation_failed")
    refused({"scope": "tenant", "rules": [rule_json("h2_prewarning", value=None)]}, 422, "validation_failed")
    refused({"scope": "tenant", "rules": [rule_json("h2_prewarning") | {"level": 7}]}, 422, "validation_failed")
    refused({"scope": "tenant", "rules": [rule_json("smoke"), rule_json("smoke")]}, 422, "validation_failed")
    refused({"scope": "tenant", "colour": "red"}, 422, "validation_failed")
    silence_too_short = rule_json("communication_lost", after_s=5)
    refused({"scope": "tenant", "rules": [silence_too_short]}, 422, "validation_failed")
    assert api.get("/v1/alarm-rules?scope=tenant").status_code == 404  # nothing was written
    assert api.get("/v1/alarm-rules/versions?scope=device:cab-a").json_body["items"] == []


DOOR_RULE = {
    "rule_id": "door_open_long",
    "kinds": ["storage_cabinet"],
    "level": 1,
    "condition": {"type": "signal", "signal": "door_open", "for_s": 600},
}


def test_a_device_scope_can_switch_off_a_rule_its_model_scope_adds(desk: Desk) -> None:
    """SLW-WEB-3: scopes overlay default → tenant → model → device, so a device scope may switch off (disabled) a rule
    that only its model's scope defines; the device's effective rules then list it as disabled."""
    api = desk.api
    r = api.post("/v1/alarm-rules", {"scope": MODEL_SCOPE, "rules": [DOOR_RULE]}, user="ada")
    assert r.status_code == 201, r.json_body
    r = api.post("/v1/alarm-rules", {"scope": "device:cab-a", "disabled": ["door_open_long"]}, user="ada")
    assert r.status_code == 201, r.json_body
    eff = api.get("/v1/devices/cab-a/alarm-rules").json_body
    assert eff["disabled"] == ["door_open_long"]


@pytest.fixture
def no_rule_cache(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ALARM_RULES_CACHE_S=0: the alarms function reads the rule sets on every batch."""
    monkeypatch.setenv("ALARM_RULES_CACHE_S", "0")
    get_settings.cache_clear()
    desk.ports.install()
    assert get_settings().alarm_rules_cache_s == 0
    yield
    monkeypatch.delenv("ALARM_RULES_CACHE_S")
    get_settings.cache_clear()


def test_a_new_tenant_threshold_changes_what_the_pipeline_raises(desk: Desk, no_rule_cache: None) -> None:
    """SLW-WEB-3, SLW-EW-5, ARC-3: 60 ppm H2 is below the default pre-warning (100 ppm); after an admin posts a
    tenant version at 50 ppm the same reading raises, the alarm naming the effective version; rolled back, a new
    rise to 60 ppm on another cabinet raises nothing."""
    api = desk.api
    assert desk.a.send(*desk.a.samples(T0, 3, h2_ppm=60.0)) == OK
    assert rules_of(api.get("/v1/alarms")) == []

    body = {"scope": "tenant", "rules": [rule_json("h2_prewarning", value=50.0, hysteresis=10.0)]}
    assert api.post("/v1/alarm-rules", body, user="ada").status_code == 201
    alarm = desk.raise_on(desk.a, T0 + 3000, h2_ppm=60.0)
    assert (alarm["rule_id"], alarm["rule_version"]) == ("h2_prewarning", "default@1+tenant@1")
    assert (alarm["params"]["threshold"], alarm["params"]["clear_threshold"]) == (50.0, 40.0)
    assert alarm["device_ts_ms"] == T0 + 5000

    empty = {"scope": "tenant", "rules": [], "comment": "back to the defaults"}
    assert api.post("/v1/alarm-rules", empty, user="ada").json_body["version"] == 2
    assert desk.b.send(*desk.b.samples(T0, 3, h2_ppm=60.0)) == OK
    assert rules_of(api.get("/v1/alarms?thing_name=cab-b")) == []
