"""AWS IoT control plane adapters: certificates and the thing registry.

boto3 clients come from cached factories (never built at import); tests and the local stack
reset them with :func:`reset_clients`. Locally the local stack injects its own certificate
issuer (a local CA whose certificates the broker trusts) and keeps these for the registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError

from shared.contracts.devices import DeviceKind
from shared.contracts.topics import device_policy_document
from shared.domain.devices.naming import thing_type_for
from shared.domain.devices.ports import IssuedCertificate
from shared.domain.errors import Conflict, Unavailable
from shared.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_iot import IoTClient

_RETRYABLE = {
    "ThrottlingException",
    "ServiceUnavailableException",
    "InternalFailureException",
    "LimitExceededException",
}


@cache
def iot_client() -> IoTClient:
    s = get_settings()
    return boto3.client("iot", region_name=s.region, endpoint_url=s.aws_endpoint_url)


@cache
def data_endpoint() -> str | None:
    """The MQTT endpoint devices connect to: settings, else the account's ATS data endpoint."""
    s = get_settings()
    if s.iot_endpoint:
        return s.iot_endpoint
    with _iot_errors():
        return iot_client().describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]


def reset_clients() -> None:
    iot_client.cache_clear()
    data_endpoint.cache_clear()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _iot_errors() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        if _code(exc) in _RETRYABLE:
            raise Unavailable(f"AWS IoT is busy ({_code(exc)}); retry shortly") from exc
        raise


class AwsIotCertificateIssuer:
    """``CertificateIssuer`` on AWS IoT: a generated key pair, or the device's CSR signed by AWS IoT."""

    def __init__(self, client: Callable[[], IoTClient] = iot_client) -> None:
        self._client = client

    def issue(self, thing_name: str, csr_pem: str | None) -> IssuedCertificate:
        with _iot_errors():
            if csr_pem is None:
                r = self._client().create_keys_and_certificate(setAsActive=True)
                return IssuedCertificate(
                    certificate_id=r["certificateId"],
                    certificate_arn=r["certificateArn"],
                    certificate_pem=r["certificatePem"],
                    private_key_pem=r["keyPair"]["PrivateKey"],
                )
            c = self._client().create_certificate_from_csr(certificateSigningRequest=csr_pem, setAsActive=True)
            return IssuedCertificate(
                certificate_id=c["certificateId"],
                certificate_arn=c["certificateArn"],
                certificate_pem=c["certificatePem"],
                private_key_pem=None,
            )

    def deactivate(self, certificate_id: str) -> None:
        with _iot_errors():
            self._client().update_certificate(certificateId=certificate_id, newStatus="INACTIVE")


class AwsIotThingRegistry:
    """``ThingRegistry`` on AWS IoT."""

    def __init__(self, client: Callable[[], IoTClient] = iot_client) -> None:
        self._client = client

    def create_thing(self, thing_name: str, thing_type: str, attributes: dict[str, str]) -> str:
        """Create the thing; an existing thing with the same tenant is reused (retry), else Conflict."""
        iot = self._client()
        with _iot_errors():
            try:
                return iot.create_thing(
                    thingName=thing_name,
                    thingTypeName=thing_type,
                    attributePayload={"attributes": attributes, "merge": False},
                )["thingArn"]
            except ClientError as exc:
                if _code(exc) == "ResourceNotFoundException":
                    raise Unavailable(
                        f"IoT thing type {thing_type!r} does not exist; the infrastructure is not deployed"
                    ) from exc
                if _code(exc) != "ResourceAlreadyExistsException":
                    raise
            existing = iot.describe_thing(thingName=thing_name)
        if existing.get("attributes", {}).get("tenant") != attributes.get("tenant"):
            raise Conflict(f"IoT thing {thing_name!r} exists for another owner", code="thing_exists")
        return existing["thingArn"]

    def attach(self, thing_name: str, certificate_arn: str, policy_name: str) -> None:
        with _iot_errors():
            iot = self._client()
            iot.attach_policy(policyName=policy_name, target=certificate_arn)
            iot.attach_thing_principal(thingName=thing_name, principal=certificate_arn)

    def detach(self, thing_name: str, certificate_arn: str, policy_name: str) -> None:
        """Detach principal and policy; what is already detached is skipped (retries are safe)."""
        iot = self._client()
        for call in (
            lambda: iot.detach_thing_principal(thingName=thing_name, principal=certificate_arn),
            lambda: iot.detach_policy(policyName=policy_name, target=certificate_arn),
        ):
            with _iot_errors():
                try:
                    call()
                except ClientError as exc:
                    if _code(exc) != "ResourceNotFoundException":
                        raise


class NoBrokerHook:
    """``BrokerAccess`` in AWS: IoT Core's policy and the certificate status already decide."""

    def device_enabled(self, tenant_id: str, thing_name: str) -> None:
        return None

    def device_disabled(self, tenant_id: str, thing_name: str) -> None:
        return None


def ensure_device_prerequisites(policy_name: str, *, partition: str = "aws") -> None:
    """Create the thing types and the device policy if missing (local stack and tests only;
    in AWS the CDK stack owns them)."""
    s = get_settings()
    iot = iot_client()
    for kind in DeviceKind:
        iot.create_thing_type(
            thingTypeName=thing_type_for(kind),
            thingTypeProperties={"searchableAttributes": ["tenant", "kind", "model"]},
        )
    account = boto3.client("sts", region_name=s.region, endpoint_url=s.aws_endpoint_url).get_caller_identity()[
        "Account"
    ]
    prefix = f"arn:{partition}:iot:{s.region}:{account}"
    try:
        iot.create_policy(policyName=policy_name, policyDocument=json.dumps(device_policy_document(prefix)))
    except ClientError as exc:
        if _code(exc) != "ResourceAlreadyExistsException":
            raise
