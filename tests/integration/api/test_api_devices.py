"""The API over HTTP semantics: auth on every route, 4xx bodies, pagination, filters, isolation."""

from __future__ import annotations

import json
import time

import jwt
import pytest

from tests.integration.api.conftest import create_pool, create_user, login

ROUTES_NEEDING_AUTH = [
    ("GET", "/v1/devices"),
    ("POST", "/v1/devices"),
    ("GET", "/v1/devices/x-1"),
    ("POST", "/v1/devices/x-1/revoke"),
    ("POST", "/v1/devices/x-1/decommission"),
    ("GET", "/v1/devices/x-1/state"),
    ("GET", "/v1/devices/x-1/history"),
    ("GET", "/v1/device-models"),
    ("POST", "/v1/device-models"),
    ("GET", "/v1/device-models/lfp-16s280-ess"),
    ("GET", "/v1/batteries/X/history"),
]


def moto_signed(claims: dict) -> str:
    """A token signed with moto's Cognito key (what moto itself would issue)."""
    from moto.utilities.utils import load_resource

    key = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})


def error(r) -> dict:
    return r.json_body["error"]


@pytest.mark.parametrize(("method", "path"), ROUTES_NEEDING_AUTH)
def test_every_route_requires_a_bearer_token(api, method, path):
    """LCM-SEC-5, ARC-6: no token, no access — on every route (401 with a precise body)."""
    r = api.client.http.request(method, path, headers={"Content-Type": "application/json"}, body=b"{}")
    assert r.status_code == 401
    assert error(r)["code"] == "missing_token" and "Authorization" in error(r)["message"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_valid_cognito_tokens_pass_via_admin_and_user_password_auth(api):
    """LCM-SEC-5: real moto Cognito ID tokens verify against the JWKS moto serves."""
    assert api.get("/v1/devices").status_code == 200
    r = api.idp.initiate_auth(
        ClientId=api.env.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": f"vera{api.acme[4:]}", "PASSWORD": "Sup3r-Secret-Pw!"},
    )
    assert api.get("/v1/devices", token=r["AuthenticationResult"]["IdToken"]).status_code == 200


def test_bad_tokens_are_401_with_the_reason(api):
    """LCM-SEC-1, LCM-SEC-5: tampered, expired, foreign-audience, foreign-issuer, tenant-less and access
    tokens are refused with a precise message."""
    good = api.tokens["alice"]
    head, body, sig = good.split(".")
    tampered = f"{head}.{body[:-4]}AAAA.{sig}"
    claims = jwt.decode(good, options={"verify_signature": False})
    expired = moto_signed({**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600})

    other_client = api.idp.create_user_pool_client(
        UserPoolId=api.env.pool_id, ClientName="other", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )
    other_client_id = other_client["UserPoolClient"]["ClientId"]
    n = api.acme[4:]
    wrong_aud = login(api.idp, api.env.pool_id, other_client_id, f"alice{n}")["IdToken"]

    pool2, client2 = create_pool(api.idp, "elsewhere")
    create_user(api.idp, pool2, f"mallory{n}", api.acme, "admin")
    wrong_iss = login(api.idp, pool2, client2, f"mallory{n}")["IdToken"]
    access = login(api.idp, api.env.pool_id, api.env.client_id, f"alice{n}")["AccessToken"]

    cases = {
        "tampered": (tampered, "invalid_token", "signature"),
        "expired": (expired, "token_expired", "expired"),
        "audience": (wrong_aud, "invalid_token", "audience"),
        "issuer": (wrong_iss, "invalid_token", "issuer"),
        "no tenant": (api.tokens["nobody"], "invalid_token", "custom:tenant_id"),
        "access token": (access, "invalid_token", "ID token"),
        "garbage": ("abc.def", "invalid_token", "well-formed"),
    }
    for name, (tok, code, fragment) in cases.items():
        r = api.get("/v1/devices", token=tok)
        assert r.status_code == 401, name
        assert error(r)["code"] == code, name
        assert fragment in error(r)["message"], (name, error(r)["message"])
    r = api.client.http.get("/v1/devices", headers={"Authorization": f"Basic {good}"})
    assert r.status_code == 401 and "Bearer" in error(r)["message"]


def test_tenant_isolation_is_404_not_403(api):
    """LCM-SEC-5: tenant B cannot see, revoke or read the state of tenant A's device; it does not exist
    for B."""
    thing = api.register("SN-ISO")["device"]["thing_name"]
    for method, path, body in [
        ("GET", f"/v1/devices/{thing}", None),
        ("GET", f"/v1/devices/{thing}/state", None),
        ("GET", f"/v1/devices/{thing}/history", None),
        ("POST", f"/v1/devices/{thing}/revoke", {"reason": "lost"}),
        ("POST", f"/v1/devices/{thing}/decommission", {}),
    ]:
        r = api.client.http.request(method, path, headers=api.headers("bob"), body=json.dumps(body or {}))
        assert r.status_code == 404, path
        assert error(r)["code"] == "device_not_found"
    assert api.get("/v1/devices", "bob").json_body == {"items": [], "next_token": None}
    # a tenant id smuggled in the body is refused, never used
    r = api.post("/v1/devices", {"serial_number": "X", "model_id": "lfp-16s280-ess", "tenant_id": api.bolt})
    assert r.status_code == 422


def test_roles_viewer_reads_but_cannot_change_and_roleless_gets_nothing(api):
    """LCM-SEC-5: viewer cannot register or revoke; operator cannot add models; no role → 403."""
    thing = api.register("SN-ROLE")["device"]["thing_name"]
    assert api.get(f"/v1/devices/{thing}", "vera").status_code == 200
    r = api.post("/v1/devices", {"serial_number": "SN-V", "model_id": "lfp-16s280-ess"}, "vera")
    assert r.status_code == 403 and error(r)["code"] == "forbidden" and "viewer" in error(r)["message"]
    assert api.post(f"/v1/devices/{thing}/revoke", {"reason": "lost"}, "vera").status_code == 403
    assert api.get("/v1/devices", "nora").status_code == 403
    model = api.get("/v1/device-models/lfp-16s280-ess").json_body["model"]
    assert api.post("/v1/device-models", {**model, "model_id": "x-1"}, "alice").status_code == 403


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ("", 400, "malformed_json"),
        ("[1, 2]", 400, "malformed_json"),
        ('{"serial_number": 5, "model_id": "lfp-16s280-ess"}', 422, "validation_failed"),
        ('{"serial_number": "SN-1", "model_id": "lfp-16s280-ess", "colour": "red"}', 422, "validation_failed"),
        ('{"serial_number": "SN 1", "model_id": "lfp-16s280-ess"}', 422, "validation_failed"),
        ('{"serial_number": "SN-1", "model_id": "lfp-16s280-ess", "battery_code": "short"}', 422, "validation_failed"),
        ('{"serial_number": "SN-1", "model_id": "no-such-model"}', 400, "unknown_model"),
        ('{"serial_number": "SN-1", "model_id": "lfp-16s280-ess", "labels": ["a", "a"]}', 422, "validation_failed"),
    ],
)
def test_bad_register_bodies_are_precise_4xx(api, raw, status, code):
    """LCM-PF-2, ARC-6: malformed JSON, wrong types and unknown fields are 4xx with a JSON body, never 5xx."""
    r = api.post("/v1/devices", None, raw=raw)
    assert r.status_code == status, r.json_body
    assert error(r)["code"] == code and error(r)["message"]
    if status == 422:
        assert error(r)["details"][0]["loc"]


def test_revoke_needs_a_reason_and_validates_the_thing_name(api):
    """LCM-SEC-5: revocation records why (a reason code is required)."""
    thing = api.register("SN-R")["device"]["thing_name"]
    r = api.post(f"/v1/devices/{thing}/revoke", {})
    assert r.status_code == 422 and error(r)["details"][0]["loc"] == ["reason"]
    assert api.get("/v1/devices/no.such.thing").status_code == 400
    assert api.get("/v1/devices/unknown-thing").status_code == 404


def test_pagination_and_filters(api):
    """LCM-PF-2: limit ≤ 100, opaque validated next_token, filters kind/status/model_id/label."""
    for i in range(5):
        api.register(f"SN-P{i}", labels=["north"] if i < 2 else [])
    api.register("CAB-P", model_id="ess-cab-215-240s")
    seen, token, pages = [], None, 0
    while True:
        r = api.get("/v1/devices?limit=2" + (f"&next_token={token}" if token else ""))
        assert r.status_code == 200
        seen += [d["serial_number"] for d in r.json_body["items"]]
        token, pages = r.json_body["next_token"], pages + 1
        if token is None:
            break
    assert sorted(seen) == ["CAB-P", "SN-P0", "SN-P1", "SN-P2", "SN-P3", "SN-P4"] and pages == 3

    def serials(q: str) -> list[str]:
        r = api.get(f"/v1/devices?{q}")
        assert r.status_code == 200, r.json_body
        return sorted(d["serial_number"] for d in r.json_body["items"])

    assert serials("kind=storage_cabinet") == ["CAB-P"]
    assert serials("model_id=ess-cab-215-240s") == ["CAB-P"]
    assert serials("label=north") == ["SN-P0", "SN-P1"]
    assert serials("label=north&limit=1") in (["SN-P0"], ["SN-P1"])
    assert serials("status=revoked") == []

    assert error(api.get("/v1/devices?next_token=bm9wZQ"))["code"] == "invalid_next_token"
    assert api.get("/v1/devices?next_token=%%%").status_code == 400
    for q in ("limit=0", "limit=101", "limit=abc", "kind=toaster", "colour=red"):
        r = api.get(f"/v1/devices?{q}")
        assert r.status_code == 422, q
        assert error(r)["code"] == "validation_failed"


def test_device_models_registry(api):
    """LCM-PF-2: the catalogue is listed (paginated), one model is readable, admins add tenant models."""
    r = api.get("/v1/device-models?limit=100")
    ids = {m["model"]["model_id"] for m in r.json_body["items"]}
    assert {"lfp-16s280-ess", "nmc-96s150-ev", "lfp-400s280-rack", "ess-cab-215-240s"} <= ids
    rack = api.get("/v1/device-models/lfp-400s280-rack").json_body
    assert rack["scope"] == "platform" and rack["model"]["cell_count"] == 400 and rack["model"]["probe_count"] == 128
    assert error(api.get("/v1/device-models/nope"))["code"] == "model_not_found"

    mine = {**rack["model"], "model_id": f"{api.acme}-pack", "cell_count": 24}
    created = api.post("/v1/device-models", mine, "ada")
    assert created.status_code == 201 and created.json_body["scope"] == "tenant"
    assert api.post("/v1/device-models", mine, "ada").status_code == 409
    assert api.post("/v1/device-models", rack["model"], "ada").status_code == 409
    broken = {**mine, "model_id": "broken", "limits": {**mine["limits"], "cell_voltage_min_v": 5}}
    assert api.post("/v1/device-models", broken, "ada").status_code == 422
    assert api.get(f"/v1/device-models/{api.acme}-pack", "bob").status_code == 404
    assert api.register("SN-OWN", model_id=f"{api.acme}-pack")["device"]["model_id"] == f"{api.acme}-pack"


def test_state_and_history_from_the_telemetry_store(api):
    """LCM-MON-1..3, LCM-DA-1: latest state and server-side downsampled history; range rules are 400s."""
    from shared.dal.telemetry_store import DynamoTelemetryStore
    from shared.domain.telemetry.ingest import StoredSample

    thing = api.register("SN-T")["device"]["thing_name"]
    t0 = 1_767_225_600_000
    samples = [
        StoredSample(
            tenant_id=api.acme,
            thing_name=thing,
            message_type="telemetry",
            message_key=f"{api.acme}#{thing}#b#{i}",
            boot_id="b",
            seq=i,
            device_ts_ms=t0 + i * 1000,
            arrival_ms=t0 + i * 1000 + 40,
            body={"pack_voltage_v": 51.0 + (i % 5) * 0.1, "current_a": 10.0, "cell_voltages_v": [3.2] * 16},
            derived={"cell_v_max": 3.2},
        )
        for i in range(120)
    ]
    store = DynamoTelemetryStore()
    store.write_history(samples)
    store.advance_latest(samples)

    state = api.get(f"/v1/devices/{thing}/state").json_body
    assert state["state"]["telemetry"]["device_ts_ms"] == t0 + 119_000
    h = api.get(f"/v1/devices/{thing}/history?from_ms={t0}&to_ms={t0 + 3_600_000}&max_points=12")
    assert h.status_code == 200, h.json_body
    assert h.json_body["raw_count"] == 120 and h.json_body["downsampled"] is True
    assert 1 <= len(h.json_body["points"]) <= 12
    for q, code in [
        (f"from_ms={t0}&to_ms={t0}", "invalid_range"),
        (f"from_ms={t0}&to_ms={t0 + 40 * 86_400_000}", "invalid_range"),
        ("max_points=5", "invalid_max_points"),
        ("type=cmd", "invalid_type"),
    ]:
        r = api.get(f"/v1/devices/{thing}/history?{q}")
        assert r.status_code == 400 and error(r)["code"] == code, q
    assert api.get(f"/v1/devices/{thing}/history?from_ms=yesterday").status_code == 422


def test_openapi_document_is_served_without_a_token(api):
    """ARC-6: the API documents itself at /v1/openapi.json."""
    r = api.client.http.get("/v1/openapi.json")
    assert r.status_code == 200 and r.json_body["openapi"].startswith("3.")
    assert "/v1/devices" in r.json_body["paths"]


def test_odd_paths_and_bodies_are_4xx_never_5xx(api):
    """ARC-6: oversize or malformed path values and empty optional bodies never reach storage as 5xx."""
    assert api.get("/v1/batteries/" + "A" * 3000 + "/history").status_code == 400
    assert api.get("/v1/batteries/lowercase-code/history").status_code == 400
    assert api.get("/v1/device-models/" + "m" * 2000).status_code == 404
    assert api.get("/v1/devices/" + "t" * 2000).status_code == 400
    thing = api.register("SN-EMPTY")["device"]["thing_name"]
    r = api.post(f"/v1/devices/{thing}/decommission", None, raw="")
    assert r.status_code == 200 and r.json_body["status"] == "decommissioned"
    r = api.client.http.post("/v1/devices", headers={**api.headers("alice"), "Content-Type": "text/plain"}, body="x")
    assert 400 <= r.status_code < 500
