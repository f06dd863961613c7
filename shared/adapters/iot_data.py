"""AWS IoT data plane: the platform's MQTT publishes (commands to devices, console updates).

``IotDataPublisher`` implements :class:`shared.domain.messaging.MqttPublisher` with the
``iot-data`` client on the account's ``iot:Data-ATS`` endpoint (``settings.iot_endpoint`` when
set, else ``describe_endpoint``, cached by :func:`shared.adapters.iot.data_endpoint`). Against a
moto server (``AWS_ENDPOINT_URL``) that URL is used instead. Clients come from cached factories,
never built at import; tests reset them with :func:`reset_clients`. The local stack injects a
publisher on its broker instead (``infra/local/publisher.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters import iot
from shared.contracts.topics import MAX_MESSAGE_BYTES
from shared.domain.errors import Invalid, Unavailable
from shared.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_iot_data import IoTDataPlaneClient


@cache
def iot_data_client() -> IoTDataPlaneClient:
    s = get_settings()
    endpoint = s.aws_endpoint_url or f"https://{iot.data_endpoint()}"
    return boto3.client("iot-data", region_name=s.region, endpoint_url=endpoint)


def reset_clients() -> None:
    """Forget the data-plane client and the endpoint it was built for."""
    iot_data_client.cache_clear()
    iot.reset_clients()


class IotDataPublisher:
    """``MqttPublisher`` over the IoT data plane (HTTPS ``Publish``): QoS 0 or 1, no retain."""

    def __init__(self, client: Callable[[], IoTDataPlaneClient] = iot_data_client) -> None:
        self._client = client

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish once; ``Unavailable`` if AWS IoT did not take it (the caller retries)."""
        if qos not in (0, 1):
            raise Invalid(f"AWS IoT supports QoS 0 and 1, not {qos}", code="invalid_qos")
        if len(payload) > MAX_MESSAGE_BYTES:
            raise Invalid(f"payload is {len(payload)} bytes; AWS IoT takes at most {MAX_MESSAGE_BYTES}")
        try:
            self._client().publish(topic=topic, qos=qos, payload=payload)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "")) or "unknown"
            raise Unavailable(f"AWS IoT did not accept the publish to {topic} ({code})", code="publish_failed") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"AWS IoT is unreachable ({type(exc).__name__})", code="publish_failed") from exc
