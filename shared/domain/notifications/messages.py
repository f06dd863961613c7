"""Rendering of e-mail, SMS and voice text from the alarm's code and params (zh-CN and en).

Only external channels are rendered here: they leave the platform as text. In-app
notifications store the code and params and are rendered by the console in the reader's
language. Unknown alarm codes fall back to the code itself, so a new rule never breaks a
notification; unknown reasons likewise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from shared.contracts.alarms import AlarmLevel, ParamValue
from shared.contracts.notifications import Language, NotificationKind

BRAND = "VoltOps"

LEVELS: Mapping[Language, Mapping[AlarmLevel, str]] = {
    Language.ZH_CN: {
        AlarmLevel.PRE_WARNING: "预警",
        AlarmLevel.LEVEL_1: "一级报警",
        AlarmLevel.LEVEL_2: "二级报警",
        AlarmLevel.LEVEL_3: "三级报警",
    },
    Language.EN: {
        AlarmLevel.PRE_WARNING: "Pre-warning",
        AlarmLevel.LEVEL_1: "Level 1 alarm",
        AlarmLevel.LEVEL_2: "Level 2 alarm",
        AlarmLevel.LEVEL_3: "Level 3 alarm",
    },
}

#: ``alarm.<code>`` names for external text; the console has the full catalogue.
#: Names of the default rules in e-mail, SMS and voice (the console has the same texts in
#: console/src/locales/alarmCodes.ts; tests/unit/notifications/test_alarm_names.py keeps both complete).
ALARM_NAMES: Mapping[str, tuple[str, str]] = {
    "thermal_runaway": ("热失控", "Thermal runaway"),
    "smoke": ("烟雾报警", "Smoke detected"),
    "flame": ("火焰报警", "Flame detected"),
    "water_ingress": ("进水报警", "Water ingress"),
    "h2_prewarning": ("氢气浓度预警", "Hydrogen pre-warning"),
    "h2_high": ("氢气浓度超限", "Hydrogen concentration high"),
    "co_prewarning": ("一氧化碳浓度预警", "Carbon monoxide pre-warning"),
    "co_high": ("一氧化碳浓度超限", "Carbon monoxide concentration high"),
    "module_pressure_rise": ("模组压力骤升", "Module pressure rise"),
    "cell_overvoltage": ("单体过压", "Cell overvoltage"),
    "cell_overvoltage_critical": ("单体严重过压", "Cell overvoltage (critical)"),
    "cell_undervoltage": ("单体欠压", "Cell undervoltage"),
    "cell_undervoltage_critical": ("单体严重欠压", "Cell undervoltage (critical)"),
    "pack_overvoltage": ("总压过压", "Pack overvoltage"),
    "pack_overvoltage_critical": ("总压严重过压", "Pack overvoltage (critical)"),
    "pack_undervoltage": ("总压欠压", "Pack undervoltage"),
    "pack_undervoltage_critical": ("总压严重欠压", "Pack undervoltage (critical)"),
    "charge_overcurrent": ("充电过流", "Charge overcurrent"),
    "discharge_overcurrent": ("放电过流", "Discharge overcurrent"),
    "over_temperature": ("温度过高", "Over-temperature"),
    "high_temperature": ("温度偏高", "High temperature"),
    "under_temperature": ("温度过低", "Under-temperature"),
    "temperature_difference": ("温差过大", "Temperature difference too large"),
    "temperature_consistency": ("温度一致性差", "Temperature inconsistency"),
    "cell_voltage_consistency": ("单体电压一致性差", "Cell voltage inconsistency"),
    "cell_voltage_spread": ("单体压差过大", "Cell voltage spread too large"),
    "soc_low": ("SOC 过低", "SOC low"),
    "soc_high": ("满电仍在充电（SOC 过高）", "SOC high (still charging when full)"),
    "soc_jump": ("SOC 跳变", "SOC jump"),
    "insulation_low": ("绝缘电阻偏低", "Insulation resistance low"),
    "insulation_low_critical": ("绝缘电阻严重偏低", "Insulation resistance critically low"),
    "gb_alarm_level3": ("国标三级报警（终端上报）", "GB/T 32960 level 3 alarm (reported by the terminal)"),
    "communication_lost": ("通信中断", "Communication lost"),
}

REASONS: Mapping[str, tuple[str, str]] = {
    "command_ack_missing": ("保护指令未收到设备确认", "the protective command was not acknowledged by the device"),
    "not_acknowledged": ("报警仍未确认", "the alarm is still not acknowledged"),
}

_KIND_TITLE: Mapping[NotificationKind, tuple[str, str]] = {
    NotificationKind.ALARM_RAISED: ("报警", "Alarm"),
    NotificationKind.ALARM_ESCALATED: ("报警升级", "Alarm escalated"),
    NotificationKind.ALARM_REMINDER: ("报警提醒", "Alarm reminder"),
    NotificationKind.ALARM_CLEARED: ("报警解除", "Alarm cleared"),
}


@dataclass(frozen=True)
class AlarmFacts:
    """What a message says about the alarm (from the event or the escalation snapshot)."""

    tenant_id: str
    alarm_id: str
    thing_name: str
    level: AlarmLevel
    code: str
    params: Mapping[str, ParamValue]
    raised_at_ms: int


@dataclass(frozen=True)
class RenderedMessage:
    subject: str  # e-mail subject
    text: str  # e-mail body
    short: str  # SMS (kept well under one 70-character UCS-2 segment where possible)
    speech: str  # voice (text to speech)


def _pick(pair: tuple[str, str], language: Language) -> str:
    return pair[0] if language is Language.ZH_CN else pair[1]


def alarm_name(code: str, language: Language) -> str:
    pair = ALARM_NAMES.get(code)
    return _pick(pair, language) if pair else code


def reason_text(reason: str, language: Language) -> str:
    pair = REASONS.get(reason)
    return _pick(pair, language) if pair else reason


def format_params(params: Mapping[str, ParamValue]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()) if v is not None)


def local_time(at_ms: int, time_zone: str) -> str:
    return dt.datetime.fromtimestamp(at_ms / 1000, tz=ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M:%S")


def render(
    kind: NotificationKind,
    alarm: AlarmFacts,
    language: Language,
    time_zone: str,
    *,
    step: int | None = None,
    reason: str | None = None,
) -> RenderedMessage:
    """E-mail, SMS and voice text for one notification in ``language``; times in ``time_zone``."""
    zh = language is Language.ZH_CN
    level = LEVELS[language][alarm.level]
    name = alarm_name(alarm.code, language)
    title = _pick(_KIND_TITLE[kind], language)
    when = local_time(alarm.raised_at_ms, time_zone)
    params = format_params(alarm.params)
    why = reason_text(reason, language) if reason else None
    if zh:
        subject = f"[{BRAND}] {title}：{level} {name}（{alarm.thing_name}）"
        lines = [
            f"{title}：{level} {name}",
            f"设备：{alarm.thing_name}",
            f"发生时间：{when}（{time_zone}）",
            f"参数：{params}" if params else "",
            f"升级步骤：第{step}步" if step else "",
            f"原因：{why}" if why else "",
            f"报警编号：{alarm.alarm_id}",
            "" if kind is NotificationKind.ALARM_CLEARED else "请登录控制台确认并处理。",
        ]
        short = f"【{BRAND}】{title} {level} {name} 设备{alarm.thing_name} {when}"
        short += f" {why}" if why else ""
        short += "" if kind is NotificationKind.ALARM_CLEARED else " 请尽快确认处理"
        speech = f"{BRAND}{title}。设备{alarm.thing_name}发生{level}，{name}。"
        speech += f"{why}。" if why else ""
        speech += "" if kind is NotificationKind.ALARM_CLEARED else "请立即登录控制台确认处理。"
    else:
        subject = f"[{BRAND}] {title}: {level} {name} ({alarm.thing_name})"
        lines = [
            f"{title}: {level} {name}",
            f"Device: {alarm.thing_name}",
            f"Raised at: {when} ({time_zone})",
            f"Values: {params}" if params else "",
            f"Escalation step: {step}" if step else "",
            f"Reason: {why}" if why else "",
            f"Alarm id: {alarm.alarm_id}",
            "" if kind is NotificationKind.ALARM_CLEARED else "Please acknowledge and handle it in the console.",
        ]
        short = f"[{BRAND}] {title}: {level} {name} on {alarm.thing_name} at {when}"
        short += f"; {why}" if why else ""
        short += "" if kind is NotificationKind.ALARM_CLEARED else ". Please acknowledge."
        speech = f"{BRAND} {title.lower()}. Device {alarm.thing_name} has a {level.lower()}: {name}. "
        speech += f"Reason: {why}. " if why else ""
        speech += "" if kind is NotificationKind.ALARM_CLEARED else "Please acknowledge it in the console now."
    text = "\n".join(line for line in lines if line) + "\n"
    return RenderedMessage(subject=subject, text=text, short=short, speech=speech.strip())
