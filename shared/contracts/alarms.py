"""Alarm contracts: rules as data, alarm records, timeline entries and the alarm events.

Rules are versioned data (ARC-3, SLW-WEB-3): a platform default set (``shared.domain.alarms.
default_rules``), overlaid per tenant, per device model and per device (scope documents with
their own version history). Alarm text is never a sentence: the rule id is the message code
and ``params`` carry the values, rendered in the reader's language at the edge.

Every model here depends on pydantic only (``device_sdk`` and the console's generated types
can use them); JSON Schemas are generated into ``events/schemas``.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from shared.contracts.devices import DeviceKind
from shared.contracts.telemetry import CommandName, Contract

RULE_ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
#: Shortest loss-of-communication delay a rule may set (the timer's sweep threshold).
MIN_SILENCE_S = 30
ParamValue = str | int | float | bool | None


class AlarmLevel(IntEnum):
    """Graded levels (SLW-EW-5, LCM-AL-4): 0 pre-warning, then GB/T 32960 levels 1..3 (3 = act now)."""

    PRE_WARNING = 0
    LEVEL_1 = 1
    LEVEL_2 = 2
    LEVEL_3 = 3


class AlarmStatus(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


# ---- what a rule can look at -------------------------------------------------------------------


class Metric(StrEnum):
    """Scalar values derived from one telemetry sample (null reading → metric absent)."""

    PACK_VOLTAGE_V = "pack_voltage_v"
    CURRENT_A = "current_a"
    CHARGE_CURRENT_A = "charge_current_a"  # magnitude of a negative (charging) current, else 0
    DISCHARGE_CURRENT_A = "discharge_current_a"  # positive current, else 0
    SOC_PCT = "soc_pct"
    INSULATION_KOHM = "insulation_resistance_kohm"
    CELL_VOLTAGE_MAX_V = "cell_voltage_max_v"
    CELL_VOLTAGE_MIN_V = "cell_voltage_min_v"
    CELL_VOLTAGE_SPREAD_V = "cell_voltage_spread_v"  # max − min over valid cells
    TEMPERATURE_MAX_C = "temperature_max_c"
    TEMPERATURE_MIN_C = "temperature_min_c"
    TEMPERATURE_DIFF_C = "temperature_diff_c"  # max − min over valid probes
    H2_PPM = "h2_ppm"
    CO_PPM = "co_ppm"
    MODULE_PRESSURE_KPA = "module_pressure_kpa"


class Signal(StrEnum):
    """Boolean sensor states (null = sensor fault → the condition is unknown, not false)."""

    SMOKE = "smoke_detected"
    FLAME = "flame_detected"
    WATER_INGRESS = "water_ingress"
    DOOR_OPEN = "door_open"


class Series(StrEnum):
    """Per-element vectors of a sample; array position i is cell/probe i + 1."""

    CELL_VOLTAGES = "cell_voltages_v"
    PROBE_TEMPERATURES = "probe_temperatures_c"


class Limit(StrEnum):
    """A limit of the device model (``ModelLimits``) a threshold can refer to."""

    CELL_VOLTAGE_MIN_V = "cell_voltage_min_v"
    CELL_VOLTAGE_MAX_V = "cell_voltage_max_v"
    PACK_VOLTAGE_MIN_V = "pack_voltage_min_v"
    PACK_VOLTAGE_MAX_V = "pack_voltage_max_v"
    TEMPERATURE_MIN_C = "temperature_min_c"
    MAX_OPERATING_TEMPERATURE_C = "max_operating_temperature_c"
    MAX_CHARGE_CURRENT_A = "max_charge_current_a"
    MAX_DISCHARGE_CURRENT_A = "max_discharge_current_a"


class Comparison(StrEnum):
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


class LimitRef(Contract):
    """``limit × factor + offset`` from the device model (e.g. 1.05 × max cell voltage)."""

    limit: Limit
    factor: float = Field(default=1.0, gt=0, le=10)
    offset: float = Field(default=0.0, ge=-10000, le=10000)


# ---- conditions (discriminated by ``type``) ----------------------------------------------------


class ThresholdCondition(Contract):
    """``metric <op> threshold`` held for ``for_s``; clears when back past the threshold by
    ``hysteresis`` for ``clear_for_s``. Exactly one of ``value`` and ``limit``."""

    type: Literal["threshold"] = "threshold"
    metric: Metric
    op: Comparison
    value: float | None = None
    limit: LimitRef | None = None
    hysteresis: float = Field(default=0.0, ge=0)
    for_s: float = Field(default=0.0, ge=0, le=86400)
    clear_for_s: float = Field(default=0.0, ge=0, le=86400)

    @model_validator(mode="after")
    def _one_reference(self) -> ThresholdCondition:
        if (self.value is None) == (self.limit is None):
            raise ValueError("give exactly one of value and limit")
        return self


class SignalCondition(Contract):
    """A boolean sensor is true (held ``for_s``); clears when false for ``clear_for_s``."""

    type: Literal["signal"] = "signal"
    signal: Signal
    for_s: float = Field(default=0.0, ge=0, le=86400)
    clear_for_s: float = Field(default=0.0, ge=0, le=86400)


class GbAlarmCondition(Contract):
    """GB/T 32960 general alarm: any of ``bits`` set (bit 0 = LSB) or max level ≥ ``min_level``."""

    type: Literal["gb_alarm"] = "gb_alarm"
    bits: list[Annotated[int, Field(ge=0, le=31)]] = Field(default_factory=list, max_length=32)
    min_level: int | None = Field(default=None, ge=1, le=3)

    @model_validator(mode="after")
    def _something(self) -> GbAlarmCondition:
        if not self.bits and self.min_level is None:
            raise ValueError("give bits, min_level or both")
        return self


class RateCondition(Contract):
    """Rate of change ``op rate_per_s`` (per second of device time) sustained for more than
    ``sustained_s``, on a metric or on any element of a series (e.g. any probe's dT/dt ≥ 1 °C/s
    for > 3 s, GB 38031 C.5.3.7 c). A gap longer than ``max_gap_s`` between samples restarts it."""

    type: Literal["rate"] = "rate"
    metric: Metric | None = None
    series: Series | None = None
    op: Literal["ge", "le"] = "ge"
    rate_per_s: float
    sustained_s: float = Field(default=0.0, ge=0, le=3600)
    max_gap_s: float = Field(default=5.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_source(self) -> RateCondition:
        if (self.metric is None) == (self.series is None):
            raise ValueError("give exactly one of metric and series")
        return self


class JumpCondition(Contract):
    """A step between two consecutive samples at most ``max_interval_s`` apart: |Δmetric| ≥ ``min_delta``
    (e.g. SOC jump). Clears after ``clear_after_s`` without a new jump."""

    type: Literal["jump"] = "jump"
    metric: Metric
    min_delta: float = Field(gt=0)
    max_interval_s: float = Field(default=60.0, gt=0, le=86400)
    clear_after_s: float = Field(default=300.0, ge=0, le=86400)


class DropCondition(Contract):
    """Any element of ``series`` fell by more than ``fraction`` of its reference value, the
    reference being its highest value within the last ``reference_window_s`` (GB 38031
    C.5.3.7 a: trigger-cell voltage drop > 25 %)."""

    type: Literal["drop"] = "drop"
    series: Series = Series.CELL_VOLTAGES
    fraction: float = Field(gt=0, lt=1)
    reference_window_s: float = Field(default=60.0, gt=0, le=3600)


class ConsistencyCondition(Contract):
    """Cell consistency: some element deviates from the pack median by more than ``deviation``
    (absolute, in the series' unit), held ``for_s``; clears below ``deviation − hysteresis``."""

    type: Literal["consistency"] = "consistency"
    series: Series
    deviation: float = Field(gt=0)
    hysteresis: float = Field(default=0.0, ge=0)
    min_valid: int = Field(default=4, ge=2, description="Fewer valid elements than this: not evaluated.")
    for_s: float = Field(default=0.0, ge=0, le=86400)


class SilenceCondition(Contract):
    """Loss of communication: no message of any type from the device for ``after_s`` seconds of
    server time. Evaluated by the timer, cleared by the next message."""

    type: Literal["silence"] = "silence"
    after_s: float = Field(ge=MIN_SILENCE_S, le=7 * 86400)


class AllOf(Contract):
    """Every sub-condition holds on the same sample."""

    type: Literal["all"] = "all"
    conditions: list[Condition] = Field(min_length=1, max_length=16)


class AnyOf(Contract):
    """At least one sub-condition holds."""

    type: Literal["any"] = "any"
    conditions: list[Condition] = Field(min_length=1, max_length=16)


Condition = Annotated[
    ThresholdCondition
    | SignalCondition
    | GbAlarmCondition
    | RateCondition
    | JumpCondition
    | DropCondition
    | ConsistencyCondition
    | SilenceCondition
    | AllOf
    | AnyOf,
    Field(discriminator="type"),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()


# ---- rules and rule sets --------------------------------------------------------------------------


class ProtectiveAction(Contract):
    """A command the platform sends by itself when the rule raises (or clears) its alarm."""

    command: CommandName
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    ttl_s: int = Field(default=30, ge=5, le=3600, description="The command expires this long after issue.")
    ack_timeout_s: int = Field(
        default=15, ge=1, le=3600, description="No ack within this time escalates the alarm's notifications."
    )


class AlarmRule(Contract):
    """One rule. ``rule_id`` is also the alarm's message code (``alarm.<rule_id>`` in the UI)."""

    rule_id: str = Field(pattern=RULE_ID_PATTERN)
    kinds: list[DeviceKind] = Field(min_length=1, description="Device kinds the rule applies to.")
    level: AlarmLevel
    condition: Condition
    enabled: bool = True
    auto_clear: bool = Field(default=True, description="Clear by itself once the condition is gone.")
    actions: list[ProtectiveAction] = Field(default_factory=list, max_length=8)
    clear_actions: list[ProtectiveAction] = Field(
        default_factory=list, max_length=8, description="Commands sent when the alarm clears (e.g. restore rate)."
    )


SCOPE_PATTERN = r"^(tenant|model:[A-Za-z0-9][A-Za-z0-9_.-]{0,63}|device:[A-Za-z0-9_-]{1,128})$"


class RuleSetDraft(Contract):
    """A new version for one scope: rules added or replaced by id, and rule ids switched off.

    Scopes overlay in order platform default → ``tenant`` → ``model:<model_id>`` →
    ``device:<thing_name>``; a later scope replaces a rule with the same id."""

    rules: list[AlarmRule] = Field(default_factory=list, max_length=200)
    disabled: list[Annotated[str, Field(pattern=RULE_ID_PATTERN)]] = Field(default_factory=list, max_length=200)
    comment: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _unique(self) -> RuleSetDraft:
        ids = [r.rule_id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule_id values must be unique within a rule set")
        return self


class RuleSetVersion(Contract):
    """A stored version of one scope's rule set (immutable once written)."""

    tenant_id: str
    scope: str = Field(pattern=SCOPE_PATTERN)
    version: int = Field(ge=1)
    rules: list[AlarmRule]
    disabled: list[str]
    comment: str
    created_by: str
    created_at_ms: int
    rolled_back_from: int | None = Field(default=None, description="Set when this version restores an older one.")


# ---- alarms -------------------------------------------------------------------------------------------


class TriggerSample(Contract):
    """A sample that satisfied the rule: its message key, device time and the values seen."""

    message_key: str
    device_ts_ms: int
    values: dict[str, ParamValue] = Field(default_factory=dict)


class Alarm(Contract):
    """One alarm (LCM-AL-3: kept with its whole history)."""

    alarm_id: str
    tenant_id: str
    thing_name: str
    device_kind: DeviceKind
    model_id: str | None = None
    rule_id: str
    level: AlarmLevel
    status: AlarmStatus
    code: str = Field(description="Message code, rendered by the reader's language: alarm.<code>.")
    params: dict[str, ParamValue] = Field(default_factory=dict)
    rule_version: str = Field(description="Effective rule-set version that raised it, e.g. default@1+tenant@3.")
    raised_at_ms: int = Field(description="Server time the alarm was raised.")
    device_ts_ms: int = Field(description="Device time of the sample that raised it.")
    trigger: list[TriggerSample] = Field(default_factory=list)
    acknowledged_at_ms: int | None = None
    acknowledged_by: str | None = None
    cleared_at_ms: int | None = None
    cleared_by: str | None = Field(default=None, description="A user, or 'system' for an automatic clear.")
    clear_reason: str | None = None
    assignee: str | None = None
    escalation_step: int = 0
    updated_at_ms: int


class TimelineEntryType(StrEnum):
    RAISED = "raised"
    NOTIFIED = "notified"
    ESCALATED = "escalated"
    COMMAND_SENT = "command_sent"
    COMMAND_ACKED = "command_acked"
    COMMAND_FAILED = "command_failed"
    COMMAND_EXPIRED = "command_expired"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    COMMENTED = "commented"
    CLEARED = "cleared"


class TimelineEntry(Contract):
    alarm_id: str
    entry_id: str = Field(description="Deterministic per event, so a retried write never duplicates.")
    at_ms: int
    type: TimelineEntryType
    actor: str = Field(description="'system', a user name, or 'device'.")
    params: dict[str, ParamValue] = Field(default_factory=dict)


class AlarmEventType(StrEnum):
    """EventBridge ``detail-type`` values (source ``voltops.alarms``)."""

    RAISED = "AlarmRaised"
    ESCALATED = "AlarmEscalated"
    ACKNOWLEDGED = "AlarmAcknowledged"
    CLEARED = "AlarmCleared"


class AlarmEvent(Contract):
    """The ``detail`` of an alarm event on the bus; ``event_id`` is deterministic (consumers dedupe)."""

    event_id: str
    type: AlarmEventType
    at_ms: int
    alarm: Alarm
    reason: str | None = Field(default=None, description="Code, e.g. command_ack_missing, not_acknowledged.")


ALARM_EVENT_SOURCE = "voltops.alarms"

#: The bus rule that feeds the notification queue (CDK and the local stack use this one pattern).
ALARM_EVENT_PATTERN: dict[str, list[str]] = {
    "source": [ALARM_EVENT_SOURCE],
    "detail-type": [t.value for t in AlarmEventType],
}
