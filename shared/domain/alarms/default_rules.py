"""The platform's default alarm rules (scope ``default``), overlaid per tenant, model and device.

Every rule is documented in ``docs/alarm-rules.md`` (condition, level, actions, basis). Limits
come from the device model (:class:`~shared.contracts.devices.ModelLimits`), so one rule serves
every chemistry and pack size; fixed values were checked against the simulator's healthy fleet
(every catalogue model, normal cycles, sensor drop-outs: no alarm) and its thermal-runaway
scenario (H₂ pre-warning first, then thermal runaway at level 3).

Levels (SLW-EW-5, LCM-AL-4): 0 pre-warning, 1 attention, 2 act soon (protective stop), 3 act now
(cut-off, latched until an operator clears it). Protective actions follow SLW-PR-1..4.
"""

from __future__ import annotations

from shared.contracts.alarms import (
    AlarmLevel,
    AlarmRule,
    AllOf,
    AnyOf,
    Comparison,
    ConsistencyCondition,
    DropCondition,
    GbAlarmCondition,
    JumpCondition,
    Limit,
    LimitRef,
    Metric,
    ProtectiveAction,
    RateCondition,
    Series,
    Signal,
    SignalCondition,
    SilenceCondition,
    ThresholdCondition,
)
from shared.contracts.devices import DeviceKind
from shared.contracts.telemetry import CommandName

DEFAULT_RULES_VERSION: int = 1

_BOTH = [DeviceKind.BATTERY_PACK, DeviceKind.STORAGE_CABINET]
_CABINET = [DeviceKind.STORAGE_CABINET]

_CUT_OFF = ProtectiveAction(command=CommandName.CUT_OFF)
_STOP_CHARGE = ProtectiveAction(command=CommandName.STOP_CHARGE)
_STOP_DISCHARGE = ProtectiveAction(command=CommandName.STOP_DISCHARGE)
#: LCM-PF-6: report faster while an early warning is active, back to 1 s when it clears.
_FAST_REPORTING = ProtectiveAction(command=CommandName.SET_REPORTING_INTERVAL, params={"interval_ms": 500})
_NORMAL_REPORTING = ProtectiveAction(command=CommandName.SET_REPORTING_INTERVAL, params={"interval_ms": 1000})

#: GB/T 32960.3-2025 general alarm bit 23: battery thermal event (domain.md §1.8).
GB_THERMAL_EVENT_BIT = 23
#: H₂ first stage: 100 ppm = 0.25 %LEL (LEL 4 vol %), inside DB63/T 2286's 0.1–5 %LEL range.
H2_PREWARNING_PPM = 100.0
H2_SECOND_STAGE_PPM = 1000.0
#: CO first stage: 125 ppm = 0.1 %LEL (LEL 12.5 vol %), the lowest first stage DB63/T 2286 allows.
CO_PREWARNING_PPM = 125.0
CO_SECOND_STAGE_PPM = 500.0


def _limit(limit: Limit, factor: float = 1.0, offset: float = 0.0) -> LimitRef:
    return LimitRef(limit=limit, factor=factor, offset=offset)


def _threshold(
    metric: Metric,
    op: Comparison,
    *,
    value: float | None = None,
    limit: LimitRef | None = None,
    hysteresis: float = 0.0,
    for_s: float = 0.0,
    clear_for_s: float = 0.0,
) -> ThresholdCondition:
    return ThresholdCondition(
        metric=metric,
        op=op,
        value=value,
        limit=limit,
        hysteresis=hysteresis,
        for_s=for_s,
        clear_for_s=clear_for_s,
    )


def _rule(
    rule_id: str,
    level: AlarmLevel,
    condition: object,
    *,
    kinds: list[DeviceKind] | None = None,
    actions: list[ProtectiveAction] | None = None,
    clear_actions: list[ProtectiveAction] | None = None,
    auto_clear: bool = True,
) -> AlarmRule:
    return AlarmRule.model_validate(
        {
            "rule_id": rule_id,
            "kinds": kinds or _BOTH,
            "level": level,
            "condition": condition,
            "auto_clear": auto_clear,
            "actions": actions or [],
            "clear_actions": clear_actions or [],
        }
    )


L0, L1, L2, L3 = AlarmLevel.PRE_WARNING, AlarmLevel.LEVEL_1, AlarmLevel.LEVEL_2, AlarmLevel.LEVEL_3
GT, GE, LT = Comparison.GT, Comparison.GE, Comparison.LT

#: GB 38031-2025 C.5.3.7: (a AND c) OR (b AND c), or the terminal's own thermal-event flag.
THERMAL_RUNAWAY_CONDITION = AnyOf(
    conditions=[
        AllOf(
            conditions=[
                # c) any probe's dT/dt ≥ 1 °C/s for more than 3 s
                RateCondition(
                    series=Series.PROBE_TEMPERATURES, op="ge", rate_per_s=1.0, sustained_s=3.0, max_gap_s=5.0
                ),
                AnyOf(
                    conditions=[
                        # a) a cell's voltage more than 25 % below its recent (≤ 60–90 s) maximum
                        DropCondition(series=Series.CELL_VOLTAGES, fraction=0.25, reference_window_s=60.0),
                        # b) the hottest probe at the maker's maximum operating temperature
                        _threshold(Metric.TEMPERATURE_MAX_C, GE, limit=_limit(Limit.MAX_OPERATING_TEMPERATURE_C)),
                    ]
                ),
            ]
        ),
        GbAlarmCondition(bits=[GB_THERMAL_EVENT_BIT]),
    ]
)


DEFAULT_RULES: tuple[AlarmRule, ...] = (
    # ---- thermal runaway and fire (SLW-EW-1..3, GB 38031) ---------------------------------------
    _rule("thermal_runaway", L3, THERMAL_RUNAWAY_CONDITION, actions=[_CUT_OFF], auto_clear=False),
    _rule(
        "smoke",
        L3,
        SignalCondition(signal=Signal.SMOKE, for_s=2.0),
        kinds=_CABINET,
        actions=[_CUT_OFF],
        auto_clear=False,
    ),
    _rule(
        "flame",
        L3,
        SignalCondition(signal=Signal.FLAME, for_s=1.0),
        kinds=_CABINET,
        actions=[_CUT_OFF],
        auto_clear=False,
    ),
    _rule(
        "water_ingress",
        L3,
        SignalCondition(signal=Signal.WATER_INGRESS, for_s=2.0),
        kinds=_CABINET,
        actions=[_CUT_OFF],
        auto_clear=False,
    ),
    # ---- gas (DB63/T 2286 two stages; H₂ is the earliest signal, Jin et al. 2020) ----------------
    _rule(
        "h2_prewarning",
        L0,
        _threshold(Metric.H2_PPM, GE, value=H2_PREWARNING_PPM, hysteresis=20.0, for_s=2.0, clear_for_s=60.0),
        kinds=_CABINET,
        actions=[_FAST_REPORTING],
        clear_actions=[_NORMAL_REPORTING],
    ),
    _rule(
        "h2_high",
        L2,
        _threshold(Metric.H2_PPM, GE, value=H2_SECOND_STAGE_PPM, hysteresis=200.0, for_s=2.0, clear_for_s=60.0),
        kinds=_CABINET,
        actions=[_STOP_CHARGE, _STOP_DISCHARGE],
    ),
    _rule(
        "co_prewarning",
        L0,
        _threshold(Metric.CO_PPM, GE, value=CO_PREWARNING_PPM, hysteresis=25.0, for_s=2.0, clear_for_s=60.0),
        kinds=_CABINET,
        actions=[_FAST_REPORTING],
        clear_actions=[_NORMAL_REPORTING],
    ),
    _rule(
        "co_high",
        L2,
        _threshold(Metric.CO_PPM, GE, value=CO_SECOND_STAGE_PPM, hysteresis=100.0, for_s=2.0, clear_for_s=60.0),
        kinds=_CABINET,
        actions=[_STOP_CHARGE, _STOP_DISCHARGE],
    ),
    # SLW-EW-2: sealed-module pressure rise (venting): a step of ≥ 5 kPa between samples ≤ 60 s apart.
    _rule(
        "module_pressure_rise",
        L2,
        JumpCondition(metric=Metric.MODULE_PRESSURE_KPA, min_delta=5.0, max_interval_s=60.0, clear_after_s=300.0),
        kinds=_CABINET,
        actions=[_STOP_CHARGE, _STOP_DISCHARGE],
    ),
    # ---- voltage (SLW-PR-1 cut-off at level 3; SLW-PR-2 over-charge / over-discharge stops) -------
    _rule(
        "cell_overvoltage",
        L2,
        _threshold(
            Metric.CELL_VOLTAGE_MAX_V,
            GT,
            limit=_limit(Limit.CELL_VOLTAGE_MAX_V),
            hysteresis=0.05,
            for_s=5.0,
            clear_for_s=10.0,
        ),
        actions=[_STOP_CHARGE],
    ),
    _rule(
        "cell_overvoltage_critical",
        L3,
        _threshold(Metric.CELL_VOLTAGE_MAX_V, GT, limit=_limit(Limit.CELL_VOLTAGE_MAX_V, factor=1.05), for_s=2.0),
        actions=[_CUT_OFF],
        auto_clear=False,
    ),
    _rule(
        "cell_undervoltage",
        L2,
        _threshold(
            Metric.CELL_VOLTAGE_MIN_V,
            LT,
            limit=_limit(Limit.CELL_VOLTAGE_MIN_V),
            hysteresis=0.05,
            for_s=5.0,
            clear_for_s=10.0,
        ),
        actions=[_STOP_DISCHARGE],
    ),
    _rule(
        "cell_undervoltage_critical",
        L3,
        _threshold(Metric.CELL_VOLTAGE_MIN_V, LT, limit=_limit(Limit.CELL_VOLTAGE_MIN_V, factor=0.9), for_s=2.0),
        actions=[_CUT_OFF],
        auto_clear=False,
    ),
    _rule(
        "pack_overvoltage",
        L2,
        _threshold(Metric.PACK_VOLTAGE_V, GT, limit=_limit(Limit.PACK_VOLTAGE_MAX_V), for_s=5.0, clear_for_s=10.0),
        actions=[_STOP_CHARGE],
    ),
    _rule(
        "pack_overvoltage_critical",
        L3,
        _threshold(Metric.PACK_VOLTAGE_V, GT, limit=_limit(Limit.PACK_VOLTAGE_MAX_V, factor=1.05), for_s=2.0),
        actions=[_CUT_OFF],
        auto_clear=False,
    ),
    _rule(
        "pack_undervoltage",
        L2,
        _threshold(Metric.PACK_VOLTAGE_V, LT, limit=_limit(Limit.PACK_VOLTAGE_MIN_V), for_s=5.0, clear_for_s=10.0),
        actions=[_STOP_DISCHARGE],
    ),
    _rule(
        "pack_undervoltage_critical",
        L3,
        _threshold(Metric.PACK_VOLTAGE_V, LT, limit=_limit(Limit.PACK_VOLTAGE_MIN_V, factor=0.9), for_s=5.0),
        actions=[_CUT_OFF],
        auto_clear=False,
    ),
    # ---- current (SLW-PR-2: close the charge or the discharge port) ------------------------------
    _rule(
        "charge_overcurrent",
        L2,
        _threshold(
            Metric.CHARGE_CURRENT_A,
            GT,
            limit=_limit(Limit.MAX_CHARGE_CURRENT_A, factor=1.1),
            for_s=5.0,
            clear_for_s=10.0,
        ),
        actions=[_STOP_CHARGE],
    ),
    _rule(
        "discharge_overcurrent",
        L2,
        _threshold(
            Metric.DISCHARGE_CURRENT_A,
            GT,
            limit=_limit(Limit.MAX_DISCHARGE_CURRENT_A, factor=1.1),
            for_s=5.0,
            clear_for_s=10.0,
        ),
        actions=[_STOP_DISCHARGE],
    ),
    # ---- temperature (SLW-PR-3: stop charge and discharge) ----------------------------------------
    _rule(
        "over_temperature",
        L2,
        _threshold(
            Metric.TEMPERATURE_MAX_C,
            GE,
            limit=_limit(Limit.MAX_OPERATING_TEMPERATURE_C),
            hysteresis=3.0,
            for_s=5.0,
            clear_for_s=30.0,
        ),
        actions=[_STOP_CHARGE, _STOP_DISCHARGE],
    ),
    _rule(
        "high_temperature",
        L1,
        _threshold(
            Metric.TEMPERATURE_MAX_C,
            GE,
            limit=_limit(Limit.MAX_OPERATING_TEMPERATURE_C, offset=-5.0),
            hysteresis=2.0,
            for_s=30.0,
            clear_for_s=60.0,
        ),
    ),
    _rule(
        "under_temperature",
        L2,
        _threshold(
            Metric.TEMPERATURE_MIN_C,
            LT,
            limit=_limit(Limit.TEMPERATURE_MIN_C),
            hysteresis=3.0,
            for_s=60.0,
            clear_for_s=60.0,
        ),
        actions=[_STOP_CHARGE, _STOP_DISCHARGE],
    ),
    _rule(
        "temperature_difference",
        L1,
        _threshold(Metric.TEMPERATURE_DIFF_C, GT, value=10.0, hysteresis=2.0, for_s=30.0, clear_for_s=60.0),
    ),
    _rule(
        "temperature_consistency",
        L0,
        ConsistencyCondition(series=Series.PROBE_TEMPERATURES, deviation=5.0, hysteresis=1.0, for_s=60.0),
    ),
    # ---- cell consistency (GB/T 32960 bit 10; early ΔV outliers as a pre-warning, domain.md §2.4) --
    _rule(
        "cell_voltage_consistency",
        L0,
        ConsistencyCondition(series=Series.CELL_VOLTAGES, deviation=0.15, hysteresis=0.03, for_s=60.0),
    ),
    _rule(
        "cell_voltage_spread",
        L1,
        _threshold(Metric.CELL_VOLTAGE_SPREAD_V, GT, value=0.3, hysteresis=0.05, for_s=60.0, clear_for_s=60.0),
    ),
    # ---- state of charge and insulation --------------------------------------------------------------
    _rule("soc_low", L1, _threshold(Metric.SOC_PCT, LT, value=8.0, hysteresis=2.0, for_s=60.0, clear_for_s=60.0)),
    # Over-charge: still charging (> 1 A) at a full SOC for a minute.
    _rule(
        "soc_high",
        L1,
        AllOf(
            conditions=[
                _threshold(Metric.SOC_PCT, GE, value=100.0, hysteresis=2.0, for_s=60.0),
                _threshold(Metric.CHARGE_CURRENT_A, GT, value=1.0, for_s=60.0),
            ]
        ),
        actions=[_STOP_CHARGE],
    ),
    _rule(
        "soc_jump", L1, JumpCondition(metric=Metric.SOC_PCT, min_delta=10.0, max_interval_s=60.0, clear_after_s=300.0)
    ),
    # GB 18384: ≥ 100 Ω/V (DC) is the minimum, 500 Ω/V the usual warning; kΩ = V × Ω/V / 1000.
    _rule(
        "insulation_low",
        L1,
        _threshold(
            Metric.INSULATION_KOHM,
            LT,
            limit=_limit(Limit.PACK_VOLTAGE_MAX_V, factor=0.5),
            hysteresis=10.0,
            for_s=10.0,
            clear_for_s=30.0,
        ),
    ),
    _rule(
        "insulation_low_critical",
        L2,
        _threshold(
            Metric.INSULATION_KOHM,
            LT,
            limit=_limit(Limit.PACK_VOLTAGE_MAX_V, factor=0.1),
            hysteresis=5.0,
            for_s=5.0,
            clear_for_s=30.0,
        ),
    ),
    # ---- terminal-reported and communication -------------------------------------------------------------
    _rule("gb_alarm_level3", L3, GbAlarmCondition(min_level=3)),
    _rule("communication_lost", L1, SilenceCondition(after_s=300.0)),
)
