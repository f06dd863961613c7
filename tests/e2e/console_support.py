"""Browser-test support: Debian's chromium driven by Playwright against the local stack's console.

The console is built into ``console/dist`` by ``make test`` before the stack starts (the stack
serves it with ``/config.json`` and proxies ``/v1`` to the API). Screenshots of the main pages
go to ``test-results/console/`` next to the test output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-results" / "console"
CHROMIUM = "/usr/bin/chromium"
# As root and on a closed network: no sandbox, no background connections to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def require_console(stack: Any) -> None:
    if stack.console_dir is None:
        pytest.fail("console/dist is not built: run `make test` (it builds the console before the tests)")


def cognito_session(stack: Any) -> dict[str, Any]:
    """The seeded operator's tokens, shaped as the console keeps them in sessionStorage."""
    idp = boto3.client("cognito-idp", endpoint_url=stack.moto_endpoint, region_name="us-east-1")
    auth = idp.initiate_auth(
        ClientId=stack.resources.user_pool_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": stack.login.username, "PASSWORD": stack.login.password},
    )["AuthenticationResult"]
    return {
        "idToken": auth["IdToken"],
        "accessToken": auth["AccessToken"],
        "refreshToken": auth.get("RefreshToken", ""),
        "expiresAtMs": int(time.time() * 1000) + auth["ExpiresIn"] * 1000,
    }


def signed_in_script(stack: Any, locale: str | None = None) -> str:
    """An init script that signs the page in exactly as the sign-in page leaves it."""
    script = f"sessionStorage.setItem('voltops.session', {json.dumps(json.dumps(cognito_session(stack)))});"
    if locale:
        script += f"localStorage.setItem('voltops.locale', {json.dumps(locale)});"
    return script


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
