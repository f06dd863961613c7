"""The API wired like the local stack: every client on a ThreadedMotoServer via AWS_ENDPOINT_URL,
the JWKS fetched from that server at ``http://127.0.0.1:<port>/<pool_id>/.well-known/jwks.json``."""

from __future__ import annotations

import json

import boto3
import pytest
from chalice.test import Client

from tests.integration.api.conftest import create_pool, create_user, login


@pytest.fixture
def server_env(monkeypatch, jwks_server):
    from functions.api import wiring
    from shared.adapters.iot import ensure_device_prerequisites
    from shared.dal.tables import create_all_tables

    monkeypatch.setenv("AWS_ENDPOINT_URL", jwks_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("DEVICES_TABLE", "DEVICE_MODELS_TABLE", "BATTERY_IDENTITIES_TABLE"):
        monkeypatch.setenv(name, f"server-mode-{name.lower()}")
    idp = boto3.client("cognito-idp", endpoint_url=jwks_server, region_name="us-east-1")
    pool_id, client_id = create_pool(idp, "server-mode")
    monkeypatch.setenv("USER_POOL_ID", pool_id)
    monkeypatch.setenv("USER_POOL_CLIENT_ID", client_id)
    monkeypatch.setenv("JWKS_URL", f"{jwks_server}/{pool_id}/.well-known/jwks.json")
    monkeypatch.delenv("JWT_ISSUER", raising=False)  # derived: moto keeps the AWS-shaped issuer
    wiring.reset()
    create_all_tables()
    ensure_device_prerequisites("voltops-device")
    create_user(idp, pool_id, "op", "sitea", "operator")
    token = login(idp, pool_id, client_id, "op")["IdToken"]
    yield jwks_server, token
    wiring.reset()


def test_register_and_revoke_against_moto_server_mode(server_env):
    """ARC-7, LCM-SEC-3, LCM-SEC-5: the local-stack wiring (moto server, JWKS over HTTP) works end to end."""
    from functions.api.app import app

    endpoint, token = server_env
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with Client(app) as c:
        r = c.http.post(
            "/v1/devices", headers=headers, body=json.dumps({"serial_number": "SRV-1", "model_id": "sl-cab-lfp-48s"})
        )
        assert r.status_code == 201, r.json_body
        dev = r.json_body["device"]
        assert dev["kind"] == "storage_cabinet" and dev["tenant_id"] == "sitea"
        iot = boto3.client("iot", endpoint_url=endpoint, region_name="us-east-1")
        assert iot.describe_thing(thingName=dev["thing_name"])["attributes"]["tenant"] == "sitea"
        r = c.http.post(f"/v1/devices/{dev['thing_name']}/revoke", headers=headers, body='{"reason": "lost"}')
        assert r.status_code == 200, r.json_body
        desc = iot.describe_certificate(certificateId=dev["certificate_id"])["certificateDescription"]
        assert desc["status"] == "INACTIVE"
