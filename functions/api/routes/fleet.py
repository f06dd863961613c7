"""Fleet routes (LCM-MON-4, LCM-UI-1, SLW-WEB-4/5, SLW-MON-3, EVC-MON-1): the console's overview,
device table and map. Views are thin; :mod:`shared.domain.fleet` derives statuses, counts and pages
from the caller's tenant only (D23: aggregated per request, capped)."""

from __future__ import annotations

from functions import services
from functions.api.app import app
from functions.api.http import Call, RouteDoc, endpoint
from shared.domain.auth import Action
from shared.domain.fleet.query import DeviceListParams, OverviewParams, PositionParams
from shared.domain.fleet.views import FleetDeviceList, FleetOverview, FleetPositions

TAGS = ("fleet",)
#: 409 fleet_too_large: the tenant exceeds what one request aggregates (D23).
ERRORS = (400, 401, 403, 409, 422, 503)


@endpoint(
    app,
    RouteDoc(
        "/v1/fleet/overview",
        "GET",
        "Fleet dashboard: devices per kind and operational status, open alarms per level, alarms raised per "
        "hour (UTC-aligned buckets), and the ten devices that need attention most",
        FleetOverview,
        query=OverviewParams,
        action=Action.READ,
        tags=TAGS,
        errors=ERRORS,
    ),
)
def fleet_overview(call: Call) -> FleetOverview:
    return services.fleet_view().overview(call.principal, call.query(OverviewParams))


@endpoint(
    app,
    RouteDoc(
        "/v1/fleet/devices",
        "GET",
        "The fleet table: every device with its operational status, latest readings, open alarms and position; "
        "searched, filtered, sorted and paged server-side",
        FleetDeviceList,
        query=DeviceListParams,
        action=Action.READ,
        tags=TAGS,
        errors=ERRORS,
    ),
)
def fleet_devices(call: Call) -> FleetDeviceList:
    params = call.query(DeviceListParams)
    statuses = call.query_values("status")
    if len(statuses) > 1:  # ?status=fault&status=offline means both
        params = params.model_copy(update={"status": ",".join(statuses)})
    return services.fleet_view().device_list(call.principal, params)


@endpoint(
    app,
    RouteDoc(
        "/v1/fleet/positions",
        "GET",
        "The map: latest valid position of every device (with status and worst open alarm level); "
        "tracks come from GET /v1/devices/{thing_name}/history?type=position",
        FleetPositions,
        query=PositionParams,
        action=Action.READ,
        tags=TAGS,
        errors=ERRORS,
    ),
)
def fleet_positions(call: Call) -> FleetPositions:
    return services.fleet_view().positions(call.principal, call.query(PositionParams))
