"""Device lookup for ingest: device + its model, cached briefly per warm container.

A short TTL keeps DynamoDB reads off the hot path (one device sends many messages) while a
revocation still takes effect within a minute (the IoT policy/certificate already stop it
at the broker; this is the second line)."""

from __future__ import annotations

import time
from collections.abc import Callable

from shared.contracts.devices import DeviceKind, DeviceModel, DeviceStatus
from shared.dal.tables import DeviceItem, DeviceModelItem, bind_tables
from shared.domain.telemetry.validation import DeviceInfo

PLATFORM_TENANT = "_platform"


class DynamoDeviceDirectory:
    def __init__(
        self, ttl_s: float = 60.0, miss_ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        bind_tables()
        self._ttl_s = ttl_s
        # A device registered moments ago must not stay "unknown" for a whole minute.
        self._miss_ttl_s = miss_ttl_s
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, DeviceInfo | None]] = {}
        self._models: dict[tuple[str, str], tuple[float, DeviceModel | None]] = {}

    def get(self, tenant_id: str, thing_name: str) -> DeviceInfo | None:
        key = (tenant_id, thing_name)
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < (self._ttl_s if hit[1] is not None else self._miss_ttl_s):
            return hit[1]
        info: DeviceInfo | None = None
        try:
            item = DeviceItem.get(tenant_id, thing_name, consistent_read=False)
        except DeviceItem.DoesNotExist:
            item = None
        if item is not None:
            info = DeviceInfo(
                tenant_id=tenant_id,
                thing_name=thing_name,
                kind=DeviceKind(item.kind),
                status=DeviceStatus(item.status),
                model=self._model(tenant_id, item.model_id),
            )
        self._cache[key] = (now, info)
        return info

    def _model(self, tenant_id: str, model_id: str) -> DeviceModel | None:
        key = (tenant_id, model_id)
        now = self._clock()
        hit = self._models.get(key)
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        model: DeviceModel | None = None
        for owner in (tenant_id, PLATFORM_TENANT):
            try:
                model = DeviceModel.model_validate(DeviceModelItem.get(owner, model_id).spec)
                break
            except DeviceModelItem.DoesNotExist:
                continue
        self._models[key] = (now, model)
        return model
