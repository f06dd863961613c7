"""JWT verification and claims → principal, with a locally generated RSA key (no AWS)."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.adapters.jwt_verifier import CognitoJwtVerifier, cognito_issuer
from shared.domain.auth import Role, principal_from_claims
from shared.domain.errors import Unauthorized, Unavailable

POOL = "us-east-1_TestPool"
ISS = cognito_issuer("us-east-1", POOL)
CLIENT = "client123"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class _Jwk:
    def __init__(self, key):
        self.key = key


class FakeJwks:
    def __init__(self, fail: Exception | None = None):
        self.fail = fail

    def get_signing_key(self, kid):
        if self.fail:
            raise self.fail
        if kid != "k1":
            raise jwt.PyJWKClientError(f'Unable to find a signing key that matches: "{kid}"')
        return _Jwk(KEY.public_key())


def claims(**over):
    now = int(time.time())
    c = {
        "sub": "u-1",
        "iss": ISS,
        "aud": CLIENT,
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
        "custom:tenant_id": "acme",
        "cognito:groups": ["operator", "somethingelse"],
        "cognito:username": "alice",
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def token(c=None, key=KEY, kid="k1", alg="RS256"):
    return jwt.encode(c or claims(), key, algorithm=alg, headers={"kid": kid})


def verifier(jwks=None):
    return CognitoJwtVerifier(jwks_url="unused", issuer=ISS, client_id=CLIENT, jwk_client=jwks or FakeJwks())


def test_valid_id_token_gives_tenant_and_roles():
    """LCM-SEC-5: tenant from custom:tenant_id, roles from cognito:groups (unknown groups ignored)."""
    p = principal_from_claims(verifier().verify(token()))
    assert (p.tenant_id, p.username, p.roles) == ("acme", "alice", frozenset({Role.OPERATOR}))


@pytest.mark.parametrize(
    ("tok", "fragment"),
    [
        (token(claims(exp=int(time.time()) - 10)), "expired"),
        (token(claims(aud="someone-else")), "audience"),
        (token(claims(iss="https://cognito-idp.us-east-1.amazonaws.com/other")), "issuer"),
        (token(key=OTHER_KEY), "signature"),
        (token(kid="nope"), "key id"),
        ("not-a-jwt", "well-formed"),
        (token(claims(exp=None)), "'exp'"),
        (jwt.encode(claims(), "secret-secret-secret-secret-32b!", algorithm="HS256", headers={"kid": "k1"}), "RS256"),
    ],
)
def test_bad_tokens_are_refused_with_the_reason(tok, fragment):
    """LCM-SEC-1, LCM-SEC-5: tampered, expired, foreign tokens are 401 with a precise message."""
    with pytest.raises(Unauthorized, match=fragment):
        verifier().verify(tok)


def test_tampered_payload_fails_signature():
    """LCM-SEC-1: changing the tenant in a signed token breaks the signature."""
    import base64
    import json

    head, body, sig = token().split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=="))
    data["custom:tenant_id"] = "bolt"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    with pytest.raises(Unauthorized, match="signature"):
        verifier().verify(f"{head}.{forged}.{sig}")


def test_access_tokens_check_client_id_but_carry_no_tenant():
    """LCM-SEC-5: access tokens are verified against client_id but refused: no custom:tenant_id."""
    c = claims(aud=None, token_use="access", client_id=CLIENT)
    verified = verifier().verify(token(c))
    with pytest.raises(Unauthorized, match="send the Cognito ID token"):
        principal_from_claims(verified)
    with pytest.raises(Unauthorized, match="client_id"):
        verifier().verify(token(claims(aud=None, token_use="access", client_id="x")))


@pytest.mark.parametrize(("tenant", "fragment"), [(None, "no custom:tenant_id"), ("a/b", "not a valid tenant")])
def test_missing_or_bad_tenant_claim_is_unauthorized(tenant, fragment):
    """LCM-SEC-5: a user without a tenant gets nothing."""
    with pytest.raises(Unauthorized, match=fragment):
        principal_from_claims(verifier().verify(token(claims(**{"custom:tenant_id": tenant}))))


def test_unreachable_jwks_is_unavailable_not_unauthorized():
    """ARC-6: a JWKS outage is a 503 the client may retry, not a rejected token."""
    with pytest.raises(Unavailable):
        verifier(FakeJwks(fail=jwt.PyJWKClientConnectionError("down"))).verify(token())


def test_china_region_issuer():
    """ARC-6: the issuer follows the partition's domain in China regions."""
    assert cognito_issuer("cn-north-1", "p").startswith("https://cognito-idp.cn-north-1.amazonaws.com.cn/")
