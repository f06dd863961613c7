"""Checks on a device's certificate signing request before anything is provisioned."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.domain.errors import Invalid

#: Key types AWS IoT Core accepts for device certificates.
_EC_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_MIN_RSA_BITS = 2048


def check_csr(csr_pem: str) -> None:
    """Raise :class:`Invalid` unless ``csr_pem`` is a self-consistent PEM CSR with an accepted key."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise Invalid(f"csr_pem is not a PEM certificate signing request: {exc}", code="invalid_csr") from exc
    if not csr.is_signature_valid:
        raise Invalid("csr_pem signature does not match its public key", code="invalid_csr")
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise Invalid(
                f"csr_pem RSA key has {key.key_size} bits; at least {_MIN_RSA_BITS} needed", code="invalid_csr"
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, _EC_CURVES):
            raise Invalid(f"csr_pem EC curve {key.curve.name} is not accepted; use P-256 or P-384", code="invalid_csr")
    else:
        raise Invalid("csr_pem key type is not accepted; use RSA ≥ 2048 bits or EC P-256/P-384", code="invalid_csr")
