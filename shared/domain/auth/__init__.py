"""Caller identity: who is calling, for which tenant, with which roles."""

from shared.domain.auth.principal import (
    PERMISSIONS_BY_ACTION,
    Action,
    Principal,
    Role,
    TokenVerifier,
    authorize,
    principal_from_claims,
)

__all__ = [
    "PERMISSIONS_BY_ACTION",
    "Action",
    "Principal",
    "Role",
    "TokenVerifier",
    "authorize",
    "principal_from_claims",
]
