"""Route plumbing shared by every view: authentication, parsing, error mapping, documentation.

A view is declared once with :func:`endpoint`; the metadata it records is what
:mod:`functions.api.openapi` turns into the OpenAPI document, so code and document cannot
drift apart silently (a test checks both directions).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chalice import Chalice, Response
from chalice.app import Request
from pydantic import BaseModel

from functions.api import wiring
from functions.api.errors import JSON, error_response
from shared.domain.auth import Action, Principal, principal_from_claims
from shared.domain.errors import Invalid, Unauthorized

M = TypeVar("M", bound=BaseModel)

DOC_ATTR = "__voltops_route__"


@dataclass(frozen=True)
class RouteDoc:
    path: str
    method: str
    summary: str
    response: type[BaseModel] | None
    status: int = 200
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    action: Action | None = None
    authenticated: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)
    errors: tuple[int, ...] = (400, 401, 403, 404, 422)


class Call:
    """What a view gets: the verified principal and typed access to the request."""

    def __init__(self, request: Request, principal: Principal | None) -> None:
        self._request = request
        self._principal = principal

    @property
    def principal(self) -> Principal:
        if self._principal is None:  # only for unauthenticated routes, which never ask
            raise Unauthorized("this route does not authenticate")
        return self._principal

    def body(self, model: type[M]) -> M:
        """The JSON body validated against ``model`` (unknown fields refused): 400 / 422."""
        raw = self._request.raw_body
        if not raw or not raw.strip():
            if any(f.is_required() for f in model.model_fields.values()):
                raise Invalid("request body is empty; send a JSON object", code="malformed_json")
            return model.model_validate({})
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Invalid(f"request body is not valid JSON: {exc}", code="malformed_json") from exc
        if not isinstance(data, dict):
            raise Invalid("request body must be a JSON object", code="malformed_json")
        return model.model_validate(data)

    def query(self, model: type[M]) -> M:
        """The query string validated against ``model``; a repeated parameter gives its last value."""
        return model.model_validate(dict(self._request.query_params or {}))

    def query_values(self, name: str) -> list[str]:
        """Every value of a repeatable query parameter (``?status=a&status=b``), in order."""
        params = self._request.query_params
        if not params or name not in params:
            return []
        return [str(v) for v in params.getlist(name)]


def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization") if request.headers else None
    if not header:
        raise Unauthorized(
            "missing Authorization header; send 'Authorization: Bearer <Cognito ID token>'", code="missing_token"
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'", code="missing_token")
    claims = wiring.token_verifier().verify(token.strip())
    return principal_from_claims(claims)


def _to_json(result: Any) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    return result


def endpoint(app: Chalice, doc: RouteDoc) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``view(call, **path_params)`` as a Chalice route with auth and error mapping."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def chalice_view(**path_params: str) -> Response:
            try:
                request = app.current_request
                if request is None:  # pragma: no cover - Chalice always sets it
                    raise RuntimeError("no current request")
                principal = authenticate(request) if doc.authenticated else None
                result = view(Call(request, principal), **path_params)
                return Response(body=json.dumps(_to_json(result)), status_code=doc.status, headers=JSON)
            except Exception as exc:  # noqa: BLE001 - mapped in one place
                return error_response(exc)

        setattr(chalice_view, DOC_ATTR, doc)
        app.route(doc.path, methods=[doc.method])(chalice_view)
        return view

    return register
