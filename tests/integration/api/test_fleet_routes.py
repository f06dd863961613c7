"""Fleet and caller routes in-process against moto with real Cognito JWTs. The fleet's data arrives as in
production: uplink batches through the ingest Lambda (latest state, history) and the alarms Lambda (alarms),
with a recording MQTT publisher, bus and clock injected."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from functions import services
from functions.ingest import handler as ingest_handler
from shared.contracts import topics
from shared.contracts.alarms import Alarm, AlarmLevel, AlarmStatus
from shared.contracts.devices import DeviceKind, DeviceModel, DeviceStatus
from shared.domain.devices.catalogue import BUILT_IN_MODELS
from shared.settings import get_settings
from tests.integration.alarm_support import (
    ARRIVAL_DELAY_MS,
    CABINET,
    T0,
    Clock,
    Feed,
    Ports,
    RecordingEvents,
    RecordingPublisher,
    register,
)
from tests.support.samples import pack_body, rule_output

OK: dict[str, list[Any]] = {"batchItemFailures": []}
HOUR = 3_600_000
HOUR_START = T0 - T0 % HOUR
PACK: DeviceModel = next(m for m in BUILT_IN_MODELS if m.model_id == "lfp-16s280-ess")
STATUSES = ["charging", "discharging", "idle", "fault", "offline", "inactive"]


@dataclass
class Fleet:
    api: Any
    ports: Ports

    def feed(self, tenant: str, thing: str) -> Feed:
        return Feed(tenant, thing, self.ports.clock)

    def send(self, feed: Feed, *records: bytes) -> None:
        """One Kinesis batch through both consumers of the uplink stream: ingest, then alarms."""
        event = feed.batch(*records)
        assert ingest_handler.handler(event, None) == OK
        assert feed.deliver(event) == OK

    def pack_telemetry(self, feed: Feed, ts: int, **readings: Any) -> bytes:
        feed.seq += 1
        body = pack_body(seq=feed.seq, boot_id="boot-1", ts=ts, probes=PACK.probe_count, **readings)
        topic = topics.uplink(feed.tenant, feed.thing, topics.UpType.TELEMETRY)
        return rule_output(topic, body, arrival_ms=ts + ARRIVAL_DELAY_MS)

    def position(self, feed: Feed, ts: int, lat: float, lon: float, *, fix_valid: bool = True) -> bytes:
        feed.seq += 1
        body = {
            "kind": "position",
            "boot_id": "boot-1",
            "seq": feed.seq,
            "device_ts_ms": ts,
            "latitude_deg": lat,
            "longitude_deg": lon,
            "coordinate_system": "GCJ-02",
            "fix_valid": fix_valid,
            "speed_kmh": 36.0,
            "heading_deg": 45.0,
        }
        topic = topics.uplink(feed.tenant, feed.thing, topics.UpType.POSITION)
        return rule_output(topic, body, arrival_ms=ts + ARRIVAL_DELAY_MS)

    def get(self, path: str, user: str | None = "alice") -> Any:
        return self.api.get(path, user=user)

    def ok(self, path: str, user: str = "alice") -> dict[str, Any]:
        r = self.get(path, user)
        assert r.status_code == 200, (path, r.json_body)
        return r.json_body  # type: ignore[no-any-return]


@pytest.fixture
def fleet(api: Any) -> Iterator[Fleet]:
    from functions.api import wiring

    ports = Ports(Clock(), RecordingPublisher(), RecordingEvents())
    ports.install()
    wiring.model_registry()  # the API seeds the built-in catalogue at cold start
    s3 = boto3.client("s3", region_name="us-east-1")
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    for bucket in (get_settings().archive_bucket, get_settings().quarantine_bucket):
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
    ingest_handler.service.cache_clear()
    yield Fleet(api, ports)
    ingest_handler.service.cache_clear()
    services.configure()


def store_alarm(
    tenant: str, thing: str, level: int, raised_at_ms: int, status: AlarmStatus = AlarmStatus.ACTIVE
) -> None:
    """An alarm written straight to the alarm store (for a device kind the default rules do not cover here)."""
    digest = hashlib.sha256(f"{tenant}#{thing}#{level}#{raised_at_ms}".encode()).hexdigest()
    assert services.alarm_store().create(
        Alarm(
            alarm_id=f"al-{digest[:24]}",
            tenant_id=tenant,
            thing_name=thing,
            device_kind=DeviceKind.BATTERY_PACK,
            model_id=PACK.model_id,
            rule_id=f"stored_l{level}",
            level=AlarmLevel(level),
            status=status,
            code=f"stored_l{level}",
            rule_version="default@1",
            raised_at_ms=raised_at_ms,
            device_ts_ms=raised_at_ms,
            updated_at_ms=raised_at_ms,
        )
    )


def error(r: Any) -> dict[str, Any]:
    return r.json_body["error"]  # type: ignore[no-any-return]


@pytest.fixture
def world(fleet: Fleet) -> Fleet:
    """acme: a cabinet on fire (smoke L3 + H₂ pre-warning, the latter acknowledged), a cabinet silent for 10 min,
    a charging pack with a GNSS fix, a revoked pack with an old fix, a pack that never spoke.
    bolt: its own burning cabinet with a fix, and a pack named like acme's with a level-3 alarm."""
    api = fleet.api
    for tenant, thing, model in (
        (api.acme, "cab-a", CABINET),
        (api.acme, "cab-b", CABINET),
        (api.acme, "pack-1", PACK),
        (api.acme, "pack-r", PACK),
        (api.acme, "pack-n", PACK),
        (api.bolt, "cab-x", CABINET),
        (api.bolt, "pack-1", PACK),
    ):
        register(tenant, thing, model)

    a, b = fleet.feed(api.acme, "cab-a"), fleet.feed(api.acme, "cab-b")
    p1, pr = fleet.feed(api.acme, "pack-1"), fleet.feed(api.acme, "pack-r")
    x = fleet.feed(api.bolt, "cab-x")
    fleet.send(b, b.telemetry(T0 - 600_000))
    fleet.send(pr, fleet.position(pr, T0 - 7_200_000, 30.60, 114.30))
    fleet.send(a, *a.samples(T0 - 10_000, 3, smoke_detected=True, h2_ppm=150.0))
    fleet.send(x, *x.samples(T0 - 10_000, 3, smoke_detected=True), fleet.position(x, T0 - 5_000, 39.9, 116.4))
    fleet.send(
        p1,
        fleet.position(p1, T0 - 40_000, 31.2300, 121.4700),
        fleet.position(p1, T0 - 30_000, 0.0, 0.0, fix_valid=False),
        fleet.pack_telemetry(p1, T0 - 20_000, state=None, current_a=-25.0, soc_pct=42.5),
        fleet.position(p1, T0 - 20_000, 31.2310, 121.4710),
    )
    # pack-r was revoked after its last message (the registry flips, its data stays)
    from shared.dal.devices import DynamoDeviceRepository

    repo = DynamoDeviceRepository()
    revoked = repo.get(api.acme, "pack-r")
    assert revoked is not None
    repo.replace(revoked.model_copy(update={"status": DeviceStatus.REVOKED}), expected_status="active")
    store_alarm(api.bolt, "pack-1", 3, T0 - 1_000)

    fleet.ports.clock.now = T0
    alarms = fleet.ok("/v1/alarms?thing_name=cab-a")["items"]
    assert {(al["rule_id"], al["level"]) for al in alarms} == {("smoke", 3), ("h2_prewarning", 0)}
    h2 = next(al for al in alarms if al["rule_id"] == "h2_prewarning")
    assert api.post(f"/v1/alarms/{h2['alarm_id']}/acknowledge", {}).status_code == 200
    return fleet


def test_overview_counts_trend_and_worst_devices_of_the_callers_tenant(world: Fleet) -> None:
    """LCM-MON-4, SLW-WEB-4, SLW-WEB-5, EVC-MON-1, LCM-SEC-5: the dashboard of the caller's tenant from real
    ingest and alarm data: devices per kind/status (revoked = inactive, silent = offline, an open level-3 alarm =
    fault, no BMS state + negative current = charging), open alarms per level and unacknowledged, alarms raised
    per UTC hour, the devices needing attention; the other tenant (same thing names) never counts."""
    out = world.ok("/v1/fleet/overview")
    assert out["generated_at_ms"] == T0
    assert out["devices"] == {
        "total": 5,
        "online": 2,
        "by_kind": {"battery_pack": 3, "storage_cabinet": 2},
        "by_status": {"charging": 1, "discharging": 0, "idle": 0, "fault": 1, "offline": 2, "inactive": 1},
        "by_kind_status": {
            "battery_pack": {"charging": 1, "discharging": 0, "idle": 0, "fault": 0, "offline": 1, "inactive": 1},
            "storage_cabinet": {"charging": 0, "discharging": 0, "idle": 0, "fault": 1, "offline": 1, "inactive": 0},
        },
    }
    assert out["alarms"] == {
        "active_total": 2,
        "active_by_level": {"0": 1, "1": 0, "2": 0, "3": 1},
        "unacknowledged": 1,
    }
    trend = out["trend"]
    assert (trend["bucket_ms"], trend["from_ms"], trend["to_ms"]) == (HOUR, HOUR_START - 23 * HOUR, HOUR_START + HOUR)
    assert [b["start_ms"] for b in trend["buckets"]] == [HOUR_START - (23 - i) * HOUR for i in range(24)]
    assert trend["buckets"][-1]["by_level"] == {"0": 1, "1": 0, "2": 0, "3": 1}
    assert all(b["by_level"] == {"0": 0, "1": 0, "2": 0, "3": 0} for b in trend["buckets"][:-1])
    assert trend["truncated"] is False
    worst = out["worst_devices"]
    assert [(d["thing_name"], d["status"], d["worst_level"], d["active_alarms"]) for d in worst] == [
        ("cab-a", "fault", 3, 2),
        ("cab-b", "offline", None, 0),
        ("pack-n", "offline", None, 0),
    ]
    assert worst[0]["worst_alarm_code"] == "smoke" and worst[0]["state"] == "discharging"
    assert len(world.ok("/v1/fleet/overview?hours=168")["trend"]["buckets"]) == 168
    assert len(world.ok("/v1/fleet/overview?hours=1")["trend"]["buckets"]) == 1

    theirs = world.ok("/v1/fleet/overview", user="bob")
    assert theirs["devices"]["total"] == 2 and theirs["alarms"]["active_total"] == 2
    assert {d["thing_name"] for d in theirs["worst_devices"]} == {"cab-x", "pack-1"}


def test_device_table_rows_search_filter_sort_and_pages(world: Fleet) -> None:
    """LCM-UI-1, LCM-MON-4, SLW-WEB-4, SLW-WEB-5: every row in the documented shape (latest readings, cell
    extremes, worst alarm, valid position); q/kind/status (comma-separated or repeated)/model_id/min_level
    filters, sort and order, pages with total and the status facet; another tenant's rows never appear."""
    out = world.ok("/v1/fleet/devices?sort=thing_name")
    assert [r["thing_name"] for r in out["items"]] == ["cab-a", "cab-b", "pack-1", "pack-n", "pack-r"]
    assert (out["total"], out["page"], out["page_size"]) == (5, 1, 20)
    assert out["counts_by_status"] == {
        "charging": 1,
        "discharging": 0,
        "idle": 0,
        "fault": 1,
        "offline": 2,
        "inactive": 1,
    }
    rows = {r["thing_name"]: r for r in out["items"]}
    assert rows["pack-1"] == {
        "thing_name": "pack-1",
        "kind": "battery_pack",
        "model_id": PACK.model_id,
        "battery_code": None,
        "registry_status": "active",
        "status": "charging",
        "online": True,
        "last_seen_ms": T0 - 20_000 + ARRIVAL_DELAY_MS,
        "state": None,
        "soc_pct": 42.5,
        "pack_voltage_v": 52.8,
        "current_a": -25.0,
        "max_cell_voltage_v": 3.306,
        "min_cell_voltage_v": 3.3,
        "max_temperature_c": 28.5,
        "cell_count": 16,
        "worst_level": None,
        "active_alarms": 0,
        "worst_alarm_code": None,
        "position": {
            "latitude_deg": 31.231,
            "longitude_deg": 121.471,
            "coordinate_system": "GCJ-02",
            "ts_ms": T0 - 20_000,
            "speed_kmh": 36.0,
            "heading_deg": 45.0,
        },
    }
    assert rows["cab-a"]["cell_count"] == 48 and rows["cab-a"]["max_cell_voltage_v"] == 3.3
    assert (rows["cab-a"]["worst_level"], rows["cab-a"]["active_alarms"], rows["cab-a"]["position"]) == (3, 2, None)
    assert rows["pack-n"]["last_seen_ms"] is None and rows["pack-n"]["soc_pct"] is None
    assert (rows["pack-r"]["registry_status"], rows["pack-r"]["status"], rows["pack-r"]["online"]) == (
        "revoked",
        "inactive",
        False,
    )

    def names(query: str, user: str = "alice") -> list[str]:
        return [r["thing_name"] for r in world.ok(f"/v1/fleet/devices?{query}", user)["items"]]

    assert names("") == ["cab-a", "cab-b", "pack-1", "pack-n", "pack-r"]  # worst level first, then no alarms by name
    assert names("q=PACK-&sort=thing_name") == ["pack-1", "pack-n", "pack-r"]
    assert names("q=sl-cab&sort=thing_name") == ["cab-a", "cab-b"]
    assert names("kind=storage_cabinet&sort=thing_name&order=desc") == ["cab-b", "cab-a"]
    assert names("status=offline,inactive&sort=thing_name") == ["cab-b", "pack-n", "pack-r"]
    assert names("status=offline&status=fault&sort=thing_name") == ["cab-a", "cab-b", "pack-n"]
    assert names(f"model_id={PACK.model_id}&status=charging") == ["pack-1"]
    assert names("min_level=0") == ["cab-a"] and names("min_level=3") == ["cab-a"]
    assert names("sort=soc_pct") == ["pack-1", "cab-a", "cab-b", "pack-n", "pack-r"]
    assert names("sort=last_seen_ms") == ["cab-a", "pack-1", "cab-b", "pack-r", "pack-n"]
    assert names("sort=status") == ["cab-a", "cab-b", "pack-n", "pack-1", "pack-r"]
    page2 = world.ok("/v1/fleet/devices?sort=thing_name&page=2&page_size=2")
    assert [r["thing_name"] for r in page2["items"]] == ["pack-1", "pack-n"] and page2["total"] == 5
    assert world.ok("/v1/fleet/devices?page=4&page_size=2")["items"] == []
    faceted = world.ok("/v1/fleet/devices?kind=battery_pack&status=charging")
    assert faceted["total"] == 1 and faceted["counts_by_status"]["offline"] == 1
    assert faceted["counts_by_status"]["inactive"] == 1 and faceted["counts_by_status"]["fault"] == 0

    assert names("sort=thing_name", user="bob") == ["cab-x", "pack-1"]
    bob_pack = world.ok("/v1/fleet/devices?q=pack-1", user="bob")["items"][0]
    assert (bob_pack["worst_level"], bob_pack["last_seen_ms"]) == (3, None)  # theirs, not acme's pack-1


def test_positions_for_the_map(world: Fleet) -> None:
    """SLW-MON-3, EVC-MON-1: the latest valid fix of every device (a revoked one too), with status and worst
    level; kind filters; a device whose latest position has no fix, or that never sent one, is absent; another
    tenant's devices never appear."""
    out = world.ok("/v1/fleet/positions")
    assert out == {
        "items": [
            {
                "thing_name": "pack-1",
                "kind": "battery_pack",
                "status": "charging",
                "worst_level": None,
                "latitude_deg": 31.231,
                "longitude_deg": 121.471,
                "coordinate_system": "GCJ-02",
                "ts_ms": T0 - 20_000,
                "speed_kmh": 36.0,
                "heading_deg": 45.0,
            },
            {
                "thing_name": "pack-r",
                "kind": "battery_pack",
                "status": "inactive",
                "worst_level": None,
                "latitude_deg": 30.6,
                "longitude_deg": 114.3,
                "coordinate_system": "GCJ-02",
                "ts_ms": T0 - 7_200_000,
                "speed_kmh": 36.0,
                "heading_deg": 45.0,
            },
        ]
    }
    assert world.ok("/v1/fleet/positions?kind=storage_cabinet") == {"items": []}
    theirs = world.ok("/v1/fleet/positions?kind=storage_cabinet", user="bob")["items"]
    assert [(i["thing_name"], i["status"], i["worst_level"]) for i in theirs] == [("cab-x", "fault", 3)]


def test_position_history_gives_track_points(world: Fleet) -> None:
    """SLW-MON-3: track playback from GET /v1/devices/{thing}/history?type=position: every point has fix with
    latitude, longitude, coordinate system and device time; the fix-less sample adds no (0, 0) coordinates."""
    r = world.get(f"/v1/devices/pack-1/history?type=position&from_ms={T0 - 3_600_000}&to_ms={T0}")
    assert r.status_code == 200, r.json_body
    points = r.json_body["points"]
    assert [p["fix"] for p in points] == [
        {
            "latitude_deg": 31.23,
            "longitude_deg": 121.47,
            "coordinate_system": "GCJ-02",
            "ts_ms": T0 - 40_000,
            "speed_kmh": 36.0,
            "heading_deg": 45.0,
        },
        None,
        {
            "latitude_deg": 31.231,
            "longitude_deg": 121.471,
            "coordinate_system": "GCJ-02",
            "ts_ms": T0 - 20_000,
            "speed_kmh": 36.0,
            "heading_deg": 45.0,
        },
    ]
    assert "latitude_deg" not in points[1]["min"] and points[1]["last"]["body"]["fix_valid"] is False
    assert points[2]["avg"]["latitude_deg"] == 31.231 and points[2]["device_ts_ms"] == T0 - 20_000


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/v1/fleet/devices?kind=charger", "invalid_kind"),
        ("/v1/fleet/devices?status=online", "invalid_status"),
        ("/v1/fleet/devices?status=fault&status=broken", "invalid_status"),
        ("/v1/fleet/devices?min_level=5", "invalid_min_level"),
        ("/v1/fleet/devices?min_level=x", "invalid_min_level"),
        ("/v1/fleet/devices?sort=serial", "invalid_sort"),
        ("/v1/fleet/devices?order=random", "invalid_order"),
        ("/v1/fleet/devices?page=0", "invalid_page"),
        ("/v1/fleet/devices?page_size=500", "invalid_page_size"),
        ("/v1/fleet/devices?q=" + "x" * 200, "invalid_q"),
        ("/v1/fleet/devices?model_id=" + "m" * 65, "invalid_model_id"),
        ("/v1/fleet/overview?hours=0", "invalid_hours"),
        ("/v1/fleet/overview?hours=169", "invalid_hours"),
        ("/v1/fleet/overview?hours=day", "invalid_hours"),
        ("/v1/fleet/positions?kind=bus", "invalid_kind"),
    ],
)
def test_every_bad_value_is_a_400_naming_the_parameter(fleet: Fleet, path: str, code: str) -> None:
    """LCM-UI-1, ARC-6: bad values are 400 with a stable code, a message naming parameter and value, and
    details.parameter."""
    r = fleet.get(path)
    assert r.status_code == 400, r.json_body
    assert error(r)["code"] == code
    assert error(r)["details"]["parameter"] in error(r)["message"]


def test_unknown_parameters_auth_and_roles(fleet: Fleet) -> None:
    """LCM-SEC-5, ARC-6: an unknown parameter is 422 like on every route; no token or no tenant claim is 401; a
    user without a role is 403 on the fleet routes (READ); viewers read."""
    for path in ("/v1/fleet/overview", "/v1/fleet/devices", "/v1/fleet/positions"):
        r = fleet.get(f"{path}?colour=red")
        assert r.status_code == 422 and error(r)["code"] == "validation_failed", path
        assert fleet.get(path, user=None).status_code == 401
        assert fleet.get(path, user="nobody").status_code == 401
        r = fleet.get(path, user="nora")
        assert r.status_code == 403 and error(r)["details"]["action"] == "read", path
        assert fleet.get(path, user="vera").status_code == 200


def test_a_fleet_beyond_the_cap_is_409(world: Fleet) -> None:
    """LCM-MON-4 (D23): beyond the devices one request aggregates, the fleet routes answer 409 fleet_too_large
    with the limit, never a partial count."""
    view = services.fleet_view()
    view.max_devices = 4
    for path in ("/v1/fleet/overview", "/v1/fleet/devices", "/v1/fleet/positions"):
        r = world.get(path)
        assert r.status_code == 409 and error(r)["code"] == "fleet_too_large", path
        assert error(r)["details"] == {"what": "devices", "limit": 4} and "D23" in error(r)["message"]
    view.max_devices = 5
    assert world.ok("/v1/fleet/overview")["devices"]["total"] == 5


def test_me_describes_the_caller(fleet: Fleet) -> None:
    """LCM-UI-1, LCM-SEC-5: GET /v1/me gives user name, tenant (its id as name), groups, the most capable role and
    exactly the actions the API would allow; a user without a role learns that (200), a token without a tenant
    or no token is 401."""
    api = fleet.api
    n = api.acme[len("acme") :]
    alice = fleet.ok("/v1/me")
    assert alice == {
        "username": f"alice{n}",
        "tenant_id": api.acme,
        "tenant_name": api.acme,
        "groups": ["operator"],
        "role": "operator",
        "permissions": ["read", "manage_devices", "handle_alarms", "send_commands"],
    }
    ada = fleet.ok("/v1/me", user="ada")
    assert ada["role"] == "admin" and "manage_alarm_rules" in ada["permissions"]
    assert fleet.ok("/v1/me", user="vera")["permissions"] == ["read"]
    assert fleet.ok("/v1/me", user="bob")["tenant_id"] == api.bolt
    nora = fleet.ok("/v1/me", user="nora")
    assert (nora["role"], nora["groups"], nora["permissions"]) == ("none", [], [])
    assert fleet.get("/v1/me", user="nobody").status_code == 401
    r = fleet.get("/v1/me", user=None)
    assert r.status_code == 401 and json.loads(r.body)["error"]["code"] == "missing_token"
