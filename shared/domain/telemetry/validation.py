"""Validation of one uplink message: from the rule's output to a typed, checked message.

Every refusal is a :class:`Rejected` with a stable reason code and a human detail, so the
quarantine record says exactly why. Nothing here touches storage: the device directory is
a port passed in.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.contracts import topics
from shared.contracts.devices import DeviceKind, DeviceModel, DeviceStatus
from shared.contracts.telemetry import UPLINK_CONTRACTS, BatteryPackTelemetry, StorageCabinetTelemetry

#: A device clock this far ahead of the platform's arrival time is flagged as suspect.
CLOCK_AHEAD_TOLERANCE_MS = 5 * 60 * 1000


class Reason:
    """Stable quarantine reason codes (documented in events/README.md)."""

    RULE_OUTPUT_INVALID = "rule_output_invalid"
    BAD_TOPIC = "bad_topic"
    TOO_LARGE = "too_large"
    MALFORMED_JSON = "malformed_json"
    SCHEMA_INVALID = "schema_invalid"
    UNKNOWN_DEVICE = "unknown_device"
    DEVICE_NOT_ACTIVE = "device_not_active"
    KIND_MISMATCH = "kind_mismatch"
    LAYOUT_MISMATCH = "layout_mismatch"
    CLIENT_MISMATCH = "client_mismatch"


class Rejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        #: The decoded rule output, when decoding got that far (for the quarantine record).
        self.out: RuleOutput | None = None


@dataclass(frozen=True)
class DeviceInfo:
    tenant_id: str
    thing_name: str
    kind: DeviceKind
    status: DeviceStatus
    model: DeviceModel | None


class DeviceDirectory(Protocol):
    def get(self, tenant_id: str, thing_name: str) -> DeviceInfo | None: ...


@dataclass(frozen=True)
class RuleOutput:
    """What the uplink topic rule puts on the stream (see shared.contracts.iot_rules)."""

    payload: bytes
    topic: str
    arrival_ms: int
    client_id: str | None = None
    principal: str | None = None


@dataclass(frozen=True)
class ValidMessage:
    tenant_id: str
    thing_name: str
    message_type: topics.UpType
    message: BaseModel
    arrival_ms: int
    raw: bytes
    clock_suspect: bool = False

    @property
    def boot_id(self) -> str:
        return str(self.message.boot_id)  # type: ignore[attr-defined]

    @property
    def seq(self) -> int:
        return int(self.message.seq)  # type: ignore[attr-defined]

    @property
    def device_ts_ms(self) -> int:
        return int(self.message.device_ts_ms)  # type: ignore[attr-defined]

    @property
    def message_key(self) -> str:
        """Dedupe key: survives reboots because boot_id changes at every boot."""
        return f"{self.tenant_id}#{self.thing_name}#{self.boot_id}#{self.seq}"


def decode_rule_output(data: bytes) -> RuleOutput:
    """Decode the JSON the topic rule produced; Rejected if it is not what the rule emits."""
    try:
        doc = json.loads(data)
        payload = base64.b64decode(doc["payload_b64"], validate=True)
        return RuleOutput(
            payload=payload,
            topic=str(doc["topic"]),
            arrival_ms=int(doc["arrival_ms"]),
            client_id=doc.get("client_id"),
            principal=doc.get("principal"),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise Rejected(Reason.RULE_OUTPUT_INVALID, f"stream record is not a rule output: {exc}") from exc


@cache
def _adapter(message_type: str) -> TypeAdapter[Any]:
    contract: Any = UPLINK_CONTRACTS[message_type]
    return TypeAdapter(contract)


def _schema_errors(exc: ValidationError, limit: int = 10) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def validate(out: RuleOutput, directory: DeviceDirectory) -> ValidMessage:
    """Turn one rule output into a ValidMessage, or raise Rejected with the precise reason."""
    try:
        parsed = topics.parse(out.topic)
        up_type = parsed.up_type
    except topics.TopicError as exc:
        raise Rejected(Reason.BAD_TOPIC, str(exc)) from exc
    if out.client_id is not None and out.client_id not in ("", parsed.thing) and _is_device_client(out):
        # The IoT policy pins client id = thing name; a mismatch means a misconfigured
        # policy or a forged path. Refuse rather than attribute data to the wrong device.
        raise Rejected(Reason.CLIENT_MISMATCH, f"client {out.client_id!r} published on {parsed.thing!r}'s topic")
    if len(out.payload) > topics.MAX_MESSAGE_BYTES:
        raise Rejected(
            Reason.TOO_LARGE, f"payload is {len(out.payload)} bytes; the limit is {topics.MAX_MESSAGE_BYTES}"
        )
    try:
        doc = json.loads(out.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected(Reason.MALFORMED_JSON, f"payload is not JSON: {exc}") from exc
    try:
        message = _adapter(up_type.value).validate_python(doc)
    except ValidationError as exc:
        raise Rejected(Reason.SCHEMA_INVALID, _schema_errors(exc)) from exc

    device = directory.get(parsed.tenant, parsed.thing)
    if device is None:
        raise Rejected(Reason.UNKNOWN_DEVICE, f"no device {parsed.thing!r} in tenant {parsed.tenant!r}")
    if device.status is not DeviceStatus.ACTIVE:
        raise Rejected(Reason.DEVICE_NOT_ACTIVE, f"device {parsed.thing!r} is {device.status.value}")
    if isinstance(message, BatteryPackTelemetry | StorageCabinetTelemetry):
        _check_telemetry(message, device)
    clock_suspect = message.device_ts_ms > out.arrival_ms + CLOCK_AHEAD_TOLERANCE_MS
    return ValidMessage(
        tenant_id=parsed.tenant,
        thing_name=parsed.thing,
        message_type=up_type,
        message=message,
        arrival_ms=out.arrival_ms,
        raw=out.payload,
        clock_suspect=clock_suspect,
    )


def _is_device_client(out: RuleOutput) -> bool:
    """Only certificate-authenticated publishers are held to client id = thing name.

    Platform-side publishers (test tools, gateways on the plain local listener) have no
    certificate principal; AWS IoT reports the certificate id as the principal for devices.
    """
    return bool(out.principal) and out.principal not in ("", "anonymous")


def _check_telemetry(message: BatteryPackTelemetry | StorageCabinetTelemetry, device: DeviceInfo) -> None:
    if message.kind != device.kind.value:
        raise Rejected(
            Reason.KIND_MISMATCH, f"device {device.thing_name!r} is a {device.kind.value}, got {message.kind}"
        )
    model = device.model
    if model is None:
        return
    cells, probes = len(message.cell_voltages_v), len(message.probe_temperatures_c)
    if cells and cells != model.cell_count:
        raise Rejected(
            Reason.LAYOUT_MISMATCH,
            f"model {model.model_id} has {model.cell_count} cells; message has {cells} cell voltages",
        )
    if probes and probes != model.probe_count:
        raise Rejected(
            Reason.LAYOUT_MISMATCH,
            f"model {model.model_id} has {model.probe_count} probes; message has {probes} temperatures",
        )
