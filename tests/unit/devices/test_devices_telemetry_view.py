"""Latest state and history read side: range rules and tenant isolation."""

from __future__ import annotations

import pytest

from shared.domain.auth import Role
from shared.domain.devices.records import RegisterDevice
from shared.domain.devices.telemetry_view import DAY_MS, DeviceTelemetry
from shared.domain.errors import Invalid, NotFound
from shared.domain.telemetry.downsample import downsample

NOW = 1_767_225_600_000


class Reader:
    def __init__(self, samples):
        self.samples = samples
        self.calls = []

    def get_latest(self, tenant_id, thing_name):
        return {"telemetry": self.samples[-1]}

    def query_history(self, tenant_id, thing_name, message_type, from_ms, to_ms, limit):
        self.calls.append((tenant_id, thing_name, message_type, from_ms, to_ms, limit))
        return [s for s in self.samples if from_ms <= s["device_ts_ms"] < to_ms][:limit]


def sample(ts, v):
    return {"body": {"pack_voltage_v": v, "current_a": 1.0}, "derived": None, "device_ts_ms": ts, "arrival_ms": ts + 5}


@pytest.fixture
def setup(world, make_principal):
    op = make_principal("acme", Role.OPERATOR)
    thing = world.service.register(op, RegisterDevice(serial_number="SN-1", model_id="lfp-16s280-ess")).device
    reader = Reader([sample(NOW - 3_600_000 + i * 1000, 50 + (i % 7)) for i in range(3600)])
    view = DeviceTelemetry(devices=world.devices, reader=reader, downsample=downsample, clock=lambda: NOW)
    return view, reader, op, thing.thing_name


def test_history_is_downsampled_to_max_points(setup):
    """LCM-DA-1, LCM-MON-1..3: an hour of 1 s samples comes back as at most max_points buckets."""
    view, reader, op, thing = setup
    h = view.history(op, thing, from_ms=NOW - 3_600_000, to_ms=NOW, max_points=60)
    assert h.raw_count == 3600 and h.downsampled and not h.truncated
    assert 1 <= len(h.points) <= 60
    assert reader.calls[0][:5] == ("acme", thing, "telemetry", NOW - 3_600_000, NOW)


def test_history_defaults_to_the_last_day(setup):
    """LCM-DA-1: defaults are the last 24 h of telemetry, 500 points."""
    view, _, op, thing = setup
    h = view.history(op, thing)
    assert (h.query.from_ms, h.query.to_ms, h.query.max_points) == (NOW - DAY_MS, NOW, 500)


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"from_ms": NOW, "to_ms": NOW}, "must be before"),
        ({"from_ms": NOW - 32 * DAY_MS, "to_ms": NOW}, "at most 31 days"),
        ({"max_points": 9}, "between 10 and 5000"),
        ({"max_points": 5001}, "between 10 and 5000"),
        ({"message_type": "cmd"}, "type must be one of"),
    ],
)
def test_history_range_rules_are_precise(setup, kw, fragment):
    """LCM-DA-1: bad windows and point counts are 400s that say what is wrong."""
    view, _, op, thing = setup
    with pytest.raises(Invalid, match=fragment):
        view.history(op, thing, **kw)


def test_other_tenant_cannot_read_state_or_history(setup, make_principal):
    """LCM-SEC-5: state and history of another tenant's device are 404."""
    view, _, _, thing = setup
    other = make_principal("bolt", Role.ADMIN)
    with pytest.raises(NotFound):
        view.latest(other, thing)
    with pytest.raises(NotFound):
        view.history(other, thing)


def test_latest_state_is_per_message_type(setup):
    """LCM-MON-1..3: the latest sample per message type."""
    view, _, op, thing = setup
    assert set(view.latest(op, thing)) == {"telemetry"}
