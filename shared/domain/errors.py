"""Typed domain errors. The domain and the DAL raise them; each entry point maps them once.

Every error carries a stable machine ``code`` (snake_case, rendered in the reader's language at
the edge) and a precise English ``message`` for developers. ``details`` holds structured
parameters (field locations, limits) so a client never has to parse the message.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every expected, typed failure."""

    default_code: ClassVar[str] = "error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details


class NotFound(DomainError):
    """The thing asked for does not exist for this caller (also used so existence never leaks)."""

    default_code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state (duplicate, wrong lifecycle state)."""

    default_code = "conflict"


class Invalid(DomainError):
    """The request is well-formed JSON but breaks a rule (range, format, reference)."""

    default_code = "invalid_request"


class Unauthorized(DomainError):
    """No valid identity: missing, malformed, expired or untrusted token."""

    default_code = "unauthorized"


class Forbidden(DomainError):
    """A valid identity whose role does not allow the action."""

    default_code = "forbidden"


class Unavailable(DomainError):
    """A dependency failed or throttled; the caller may retry."""

    default_code = "unavailable"
