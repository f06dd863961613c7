"""Ports the device domain needs; adapters implement them (AWS IoT in production, local CA locally)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shared.contracts.devices import BatteryIdentity, DeviceModel
from shared.domain.devices.records import Device, DeviceFilter, Page


@dataclass(frozen=True)
class IssuedCertificate:
    certificate_id: str
    certificate_arn: str
    certificate_pem: str
    #: Only when the platform generated the key pair (no CSR); never stored by the platform.
    private_key_pem: str | None


class CertificateIssuer(Protocol):
    """Issues, activates and deactivates device certificates.

    Production: AWS IoT (``create_keys_and_certificate`` / ``create_certificate_from_csr``).
    Local: the local CA signs, and the certificate is registered with (moto) IoT without CA.
    """

    def issue(self, thing_name: str, csr_pem: str | None) -> IssuedCertificate: ...

    def deactivate(self, certificate_id: str) -> None: ...


class ThingRegistry(Protocol):
    """IoT thing registry: things, attributes, policy and principal attachments."""

    def create_thing(self, thing_name: str, thing_type: str, attributes: dict[str, str]) -> str: ...

    def attach(self, thing_name: str, certificate_arn: str, policy_name: str) -> None: ...

    def detach(self, thing_name: str, certificate_arn: str, policy_name: str) -> None: ...


class BrokerAccess(Protocol):
    """Hook told when a device's right to connect changes (local broker ACL; no-op in AWS,
    where the IoT policy and the certificate status already decide)."""

    def device_enabled(self, tenant_id: str, thing_name: str) -> None: ...

    def device_disabled(self, tenant_id: str, thing_name: str) -> None: ...


# --- storage ports (implemented in shared/dal; in-memory fakes in unit tests) -------------------


class DeviceRepository(Protocol):
    """Devices of a tenant. Raises ``Conflict`` on a failed condition, ``Unavailable`` on throttling."""

    def get(self, tenant_id: str, thing_name: str) -> Device | None: ...

    def create(self, device: Device) -> None:
        """Store a new device; ``Conflict`` if (tenant, thing) already exists."""
        ...

    def replace(self, device: Device, *, expected_status: str) -> None:
        """Overwrite a device only if its stored status is still ``expected_status`` (else ``Conflict``)."""
        ...

    def query(self, tenant_id: str, flt: DeviceFilter, limit: int, after: str | None) -> Page: ...


class DeviceModelRepository(Protocol):
    """Device models per scope (a tenant id, or ``_platform`` for the built-in catalogue)."""

    def get(self, scope: str, model_id: str) -> DeviceModel | None: ...

    def list(self, scope: str) -> Sequence[DeviceModel]: ...

    def create(self, scope: str, model: DeviceModel, at_ms: int) -> None:
        """Store a new model; ``Conflict`` if the id exists in that scope."""
        ...


class BatteryIdentityRepository(Protocol):
    """Ownership periods of batteries by GB/T 34014 code (global, not per tenant)."""

    def periods(self, battery_code: str) -> list[BatteryIdentity]:
        """Every period of the code, oldest first."""
        ...

    def open(self, period: BatteryIdentity) -> None:
        """Store a new open period; ``Conflict`` if one starts at the same millisecond."""
        ...

    def close(self, battery_code: str, owned_from_ms: int, until_ms: int) -> None:
        """Close an open period (idempotent when already closed)."""
        ...

    def delete(self, battery_code: str, owned_from_ms: int) -> None:
        """Remove a period this process just opened (compensation after a lost race)."""
        ...


class TelemetryReader(Protocol):
    """Read side of the telemetry store (``shared/dal/telemetry_store.py``)."""

    def get_latest(self, tenant_id: str, thing_name: str) -> dict[str, dict[str, Any]]: ...

    def query_history(
        self, tenant_id: str, thing_name: str, message_type: str, from_ms: int, to_ms: int, limit: int
    ) -> list[dict[str, Any]]: ...
