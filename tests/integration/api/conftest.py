"""The API in-process (chalice.test.Client) against moto: Cognito, DynamoDB, IoT.

Tokens are real moto Cognito tokens (RS256 with moto's fixed key). PyJWT fetches the JWKS over
HTTP with urllib, which ``mock_aws`` does not intercept, so a ``ThreadedMotoServer`` serves it
exactly as the local stack does: ``http://127.0.0.1:<port>/<pool_id>/.well-known/jwks.json``.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

PASSWORD = "Sup3r-Secret-Pw!"  # moto test user


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def jwks_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def create_pool(idp: Any, name: str = "voltops") -> tuple[str, str]:
    """A pool whose tenant attribute is immutable and not writable by the app client."""
    pool_id = idp.create_user_pool(
        PoolName=name,
        Schema=[
            {
                "Name": "tenant_id",
                "AttributeDataType": "String",
                "Mutable": False,
                "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"},
            }
        ],
    )["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="console",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["custom:tenant_id"],
        WriteAttributes=[],  # never custom:tenant_id
    )["UserPoolClient"]["ClientId"]
    for group in ("viewer", "operator", "admin"):
        idp.create_group(UserPoolId=pool_id, GroupName=group)
    return pool_id, client_id


def create_user(idp: Any, pool_id: str, username: str, tenant: str | None, group: str | None) -> None:
    attrs = [{"Name": "custom:tenant_id", "Value": tenant}] if tenant else []
    idp.admin_create_user(UserPoolId=pool_id, Username=username, UserAttributes=attrs, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    if group:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)


def login(idp: Any, pool_id: str, client_id: str, username: str) -> dict[str, str]:
    r = idp.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    return r["AuthenticationResult"]


USERS = {
    "alice": ("acme", "operator"),
    "vera": ("acme", "viewer"),
    "ada": ("acme", "admin"),
    "bob": ("bolt", "operator"),
    "nora": ("acme", None),  # no role
    "nobody": (None, "operator"),  # no tenant
}
_run = itertools.count()


@dataclass
class Env:
    pool_id: str
    client_id: str
    jwks_url: str


@dataclass
class Api:
    """One test's view: fresh users in fresh tenants (``acme``/``bolt`` + a unique suffix)."""

    client: Client
    env: Env
    acme: str
    bolt: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def iot(self) -> Any:
        return boto3.client("iot", region_name="us-east-1")

    @property
    def idp(self) -> Any:
        return boto3.client("cognito-idp", region_name="us-east-1")

    def headers(self, user: str | None, token: str | None = None) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        tok = token or (self.tokens[user] if user else None)
        if tok:
            h["Authorization"] = f"Bearer {tok}"
        return h

    def get(self, path: str, user: str | None = "alice", token: str | None = None) -> Any:
        return self.client.http.get(path, headers=self.headers(user, token))

    def post(self, path: str, body: Any, user: str | None = "alice", raw: str | None = None) -> Any:
        return self.client.http.post(
            path, headers=self.headers(user), body=raw if raw is not None else json.dumps(body)
        )

    def register(self, serial: str, user: str = "alice", **kw: Any) -> dict[str, Any]:
        body = {"serial_number": serial, "model_id": kw.pop("model_id", "lfp-16s280-ess"), **kw}
        r = self.post("/v1/devices", body, user)
        assert r.status_code == 201, r.json_body
        return r.json_body


@pytest.fixture(scope="module")
def aws(jwks_server: str) -> Iterator[Env]:
    """moto with the tables, IoT thing types + device policy and a Cognito pool, once per module."""
    from functions.api import wiring
    from shared.adapters.iot import ensure_device_prerequisites
    from shared.dal.tables import create_all_tables

    with pytest.MonkeyPatch.context() as mp, mock_aws():
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        idp = boto3.client("cognito-idp", region_name="us-east-1")
        pool_id, client_id = create_pool(idp)
        jwks_url = f"{jwks_server}/{pool_id}/.well-known/jwks.json"
        mp.setenv("USER_POOL_ID", pool_id)
        mp.setenv("USER_POOL_CLIENT_ID", client_id)
        mp.setenv("JWKS_URL", jwks_url)
        mp.setenv("IOT_ENDPOINT", "test-ats.iot.us-east-1.amazonaws.com")
        wiring.reset()
        create_all_tables()
        ensure_device_prerequisites("voltops-device")
        yield Env(pool_id=pool_id, client_id=client_id, jwks_url=jwks_url)
        wiring.reset()


@pytest.fixture
def api(aws: Env) -> Iterator[Api]:
    from functions.api.app import app

    n = next(_run)
    tenants = {"acme": f"acme{n}", "bolt": f"bolt{n}"}
    idp = boto3.client("cognito-idp", region_name="us-east-1")
    tokens = {}
    for user, (tenant, group) in USERS.items():
        username = f"{user}{n}"
        create_user(idp, aws.pool_id, username, tenants[tenant] if tenant else None, group)
        tokens[user] = login(idp, aws.pool_id, aws.client_id, username)["IdToken"]
    with Client(app) as client:
        yield Api(client=client, env=aws, acme=tenants["acme"], bolt=tenants["bolt"], tokens=tokens)
