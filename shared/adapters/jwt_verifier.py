"""Cognito JWT verification with PyJWT: signature (JWKS), issuer, audience/client, expiry.

Chalice's local server and ``chalice.test.Client`` do not run API Gateway authorizers, so the
API verifies every token itself, in both runtimes. The JWKS is fetched once and cached by
``PyJWKClient`` (refetched when an unknown ``kid`` shows up, at most once per cooldown).
"""

from __future__ import annotations

from typing import Any

import jwt

from shared.domain.errors import Unauthorized, Unavailable

ALGORITHMS = ["RS256"]


def cognito_issuer(region: str, user_pool_id: str) -> str:
    """The ``iss`` of tokens from a Cognito user pool (``.amazonaws.com.cn`` in China regions)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://cognito-idp.{region}.{suffix}/{user_pool_id}"


def cognito_jwks_url(issuer: str) -> str:
    return f"{issuer}/.well-known/jwks.json"


class CognitoJwtVerifier:
    """Implements :class:`shared.domain.auth.TokenVerifier` for Cognito user-pool tokens."""

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        client_id: str,
        leeway_s: float = 0,
        jwk_client: jwt.PyJWKClient | None = None,
    ) -> None:
        if not client_id:
            raise ValueError("client_id (USER_POOL_CLIENT_ID) is required to verify tokens")
        self.issuer = issuer
        self.client_id = client_id
        self.leeway_s = leeway_s
        self._jwks = jwk_client or jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5)

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise Unauthorized(f"bearer token is not a well-formed JWT: {exc}", code="invalid_token") from exc
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise Unauthorized(f"token algorithm {alg!r} is not accepted; expected RS256", code="invalid_token")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token header has no kid", code="invalid_token")
        key = self._signing_key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token has expired", code="token_expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized("token signature verification failed", code="invalid_token") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized(f"token issuer is not the trusted issuer {self.issuer}", code="invalid_token") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("token is not valid yet (iat/nbf in the future)", code="invalid_token") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"token is missing the {exc.claim!r} claim", code="invalid_token") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"token is invalid: {exc}", code="invalid_token") from exc
        self._check_client(claims)
        return claims

    def _signing_key(self, kid: str) -> Any:
        try:
            return self._jwks.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable(f"cannot fetch the signing keys (JWKS): {exc}") from exc
        except jwt.PyJWKClientError as exc:
            raise Unauthorized(
                f"token key id {kid!r} is not a key of the trusted issuer", code="invalid_token"
            ) from exc

    def _check_client(self, claims: dict[str, Any]) -> None:
        # ID tokens name the app client in ``aud``, access tokens in ``client_id``.
        use = claims.get("token_use")
        if use == "id":
            aud = claims.get("aud")
            ok = aud == self.client_id or (isinstance(aud, list) and self.client_id in aud)
            if not ok:
                raise Unauthorized("token audience is not this API's app client", code="invalid_token")
        elif use == "access":
            if claims.get("client_id") != self.client_id:
                raise Unauthorized("token client_id is not this API's app client", code="invalid_token")
        else:
            raise Unauthorized(f"token_use {use!r} is neither 'id' nor 'access'", code="invalid_token")
