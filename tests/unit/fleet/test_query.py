"""The fleet table's query: parsing (every bad value a precise 400), filters, facet counts, sorting, paging."""

from __future__ import annotations

import pytest

from shared.contracts.devices import DeviceKind, DeviceStatus
from shared.domain.errors import Invalid
from shared.domain.fleet.query import (
    DeviceListParams,
    DeviceQuery,
    SortKey,
    parse_device_query,
    parse_hours,
    parse_kind,
    select,
    sort_rows,
)
from shared.domain.fleet.rows import fleet_rows
from shared.domain.fleet.status import FleetStatus
from tests.unit.fleet.conftest import NOW, alarm, device, telemetry


def parse(**params: str) -> DeviceQuery:
    return parse_device_query(DeviceListParams(**params))


def test_defaults():
    """LCM-UI-1: no parameters → worst level first (descending), page 1 of 20, no filter."""
    assert parse() == DeviceQuery(sort=SortKey.WORST_LEVEL, descending=True, page=1, page_size=20)
    assert parse(sort="last_seen_ms").descending is True
    for key in ("thing_name", "soc_pct", "status", "kind"):
        assert parse(sort=key).descending is False, key
    assert parse(sort="worst_level", order="asc").descending is False
    assert parse(sort="thing_name", order="desc").descending is True


def test_values_are_parsed_and_blank_values_count_as_absent():
    """LCM-UI-1: every parameter typed; statuses comma-separated; q case-folded; blanks ignored."""
    q = parse(
        q="  AcMe-P ",
        kind="storage_cabinet",
        status="fault, offline,,",
        model_id="sl-cab-lfp-48s",
        min_level="2",
        sort="soc_pct",
        order="desc",
        page="3",
        page_size="200",
    )
    assert q == DeviceQuery(
        q="acme-p",
        kind=DeviceKind.STORAGE_CABINET,
        statuses=frozenset({FleetStatus.FAULT, FleetStatus.OFFLINE}),
        model_id="sl-cab-lfp-48s",
        min_level=2,
        sort=SortKey.SOC_PCT,
        descending=True,
        page=3,
        page_size=200,
    )
    assert parse(q=" ", kind="", status="", min_level=" ", page="", page_size="") == parse()
    assert parse_hours(None) == 24 and parse_hours("1") == 1 and parse_hours("168") == 168
    assert parse_kind(None) is None and parse_kind("battery_pack") is DeviceKind.BATTERY_PACK


@pytest.mark.parametrize(
    ("params", "code", "fragment"),
    [
        ({"kind": "charger"}, "invalid_kind", "kind must be one of battery_pack, storage_cabinet, got 'charger'"),
        ({"status": "fault,online"}, "invalid_status", "got 'online'"),
        ({"status": "FAULT"}, "invalid_status", "charging, discharging, idle, fault, offline, inactive"),
        ({"min_level": "4"}, "invalid_min_level", "min_level must be an integer between 0 and 3, got '4'"),
        ({"min_level": "-1"}, "invalid_min_level", "between 0 and 3"),
        ({"min_level": "high"}, "invalid_min_level", "got 'high'"),
        ({"min_level": "1.5"}, "invalid_min_level", "got '1.5'"),
        ({"sort": "soc"}, "invalid_sort", "sort must be one of thing_name, last_seen_ms, worst_level, soc_pct"),
        ({"order": "up"}, "invalid_order", "order must be asc or desc, got 'up'"),
        ({"page": "0"}, "invalid_page", "page must be an integer ≥ 1, got '0'"),
        ({"page": "-2"}, "invalid_page", "≥ 1"),
        ({"page": "two"}, "invalid_page", "got 'two'"),
        ({"page": "9" * 5000}, "invalid_page", "page must be an integer"),
        ({"page_size": "0"}, "invalid_page_size", "page_size must be an integer between 1 and 200, got '0'"),
        ({"page_size": "201"}, "invalid_page_size", "between 1 and 200"),
        ({"page_size": "1e2"}, "invalid_page_size", "got '1e2'"),
        ({"q": "x" * 129}, "invalid_q", "q is 129 characters long; at most 128"),
        ({"model_id": "m" * 65}, "invalid_model_id", "model_id is 65 characters long; at most 64"),
    ],
)
def test_every_bad_value_is_invalid_with_the_parameter_named(params, code, fragment):
    """LCM-UI-1, ARC-6: each bad value is a 400 (Invalid) whose code and message name the parameter, the value
    and what is allowed; details carry the parameter for a client."""
    with pytest.raises(Invalid) as exc:
        parse(**params)
    assert exc.value.code == code
    assert fragment in exc.value.message
    assert exc.value.details["parameter"] == next(iter(params))


@pytest.mark.parametrize("hours", ["0", "169", "24h", "-1", ""])
def test_trend_hours_outside_1_to_168_is_invalid(hours):
    """LCM-MON-4: hours is 1..168; anything else is 400 invalid_hours (blank = default)."""
    if hours == "":
        assert parse_hours(hours) == 24
        return
    with pytest.raises(Invalid) as exc:
        parse_hours(hours)
    assert exc.value.code == "invalid_hours" and "hours must be an integer between 1 and 168" in exc.value.message


def test_unknown_kind_for_positions_is_invalid():
    """SLW-MON-3: the map's kind filter is checked like the table's."""
    with pytest.raises(Invalid) as exc:
        parse_kind("power_bank")
    assert exc.value.code == "invalid_kind"


@pytest.fixture
def rows():
    devices = [
        device("acme-p-1", battery_code="BAT0000000000000000000A1"),
        device("acme-p-2"),
        device("acme-p-3", status=DeviceStatus.DECOMMISSIONED),
        device("acme-c-1", DeviceKind.STORAGE_CABINET),
        device("acme-c-2", DeviceKind.STORAGE_CABINET, model_id="ess-cab-215-240s"),
        device("acme-c-3", DeviceKind.STORAGE_CABINET),
    ]
    latest = [
        telemetry("acme-p-1", NOW - 1_000, soc_pct=20.0, state="discharging"),
        telemetry("acme-p-2", NOW - 400_000, soc_pct=90.0),  # offline
        telemetry("acme-c-1", NOW - 2_000, soc_pct=55.0, state="fault"),
        telemetry("acme-c-2", NOW - 3_000, soc_pct=None, current_a=-30.0),
        telemetry("acme-c-3", NOW - 4_000, soc_pct=55.0, state="idle"),
    ]
    alarms = [alarm("acme-p-1", 1), alarm("acme-c-1", 2), alarm("acme-c-1", 0), alarm("acme-c-2", 3)]
    return fleet_rows(devices, latest, alarms, NOW)


def names(page):
    return [r.thing_name for r in page.items]


def test_filters_search_and_the_status_facet(rows):
    """LCM-UI-1, SLW-WEB-4: q matches thing_name, model_id or battery_code case-insensitively; kind, model_id,
    min_level and statuses filter; counts_by_status counts every status over every filter except status."""
    everything = select(rows, parse(sort="thing_name"))
    assert everything.total == 6
    assert everything.counts_by_status == {
        "charging": 0,
        "discharging": 1,
        "idle": 1,
        "fault": 2,
        "offline": 1,
        "inactive": 1,
    }
    assert names(select(rows, parse(q="ACME-P", sort="thing_name"))) == ["acme-p-1", "acme-p-2", "acme-p-3"]
    assert names(select(rows, parse(q="bat0000"))) == ["acme-p-1"]
    assert names(select(rows, parse(q="ESS-CAB"))) == ["acme-c-2"]
    assert names(select(rows, parse(q="lfp-16s", sort="thing_name"))) == ["acme-p-1", "acme-p-2", "acme-p-3"]
    assert names(select(rows, parse(q="nothing"))) == []
    assert names(select(rows, parse(kind="storage_cabinet", sort="thing_name"))) == ["acme-c-1", "acme-c-2", "acme-c-3"]
    assert names(select(rows, parse(model_id="ess-cab-215-240s"))) == ["acme-c-2"]
    assert names(select(rows, parse(min_level="2"))) == ["acme-c-2", "acme-c-1"]
    assert names(select(rows, parse(min_level="0"))) == ["acme-c-2", "acme-c-1", "acme-p-1"]

    faults = select(rows, parse(kind="storage_cabinet", status="fault,idle", sort="thing_name"))
    assert names(faults) == ["acme-c-1", "acme-c-2", "acme-c-3"] and faults.total == 3
    assert faults.counts_by_status == {**dict.fromkeys(everything.counts_by_status, 0), "fault": 2, "idle": 1}
    offline = select(rows, parse(status="offline,inactive", sort="thing_name"))
    assert names(offline) == ["acme-p-2", "acme-p-3"] and offline.total == 2
    assert offline.counts_by_status == everything.counts_by_status


def test_sorting_puts_nulls_last_in_both_orders_and_breaks_ties_by_name(rows):
    """LCM-UI-1: every sort key, ascending and descending; rows without the value last; equal values by thing
    name; status sorts by urgency (fault, offline, discharging, charging, idle, inactive)."""

    def order(sort, direction):
        return names(select(rows, parse(sort=sort, order=direction)))

    assert order("worst_level", "desc") == ["acme-c-2", "acme-c-1", "acme-p-1", "acme-c-3", "acme-p-2", "acme-p-3"]
    assert order("worst_level", "asc") == ["acme-p-1", "acme-c-1", "acme-c-2", "acme-c-3", "acme-p-2", "acme-p-3"]
    assert order("soc_pct", "asc") == ["acme-p-1", "acme-c-1", "acme-c-3", "acme-p-2", "acme-c-2", "acme-p-3"]
    assert order("soc_pct", "desc") == ["acme-p-2", "acme-c-1", "acme-c-3", "acme-p-1", "acme-c-2", "acme-p-3"]
    assert order("last_seen_ms", "desc") == ["acme-p-1", "acme-c-1", "acme-c-2", "acme-c-3", "acme-p-2", "acme-p-3"]
    assert order("thing_name", "desc") == sorted(order("thing_name", "asc"), reverse=True)
    assert order("status", "asc") == ["acme-c-1", "acme-c-2", "acme-p-2", "acme-p-1", "acme-c-3", "acme-p-3"]
    assert order("kind", "asc") == ["acme-p-1", "acme-p-2", "acme-p-3", "acme-c-1", "acme-c-2", "acme-c-3"]
    assert order("kind", "desc") == ["acme-c-1", "acme-c-2", "acme-c-3", "acme-p-1", "acme-p-2", "acme-p-3"]
    assert sort_rows([], SortKey.SOC_PCT, True) == []


def test_pages_cover_every_row_once_and_a_page_past_the_end_is_empty(rows):
    """LCM-UI-1: page/page_size cut the sorted rows; total and counts stay those of the whole selection."""
    pages = [select(rows, parse(sort="thing_name", page=str(n), page_size="4")) for n in (1, 2, 3)]
    assert [names(p) for p in pages] == [["acme-c-1", "acme-c-2", "acme-c-3", "acme-p-1"], ["acme-p-2", "acme-p-3"], []]
    assert {p.total for p in pages} == {6} and [(p.page, p.page_size) for p in pages] == [(1, 4), (2, 4), (3, 4)]
