"""One fleet row per device: readings, cell extremes with dropouts, last seen, position, worst alarm."""

from __future__ import annotations

from shared.contracts.alarms import AlarmStatus
from shared.contracts.devices import DeviceKind, DeviceStatus
from shared.domain.fleet.rows import fleet_row, fleet_rows, group_latest
from shared.domain.fleet.status import FleetStatus
from tests.unit.fleet.conftest import NOW, alarm, device, message, position, telemetry


def latest(*items):
    return group_latest(items).get(items[0]["thing_name"], {}) if items else {}


def test_row_carries_registry_status_readings_and_cell_extremes_skipping_dropouts():
    """LCM-MON-4, LCM-UI-1: the row shows the latest readings; max/min cell voltage and max temperature skip null
    (dropout) entries, the cell count includes them; computed from the arrays when no derived values are stored."""
    cells = [3.31, None, 3.45, 3.28, None] + [3.3] * 11
    probes = [24.0, None, 31.5, 22.0]
    row = fleet_row(
        device("p-1", battery_code="ABC1234567890123456789XY"),
        latest(telemetry("p-1", soc_pct=61.5, current_a=-20.0, cell_voltages_v=cells, probe_temperatures_c=probes)),
        [],
        NOW,
    )
    assert row.model_dump(mode="json") == {
        "thing_name": "p-1",
        "kind": "battery_pack",
        "model_id": "lfp-16s280-ess",
        "battery_code": "ABC1234567890123456789XY",
        "registry_status": "active",
        "status": "charging",
        "online": True,
        "last_seen_ms": NOW - 10_000,
        "state": None,
        "soc_pct": 61.5,
        "pack_voltage_v": 52.8,
        "current_a": -20.0,
        "max_cell_voltage_v": 3.45,
        "min_cell_voltage_v": 3.28,
        "max_temperature_c": 31.5,
        "cell_count": 16,
        "worst_level": None,
        "active_alarms": 0,
        "worst_alarm_code": None,
        "position": None,
    }


def test_stored_derived_values_are_used_and_an_all_dropout_sample_has_no_extremes():
    """LCM-MON-4: extremes stored at ingest are taken as they are; a sample whose every cell is a dropout has
    null extremes but still counts its cells."""
    derived = {"cell_count": 16, "max_cell_voltage_v": 3.61, "min_cell_voltage_v": 3.01, "max_temperature_c": 40.0}
    row = fleet_row(device("p-1"), latest(telemetry("p-1", derived=derived)), [], NOW)
    assert (row.max_cell_voltage_v, row.min_cell_voltage_v, row.max_temperature_c) == (3.61, 3.01, 40.0)
    blind = fleet_row(
        device("p-2"),
        latest(telemetry("p-2", cell_voltages_v=[None] * 16, probe_temperatures_c=[None] * 4)),
        [],
        NOW,
    )
    assert (blind.max_cell_voltage_v, blind.min_cell_voltage_v, blind.max_temperature_c) == (None, None, None)
    assert blind.cell_count == 16


def test_a_device_without_any_message_has_null_readings_and_is_offline():
    """LCM-MON-4: never heard of → offline, every reading null, cell_count null, last_seen null."""
    row = fleet_row(device("p-1"), {}, [], NOW)
    assert row.status is FleetStatus.OFFLINE and row.online is False and row.last_seen_ms is None
    assert row.soc_pct is None and row.cell_count is None and row.state is None and row.position is None


def test_last_seen_is_the_newest_arrival_of_any_message_type():
    """LCM-MON-4, EVC-MON-1: an old telemetry sample but a fresh ack or position keeps the device online."""
    old = telemetry("p-1", NOW - 3_600_000, state="discharging")
    row = fleet_row(device("p-1"), latest(old, message("p-1", "ack", NOW - 20_000)), [], NOW)
    assert row.last_seen_ms == NOW - 20_000 and row.status is FleetStatus.DISCHARGING and row.online
    row = fleet_row(device("p-1"), latest(old, position("p-1", NOW - 5_000)), [], NOW)
    assert row.last_seen_ms == NOW - 5_000
    row = fleet_row(device("p-1"), latest(old), [], NOW)
    assert row.status is FleetStatus.OFFLINE and row.state == "discharging"


def test_position_only_from_a_valid_fix():
    """SLW-MON-3: the row's position is the latest fix if valid (datum and fix time kept); a fix-less sample or an
    unknown datum gives none."""
    row = fleet_row(device("p-1"), latest(position("p-1", NOW - 7_000, lat=30.5, lon=114.3)), [], NOW)
    assert row.position is not None
    assert row.position.model_dump(mode="json") == {
        "latitude_deg": 30.5,
        "longitude_deg": 114.3,
        "coordinate_system": "GCJ-02",
        "ts_ms": NOW - 7_100,
        "speed_kmh": 12.5,
        "heading_deg": 90.0,
    }
    assert fleet_row(device("p-1"), latest(position("p-1", fix_valid=False)), [], NOW).position is None
    assert fleet_row(device("p-1"), latest(position("p-1", datum="BD-09")), [], NOW).position is None


def test_worst_open_alarm_level_count_and_code_and_level_3_is_a_fault():
    """LCM-MON-4, SLW-WEB-4: worst level and its code (the newest on a tie), the count of open alarms
    (acknowledged included); a level-3 alarm makes the device fault."""
    alarms = [
        alarm("c-1", 2, raised_at_ms=NOW - 50_000, code="old_two"),
        alarm("c-1", 2, AlarmStatus.ACKNOWLEDGED, raised_at_ms=NOW - 40_000, code="new_two"),
        alarm("c-1", 0, raised_at_ms=NOW - 10_000, code="pre"),
    ]
    cab = device("c-1", DeviceKind.STORAGE_CABINET)
    row = fleet_row(cab, latest(telemetry("c-1", state="idle")), alarms, NOW)
    assert (row.worst_level, row.worst_alarm_code, row.active_alarms, row.status) == (2, "new_two", 3, "idle")
    row = fleet_row(cab, latest(telemetry("c-1", state="idle")), [*alarms, alarm("c-1", 3, code="runaway")], NOW)
    assert (row.worst_level, row.worst_alarm_code, row.status) == (3, "runaway", FleetStatus.FAULT)


def test_rows_follow_the_registry_and_ignore_data_of_unknown_things():
    """LCM-MON-4: one row per registered device, in registry order; latest states and alarms of things not in
    the registry are ignored."""
    rows = fleet_rows(
        [device("a"), device("b", status=DeviceStatus.REVOKED)],
        [telemetry("a"), telemetry("ghost")],
        [alarm("ghost", 3), alarm("b", 1)],
        NOW,
    )
    assert [(r.thing_name, r.status, r.active_alarms) for r in rows] == [
        ("a", FleetStatus.IDLE, 0),
        ("b", FleetStatus.INACTIVE, 1),
    ]


def test_latest_items_are_compacted_as_they_stream():
    """LCM-MON-4 (D23): a tenant's latest state is read as a stream and only what rows need is kept — telemetry
    scalars and cell extremes, not the cell arrays; position fields; the arrival of any other type."""
    cells = [3.3] * 399 + [None]

    def stream():
        yield telemetry("r-1", cell_voltages_v=cells, probe_temperatures_c=[30.0] * 128)
        yield position("r-1")
        yield message("r-1", "event", NOW - 1)

    grouped = group_latest(stream())["r-1"]
    assert grouped["telemetry"]["derived"] == {
        "cell_count": 400,
        "max_cell_voltage_v": 3.3,
        "min_cell_voltage_v": 3.3,
        "max_temperature_c": 30.0,
    }
    assert set(grouped["telemetry"]["body"]) == {"state", "soc_pct", "pack_voltage_v", "current_a"}
    assert "fix_valid" in grouped["position"]["body"] and "altitude_m" not in grouped["position"]["body"]
    assert grouped["event"] == {"arrival_ms": NOW - 1, "device_ts_ms": NOW - 101}
