"""What the fleet read model reads. The existing repositories implement these (``shared.dal.devices.
DynamoDeviceRepository``, ``shared.dal.alarms.DynamoAlarmRepository``, ``shared.dal.telemetry_store``);
unit tests pass in-memory fakes. Every read is one tenant's partition or index key, never a scan."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from shared.domain.alarms.ports import AlarmPage, AlarmQuery
from shared.domain.devices.records import DeviceFilter, Page


class FleetDevices(Protocol):
    """The tenant's registry (the ``query`` of ``DeviceRepository``)."""

    def query(self, tenant_id: str, flt: DeviceFilter, limit: int, after: str | None) -> Page: ...


class LatestStates(Protocol):
    """Every latest-state item of a tenant: one Query on its partition of the latest-state table."""

    def latest_of_tenant(self, tenant_id: str, limit: int) -> Iterable[dict[str, Any]]:
        """At most ``limit`` items, each ``{thing_name, message_type, body, derived, device_ts_ms, arrival_ms}``,
        streamed page by page (a tenant's latest state can be tens of megabytes)."""
        ...


class FleetAlarms(Protocol):
    """The tenant's alarms (the ``query`` of ``AlarmStore``: status index or time index, newest first)."""

    def query(self, tenant_id: str, q: AlarmQuery, limit: int, after: str | None) -> AlarmPage: ...
