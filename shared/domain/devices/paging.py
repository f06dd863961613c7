"""Opaque pagination tokens: base64url of the last returned key, validated on the way back in."""

from __future__ import annotations

import base64
import binascii
import json

from shared.contracts.topics import TopicError, check_id
from shared.domain.errors import Invalid

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
_VERSION = 1


def encode_token(after: str | None) -> str | None:
    if after is None:
        return None
    raw = json.dumps({"v": _VERSION, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, *, what: str = "next_token") -> str | None:
    """The key a token stands for; :class:`Invalid` for anything this API did not issue."""
    if token is None or token == "":
        return None
    bad = Invalid(
        f"{what} is not a token issued by this API; pass next_token from a previous page unchanged",
        code="invalid_next_token",
    )
    if len(token) > 512:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise bad from exc
    if not isinstance(data, dict) or data.get("v") != _VERSION or set(data) != {"v", "after"}:
        raise bad
    after = data["after"]
    if not isinstance(after, str):
        raise bad
    return after


def decode_thing_token(token: str | None) -> str | None:
    after = decode_token(token)
    if after is not None:
        try:
            check_id(after, "thing")
        except TopicError as exc:
            raise Invalid("next_token is not a token issued by this API", code="invalid_next_token") from exc
    return after


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}, got {limit}", code="invalid_limit")
    return limit
