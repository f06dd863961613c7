"""Composition root of the API: builds the services from adapters, once per container.

Default (AWS): AWS IoT certificate issuer and thing registry, no broker hook, DynamoDB
repositories, Cognito JWKS verification. The local stack calls :func:`configure` before
serving to inject its own certificate issuer (local CA) and broker ACL hook; tests call it to
inject fakes and :func:`reset` between tests. Nothing here runs at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from shared.domain.auth import TokenVerifier
from shared.domain.devices.ports import BrokerAccess, CertificateIssuer, TelemetryReader, ThingRegistry
from shared.domain.devices.service import DeviceModelRegistry, DeviceService
from shared.domain.devices.telemetry_view import DeviceTelemetry, Downsampler
from shared.domain.errors import Unavailable
from shared.settings import get_settings


@dataclass
class _Overrides:
    issuer: CertificateIssuer | None = None
    broker: BrokerAccess | None = None
    things: ThingRegistry | None = None
    telemetry: TelemetryReader | None = None
    downsample: Downsampler | None = None
    verifier: TokenVerifier | None = None
    mqtt_endpoint: str | None = None


_overrides = _Overrides()


def configure(
    *,
    issuer: CertificateIssuer | None = None,
    broker: BrokerAccess | None = None,
    things: ThingRegistry | None = None,
    telemetry: TelemetryReader | None = None,
    downsample: Downsampler | None = None,
    verifier: TokenVerifier | None = None,
    mqtt_endpoint: str | None = None,
) -> None:
    """Replace adapters (``None`` keeps the default) and drop every cached service."""
    global _overrides
    _overrides = _Overrides(
        issuer=issuer,
        broker=broker,
        things=things,
        telemetry=telemetry,
        downsample=downsample,
        verifier=verifier,
        mqtt_endpoint=mqtt_endpoint,
    )
    _clear_caches()


def reset() -> None:
    """Back to the defaults and re-read the settings (tests, after changing the environment)."""
    configure()
    from functions import services
    from shared.adapters import iot
    from shared.dal import tables

    services.reset()

    get_settings.cache_clear()
    tables.bind_tables.cache_clear()
    iot.reset_clients()


def _clear_caches() -> None:
    for f in (token_verifier, model_registry, device_service, device_telemetry):
        f.cache_clear()


class _TelemetryStoreReader:
    """``TelemetryReader`` over :mod:`shared.dal.telemetry_store` (imported on first use)."""

    def get_latest(self, tenant_id: str, thing_name: str) -> dict[str, dict[str, Any]]:
        from shared.dal import telemetry_store

        return telemetry_store.get_latest(tenant_id, thing_name)

    def query_history(
        self, tenant_id: str, thing_name: str, message_type: str, from_ms: int, to_ms: int, limit: int
    ) -> list[dict[str, Any]]:
        from shared.dal import telemetry_store

        return telemetry_store.query_history(tenant_id, thing_name, message_type, from_ms, to_ms, limit)


@cache
def token_verifier() -> TokenVerifier:
    if _overrides.verifier is not None:
        return _overrides.verifier
    from shared.adapters.jwt_verifier import CognitoJwtVerifier, cognito_issuer, cognito_jwks_url

    s = get_settings()
    if not s.user_pool_client_id or not (s.user_pool_id or (s.jwt_issuer and s.jwks_url)):
        raise Unavailable("authentication is not configured (USER_POOL_ID / USER_POOL_CLIENT_ID)")
    issuer = s.jwt_issuer or cognito_issuer(s.region, s.user_pool_id)
    return CognitoJwtVerifier(
        jwks_url=s.jwks_url or cognito_jwks_url(issuer), issuer=issuer, client_id=s.user_pool_client_id
    )


@cache
def model_registry() -> DeviceModelRegistry:
    from shared.dal.device_models import DynamoDeviceModelRepository

    registry = DeviceModelRegistry(DynamoDeviceModelRepository())
    registry.seed_catalogue()  # one query per cold start; inserts only what is missing
    return registry


@cache
def device_service() -> DeviceService:
    from shared.adapters.iot import AwsIotCertificateIssuer, AwsIotThingRegistry, NoBrokerHook, data_endpoint
    from shared.dal.devices import DynamoBatteryIdentityRepository, DynamoDeviceRepository

    o = _overrides
    return DeviceService(
        devices=DynamoDeviceRepository(),
        models=model_registry(),
        batteries=DynamoBatteryIdentityRepository(),
        issuer=o.issuer or AwsIotCertificateIssuer(),
        things=o.things or AwsIotThingRegistry(),
        broker=o.broker or NoBrokerHook(),
        policy_name=get_settings().device_policy_name,
        mqtt_endpoint=(lambda: o.mqtt_endpoint) if o.mqtt_endpoint else data_endpoint,
        mqtt_port=get_settings().mqtt_port,
    )


@cache
def device_telemetry() -> DeviceTelemetry:
    from shared.dal.devices import DynamoDeviceRepository

    o = _overrides
    if o.downsample is not None:
        downsample = o.downsample
    else:
        from shared.domain.telemetry.downsample import downsample as _downsample

        downsample = _downsample
    return DeviceTelemetry(
        devices=DynamoDeviceRepository(), reader=o.telemetry or _TelemetryStoreReader(), downsample=downsample
    )
