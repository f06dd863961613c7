"""Request query and response shapes of the API (pydantic; the OpenAPI document is derived from them).

Request bodies are the domain commands (``shared.domain.devices.records``) and the
``DeviceModel`` contract; these are the API's own views.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.devices import BatteryIdentity, DeviceKind, DeviceModel, DeviceStatus
from shared.domain.devices.paging import DEFAULT_LIMIT, MAX_LIMIT
from shared.domain.devices.records import Device


class _Query(BaseModel):
    """Query strings: unknown parameters are refused so typos surface (422)."""

    model_config = ConfigDict(extra="forbid")


class PageQuery(_Query):
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Page size, 1..{MAX_LIMIT}.")
    next_token: str | None = Field(default=None, max_length=512, description="Opaque token from the previous page.")


class DeviceListQuery(PageQuery):
    kind: DeviceKind | None = None
    status: DeviceStatus | None = None
    model_id: str | None = Field(default=None, max_length=64)
    label: str | None = Field(default=None, max_length=32)


class HistoryQueryParams(_Query):
    from_ms: int | None = Field(default=None, description="Start, UTC epoch ms (inclusive); default to_ms - 24 h.")
    to_ms: int | None = Field(default=None, description="End, UTC epoch ms (exclusive); default now.")
    type: str | None = Field(default=None, description="Message type: telemetry (default), position, event, ack.")
    max_points: int | None = Field(default=None, description="Buckets returned, 10..5000 (default 500).")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine code, e.g. device_not_found, validation_failed.")
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class DeviceList(BaseModel):
    items: list[Device]
    next_token: str | None = Field(description="Pass as next_token for the next page; null on the last page.")


class MqttConnection(BaseModel):
    endpoint: str | None = Field(description="MQTT broker host (AWS IoT ATS data endpoint).")
    port: int
    client_id: str = Field(description="MQTT client id: must be the thing name.")
    uplink: dict[str, str] = Field(description="Topic per uplink message type.")
    downlink: dict[str, str] = Field(description="Topic per downlink message type.")


class RegistrationResult(BaseModel):
    device: Device
    certificate_pem: str
    private_key_pem: str | None = Field(
        description="Returned once when the platform generated the key pair; never stored. Null with a CSR."
    )
    mqtt: MqttConnection


class DeviceModelView(BaseModel):
    scope: Literal["platform", "tenant"]
    model: DeviceModel


class DeviceModelList(BaseModel):
    items: list[DeviceModelView]
    next_token: str | None


class StateEntry(BaseModel):
    body: dict[str, Any]
    derived: dict[str, Any] | None = None
    device_ts_ms: int
    arrival_ms: int


class LatestState(BaseModel):
    thing_name: str
    state: dict[str, StateEntry] = Field(description="Latest message per message type (telemetry, position, ...).")


class HistoryResult(BaseModel):
    thing_name: str
    type: str
    from_ms: int
    to_ms: int
    max_points: int
    raw_count: int = Field(description="Samples in the window that were read.")
    truncated: bool = Field(description="True when the window held more samples than one request reads.")
    downsampled: bool
    points: list[dict[str, Any]] = Field(
        description="Time buckets with min/max/avg per reading, ascending. Position buckets also carry fix: the "
        "bucket's last valid fix {latitude_deg, longitude_deg, coordinate_system, ts_ms, speed_kmh, heading_deg} "
        "(null without one); samples without a valid fix add no coordinates to min/max/avg."
    )


class BatteryHistory(BaseModel):
    battery_code: str
    periods: list[BatteryIdentity] = Field(description="The caller's own ownership periods of this battery.")


def registration_result(reg: Any) -> RegistrationResult:
    """Shape a ``shared.domain.devices.service.Registration``."""
    m = reg.mqtt
    return RegistrationResult(
        device=reg.device,
        certificate_pem=reg.certificate_pem,
        private_key_pem=reg.private_key_pem,
        mqtt=MqttConnection(
            endpoint=m.endpoint, port=m.port, client_id=m.client_id, uplink=m.uplink, downlink=m.downlink
        ),
    )


def model_list(items: list[Any], next_token: str | None) -> DeviceModelList:
    return DeviceModelList(items=[DeviceModelView(scope=s.scope, model=s.model) for s in items], next_token=next_token)


def history_result(thing_name: str, h: Any) -> HistoryResult:
    """Shape a ``shared.domain.devices.telemetry_view.History``."""
    q = h.query
    return HistoryResult(
        thing_name=thing_name,
        type=q.message_type,
        from_ms=q.from_ms,
        to_ms=q.to_ms,
        max_points=q.max_points,
        raw_count=h.raw_count,
        truncated=h.truncated,
        downsampled=h.downsampled,
        points=h.points,
    )
