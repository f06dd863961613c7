"""Browser-test support: Debian's chromium driven by Playwright against the local stack's console.

The console is built into ``console/dist`` by ``make test`` before the stack starts (the stack
serves it with ``/config.json`` and proxies ``/v1`` to the API). Screenshots of the main pages
go to ``test-results/console/`` next to the test output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.browser import CHROMIUM, CHROMIUM_ARGS, signed_in_script

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-results" / "console"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def require_console(stack: Any) -> None:
    if stack.console_dir is None:
        pytest.fail("console/dist is not built: run `make test` (it builds the console before the tests)")


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_page(
    browser: Any,
    stack: Any,
    *,
    signed_in: bool = True,
    viewport: dict[str, int] = DESKTOP,
    locale: str | None = "zh-CN",
) -> Any:
    """A fresh context (own storage) and page; console errors are collected on ``page.errors``."""
    require_console(stack)
    context = browser.new_context(viewport=viewport, locale=locale or "zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    if signed_in:
        context.add_init_script(signed_in_script(stack, locale))
    elif locale:
        context.add_init_script(f"localStorage.setItem('voltops.locale', {json.dumps(locale)});")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return page
