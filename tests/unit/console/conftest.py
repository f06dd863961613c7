"""Cognito-like ID tokens signed with a local RSA key, and the authorizer wired to trust it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.adapters.jwt_verifier import CognitoJwtVerifier, cognito_issuer

POOL = "us-east-1_ConsolePool"
ISSUER = cognito_issuer("us-east-1", POOL)
CLIENT = "console-client"
SUB = "0f8fad5b-d9cb-469f-a165-70867728950e"
TENANT = "acme"
ARN_PREFIX = "arn:aws:iot:us-east-1:123456789012"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class _Jwk:
    def __init__(self, key: Any) -> None:
        self.key = key


class FakeJwks:
    def get_signing_key(self, kid: str) -> _Jwk:
        if kid != "k1":
            raise jwt.PyJWKClientError(f"no key {kid}")
        return _Jwk(KEY.public_key())


def claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    c = {
        "sub": SUB,
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
        "custom:tenant_id": TENANT,
        "cognito:groups": ["operator"],
        "cognito:username": "alice",
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def id_token(c: dict[str, Any] | None = None, key: Any = KEY) -> str:
    return jwt.encode(c or claims(), key, algorithm="RS256", headers={"kid": "k1"})


class Context:
    """The part of a Lambda context the authorizer reads."""

    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:voltops-dev-console-auth"


@pytest.fixture
def trusted_verifier() -> Iterator[None]:
    from functions.api import wiring

    wiring.configure(
        verifier=CognitoJwtVerifier(jwks_url="unused", issuer=ISSUER, client_id=CLIENT, jwk_client=FakeJwks())  # type: ignore[arg-type]
    )
    try:
        yield
    finally:
        wiring.configure()
