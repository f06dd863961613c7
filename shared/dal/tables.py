"""pynamodb table models — the storage schema of the telemetry backbone.

Every key starts with the tenant (tenant isolation on every query). Table names and the
endpoint are bound on first use from :func:`shared.settings.get_settings` (never at import):
call :func:`bind_tables` (cached) before using a model; the DAL modules do.

The CDK storage construct (``infra/constructs/storage.py``) declares the same keys; an
infrastructure test compares the two.
"""

from __future__ import annotations

from functools import cache

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from shared.settings import get_settings


class _Base(Model):
    class Meta:
        table_name = "unbound"
        region = "us-east-1"
        host: str | None = None


class ThingIndex(GlobalSecondaryIndex["DeviceItem"]):
    """Look a device up by thing name alone (ingest: the topic names the thing)."""

    class Meta:
        index_name = "by-thing"
        projection = AllProjection()

    thing_name = UnicodeAttribute(hash_key=True)


class DeviceItem(_Base):
    """A registered device. pk tenant, sk thing name."""

    class Meta(_Base.Meta):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    thing_name = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    model_id = UnicodeAttribute()
    serial_number = UnicodeAttribute()
    battery_code = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    certificate_id = UnicodeAttribute(null=True)
    certificate_arn = UnicodeAttribute(null=True)
    firmware_version = UnicodeAttribute(null=True)
    labels = UnicodeSetAttribute(null=True)
    created_at_ms = NumberAttribute()
    updated_at_ms = NumberAttribute()
    revoked_at_ms = NumberAttribute(null=True)
    status_reason = UnicodeAttribute(null=True)
    by_thing = ThingIndex()


class DeviceModelItem(_Base):
    """A device model. pk tenant (``_platform`` for the built-in catalogue), sk model id."""

    class Meta(_Base.Meta):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    model_id = UnicodeAttribute(range_key=True)
    spec = JSONAttribute()  # shared.contracts.devices.DeviceModel as JSON
    created_at_ms = NumberAttribute()


class BatteryIdentityItem(_Base):
    """Ownership period of a battery's global identity. pk battery code, sk period start."""

    class Meta(_Base.Meta):
        pass

    battery_code = UnicodeAttribute(hash_key=True)
    owned_from_ms = NumberAttribute(range_key=True)
    tenant_id = UnicodeAttribute()
    thing_name = UnicodeAttribute()
    owned_until_ms = NumberAttribute(null=True)


class LatestStateItem(_Base):
    """Latest state per device and message type. pk tenant, sk ``thing#message_type``."""

    class Meta(_Base.Meta):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    state_key = UnicodeAttribute(range_key=True)
    thing_name = UnicodeAttribute()
    message_type = UnicodeAttribute()
    device_ts_ms = NumberAttribute()
    arrival_ms = NumberAttribute()
    boot_id = UnicodeAttribute()
    seq = NumberAttribute()
    body = JSONAttribute()
    derived = JSONAttribute(null=True)


class HistoryItem(_Base):
    """One sample in the hot window. pk ``tenant#thing#type``, sk ``device_ts_ms#boot#seq``."""

    class Meta(_Base.Meta):
        pass

    series = UnicodeAttribute(hash_key=True)
    sample_key = UnicodeAttribute(range_key=True)
    device_ts_ms = NumberAttribute()
    arrival_ms = NumberAttribute()
    body = JSONAttribute()
    derived = JSONAttribute(null=True)
    expires_at = NumberAttribute()  # TTL attribute, epoch seconds


class DedupeItem(_Base):
    """A processed message id (``tenant#thing#boot#seq``), remembered for the redelivery window."""

    class Meta(_Base.Meta):
        pass

    message_key = UnicodeAttribute(hash_key=True)
    processed_at_ms = NumberAttribute()
    expires_at = NumberAttribute()  # TTL attribute, epoch seconds


ALL_MODELS: tuple[type[Model], ...] = (
    DeviceItem,
    DeviceModelItem,
    BatteryIdentityItem,
    LatestStateItem,
    HistoryItem,
    DedupeItem,
)

TTL_ATTRIBUTE = "expires_at"


@cache
def bind_tables() -> None:
    """Point every model at its table and endpoint from the settings (first use only)."""
    s = get_settings()
    names = {
        DeviceItem: s.devices_table,
        DeviceModelItem: s.device_models_table,
        BatteryIdentityItem: s.battery_identities_table,
        LatestStateItem: s.latest_state_table,
        HistoryItem: s.history_table,
        DedupeItem: s.dedupe_table,
    }
    for model, name in names.items():
        model.Meta.table_name = name
        model.Meta.region = s.region
        model.Meta.host = s.aws_endpoint_url  # None in AWS
        # pynamodb caches a connection per model; drop it so the new binding is used.
        model._connection = None


def create_all_tables() -> None:
    """Create every table (local stack and tests only; CDK owns the tables in AWS)."""
    bind_tables()
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
