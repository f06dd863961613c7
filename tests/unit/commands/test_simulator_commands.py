"""The simulator's restart and set_parameters commands (device side of SLW-CTL-1/2)."""

from __future__ import annotations

import pytest

from device_sdk.commands import CommandProcessor, CommandRejected, InMemoryHandledStore
from device_sdk.header import HeaderSource
from device_sdk.simulate.catalog import example_model
from device_sdk.simulate.device import DeviceSpec, SimulatedDevice
from device_sdk.simulate.pack import Phase
from shared.contracts.devices import DeviceKind
from shared.contracts.telemetry import (
    AckStatus,
    BootEvent,
    Command,
    CommandName,
    OperatingState,
    StorageCabinetTelemetry,
)

# 100 Ah cabinet: datasheet limits 100 A charge, 200 A discharge, -20..60 °C.
MODEL = example_model(DeviceKind.STORAGE_CABINET, cells=16, probes=8, capacity_ah=100.0)


def cabinet(seed: int = 1, headers: HeaderSource | None = None, **spec: object) -> SimulatedDevice:
    return SimulatedDevice(DeviceSpec("acme", "cab-1", MODEL, seed=seed, **spec), headers)  # type: ignore[arg-type]


def cmd(name: CommandName, command_id: str = "c1", **params: str | int | float | bool) -> Command:
    return Command(
        command_id=command_id, name=name, params=params, issued_at_ms=1, expires_at_ms=2, idempotency_key=command_id
    )


def test_set_parameters_applies_current_and_temperature_limits() -> None:
    """SLW-CTL-2, SLW-IF-1: set_parameters changes the BMS limits; the pack's current obeys the new charge limit."""
    dev = cabinet(initial_soc=0.3)
    dev.pack.duty.phase, dev.pack.duty.setpoint_a, dev.pack.duty.left_s = Phase.CHARGE, -60.0, 1e9
    dev.step(2)
    assert dev.pack.current_a == pytest.approx(-60.0)
    dev.handle_command(
        cmd(
            CommandName.SET_PARAMETERS,
            max_charge_current_a=20,
            max_discharge_current_a=150.5,
            max_temperature_c=50,
            min_temperature_c=-10,
        )
    )
    limits = dev.pack.limits
    assert (limits.max_charge_current_a, limits.max_discharge_current_a) == (20.0, 150.5)
    assert (limits.max_operating_temperature_c, limits.temperature_min_c) == (50.0, -10.0)
    assert dev.pack.current_a == pytest.approx(-20.0)  # clamped at once
    tele = [m for m in dev.step(10) if isinstance(m, StorageCabinetTelemetry)]
    assert all(m.current_a is not None and m.current_a >= -20.0 for m in tele)
    assert MODEL.limits.max_charge_current_a == 100.0  # the model (datasheet) itself is untouched


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "no_parameters"),
        ({"max_voltage_v": 4.0}, "unknown_parameter:max_voltage_v"),
        ({"max_charge_current_a": True}, "invalid_parameter:max_charge_current_a"),
        ({"max_charge_current_a": "50"}, "invalid_parameter:max_charge_current_a"),
        ({"max_charge_current_a": 0}, "parameter_out_of_range:max_charge_current_a"),
        ({"max_temperature_c": 121}, "parameter_out_of_range:max_temperature_c"),
        ({"max_charge_current_a": 150}, "exceeds_rating:max_charge_current_a"),
        ({"max_temperature_c": 70}, "exceeds_rating:max_temperature_c"),
        ({"min_temperature_c": -30}, "exceeds_rating:min_temperature_c"),
        ({"min_temperature_c": 30, "max_temperature_c": 25}, "invalid_temperature_range"),
        ({"max_charge_current_a": 20, "bogus": 1}, "unknown_parameter:bogus"),
    ],
)
def test_set_parameters_rejections_change_nothing(params: dict[str, object], reason: str) -> None:
    """SLW-CTL-2: bad set_parameters are rejected with a reason code (unknown keys named) and change no limit."""
    dev = cabinet()
    before = dev.pack.limits
    with pytest.raises(CommandRejected) as err:
        dev.handle_command(cmd(CommandName.SET_PARAMETERS, **params))  # type: ignore[arg-type]
    assert err.value.reason == reason
    assert dev.pack.limits == before


def test_restart_starts_a_new_boot_and_keeps_protection_latched() -> None:
    """SLW-CTL-1, SLW-IF-1: restart reboots the controller: a new boot_id, seq from 0, a boot event with
    reset_reason 'command' first, reports resume; a protective cut-off stays latched across the reboot."""
    dev = cabinet()
    dev.step(3)
    old_boot = dev.headers.boot_id
    dev.handle_command(cmd(CommandName.CUT_OFF))
    dev.handle_command(cmd(CommandName.RESTART, command_id="c2"))
    assert dev.headers.boot_id != old_boot
    msgs = dev.step(3)
    new = [m for m in msgs if m.boot_id == dev.headers.boot_id]
    assert isinstance(new[0], BootEvent) and new[0].reset_reason == "command" and new[0].seq == 0
    assert [m.seq for m in new] == list(range(len(new)))
    tele = [m for m in new if isinstance(m, StorageCabinetTelemetry)]
    assert len(tele) == 3 and all(m.state is OperatingState.CUT_OFF for m in tele)
    # Deterministic for a seed: the same restart gives the same boot id.
    twin = cabinet()
    twin.step(3)
    twin.handle_command(cmd(CommandName.RESTART))
    assert twin.headers.boot_id == dev.headers.boot_id


def test_restart_through_the_sdk_processor_is_acked_once_and_keys_never_collide() -> None:
    """SLW-IF-1, ARC-2: a restart delivered twice (QoS 1) reboots once; the client's acks keep their own boot id,
    so no (boot_id, seq) dedupe key is ever reused across the reboot."""
    shared = HeaderSource(boot_id="clientboot", clock_ms=lambda: 1_750_000_000_000)
    dev = cabinet(headers=shared)
    processor = CommandProcessor(InMemoryHandledStore(), dev.handle_command, clock_ms=lambda: 0)
    keys = {(m.boot_id, m.seq) for m in dev.step(2)}
    payload = cmd(CommandName.RESTART, command_id="r1").model_dump_json().encode()
    first = processor.process(payload)
    boot_after_first = dev.headers.boot_id
    again = processor.process(payload)
    assert first is not None and first.status is AckStatus.EXECUTED and first.executed
    assert again is not None and again.duplicate and not again.executed
    assert dev.headers.boot_id == boot_after_first != "clientboot"
    ack_keys = {(h["boot_id"], h["seq"]) for h in (shared.header(), shared.header())}
    later = {(m.boot_id, m.seq) for m in dev.step(5)}
    assert len(keys | ack_keys | later) == len(keys) + len(ack_keys) + len(later)
