"""Ports the device domain needs; adapters implement them (AWS IoT in production, local CA locally)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
