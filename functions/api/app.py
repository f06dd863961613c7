"""VoltOps REST API (Chalice): devices, device models, battery identities, state and history.

Lambda handler ``functions.api.app.app``; locally served in-process by the local stack.
Views are thin — parse, call the domain, shape — and declared with :func:`endpoint`, which
verifies the JWT on every route (Chalice local runs no authorizer), maps errors in one place
and records what the OpenAPI document says.
"""

from __future__ import annotations

from typing import Any

from chalice import Chalice

from functions.api import schemas as s
from functions.api import wiring
from functions.api.http import Call, RouteDoc, endpoint
from shared.contracts.devices import DeviceModel
from shared.domain.auth import Action
from shared.domain.devices.records import DecommissionDevice, Device, DeviceFilter, RegisterDevice, RevokeDevice

app = Chalice(app_name="voltops-api")

DEVICES = ("devices",)
MODELS = ("device-models",)
TELEMETRY = ("telemetry",)


@endpoint(
    app,
    RouteDoc(
        "/v1/devices",
        "POST",
        "Register a device: IoT thing, certificate (generated or from a CSR), policy; "
        "returns the certificate and private key once",
        s.RegistrationResult,
        status=201,
        request=RegisterDevice,
        action=Action.MANAGE_DEVICES,
        tags=DEVICES,
        errors=(400, 401, 403, 409, 422, 503),
    ),
)
def register_device(call: Call) -> s.RegistrationResult:
    reg = wiring.device_service().register(call.principal, call.body(RegisterDevice))
    return s.registration_result(reg)


@endpoint(
    app,
    RouteDoc(
        "/v1/devices",
        "GET",
        "List the tenant's devices (filters kind, status, model_id, label; paginated)",
        s.DeviceList,
        query=s.DeviceListQuery,
        action=Action.READ,
        tags=DEVICES,
    ),
)
def list_devices(call: Call) -> s.DeviceList:
    q = call.query(s.DeviceListQuery)
    flt = DeviceFilter(kind=q.kind, status=q.status, model_id=q.model_id, label=q.label)
    items, token = wiring.device_service().list_devices(call.principal, flt, q.limit, q.next_token)
    return s.DeviceList(items=items, next_token=token)


@endpoint(
    app,
    RouteDoc("/v1/devices/{thing_name}", "GET", "One device", Device, action=Action.READ, tags=DEVICES),
)
def get_device(call: Call, thing_name: str) -> Device:
    return wiring.device_service().get(call.principal, thing_name)


@endpoint(
    app,
    RouteDoc(
        "/v1/devices/{thing_name}/revoke",
        "POST",
        "Revoke a device: certificate INACTIVE, detached; the device can no longer connect",
        Device,
        request=RevokeDevice,
        action=Action.MANAGE_DEVICES,
        tags=DEVICES,
        errors=(400, 401, 403, 404, 409, 422, 503),
    ),
)
def revoke_device(call: Call, thing_name: str) -> Device:
    return wiring.device_service().revoke(call.principal, thing_name, call.body(RevokeDevice))


@endpoint(
    app,
    RouteDoc(
        "/v1/devices/{thing_name}/decommission",
        "POST",
        "Decommission a device: access cut, battery ownership period closed",
        Device,
        request=DecommissionDevice,
        action=Action.MANAGE_DEVICES,
        tags=DEVICES,
        errors=(400, 401, 403, 404, 409, 422, 503),
    ),
)
def decommission_device(call: Call, thing_name: str) -> Device:
    return wiring.device_service().decommission(call.principal, thing_name, call.body(DecommissionDevice))


@endpoint(
    app,
    RouteDoc(
        "/v1/devices/{thing_name}/state",
        "GET",
        "Latest state of a device per message type",
        s.LatestState,
        action=Action.READ,
        tags=TELEMETRY,
    ),
)
def device_state(call: Call, thing_name: str) -> s.LatestState:
    state: dict[str, Any] = wiring.device_telemetry().latest(call.principal, thing_name)
    return s.LatestState.model_validate({"thing_name": thing_name, "state": state})


@endpoint(
    app,
    RouteDoc(
        "/v1/devices/{thing_name}/history",
        "GET",
        "History of a device, downsampled server-side into at most max_points time buckets",
        s.HistoryResult,
        query=s.HistoryQueryParams,
        action=Action.READ,
        tags=TELEMETRY,
    ),
)
def device_history(call: Call, thing_name: str) -> s.HistoryResult:
    q = call.query(s.HistoryQueryParams)
    h = wiring.device_telemetry().history(
        call.principal, thing_name, message_type=q.type, from_ms=q.from_ms, to_ms=q.to_ms, max_points=q.max_points
    )
    return s.history_result(thing_name, h)


@endpoint(
    app,
    RouteDoc(
        "/v1/device-models",
        "GET",
        "Device models: the platform catalogue and the tenant's own (paginated)",
        s.DeviceModelList,
        query=s.PageQuery,
        action=Action.READ,
        tags=MODELS,
    ),
)
def list_device_models(call: Call) -> s.DeviceModelList:
    q = call.query(s.PageQuery)
    items, token = wiring.model_registry().list_models(call.principal, q.limit, q.next_token)
    return s.model_list(items, token)


@endpoint(
    app,
    RouteDoc(
        "/v1/device-models",
        "POST",
        "Add a tenant device model (admin)",
        s.DeviceModelView,
        status=201,
        request=DeviceModel,
        action=Action.MANAGE_MODELS,
        tags=MODELS,
        errors=(400, 401, 403, 409, 422),
    ),
)
def create_device_model(call: Call) -> s.DeviceModelView:
    scoped = wiring.model_registry().create(call.principal, call.body(DeviceModel))
    return s.DeviceModelView(scope=scoped.scope, model=scoped.model)  # type: ignore[arg-type]


@endpoint(
    app,
    RouteDoc(
        "/v1/device-models/{model_id}", "GET", "One device model", s.DeviceModelView, action=Action.READ, tags=MODELS
    ),
)
def get_device_model(call: Call, model_id: str) -> s.DeviceModelView:
    scoped = wiring.model_registry().get(call.principal, model_id)
    return s.DeviceModelView(scope=scoped.scope, model=scoped.model)  # type: ignore[arg-type]


@endpoint(
    app,
    RouteDoc(
        "/v1/batteries/{battery_code}/history",
        "GET",
        "Ownership periods of a battery (GB/T 34014 code) held by the caller's tenant",
        s.BatteryHistory,
        action=Action.READ,
        tags=("batteries",),
    ),
)
def battery_history(call: Call, battery_code: str) -> s.BatteryHistory:
    periods = wiring.device_service().battery_history(call.principal, battery_code)
    return s.BatteryHistory(battery_code=battery_code, periods=periods)


@endpoint(
    app,
    RouteDoc(
        "/v1/openapi.json",
        "GET",
        "This API's OpenAPI 3 document (no authentication)",
        None,
        authenticated=False,
        tags=("meta",),
        errors=(),
    ),
)
def openapi_document(call: Call) -> dict[str, Any]:
    from functions.api.openapi import openapi_document as build

    return build(app)


# Route modules register themselves on ``app`` (imported last: they import ``app`` from here).
from functions.api.routes import alarm_rules, alarms, commands, fleet, me, notifications  # noqa: E402, F401
