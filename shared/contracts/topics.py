"""The one MQTT topic scheme of VoltOps (versioned; tenant and thing in the topic).

Used by the device SDK, the CDK topic rules, the IoT policy, the local rules engine and the
local broker's ACL. Nothing else may build or parse a topic string.

    voltops/v1/{tenant}/{thing}/up/{message_type}     device -> platform (QoS 1)
    voltops/v1/{tenant}/{thing}/down/{message_type}   platform -> device (QoS 1)
    voltops/console/v1/{tenant}/{stream}              platform -> the tenant's consoles (live updates)

Levels (1-based, as IoT SQL's ``topic(n)`` counts them): 1 ``voltops``, 2 version,
3 tenant, 4 thing, 5 direction, 6 message type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

ROOT = "voltops"
VERSION = "v1"
#: Identifier rule for tenant and thing ids: safe in a topic, a DynamoDB key and an S3 key.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_ID = re.compile(rf"^{ID_PATTERN}$")

#: Hard limits of AWS IoT Core, enforced by the SDK and by ingest.
MAX_MESSAGE_BYTES = 128 * 1024
MAX_PUBLISHES_PER_SECOND = 100
QOS = 1


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


class UpType(StrEnum):
    """Message types a device publishes."""

    TELEMETRY = "telemetry"
    POSITION = "position"
    EVENT = "event"
    ACK = "ack"


class DownType(StrEnum):
    """Message types the platform publishes to a device."""

    COMMAND = "cmd"


class TopicError(ValueError):
    """A topic that does not follow the scheme."""


def check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise TopicError(f"{what} {value!r} must match {ID_PATTERN}")
    return value


def uplink(tenant: str, thing: str, message_type: UpType) -> str:
    return f"{ROOT}/{VERSION}/{check_id(tenant, 'tenant')}/{check_id(thing, 'thing')}/up/{message_type.value}"


def downlink(tenant: str, thing: str, message_type: DownType = DownType.COMMAND) -> str:
    return f"{ROOT}/{VERSION}/{check_id(tenant, 'tenant')}/{check_id(thing, 'thing')}/down/{message_type.value}"


#: Filter matching every uplink message of every device (the ingest rule's FROM clause).
UPLINK_FILTER = f"{ROOT}/{VERSION}/+/+/{Direction.UP.value}/+"


class ConsoleStream(StrEnum):
    """Live-update streams the platform pushes to a tenant's consoles (never to devices)."""

    ALARMS = "alarms"
    NOTIFICATIONS = "notifications"
    COMMANDS = "commands"


CONSOLE_ROOT = f"{ROOT}/console/{VERSION}"


def console(tenant: str, stream: ConsoleStream) -> str:
    """Topic of one tenant's console stream; a console may only subscribe to its own tenant's."""
    return f"{CONSOLE_ROOT}/{check_id(tenant, 'tenant')}/{stream.value}"


def console_filter(tenant: str) -> str:
    return f"{CONSOLE_ROOT}/{check_id(tenant, 'tenant')}/#"


def uplink_type_filter(tenant: str, message_type: UpType) -> str:
    """Every device's uplink of one type in a tenant: ``voltops/v1/{tenant}/+/up/{type}``."""
    return f"{ROOT}/{VERSION}/{check_id(tenant, 'tenant')}/+/{Direction.UP.value}/{message_type.value}"


def device_uplink_filter(tenant: str, thing: str) -> str:
    return f"{ROOT}/{VERSION}/{check_id(tenant, 'tenant')}/{check_id(thing, 'thing')}/up/#"


def device_downlink_filter(tenant: str, thing: str) -> str:
    return f"{ROOT}/{VERSION}/{check_id(tenant, 'tenant')}/{check_id(thing, 'thing')}/down/#"


@dataclass(frozen=True)
class ParsedTopic:
    tenant: str
    thing: str
    direction: Direction
    message_type: str

    @property
    def up_type(self) -> UpType:
        if self.direction is not Direction.UP:
            raise TopicError("not an uplink topic")
        try:
            return UpType(self.message_type)
        except ValueError as exc:
            raise TopicError(f"unknown uplink message type {self.message_type!r}") from exc


def parse(topic: str) -> ParsedTopic:
    """Parse a topic of the scheme; raise TopicError with the precise reason otherwise."""
    parts = topic.split("/")
    if len(parts) != 6:
        raise TopicError(f"topic {topic!r} must have 6 levels, has {len(parts)}")
    root, version, tenant, thing, direction, message_type = parts
    if root != ROOT:
        raise TopicError(f"topic {topic!r} must start with {ROOT}/")
    if version != VERSION:
        raise TopicError(f"unsupported topic version {version!r}; this platform speaks {VERSION}")
    check_id(tenant, "tenant")
    check_id(thing, "thing")
    try:
        dir_ = Direction(direction)
    except ValueError as exc:
        raise TopicError(f"direction must be up or down, got {direction!r}") from exc
    return ParsedTopic(tenant=tenant, thing=thing, direction=dir_, message_type=message_type)


def iot_policy_resources(partition_arn_prefix: str) -> dict[str, list[str]]:
    """Topic ARNs for the device IoT policy, written with IoT policy variables.

    ``partition_arn_prefix`` is ``arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}``.
    The thing may publish only to its own uplink topics and subscribe only to its own downlink.
    """
    tenant = "${iot:Connection.Thing.Attributes[tenant]}"
    thing = "${iot:Connection.Thing.ThingName}"
    return {
        "publish": [f"{partition_arn_prefix}:topic/{ROOT}/{VERSION}/{tenant}/{thing}/up/*"],
        "subscribe": [f"{partition_arn_prefix}:topicfilter/{ROOT}/{VERSION}/{tenant}/{thing}/down/*"],
        "receive": [f"{partition_arn_prefix}:topic/{ROOT}/{VERSION}/{tenant}/{thing}/down/*"],
        "connect": [f"{partition_arn_prefix}:client/{thing}"],
    }


def device_policy_document(partition_arn_prefix: str) -> dict[str, object]:
    """The IoT policy every device certificate gets: its own client id and topics only.

    Policy variables make one policy document serve every thing (no per-thing policy quota);
    the thing's ``tenant`` attribute is set at registration and only the platform can change it.
    """
    res = iot_policy_resources(partition_arn_prefix)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": res["connect"],
                "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
            },
            {"Effect": "Allow", "Action": "iot:Publish", "Resource": res["publish"]},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": res["subscribe"]},
            {"Effect": "Allow", "Action": "iot:Receive", "Resource": res["receive"]},
        ],
    }
