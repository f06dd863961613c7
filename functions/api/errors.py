"""The one place where errors become HTTP responses: ``{"error": {"code", "message", "details"?}}``.

Chalice REST middleware does not see exceptions raised in views, so every view is wrapped
(:mod:`functions.api.http`) and calls :func:`error_response` here.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from chalice import Response
from pydantic import ValidationError

from shared.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unauthorized, Unavailable

log = logging.getLogger(__name__)

STATUS: dict[type[DomainError], int] = {
    Invalid: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
}

JSON: dict[str, str | list[str]] = {"Content-Type": "application/json"}


def _body(code: str, message: str, details: Any = None) -> str:
    err: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        err["details"] = details
    return json.dumps({"error": err})


def _validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(p) for p in e["loc"]], "type": e["type"], "msg": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


def error_response(exc: Exception) -> Response:
    if isinstance(exc, ValidationError):
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid"}
        where = ".".join(first["loc"]) or "body"
        return Response(
            body=_body("validation_failed", f"{where}: {first['msg']}", details), status_code=422, headers=JSON
        )
    if isinstance(exc, DomainError):
        status = next((s for t, s in STATUS.items() if isinstance(exc, t)), 400)
        headers: dict[str, str | list[str]] = dict(JSON)
        if status == 401:
            headers["WWW-Authenticate"] = f'Bearer error="{exc.code}"'
        if status == 503:
            headers["Retry-After"] = "1"
        return Response(body=_body(exc.code, exc.message, exc.details), status_code=status, headers=headers)
    log.exception("unhandled error in API view")
    return Response(body=_body("internal_error", "internal error"), status_code=500, headers=JSON)
