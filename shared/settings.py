"""Typed runtime settings, read from the environment on first use (never at import time).

Lambda functions get these from CDK; the local stack sets them to point at moto and the
local broker. Tests call ``get_settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    region: str = "us-east-1"
    stage: str = "dev"
    #: Only set locally/in tests (moto server); unset in AWS.
    aws_endpoint_url: str | None = None

    devices_table: str = "voltops-devices"
    device_models_table: str = "voltops-device-models"
    battery_identities_table: str = "voltops-battery-identities"
    latest_state_table: str = "voltops-latest-state"
    history_table: str = "voltops-telemetry-history"
    dedupe_table: str = "voltops-dedupe"
    alarms_table: str = "voltops-alarms"
    alarm_timeline_table: str = "voltops-alarm-timeline"
    alarm_state_table: str = "voltops-alarm-state"
    alarm_rules_table: str = "voltops-alarm-rules"
    commands_table: str = "voltops-commands"
    notifications_table: str = "voltops-notifications"
    notification_policies_table: str = "voltops-notification-policies"
    escalations_table: str = "voltops-escalations"

    archive_bucket: str = "voltops-raw-archive"
    quarantine_bucket: str = "voltops-quarantine"
    uplink_stream: str = "voltops-uplink"
    event_bus: str = "voltops-events"

    #: Hot-window retention of telemetry history in DynamoDB; S3 keeps the raw archive.
    history_ttl_days: int = Field(default=30, ge=1)
    #: How long a dedupe key is remembered (redelivery window of Kinesis + margin).
    dedupe_ttl_hours: int = Field(default=72, ge=1)

    #: Cognito (or local moto Cognito) user pool used to verify API JWTs.
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    #: JWKS URL override (local moto server); derived from the pool in AWS.
    jwks_url: str | None = None
    jwt_issuer: str | None = None

    #: IoT: policy attached to every device certificate, thing type names per kind.
    device_policy_name: str = "voltops-device"
    iot_endpoint: str | None = None
    #: MQTT port devices connect to (8883 on AWS IoT Core; the local broker's mTLS port locally).
    mqtt_port: int = Field(default=8883, ge=1, le=65535)
    metrics_namespace: str = "VoltOps"

    #: Alarms: how long rule sets and device data stay cached in a warm function, and how often
    #: the engine state of a quiet device is checkpointed (transitions are always written at once).
    alarm_rules_cache_s: float = Field(default=30.0, ge=0)
    alarm_state_checkpoint_s: float = Field(default=60.0, ge=0)
    #: Fleet view (console): a device silent for longer than this is offline.
    fleet_offline_after_ms: int = Field(default=300_000, ge=1000)
    #: Notifications: the SES sender identity, and the voice-call provider settings (Amazon Connect).
    notification_sender: str = "alarms@voltops.example"
    voice_connect_instance_id: str | None = None
    voice_contact_flow_id: str | None = None
    voice_source_phone: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        for name in cls.model_fields:
            key = name.upper()
            if key in env:
                values[name] = env[key]
        if "region" not in values and "AWS_REGION" in env:
            values["region"] = env["AWS_REGION"]
        if "region" not in values and "AWS_DEFAULT_REGION" in env:
            values["region"] = env["AWS_DEFAULT_REGION"]
        return cls.model_validate(values)


@cache
def get_settings() -> Settings:
    return Settings.from_env()
