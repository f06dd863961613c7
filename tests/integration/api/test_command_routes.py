"""Command routes in-process against moto (Cognito tokens, DynamoDB), with a recording MQTT publisher."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.contracts import topics
from shared.contracts.telemetry import Command


@dataclass
class RecordingPublisher:
    published: list[tuple[str, bytes]] = field(default_factory=list)
    down: bool = False

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        if self.down and "/down/" in topic:
            raise ConnectionError("broker down")
        self.published.append((topic, payload))

    def commands(self) -> list[Command]:
        return [Command.model_validate_json(p) for t, p in self.published if "/down/" in t]


@pytest.fixture
def publisher(api: Any) -> Iterator[RecordingPublisher]:
    import functions.api.routes.commands  # noqa: F401 - registers the routes on the app
    from functions import services

    fake = RecordingPublisher()
    services.configure(publisher=fake)
    yield fake
    services.configure()


def body(**kw: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"name": "restart", "reason": "controller hang reported by site", "idempotency_key": "op-1"}
    b.update(kw)
    return b


def thing(api: Any, serial: str = "SN-1", user: str = "alice") -> str:
    return str(api.register(serial, user)["device"]["thing_name"])


def test_operator_sends_a_command_and_a_retry_returns_it(api: Any, publisher: RecordingPublisher) -> None:
    """SLW-CTL-1, SLW-CTL-2, SLW-IF-1: an operator's command (with a reason) is recorded, published on the device's
    command topic and returned as sent (201); the same idempotency_key returns the same command, sent once."""
    t = thing(api)
    r = api.post(f"/v1/devices/{t}/commands", body(ttl_s=60))
    assert r.status_code == 201, r.json_body
    rec = r.json_body
    assert rec["status"] == "sent" and rec["name"] == "restart" and rec["thing_name"] == t
    assert rec["tenant_id"] == api.acme and rec["origin"]["type"] == "operator"
    assert rec["reason"] == "controller hang reported by site"
    assert rec["expires_at_ms"] - rec["issued_at_ms"] == 60_000
    [wire] = publisher.commands()
    assert wire.command_id == rec["command_id"] and wire.idempotency_key == "op-1"
    assert (topics.downlink(api.acme, t), wire.model_dump_json().encode()) in publisher.published
    again = api.post(f"/v1/devices/{t}/commands", body(ttl_s=60))
    assert again.status_code == 201 and again.json_body["command_id"] == rec["command_id"]
    assert len(publisher.commands()) == 1
    reused = api.post(f"/v1/devices/{t}/commands", body(name="cut_off"))
    assert reused.status_code == 409 and reused.json_body["error"]["code"] == "idempotency_key_reused"


def test_set_parameters_is_checked_before_sending(api: Any, publisher: RecordingPublisher) -> None:
    """SLW-CTL-2: parameters are validated per command (400 naming the key); the schema itself is 422."""
    t = thing(api)
    ok = api.post(
        f"/v1/devices/{t}/commands",
        body(name="set_parameters", params={"max_charge_current_a": 80, "max_temperature_c": 50}, idempotency_key="p"),
    )
    assert ok.status_code == 201 and ok.json_body["params"] == {"max_charge_current_a": 80, "max_temperature_c": 50}
    bad = api.post(
        f"/v1/devices/{t}/commands",
        body(name="set_parameters", params={"max_voltage_v": 4}, idempotency_key="q"),
    )
    assert bad.status_code == 400 and bad.json_body["error"]["code"] == "unknown_parameter"
    assert bad.json_body["error"]["details"]["parameter"] == "max_voltage_v"
    for wrong in (
        {"name": "restart", "idempotency_key": "x"},  # no reason
        body(name="self_destruct"),
        body(colour="red"),
        body(ttl_s=7200),
        body(reason=""),
    ):
        r = api.post(f"/v1/devices/{t}/commands", wrong)
        assert r.status_code == 422, (wrong, r.json_body)
    assert len(publisher.commands()) == 1


def test_only_active_devices_of_the_callers_tenant(api: Any, publisher: RecordingPublisher) -> None:
    """SLW-CTL-1, LCM-SEC-5: another tenant's device and an unknown one are 404; a revoked device is 409; a viewer
    may read but not send (403)."""
    t = thing(api)
    assert api.post(f"/v1/devices/{t}/commands", body(), user="bob").status_code == 404
    assert api.post("/v1/devices/cab-none/commands", body()).status_code == 404
    assert api.post(f"/v1/devices/{t}/commands", body(), user="vera").status_code == 403
    assert api.post(f"/v1/devices/{t}/revoke", {"reason": "lost"}).status_code == 200
    r = api.post(f"/v1/devices/{t}/commands", body())
    assert r.status_code == 409 and r.json_body["error"]["code"] == "device_not_active"
    assert publisher.commands() == []


def test_list_and_get_commands(api: Any, publisher: RecordingPublisher) -> None:
    """SLW-CTL-2, LCM-SEC-5: a device's commands newest first, paginated; one command by id; another tenant sees
    neither."""
    t = thing(api)
    ids = []
    for i in range(3):
        r = api.post(f"/v1/devices/{t}/commands", body(idempotency_key=f"k{i}"))
        ids.append(r.json_body["command_id"])
    first = api.get(f"/v1/devices/{t}/commands?limit=2", user="vera")
    assert first.status_code == 200 and first.json_body["next_token"]
    second = api.get(f"/v1/devices/{t}/commands?limit=2&next_token={first.json_body['next_token']}", user="vera")
    listed = [c["command_id"] for c in first.json_body["items"] + second.json_body["items"]]
    assert sorted(listed) == sorted(ids) and len(listed) == 3 and second.json_body["next_token"] is None
    one = api.get(f"/v1/commands/{ids[0]}", user="vera")
    assert one.status_code == 200 and one.json_body["command_id"] == ids[0]
    assert api.get(f"/v1/commands/{ids[0]}", user="bob").status_code == 404
    assert api.get(f"/v1/devices/{t}/commands", user="bob").status_code == 404
    assert api.get(f"/v1/devices/{t}/commands?next_token=garbage").status_code == 400
    assert api.get(f"/v1/devices/{t}/commands?limit=0").status_code == 422


def test_publish_failure_is_503_and_a_retry_sends_it(api: Any, publisher: RecordingPublisher) -> None:
    """SLW-CTL-2, SLW-PR-1: when the broker is unreachable the command stays pending and the API answers 503 with
    Retry-After; the client's retry with the same key sends it."""
    t = thing(api)
    publisher.down = True
    r = api.post(f"/v1/devices/{t}/commands", body())
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.json_body["error"]["code"] == "publish_failed"
    cid = r.json_body["error"]["details"]["command_id"]
    assert api.get(f"/v1/commands/{cid}").json_body["status"] == "pending"
    publisher.down = False
    retry = api.post(f"/v1/devices/{t}/commands", body())
    assert retry.status_code == 201 and retry.json_body["command_id"] == cid and retry.json_body["status"] == "sent"
    updates = [json.loads(p) for tp, p in publisher.published if tp.startswith(topics.CONSOLE_ROOT)]
    assert [u["status"] for u in updates] == ["pending", "sent"]
