"""Parameters each command takes, checked before anything is recorded (SLW-CTL-2, SLW-IF-1).

The platform refuses what a device would refuse anyway, with the key named, so an operator
learns at once (400) instead of from a ``rejected`` ack seconds later. The simulator applies
the same ranges on the device side (``device_sdk.simulate.device``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.contracts.telemetry import CommandName
from shared.domain.errors import Invalid

ParamValue = str | int | float | bool


@dataclass(frozen=True)
class NumberRange:
    """An inclusive range; ``exclusive_min`` makes the lower bound exclusive (``> 0``)."""

    low: float
    high: float
    integer: bool = False
    exclusive_min: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        low = f"> {self.low:g}" if self.exclusive_min else f">= {self.low:g}"
        return f"{kind} {low} and <= {self.high:g}"

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer and not (isinstance(value, int) or float(value).is_integer()):
            return False
        above = value > self.low if self.exclusive_min else value >= self.low
        return above and value <= self.high


#: Accepted parameters per command; a command missing here takes none.
PARAMETERS: Mapping[CommandName, Mapping[str, NumberRange]] = {
    CommandName.SET_REPORTING_INTERVAL: {"interval_ms": NumberRange(100, 600_000, integer=True)},
    CommandName.SET_PARAMETERS: {
        "max_charge_current_a": NumberRange(0, 3000, exclusive_min=True),
        "max_discharge_current_a": NumberRange(0, 3000, exclusive_min=True),
        "max_temperature_c": NumberRange(0, 120),
        "min_temperature_c": NumberRange(-40, 40),
    },
}
#: Commands whose every parameter is required (the others need at least one).
_ALL_REQUIRED = frozenset({CommandName.SET_REPORTING_INTERVAL})


def validate_params(name: CommandName, params: Mapping[str, object]) -> dict[str, ParamValue]:
    """The parameters of ``name`` normalised (integers as ``int``), or :class:`Invalid` naming the key."""
    allowed = PARAMETERS.get(name, {})
    unknown = sorted(k for k in params if k not in allowed)
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise Invalid(
            f"{name.value} does not take parameter {unknown[0]!r} (accepted: {accepted})",
            code="unknown_parameter",
            details={"command": name.value, "parameter": unknown[0], "accepted": sorted(allowed)},
        )
    required = set(allowed) if name in _ALL_REQUIRED else set()
    missing = sorted(required - set(params))
    if missing:
        raise Invalid(
            f"{name.value} needs parameter {missing[0]!r}",
            code="missing_parameter",
            details={"command": name.value, "parameter": missing[0]},
        )
    if allowed and not params:
        raise Invalid(
            f"{name.value} needs at least one of: {', '.join(sorted(allowed))}",
            code="missing_parameter",
            details={"command": name.value, "accepted": sorted(allowed)},
        )
    out: dict[str, ParamValue] = {}
    for key in sorted(params):
        value, rule = params[key], allowed[key]
        if not rule.accepts(value):
            raise Invalid(
                f"{name.value} parameter {key!r} must be {rule.describe()}, got {value!r}",
                code="invalid_parameter",
                details={"command": name.value, "parameter": key, "low": rule.low, "high": rule.high},
            )
        assert isinstance(value, int | float)  # accepts() checked it
        out[key] = int(value) if rule.integer else value
    if name is CommandName.SET_PARAMETERS:
        low, high = out.get("min_temperature_c"), out.get("max_temperature_c")
        if low is not None and high is not None and float(low) >= float(high):
            raise Invalid(
                "min_temperature_c must be below max_temperature_c",
                code="invalid_parameter",
                details={"command": name.value, "parameter": "min_temperature_c"},
            )
    return out
