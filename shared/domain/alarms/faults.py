"""Device fault reports → alarms with a classification and advice (SLW-IF-1).

A device reports ``FaultEvent(code, active, params)``; the code's first segment names the
subsystem (``bms.cell_sensor_open`` → ``bms``). The catalogue maps it to a classification, a
level and an advice code (rendered in the reader's language like every code). A fault that
becomes active raises one alarm per (device, fault code); ``active: false`` clears it.
Unknown subsystems are still raised (classification ``other``): nothing reported is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.contracts.alarms import AlarmLevel


@dataclass(frozen=True)
class FaultClass:
    classification: str
    level: AlarmLevel
    advice: str


#: Subsystem (first code segment) → classification, level, advice code.
CATALOGUE: dict[str, FaultClass] = {
    "bms": FaultClass("battery_management", AlarmLevel.LEVEL_2, "advice.inspect_bms_wiring"),
    "sensor": FaultClass("sensor", AlarmLevel.LEVEL_1, "advice.replace_sensor"),
    "detector": FaultClass("safety_detector", AlarmLevel.LEVEL_2, "advice.test_detector_on_site"),
    "contactor": FaultClass("contactor", AlarmLevel.LEVEL_2, "advice.inspect_contactor"),
    "thermal": FaultClass("thermal_management", AlarmLevel.LEVEL_2, "advice.check_cooling"),
    "comm": FaultClass("communication", AlarmLevel.LEVEL_1, "advice.check_link"),
    "power": FaultClass("power_supply", AlarmLevel.LEVEL_1, "advice.check_auxiliary_power"),
    "insulation": FaultClass("insulation", AlarmLevel.LEVEL_3, "advice.isolate_and_inspect"),
}
OTHER = FaultClass("other", AlarmLevel.LEVEL_1, "advice.contact_manufacturer")
FAULT_RULE_PREFIX = "fault_"


def classify(code: str) -> FaultClass:
    return CATALOGUE.get(code.split(".", 1)[0], OTHER)


def fault_rule_id(code: str) -> str:
    """A rule id per fault code (one active alarm per device and fault code)."""
    return (FAULT_RULE_PREFIX + re.sub(r"[^a-z0-9_]", "_", code.lower()))[:64]
