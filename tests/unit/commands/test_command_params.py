"""Parameter rules per command, checked by the platform before anything is recorded."""

from __future__ import annotations

import pytest

from shared.contracts.telemetry import CommandName
from shared.domain.commands import validate_params
from shared.domain.errors import Invalid


def test_commands_without_parameters_take_none() -> None:
    """SLW-CTL-1, SLW-IF-1: cut_off, stop_charge, stop_discharge, restart and fault_reset take no parameters."""
    for name in (
        CommandName.CUT_OFF,
        CommandName.STOP_CHARGE,
        CommandName.STOP_DISCHARGE,
        CommandName.RESTART,
        CommandName.FAULT_RESET,
    ):
        assert validate_params(name, {}) == {}
        with pytest.raises(Invalid) as err:
            validate_params(name, {"force": True})
        assert err.value.code == "unknown_parameter" and err.value.details["parameter"] == "force"


def test_reporting_interval_is_an_integer_in_range() -> None:
    """SLW-CTL-2: set_reporting_interval needs interval_ms, an integer 100..600000 (250.0 is normalised to 250)."""
    assert validate_params(CommandName.SET_REPORTING_INTERVAL, {"interval_ms": 250.0}) == {"interval_ms": 250}
    assert isinstance(validate_params(CommandName.SET_REPORTING_INTERVAL, {"interval_ms": 250.0})["interval_ms"], int)
    for bad in (99, 600_001, 250.5, "1000", True):
        with pytest.raises(Invalid) as err:
            validate_params(CommandName.SET_REPORTING_INTERVAL, {"interval_ms": bad})
        assert err.value.code == "invalid_parameter"
    with pytest.raises(Invalid) as err:
        validate_params(CommandName.SET_REPORTING_INTERVAL, {})
    assert err.value.code == "missing_parameter" and err.value.details["parameter"] == "interval_ms"


def test_set_parameters_limits() -> None:
    """SLW-CTL-2: set_parameters takes at least one of the current and temperature limits, each in its range."""
    ok = {
        "max_charge_current_a": 120,
        "max_discharge_current_a": 150.5,
        "max_temperature_c": 55,
        "min_temperature_c": -10,
    }
    assert validate_params(CommandName.SET_PARAMETERS, ok) == ok
    assert validate_params(CommandName.SET_PARAMETERS, {"max_temperature_c": 0}) == {"max_temperature_c": 0}
    for key, bad in (
        ("max_charge_current_a", 0),
        ("max_charge_current_a", 3000.1),
        ("max_discharge_current_a", -5),
        ("max_temperature_c", 121),
        ("min_temperature_c", -41),
        ("min_temperature_c", 41),
        ("max_temperature_c", "hot"),
    ):
        with pytest.raises(Invalid) as err:
            validate_params(CommandName.SET_PARAMETERS, {key: bad})
        assert err.value.code == "invalid_parameter" and err.value.details["parameter"] == key
    with pytest.raises(Invalid, match="at least one"):
        validate_params(CommandName.SET_PARAMETERS, {})


def test_set_parameters_names_the_unknown_key_and_orders_temperatures() -> None:
    """SLW-CTL-2: an unknown key is refused with the key named; min_temperature_c must stay below max."""
    with pytest.raises(Invalid) as err:
        validate_params(CommandName.SET_PARAMETERS, {"max_charge_current_a": 10, "max_voltage_v": 4})
    assert "max_voltage_v" in err.value.message
    assert err.value.details["parameter"] == "max_voltage_v"
    assert "max_charge_current_a" in err.value.details["accepted"]
    with pytest.raises(Invalid, match="below"):
        validate_params(CommandName.SET_PARAMETERS, {"min_temperature_c": 30, "max_temperature_c": 30})
