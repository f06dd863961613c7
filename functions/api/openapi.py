"""OpenAPI 3.1 document of the API, generated from the routes' declarations and pydantic models.

``python -m functions.api.openapi`` rewrites ``docs/openapi.json``; a test fails when the
committed file differs from what this module generates, or when a route is missing.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from chalice import Chalice
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from functions.api.http import DOC_ATTR, RouteDoc
from functions.api.schemas import ErrorBody
from shared.domain.auth import PERMISSIONS_BY_ACTION

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REF = "#/components/schemas/{model}"

_ERROR_TEXT = {
    400: "Bad input: malformed JSON, a broken rule (range, format, unknown reference) or a bad next_token.",
    401: "Missing, malformed, expired or untrusted token, or a token without custom:tenant_id.",
    403: "The caller's role does not allow this action.",
    404: "Not found in the caller's tenant (another tenant's resources are indistinguishable from absent ones).",
    409: "Conflict with the current state (already registered, battery owned, wrong lifecycle state).",
    422: "The body or query does not match the schema (wrong types, unknown fields).",
    503: "A dependency is busy or unavailable; retry.",
}


def route_docs(app: Chalice) -> list[RouteDoc]:
    """The declaration of every route of ``app`` (a route without one is a programming error)."""
    docs = []
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            doc = getattr(entry.view_function, DOC_ATTR, None)
            if doc is None:
                raise LookupError(f"route {method} {path} is not declared with functions.api.http.endpoint")
            docs.append(doc)
    return sorted(docs, key=lambda d: (d.path, d.method))


def _parameters(doc: RouteDoc) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", doc.path)
    ]
    if doc.query is not None:
        # Enums and other nested types refer to components/schemas (the query model is added
        # to the components below so that every $ref resolves).
        props = doc.query.model_json_schema(ref_template=REF)["properties"]
        for name, field in doc.query.model_fields.items():
            schema = dict(props[name])
            description = schema.pop("description", None)
            schema.pop("title", None)
            p: dict[str, Any] = {"name": name, "in": "query", "required": field.is_required(), "schema": schema}
            if description:
                p["description"] = description
            params.append(p)
    return params


def openapi_document(app: Chalice) -> dict[str, Any]:
    docs = route_docs(app)
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for d in docs:
        if d.request is not None:
            wanted.append((d.request, "validation"))
        if d.query is not None:
            wanted.append((d.query, "validation"))
        if d.response is not None:
            wanted.append((d.response, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, top = models_json_schema(unique, ref_template=REF)
    error_ref = refs[(ErrorBody, "serialization")]

    paths: dict[str, dict[str, Any]] = {}
    for d in docs:
        op: dict[str, Any] = {
            "operationId": f"{d.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', d.path.lower()).strip('_')}",
            "summary": d.summary,
            "tags": list(d.tags),
        }
        params = _parameters(d)
        if params:
            op["parameters"] = params
        if d.request is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(d.request, "validation")]}},
            }
        ok_schema: dict[str, Any] = (
            refs[(d.response, "serialization")] if d.response is not None else {"type": "object"}
        )
        responses: dict[str, Any] = {
            str(d.status): {"description": "Success", "content": {"application/json": {"schema": ok_schema}}}
        }
        for code in d.errors:
            responses[str(code)] = {
                "description": _ERROR_TEXT[code],
                "content": {"application/json": {"schema": error_ref}},
            }
        op["responses"] = responses
        if d.authenticated:
            op["security"] = [{"cognitoIdToken": []}]
            if d.action is not None:
                op["x-voltops-roles"] = PERMISSIONS_BY_ACTION[d.action]
        else:
            op["security"] = []
        paths.setdefault(d.path, {})[d.method.lower()] = op

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "VoltOps API",
            "version": "1.0.0",
            "description": "Device registry, device models, battery identities, latest state and history. "
            "Every route except this document requires a Cognito ID token whose custom:tenant_id "
            "names the caller's tenant. Errors: {error: {code, message, details?}}.",
        },
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {
                "cognitoIdToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "Cognito user-pool ID token (token_use id) with custom:tenant_id and "
                    "cognito:groups (viewer, operator, admin).",
                }
            },
        },
    }


def render(app: Chalice) -> str:
    return json.dumps(openapi_document(app), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    from functions.api.app import app

    DOC_PATH.write_text(render(app), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC_PATH}\n")


if __name__ == "__main__":
    main()
