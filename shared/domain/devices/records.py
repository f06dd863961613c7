"""Device registry records and commands (domain shapes; the API and the DAL map to and from them)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contracts.devices import DeviceKind, DeviceStatus

#: GB/T 34014-2017 battery code: 24 characters, digits and upper-case letters
#: (maker 3, product type 1, battery type 1, spec 2, traceability 7, date 3, serial 7).
BATTERY_CODE_PATTERN = r"^[0-9A-Z]{24}$"
SERIAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$"
MAX_LABELS = 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterDevice(_Strict):
    """Request to register (provision) a device in the caller's tenant."""

    serial_number: str = Field(
        pattern=SERIAL_PATTERN,
        description="Maker's serial number, unique per tenant; letters, digits and . _ : / - (max 64).",
    )
    model_id: str = Field(min_length=1, max_length=64, description="A model of GET /v1/device-models.")
    battery_code: str | None = Field(
        default=None,
        pattern=BATTERY_CODE_PATTERN,
        description="GB/T 34014 battery code (24 characters, 0-9 A-Z) — the battery's global identity.",
    )
    firmware_version: str | None = Field(default=None, min_length=1, max_length=32)
    labels: list[str] = Field(default_factory=list, max_length=MAX_LABELS, description="Free labels, filterable.")
    csr_pem: str | None = Field(
        default=None,
        max_length=16_384,
        description="PEM certificate signing request; when given the device keeps its private key and "
        "the response has no private_key_pem.",
    )

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.match(LABEL_PATTERN, v)]
        if bad:
            raise ValueError(f"labels {bad!r} must match {LABEL_PATTERN}")
        if len(set(value)) != len(value):
            raise ValueError("labels must be unique")
        return value


class RevokeDevice(_Strict):
    reason: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9_.]+$",
        description="Reason code, e.g. key_compromised, lost, stolen (stored as a code, rendered at the edge).",
    )


class DecommissionDevice(_Strict):
    reason: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[a-z0-9_.]+$", description="Reason code, e.g. recycled."
    )


class Device(_Strict):
    """A registered device as the registry stores and returns it."""

    tenant_id: str
    thing_name: str
    kind: DeviceKind
    model_id: str
    serial_number: str
    battery_code: str | None = None
    status: DeviceStatus
    certificate_id: str | None = None
    certificate_arn: str | None = None
    firmware_version: str | None = None
    labels: list[str] = Field(default_factory=list)
    created_at_ms: int
    updated_at_ms: int
    revoked_at_ms: int | None = None
    #: Reason code of the last status change (revoke/decommission), kept with the device.
    status_reason: str | None = None


@dataclass(frozen=True)
class DeviceFilter:
    kind: DeviceKind | None = None
    status: DeviceStatus | None = None
    model_id: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Page:
    items: list[Device]
    #: Thing name of the last item returned when more may follow (the DAL's LastEvaluatedKey).
    after: str | None
