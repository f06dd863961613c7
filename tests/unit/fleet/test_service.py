"""FleetView over in-memory ports: what it reads (the caller's tenant only), the three endpoints, authorisation,
the size caps and the injected clock."""

from __future__ import annotations

import pytest

from shared.contracts.alarms import AlarmStatus
from shared.contracts.devices import DeviceKind, DeviceStatus
from shared.domain.auth import Principal
from shared.domain.errors import Conflict, Forbidden, Invalid
from shared.domain.fleet.query import DeviceListParams, OverviewParams, PositionParams
from tests.unit.fleet.conftest import ACME, BOLT, HOUR, NOW, alarm, device, position, principal, telemetry


@pytest.fixture
def two_tenants(fleet):
    fleet.add(
        device("acme-p-1"),
        device("acme-c-1", DeviceKind.STORAGE_CABINET),
        device("acme-p-9", status=DeviceStatus.REVOKED),
        telemetry("acme-p-1", state="discharging"),
        position("acme-p-1", lat=31.2, lon=121.5),
        telemetry("acme-c-1", state="idle"),
        position("acme-c-1", fix_valid=False),
        position("acme-p-9", lat=30.0, lon=120.0, datum="WGS-84"),
        alarm("acme-c-1", 3, raised_at_ms=NOW - 2 * HOUR),
        alarm("acme-c-1", 1, AlarmStatus.ACKNOWLEDGED, raised_at_ms=NOW - 1_000),
        alarm("acme-p-1", 2, AlarmStatus.CLEARED, raised_at_ms=NOW - 3 * HOUR),
        # the other tenant: same thing names, worse state, more alarms
        device("acme-p-1", tenant=BOLT),
        device("bolt-p-1", tenant=BOLT),
        telemetry("acme-p-1", tenant=BOLT, state="fault"),
        position("bolt-p-1", tenant=BOLT),
        alarm("acme-p-1", 3, tenant=BOLT),
        alarm("bolt-p-1", 3, tenant=BOLT),
        alarm("bolt-p-1", 0, AlarmStatus.CLEARED, tenant=BOLT, raised_at_ms=NOW - 1_000),
    )
    return fleet


def test_overview_reads_only_the_callers_tenant_and_aggregates_it(two_tenants):
    """LCM-MON-4, SLW-WEB-4, EVC-MON-1, LCM-SEC-5: counts, alarms, trend and worst devices of the caller's tenant
    (the tenant from the principal, in every read); the other tenant's devices, states and alarms never count."""
    fleet = two_tenants
    out = fleet.view().overview(principal(ACME), OverviewParams())
    assert out.generated_at_ms == NOW
    assert out.devices.total == 3 and out.devices.online == 2
    assert out.devices.by_status == {
        "charging": 0,
        "discharging": 1,
        "idle": 0,
        "fault": 1,
        "offline": 0,
        "inactive": 1,
    }
    assert out.alarms.model_dump() == {
        "active_total": 2,
        "active_by_level": {"0": 0, "1": 1, "2": 0, "3": 1},
        "unacknowledged": 1,
    }
    assert len(out.trend.buckets) == 24 and not out.trend.truncated
    assert sum(b.by_level["3"] for b in out.trend.buckets) == 1
    assert sum(b.by_level["2"] for b in out.trend.buckets) == 1  # cleared since, still raised in the window
    assert sum(sum(b.by_level.values()) for b in out.trend.buckets) == 3
    assert [(r.thing_name, r.worst_level, r.active_alarms) for r in out.worst_devices] == [("acme-c-1", 3, 2)]
    assert {t for t, _ in fleet.devices.calls} == {ACME}
    assert {t for t, _ in fleet.latest.calls} == {ACME}
    assert {t for t, _, _ in fleet.alarms.calls} == {ACME}

    theirs = fleet.view().overview(principal(BOLT), OverviewParams(hours="2"))
    assert theirs.devices.total == 2 and theirs.alarms.active_total == 2 and len(theirs.trend.buckets) == 2
    assert {r.thing_name: r.status for r in theirs.worst_devices} == {"acme-p-1": "fault", "bolt-p-1": "fault"}


def test_the_trend_is_read_by_raise_time_and_says_when_it_was_cut(two_tenants):
    """LCM-MON-4: the trend reads the window's alarms from the time index; more than the cap → truncated."""
    fleet = two_tenants
    fleet.view().overview(principal(ACME), OverviewParams(hours="5"))
    _, q, _ = fleet.alarms.calls[-1]
    assert q.from_ms == NOW - NOW % HOUR - 4 * HOUR and q.to_ms == NOW - NOW % HOUR + HOUR - 1 and q.status is None
    out = fleet.view(max_trend_alarms=2).overview(principal(ACME), OverviewParams())
    assert out.trend.truncated is True and sum(sum(b.by_level.values()) for b in out.trend.buckets) == 2


def test_device_list_filters_the_callers_rows(two_tenants):
    """LCM-UI-1, SLW-WEB-4, LCM-SEC-5: the table holds the caller's devices only (same thing names in another
    tenant do not leak their status or alarms)."""
    fleet = two_tenants
    out = fleet.view().device_list(principal(ACME), DeviceListParams(sort="thing_name"))
    assert [(r.thing_name, r.status.value, r.active_alarms) for r in out.items] == [
        ("acme-c-1", "fault", 2),
        ("acme-p-1", "discharging", 0),
        ("acme-p-9", "inactive", 0),
    ]
    assert out.total == 3 and out.page == 1 and out.page_size == 20
    assert fleet.view().device_list(principal(ACME), DeviceListParams(status="offline")).items == []
    theirs = fleet.view().device_list(principal(BOLT), DeviceListParams(q="acme"))
    assert [(r.thing_name, r.status.value, r.worst_level) for r in theirs.items] == [("acme-p-1", "fault", 3)]


def test_positions_are_valid_fixes_of_the_callers_devices(two_tenants):
    """SLW-MON-3, EVC-MON-1: every device whose latest fix is valid (a revoked one too), with status and worst
    level, by thing name; kind filters; fix-less devices and other tenants' devices are absent."""
    fleet = two_tenants
    out = fleet.view().positions(principal(ACME), PositionParams())
    assert [i.model_dump(mode="json") for i in out.items] == [
        {
            "thing_name": "acme-p-1",
            "kind": "battery_pack",
            "status": "discharging",
            "worst_level": None,
            "latitude_deg": 31.2,
            "longitude_deg": 121.5,
            "coordinate_system": "GCJ-02",
            "ts_ms": NOW - 10_100,
            "speed_kmh": 12.5,
            "heading_deg": 90.0,
        },
        {
            "thing_name": "acme-p-9",
            "kind": "battery_pack",
            "status": "inactive",
            "worst_level": None,
            "latitude_deg": 30.0,
            "longitude_deg": 120.0,
            "coordinate_system": "WGS-84",
            "ts_ms": NOW - 10_100,
            "speed_kmh": 12.5,
            "heading_deg": 90.0,
        },
    ]
    assert fleet.view().positions(principal(ACME), PositionParams(kind="storage_cabinet")).items == []
    with pytest.raises(Invalid):
        fleet.view().positions(principal(ACME), PositionParams(kind="scooter"))


def test_every_endpoint_needs_the_read_permission_and_checks_it_before_the_parameters(two_tenants):
    """LCM-SEC-5: a caller without a role is refused (403) on overview, table and map — before any bad
    parameter is looked at and before anything is read."""
    fleet = two_tenants
    nobody = Principal(subject="s", username="nora", tenant_id=ACME, roles=frozenset())
    view = fleet.view()
    for call in (
        lambda: view.overview(nobody, OverviewParams(hours="0")),
        lambda: view.device_list(nobody, DeviceListParams(page="0")),
        lambda: view.positions(nobody, PositionParams(kind="x")),
    ):
        with pytest.raises(Forbidden):
            call()
    assert fleet.devices.calls == [] and fleet.latest.calls == [] and fleet.alarms.calls == []


def test_bad_parameters_are_refused_before_anything_is_read(two_tenants):
    """LCM-UI-1: a 400 costs no storage read."""
    fleet = two_tenants
    with pytest.raises(Invalid):
        fleet.view().overview(principal(ACME), OverviewParams(hours="169"))
    with pytest.raises(Invalid):
        fleet.view().device_list(principal(ACME), DeviceListParams(sort="battery"))
    assert fleet.devices.calls == [] and fleet.alarms.calls == []


def test_a_fleet_beyond_the_caps_is_refused_not_answered_partially(two_tenants):
    """LCM-MON-4 (D23): more devices, latest states or open alarms than one request aggregates → Conflict
    fleet_too_large naming the limit; exactly at the cap is answered."""
    fleet = two_tenants
    assert fleet.view(max_devices=3).overview(principal(ACME), OverviewParams()).devices.total == 3
    with pytest.raises(Conflict) as exc:
        fleet.view(max_devices=2).device_list(principal(ACME), DeviceListParams())
    assert exc.value.code == "fleet_too_large" and exc.value.details == {"what": "devices", "limit": 2}
    assert fleet.devices.calls[-1] == (ACME, 2)

    assert fleet.view(max_open_alarms=2).overview(principal(ACME), OverviewParams()).alarms.active_total == 2
    with pytest.raises(Conflict) as exc:
        fleet.view(max_open_alarms=1).overview(principal(ACME), OverviewParams())
    assert exc.value.details == {"what": "open alarms", "limit": 1}


def test_the_latest_state_cap_follows_the_device_cap(fleet):
    """LCM-MON-4 (D23): at most one latest item per device and message type is read; more is refused."""
    fleet.add(device("a"), *(telemetry("a") for _ in range(9)))
    with pytest.raises(Conflict) as exc:
        fleet.view(max_devices=2).positions(principal(ACME), PositionParams())
    assert exc.value.details == {"what": "latest states", "limit": 8}
    assert fleet.latest.calls[-1] == (ACME, 9)


def test_offline_window_and_clock_are_injected(fleet):
    """LCM-MON-4: now comes from the injected clock and the offline window from the constructor."""
    fleet.add(device("a"), telemetry("a", NOW - 120_000, state="idle"))
    assert fleet.view().device_list(principal(ACME), DeviceListParams()).items[0].status == "idle"
    assert fleet.view(offline_after_ms=60_000).device_list(principal(ACME), DeviceListParams()).items[0].online is False
    fleet.now = NOW + 600_000
    assert fleet.view().device_list(principal(ACME), DeviceListParams()).counts_by_status["offline"] == 1
