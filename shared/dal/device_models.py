"""DynamoDB repository of device models: pk scope (``_platform`` or a tenant), sk model id."""

from __future__ import annotations

from shared.contracts.devices import DeviceModel
from shared.dal.devices import storage_errors
from shared.dal.tables import DeviceModelItem, bind_tables


class DynamoDeviceModelRepository:
    """Implements ``DeviceModelRepository``."""

    def __init__(self) -> None:
        bind_tables()

    def get(self, scope: str, model_id: str) -> DeviceModel | None:
        with storage_errors("unexpected condition"):
            try:
                item = DeviceModelItem.get(scope, model_id)
            except DeviceModelItem.DoesNotExist:
                return None
        return DeviceModel.model_validate(item.spec)

    def list(self, scope: str) -> list[DeviceModel]:
        with storage_errors("unexpected condition"):
            return [DeviceModel.model_validate(i.spec) for i in DeviceModelItem.query(scope)]

    def create(self, scope: str, model: DeviceModel, at_ms: int) -> None:
        item = DeviceModelItem(scope, model.model_id, spec=model.model_dump(mode="json"), created_at_ms=at_ms)
        with storage_errors(f"model_id {model.model_id!r} already exists", "model_exists"):
            item.save(condition=DeviceModelItem.model_id.does_not_exist())
