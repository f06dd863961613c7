"""LCM-AL-4, LCM-PF-7, SLW-IF-1, SLW-WEB-7: the console renders every alarm code the platform can
raise in Chinese and English. Reads ``console/src/locales/alarmCodes.ts`` as text (no Node needed)
and fails when a default rule id, a fault classification or advice code, a timeline entry type or
an alarm event type has no entry in both languages, so a new rule cannot ship untranslated."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from shared.contracts.alarms import AlarmEventType, Limit, Metric, Series, Signal, TimelineEntryType
from shared.contracts.notifications import Channel, NotificationKind
from shared.contracts.telemetry import CommandName
from shared.domain.alarms import faults
from shared.domain.alarms.default_rules import DEFAULT_RULES

CODES_TS = Path(__file__).resolve().parents[3] / "console" / "src" / "locales" / "alarmCodes.ts"
_STR = r"'((?:[^'\\]|\\.)*)'"
_ENTRY = re.compile(r"^\s*([A-Za-z0-9_]+)\s*:\s*\[\s*" + _STR + r"\s*,\s*" + _STR + r"\s*,?\s*\]", re.M)
_CJK = re.compile(r"[\u3400-\u9fff]")


@cache
def table(name: str) -> dict[str, tuple[str, str]]:
    """Entries ``key: ['中文', 'English']`` of ``export const <name> = { ... }``."""
    text = CODES_TS.read_text(encoding="utf-8")
    m = re.search(r"export const " + name + r"\s*=\s*\{(.*?)\n\}", text, re.S)
    assert m, f"{CODES_TS.name} has no table {name}"
    return {k: (zh, en) for k, zh, en in _ENTRY.findall(m.group(1))}


def missing(name: str, codes: set[str]) -> list[str]:
    """Codes without a Chinese and an English text in table ``name``."""
    t = table(name)
    return sorted(c for c in codes if c not in t or not _CJK.search(t[c][0]) or not t[c][1].strip())


def test_every_default_rule_has_chinese_and_english_text() -> None:
    """LCM-AL-4, LCM-PF-7: alarm.<rule_id> exists in both languages for every default rule."""
    assert missing("RULE_NAMES", {r.rule_id for r in DEFAULT_RULES}) == []


def test_every_fault_classification_and_advice_has_text() -> None:
    """SLW-IF-1, SLW-WEB-6: fault reports show their classification and advice in the reader's language."""
    classes = [*faults.CATALOGUE.values(), faults.OTHER]
    assert missing("FAULT_CLASSIFICATIONS", {c.classification for c in classes}) == []
    advice = {c.advice for c in classes}
    assert all(a.startswith("advice.") for a in advice), "the console renders advice as alarm.<advice code>"
    assert missing("FAULT_ADVICE", {a.removeprefix("advice.") for a in advice}) == []


def test_every_timeline_entry_and_alarm_event_type_has_text() -> None:
    """LCM-AL-3, SLW-WEB-7: the timeline and the live toasts name every entry and event type."""
    assert missing("TIMELINE_TYPES", {t.value for t in TimelineEntryType}) == []
    assert missing("ALARM_EVENTS", {t.value for t in AlarmEventType}) == []


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("METRICS", {m.value for m in Metric}),
        ("SIGNALS", {s.value for s in Signal}),
        ("SERIES", {s.value for s in Series}),
        ("LIMITS", {x.value for x in Limit}),
        ("COMMANDS", {c.value for c in CommandName}),
        ("CHANNELS", {c.value for c in Channel}),
        ("NOTIFICATION_KINDS", {k.value for k in NotificationKind}),
    ],
)
def test_rule_editor_vocabulary_has_text(name: str, codes: set[str]) -> None:
    """SLW-WEB-3, LCM-PF-7: the rule editor and the params table name every metric, signal, series,
    model limit, command and channel; the inbox every notification kind."""
    assert missing(name, codes) == []


def test_no_rule_id_shadows_a_text_subtree() -> None:
    """LCM-AL-4: alarm.<rule_id> shares its namespace with alarm.advice, alarm.timeline, ...; a rule
    id equal to one of those sub-trees would hide it."""
    text = CODES_TS.read_text(encoding="utf-8")
    m = re.search(r"export const RESERVED_CODES = \[(.*?)\]", text, re.S)
    assert m
    reserved = set(re.findall(r"'([A-Za-z_]+)'", m.group(1)))
    assert {"advice", "classification", "timeline", "event"} <= reserved
    assert sorted(reserved & {r.rule_id for r in DEFAULT_RULES}) == []
    assert sorted(reserved & set(table("RULE_NAMES"))) == []


def test_parser_sees_the_whole_table() -> None:
    """LCM-PF-7: guard against a formatting change that makes this test vacuous."""
    assert len(table("RULE_NAMES")) >= len(DEFAULT_RULES)
    assert table("RULE_NAMES")["cell_overvoltage"] == ("单体过压", "Cell overvoltage")
