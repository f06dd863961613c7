"""External messages (e-mail, SMS, voice) name every default rule in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from shared.contracts.notifications import Language
from shared.domain.alarms.default_rules import DEFAULT_RULES
from shared.domain.notifications.messages import ALARM_NAMES, alarm_name

CONSOLE_CODES = Path(__file__).resolve().parents[3] / "console" / "src" / "locales" / "alarmCodes.ts"


def test_every_default_rule_has_a_name_and_no_name_is_stale() -> None:
    """LCM-AL-3, LCM-UI-1: a new default rule cannot ship with its raw code in an SMS or e-mail,
    and no name is kept for a rule that no longer exists."""
    rule_ids = {r.rule_id for r in DEFAULT_RULES}
    assert set(ALARM_NAMES) == rule_ids
    for rule_id in rule_ids:
        zh, en = ALARM_NAMES[rule_id]
        assert zh and en and zh != en
        assert alarm_name(rule_id, Language.ZH_CN) == zh
        assert alarm_name(rule_id, Language.EN) == en


def test_messages_and_console_use_the_same_names() -> None:
    """LCM-UI-1: the operator reads the same alarm name in the console and in a notification."""
    text = CONSOLE_CODES.read_text(encoding="utf-8")
    for rule_id, (zh, en) in ALARM_NAMES.items():
        m = re.search(rf"\n\s*{re.escape(rule_id)}: \['([^']*)', '([^']*)'\]", text)
        assert m is not None, f"{rule_id} missing in {CONSOLE_CODES.name}"
        assert (m.group(1), m.group(2)) == (zh, en), rule_id
