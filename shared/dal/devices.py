"""DynamoDB repositories of the device registry (devices, battery identities) — pynamodb.

The only code that touches these tables; storage errors become domain errors here:
a failed condition is ``Conflict``, throttling is ``Unavailable``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pynamodb.exceptions import PynamoDBException

from shared.contracts.devices import BatteryIdentity, DeviceKind, DeviceStatus
from shared.dal.tables import BatteryIdentityItem, DeviceItem, bind_tables
from shared.domain.devices.records import Device, DeviceFilter, Page
from shared.domain.errors import Conflict, Unavailable

_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}
_PAGE_SIZE = 100


@contextmanager
def storage_errors(conflict_message: str, conflict_code: str = "conflict") -> Iterator[None]:
    """Translate pynamodb failures into domain errors (anything else is a bug and propagates)."""
    try:
        yield
    except PynamoDBException as exc:
        code = exc.cause_response_code
        if code == "ConditionalCheckFailedException":
            raise Conflict(conflict_message, code=conflict_code) from exc
        if code in _THROTTLED:
            raise Unavailable(f"storage is busy ({code}); retry shortly") from exc
        raise


def _to_device(item: DeviceItem) -> Device:
    return Device(
        tenant_id=item.tenant_id,
        thing_name=item.thing_name,
        kind=DeviceKind(item.kind),
        model_id=item.model_id,
        serial_number=item.serial_number,
        battery_code=item.battery_code,
        status=DeviceStatus(item.status),
        certificate_id=item.certificate_id,
        certificate_arn=item.certificate_arn,
        firmware_version=item.firmware_version,
        labels=sorted(item.labels or ()),
        created_at_ms=int(item.created_at_ms),
        updated_at_ms=int(item.updated_at_ms),
        revoked_at_ms=int(item.revoked_at_ms) if item.revoked_at_ms is not None else None,
        status_reason=item.status_reason,
    )


def _to_item(device: Device) -> DeviceItem:
    return DeviceItem(
        device.tenant_id,
        device.thing_name,
        kind=device.kind.value,
        model_id=device.model_id,
        serial_number=device.serial_number,
        battery_code=device.battery_code,
        status=device.status.value,
        certificate_id=device.certificate_id,
        certificate_arn=device.certificate_arn,
        firmware_version=device.firmware_version,
        labels=set(device.labels) or None,
        created_at_ms=device.created_at_ms,
        updated_at_ms=device.updated_at_ms,
        revoked_at_ms=device.revoked_at_ms,
        status_reason=device.status_reason,
    )


class DynamoDeviceRepository:
    """Implements ``DeviceRepository``: pk tenant, sk thing name."""

    def __init__(self) -> None:
        bind_tables()

    def get(self, tenant_id: str, thing_name: str) -> Device | None:
        with storage_errors("unexpected condition"):
            try:
                return _to_device(DeviceItem.get(tenant_id, thing_name, consistent_read=True))
            except DeviceItem.DoesNotExist:
                return None

    def create(self, device: Device) -> None:
        with storage_errors(f"device {device.thing_name!r} already exists", "device_exists"):
            _to_item(device).save(condition=DeviceItem.thing_name.does_not_exist())

    def replace(self, device: Device, *, expected_status: str) -> None:
        with storage_errors(
            f"device {device.thing_name!r} changed concurrently (no longer {expected_status}); retry",
            "device_changed",
        ):
            _to_item(device).save(condition=DeviceItem.status == expected_status)

    def query(self, tenant_id: str, flt: DeviceFilter, limit: int, after: str | None) -> Page:
        cond: Any = None
        for part in (
            DeviceItem.kind == flt.kind.value if flt.kind else None,
            DeviceItem.status == flt.status.value if flt.status else None,
            DeviceItem.model_id == flt.model_id if flt.model_id else None,
            DeviceItem.labels.contains(flt.label) if flt.label else None,
        ):
            if part is not None:
                cond = part if cond is None else cond & part
        start = {"tenant_id": {"S": tenant_id}, "thing_name": {"S": after}} if after is not None else None
        items: list[Device] = []
        more = False
        with storage_errors("unexpected condition"):
            results = DeviceItem.query(tenant_id, filter_condition=cond, last_evaluated_key=start, page_size=_PAGE_SIZE)
            for item in results:
                if len(items) == limit:
                    more = True  # one item beyond the page exists
                    break
                items.append(_to_device(item))
        return Page(items=items, after=items[-1].thing_name if more else None)


class DynamoBatteryIdentityRepository:
    """Implements ``BatteryIdentityRepository``: pk battery code, sk period start."""

    def __init__(self) -> None:
        bind_tables()

    def periods(self, battery_code: str) -> list[BatteryIdentity]:
        with storage_errors("unexpected condition"):
            return [
                BatteryIdentity(
                    battery_code=i.battery_code,
                    tenant_id=i.tenant_id,
                    thing_name=i.thing_name,
                    owned_from_ms=int(i.owned_from_ms),
                    owned_until_ms=int(i.owned_until_ms) if i.owned_until_ms is not None else None,
                )
                for i in BatteryIdentityItem.query(battery_code, consistent_read=True)
            ]

    def open(self, period: BatteryIdentity) -> None:
        item = BatteryIdentityItem(
            period.battery_code,
            period.owned_from_ms,
            tenant_id=period.tenant_id,
            thing_name=period.thing_name,
            owned_until_ms=period.owned_until_ms,
        )
        with storage_errors(f"battery {period.battery_code!r} already has a period at that time", "battery_owned"):
            item.save(condition=BatteryIdentityItem.battery_code.does_not_exist())

    def close(self, battery_code: str, owned_from_ms: int, until_ms: int) -> None:
        item = BatteryIdentityItem(battery_code, owned_from_ms)
        try:
            with storage_errors("closed already"):
                item.update(
                    actions=[BatteryIdentityItem.owned_until_ms.set(until_ms)],
                    condition=BatteryIdentityItem.battery_code.exists()
                    & BatteryIdentityItem.owned_until_ms.does_not_exist(),
                )
        except Conflict:
            return  # already closed (or gone): closing is idempotent

    def delete(self, battery_code: str, owned_from_ms: int) -> None:
        with storage_errors("unexpected condition"):
            BatteryIdentityItem(battery_code, owned_from_ms).delete()
