"""Headless Chromium against the local stack's console, for the browser tests and the console
benchmark: Debian's ``chromium`` (``scripts/ensure_browser.sh``) and a console session signed in
exactly as the sign-in page leaves it (Cognito tokens in sessionStorage)."""

from __future__ import annotations

import json
import time
from typing import Any

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


def console_session(stack: Any) -> dict[str, Any]:
    """The seeded operator's tokens (USER_PASSWORD_AUTH against the stack's user pool), shaped as
    the console keeps them in sessionStorage."""
    import boto3

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
    """A page init script that signs the console in (and optionally picks its language)."""
    script = f"sessionStorage.setItem('voltops.session', {json.dumps(json.dumps(console_session(stack)))});"
    if locale:
        script += f"localStorage.setItem('voltops.locale', {json.dumps(locale)});"
    return script
