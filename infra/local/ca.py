"""Local certificate authority and the local :class:`CertificateIssuer`.

In AWS, IoT Core issues device certificates and the TLS handshake checks them. Locally a CA
kept under the state dir (``.local/ca``) signs the broker's server certificate and every
device certificate (CN = thing name). Issued certificates are registered with (moto) IoT
without a CA, so provisioning makes the same IoT calls (attach policy, attach principal,
update status) as in production.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.domain.devices.ports import BrokerAccess, IssuedCertificate

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=825)
CA_NAME = "VoltOps Local Root CA"


class CsrError(ValueError):
    """A CSR that is not well-formed or whose signature does not verify."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: accepted by AWS IoT and fast enough to issue a fleet at start-up.
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by the owner only (private keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


@dataclass(frozen=True)
class CaFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    crl: Path


class LocalCA:
    """Root CA + server certificate under ``<state_dir>/ca``; signs device certificates."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "ca"
        self.files = CaFiles(
            ca_cert=self.dir / "ca.pem",
            server_cert=self.dir / "server.pem",
            server_key=self.dir / "server.key",
            crl=self.dir / "crl.pem",
        )
        self._ca_key_path = self.dir / "ca.key"
        self._lock = threading.Lock()
        self._revoked: dict[int, dt.datetime] = {}
        self._ca_key: ec.EllipticCurvePrivateKey | None = None
        self._ca_cert: x509.Certificate | None = None

    # -- set-up -------------------------------------------------------------------------
    def ensure(self) -> LocalCA:
        """Load the CA or create it; (re)issue the server certificate when needed."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._ca_key_path.exists() and self.files.ca_cert.exists():
            key = serialization.load_pem_private_key(self._ca_key_path.read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            cert = x509.load_pem_x509_certificate(self.files.ca_cert.read_bytes())
            if cert.not_valid_after_utc - _now() < dt.timedelta(days=30):
                key, cert = self._create_root()
        else:
            key, cert = self._create_root()
        self._ca_key, self._ca_cert = key, cert
        self._ensure_server_cert()
        self._write_crl()
        return self

    def _create_root(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = _new_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        write_private(self._ca_key_path, _key_pem(key))
        self.files.ca_cert.write_bytes(_cert_pem(cert))
        # A new root invalidates any server certificate signed by the old one.
        self.files.server_cert.unlink(missing_ok=True)
        return key, cert

    def _ensure_server_cert(self) -> None:
        path = self.files.server_cert
        if path.exists() and self.files.server_key.exists():
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            if cert.issuer == self.ca_cert.subject and cert.not_valid_after_utc - _now() > dt.timedelta(days=30):
                return
        key = _new_key()
        san = x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        )
        cert = self._sign(key.public_key(), "localhost", ExtendedKeyUsageOID.SERVER_AUTH, extra=[(san, False)])
        write_private(self.files.server_key, _key_pem(key))
        path.write_bytes(_cert_pem(cert))

    # -- signing ------------------------------------------------------------------------
    @property
    def ca_cert(self) -> x509.Certificate:
        if self._ca_cert is None:
            raise RuntimeError("LocalCA.ensure() has not been called")
        return self._ca_cert

    @property
    def ca_pem(self) -> str:
        return _cert_pem(self.ca_cert).decode()

    def _sign(
        self,
        public_key: object,
        common_name: str,
        usage: x509.ObjectIdentifier,
        extra: list[tuple[x509.ExtensionType, bool]] | None = None,
    ) -> x509.Certificate:
        if self._ca_key is None:
            raise RuntimeError("LocalCA.ensure() has not been called")
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.ca_cert.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + LEAF_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()), critical=False
            )
        )
        for ext, critical in extra or []:
            builder = builder.add_extension(ext, critical=critical)
        return builder.sign(self._ca_key, hashes.SHA256())

    def issue_device(self, thing_name: str) -> tuple[str, str]:
        """A new key pair and certificate for a thing: ``(certificate_pem, private_key_pem)``."""
        key = _new_key()
        cert = self._sign(key.public_key(), thing_name, ExtendedKeyUsageOID.CLIENT_AUTH)
        return _cert_pem(cert).decode(), _key_pem(key).decode()

    def sign_csr(self, thing_name: str, csr_pem: str) -> str:
        """Sign a device's CSR. The subject is the thing name, whatever the CSR asked for:
        identity is the platform's decision, as with AWS IoT's CreateCertificateFromCsr."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError as exc:
            raise CsrError(f"not a PEM certificate signing request: {exc}") from exc
        if not csr.is_signature_valid:
            raise CsrError("the CSR signature does not verify")
        cert = self._sign(csr.public_key(), thing_name, ExtendedKeyUsageOID.CLIENT_AUTH)
        return _cert_pem(cert).decode()

    def revoke(self, certificate_pem: str) -> None:
        """Put a certificate on the CRL (the broker refuses it at the next TLS handshake)."""
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
        with self._lock:
            self._revoked[cert.serial_number] = _now()
            self._write_crl()

    def _write_crl(self) -> None:
        if self._ca_key is None:
            raise RuntimeError("LocalCA.ensure() has not been called")
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca_cert.subject)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(now + dt.timedelta(days=30))
        )
        for serial, when in self._revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        crl = builder.sign(self._ca_key, hashes.SHA256())
        tmp = self.files.crl.with_suffix(".tmp")
        tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        tmp.replace(self.files.crl)


class LocalCertificateIssuer:
    """:class:`~shared.domain.devices.ports.CertificateIssuer` backed by the local CA + moto IoT."""

    def __init__(
        self,
        ca: LocalCA,
        broker: BrokerAccess | None = None,
        iot_client: Callable[[], object] | None = None,
        on_revoked: Callable[[], None] | None = None,
    ) -> None:
        self.ca = ca
        self.broker = broker
        self._iot_factory = iot_client or (lambda: boto3.client("iot"))
        self._on_revoked = on_revoked
        self._iot: object | None = None

    @property
    def iot(self):
        if self._iot is None:
            self._iot = self._iot_factory()
        return self._iot

    def issue(self, thing_name: str, csr_pem: str | None) -> IssuedCertificate:
        if csr_pem:
            cert_pem, key_pem = self.ca.sign_csr(thing_name, csr_pem), None
        else:
            cert_pem, key_pem = self.ca.issue_device(thing_name)
        registered = self.iot.register_certificate_without_ca(certificatePem=cert_pem, status="ACTIVE")
        return IssuedCertificate(
            certificate_id=registered["certificateId"],
            certificate_arn=registered["certificateArn"],
            certificate_pem=cert_pem,
            private_key_pem=key_pem,
        )

    def deactivate(self, certificate_id: str) -> None:
        iot = self.iot
        iot.update_certificate(certificateId=certificate_id, newStatus="INACTIVE")
        described = iot.describe_certificate(certificateId=certificate_id)["certificateDescription"]
        self.ca.revoke(described["certificatePem"])
        # The broker hook is keyed by thing: find the things this certificate is attached to.
        things = iot.list_principal_things(principal=described["certificateArn"]).get("things", [])
        disabled = False
        for thing in things if self.broker is not None else []:
            tenant = iot.describe_thing(thingName=thing).get("attributes", {}).get("tenant")
            if tenant and self.broker is not None:
                self.broker.device_disabled(tenant, thing)  # reloads the ACL and the CRL
                disabled = True
        if not disabled and self._on_revoked is not None:
            self._on_revoked()  # at least make the broker re-read the CRL
