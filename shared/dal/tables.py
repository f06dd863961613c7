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
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
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


# ---- alarms, commands, notifications (issue 3) ---------------------------------------------------


class AlarmTimeIndex(GlobalSecondaryIndex["AlarmItem"]):
    """A tenant's alarms by time of raising (newest first with ScanIndexForward=False)."""

    class Meta:
        index_name = "by-time"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    time_key = UnicodeAttribute(range_key=True)


class AlarmDeviceIndex(GlobalSecondaryIndex["AlarmItem"]):
    """One device's alarms by time (pk ``tenant#thing``)."""

    class Meta:
        index_name = "by-device"
        projection = AllProjection()

    device_key = UnicodeAttribute(hash_key=True)
    time_key = UnicodeAttribute(range_key=True)


class AlarmStatusIndex(GlobalSecondaryIndex["AlarmItem"]):
    """A tenant's alarms in one status by time (pk ``tenant#status``)."""

    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status_key = UnicodeAttribute(hash_key=True)
    time_key = UnicodeAttribute(range_key=True)


class AlarmItem(_Base):
    """An alarm. pk tenant, sk alarm id; ``time_key`` = ``raised_at_ms(13 digits)#alarm_id``."""

    class Meta(_Base.Meta):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    alarm_id = UnicodeAttribute(range_key=True)
    time_key = UnicodeAttribute()
    device_key = UnicodeAttribute()
    status_key = UnicodeAttribute()
    thing_name = UnicodeAttribute()
    rule_id = UnicodeAttribute()
    level = NumberAttribute()
    status = UnicodeAttribute()
    raised_at_ms = NumberAttribute()
    updated_at_ms = NumberAttribute()
    body = JSONAttribute()  # shared.contracts.alarms.Alarm
    by_time = AlarmTimeIndex()
    by_device = AlarmDeviceIndex()
    by_status = AlarmStatusIndex()


class AlarmTimelineItem(_Base):
    """One timeline entry. pk ``tenant#alarm_id``, sk ``at_ms(13)#entry_id`` (append-only)."""

    class Meta(_Base.Meta):
        pass

    alarm_key = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)
    body = JSONAttribute()  # shared.contracts.alarms.TimelineEntry


class LastSeenIndex(GlobalSecondaryIndex["AlarmStateItem"]):
    """Engine state items by last message time, in ``comm_shard`` shards (loss-of-communication sweep)."""

    class Meta:
        index_name = "by-last-seen"
        projection = KeysOnlyProjection()

    comm_shard = NumberAttribute(hash_key=True)
    last_seen_ms = NumberAttribute(range_key=True)


class AlarmStateItem(_Base):
    """Per-device alarm state. pk ``tenant#thing``; sk ``engine`` (rule-engine state, versioned)
    or ``active#<rule_id>`` (the one active alarm of a rule and device)."""

    class Meta(_Base.Meta):
        pass

    device_key = UnicodeAttribute(hash_key=True)
    item = UnicodeAttribute(range_key=True)
    version = NumberAttribute(null=True)
    state = JSONAttribute(null=True)
    alarm_id = UnicodeAttribute(null=True)
    comm_shard = NumberAttribute(null=True)
    last_seen_ms = NumberAttribute(null=True)
    updated_at_ms = NumberAttribute()
    by_last_seen = LastSeenIndex()


class AlarmRuleSetItem(_Base):
    """One immutable version of a scope's rule set. pk ``tenant#scope``, sk version."""

    class Meta(_Base.Meta):
        pass

    scope_key = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(range_key=True)
    body = JSONAttribute()  # shared.contracts.alarms.RuleSetVersion
    created_at_ms = NumberAttribute()


class CommandDeviceIndex(GlobalSecondaryIndex["CommandItem"]):
    """One device's commands by issue time (pk ``tenant#thing``)."""

    class Meta:
        index_name = "by-device"
        projection = AllProjection()

    device_key = UnicodeAttribute(hash_key=True)
    issued_key = UnicodeAttribute(range_key=True)


class OpenCommandIndex(GlobalSecondaryIndex["CommandItem"]):
    """Sparse: commands still waiting for their ack, by ack deadline (``open_shard`` set only then)."""

    class Meta:
        index_name = "open-by-deadline"
        projection = AllProjection()

    open_shard = NumberAttribute(hash_key=True)
    ack_deadline_ms = NumberAttribute(range_key=True)


class CommandItem(_Base):
    """A device command record. pk tenant, sk command id."""

    class Meta(_Base.Meta):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    command_id = UnicodeAttribute(range_key=True)
    device_key = UnicodeAttribute()
    issued_key = UnicodeAttribute()
    status = UnicodeAttribute()
    open_shard = NumberAttribute(null=True)
    ack_deadline_ms = NumberAttribute(null=True)
    updated_at_ms = NumberAttribute()
    body = JSONAttribute()  # shared.contracts.commands.CommandRecord
    by_device = CommandDeviceIndex()
    open_by_deadline = OpenCommandIndex()


class NotificationItem(_Base):
    """An in-app notification in one user's inbox. pk ``tenant#user``, sk ``created_ms(13)#id``."""

    class Meta(_Base.Meta):
        pass

    recipient_key = UnicodeAttribute(hash_key=True)
    notification_key = UnicodeAttribute(range_key=True)
    read_at_ms = NumberAttribute(null=True)
    created_at_ms = NumberAttribute()
    body = JSONAttribute()
    expires_at = NumberAttribute(null=True)  # TTL attribute, epoch seconds


class NotificationPolicyItem(_Base):
    """A tenant's notification policy (routing, chain, quiet hours). pk tenant, sk version."""

    class Meta(_Base.Meta):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(range_key=True)
    body = JSONAttribute()
    created_at_ms = NumberAttribute()


class EscalationDueIndex(GlobalSecondaryIndex["EscalationItem"]):
    """Sparse: escalations waiting, by due time in ``due_shard`` shards."""

    class Meta:
        index_name = "due"
        projection = AllProjection()

    due_shard = NumberAttribute(hash_key=True)
    due_at_ms = NumberAttribute(range_key=True)


class EscalationItem(_Base):
    """Notification escalation of one alarm. pk ``tenant#alarm_id``."""

    class Meta(_Base.Meta):
        pass

    alarm_key = UnicodeAttribute(hash_key=True)
    due_shard = NumberAttribute(null=True)
    due_at_ms = NumberAttribute(null=True)
    step = NumberAttribute()
    updated_at_ms = NumberAttribute()
    body = JSONAttribute()
    due = EscalationDueIndex()


ALL_MODELS: tuple[type[Model], ...] = (
    DeviceItem,
    DeviceModelItem,
    BatteryIdentityItem,
    LatestStateItem,
    HistoryItem,
    DedupeItem,
    AlarmItem,
    AlarmTimelineItem,
    AlarmStateItem,
    AlarmRuleSetItem,
    CommandItem,
    NotificationItem,
    NotificationPolicyItem,
    EscalationItem,
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
        AlarmItem: s.alarms_table,
        AlarmTimelineItem: s.alarm_timeline_table,
        AlarmStateItem: s.alarm_state_table,
        AlarmRuleSetItem: s.alarm_rules_table,
        CommandItem: s.commands_table,
        NotificationItem: s.notifications_table,
        NotificationPolicyItem: s.notification_policies_table,
        EscalationItem: s.escalations_table,
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
