"""The operator console in headless Chromium against the local stack: sign-in through (moto)
Cognito, the shell, the language switch with CJK glyphs, live channel up, phone viewport."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.console_support import PHONE, new_page, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_sign_in_with_the_seeded_operator_and_refuse_a_wrong_password(stack: Any, browser: Any) -> None:
    """LCM-UI-1, LCM-SEC-1: the sign-in page authenticates against the user pool; a wrong password
    is refused with a message; a good one lands on the overview with the tenant shown."""
    page = new_page(browser, stack, signed_in=False)
    page.goto(stack.console_url + "/devices")
    page.wait_for_url("**/login**")
    page.fill("#vo-username", stack.login.username)
    page.fill("#vo-password", "Wrong-password-1!")
    page.click("[data-testid=sign-in]")
    error = page.wait_for_selector("[data-testid=login-error]")
    assert "用户名或密码错误" in error.inner_text()
    screenshot(page, "sign-in")
    page.fill("#vo-password", stack.login.password)
    page.click("[data-testid=sign-in]")
    page.wait_for_url("**/devices")  # back where the operator wanted to go
    assert stack.tenant in page.inner_text("[data-testid=tenant-name]")
    page.wait_for_selector("[data-testid=live-status][data-status=live]")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_language_switch_renders_chinese_glyphs_and_english_labels(stack: Any, browser: Any) -> None:
    """LCM-UI-1: every label switches between 简体中文 and English; the Chinese labels are drawn
    with a CJK font (not boxes)."""
    page = new_page(browser, stack, locale="en")
    page.goto(stack.console_url + "/")
    nav = page.wait_for_selector("[data-testid=nav-alarms]")
    assert nav.inner_text().strip() == "Alarm centre"
    page.click("[data-testid=language]")
    page.click("li.el-select-dropdown__item:has-text('简体中文')")
    page.wait_for_function("document.querySelector('[data-testid=nav-alarms]').innerText.includes('告警中心')")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    # The glyphs exist in an installed font (Noto Sans CJK from fonts-noto-cjk).
    assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '告警中心')")
    rendered = page.evaluate(
        """() => {
            const c = document.createElement('canvas'); const g = c.getContext('2d');
            g.font = '32px "Noto Sans CJK SC"'; const a = g.measureText('告警中心').width;
            g.font = '32px monospace'; const tofu = g.measureText('\\u{10FFFD}\\u{10FFFD}\\u{10FFFD}\\u{10FFFD}').width;
            return {a, tofu};
        }"""
    )
    assert rendered["a"] > 100
    screenshot(page, "overview-zh")
    page.context.close()


def test_phone_viewport_keeps_navigation_and_pages_usable(stack: Any, browser: Any) -> None:
    """LCM-UI-2, LCM-PF-3: at 390 px the menu becomes a drawer; pages stay within the width."""
    page = new_page(browser, stack, viewport=PHONE)
    page.goto(stack.console_url + "/")
    page.click("[data-testid=nav-open]")
    page.click(".el-drawer .el-menu-item:has-text('设备列表')")
    page.wait_for_url("**/devices")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page is {overflow}px wider than the phone"
    screenshot(page, "devices-phone")
    page.context.close()
