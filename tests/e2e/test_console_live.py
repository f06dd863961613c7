"""The console's hosting and live channel on the local stack: same-origin /v1 proxy, /config.json, and MQTT over
WebSocket through the console gateway with the seeded operator's real (moto) Cognito ID token."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import jwt
import paho.mqtt.client as mqtt

from shared.contracts import topics
from tests.e2e.helpers import Api, Publisher, pack_telemetry, wait_until

CONFIG_KEYS = {
    "apiUrl",
    "region",
    "cognitoEndpoint",
    "userPoolId",
    "userPoolClientId",
    "tenant",
    "local",
    "mqttUrl",
    "mqttAuthorizer",
    "mapTiles",
}


def test_config_json_describes_the_local_runtime(stack: Any) -> None:
    """ARC-6, ARC-7, SLW-WEB-7: /config.json gives the console a same-origin API, moto's Cognito, the gateway's
    WebSocket URL, no authorizer name and the offline base map."""
    status, cfg = Api(stack.console_url, None).call("GET", "/config.json")
    assert status == 200 and set(cfg) == CONFIG_KEYS
    assert cfg["apiUrl"] == "" and cfg["local"] is True and cfg["tenant"] == stack.tenant
    assert cfg["cognitoEndpoint"] == stack.moto_endpoint
    assert cfg["userPoolClientId"] == stack.resources.user_pool_client_id
    assert cfg["mqttUrl"] == stack.mqtt_url and cfg["mqttUrl"].startswith("ws://127.0.0.1:")
    assert cfg["mqttUrl"].endswith("/mqtt")
    assert cfg["mqttAuthorizer"] is None and cfg["mapTiles"] is None


def test_v1_is_proxied_to_the_api_with_status_headers_and_bodies(stack: Any, api: Api) -> None:
    """ARC-6, LCM-SEC-5: the console server forwards /v1 (any method, Authorization, body) and relays the API's
    status codes, so the console needs no CORS locally either."""
    cases = [
        ("GET", "/v1/devices?limit=1", api.token, None),
        ("GET", "/v1/devices", None, None),  # no token: the API's 401, not a page
        ("POST", "/v1/devices", api.token, {"serial_number": ""}),  # invalid body: the API's 4xx and error body
        ("GET", "/v1/devices/no-such-thing", api.token, None),
    ]
    statuses = []
    for method, path, token, body in cases:
        proxied = Api(stack.console_url, token).call(method, path, body)
        assert proxied == Api(stack.api_url, token).call(method, path, body), path
        statuses.append(proxied[0])
    assert statuses[0] == 200 and statuses[1] == 401 and 400 <= statuses[2] < 500 and statuses[3] == 404


def test_console_live_channel_with_a_real_cognito_token(stack: Any, api: Api, publisher: Publisher) -> None:
    """SLW-WEB-7, LCM-MON-4, LCM-SEC-5: the browser's recipe (WebSocket /mqtt, ID token as password, client id
    console-<sub>-<random>) connects through the gateway; the console sees its tenant's device values and
    console pushes, not another tenant's."""
    sub = jwt.decode(api.token, options={"verify_signature": False})["sub"]
    received: list[str] = []
    connected = threading.Event()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"console-{sub}-{uuid.uuid4().hex[:8]}", transport="websockets"
    )
    client.ws_set_options(path="/mqtt")
    client.username_pw_set("console", api.token)
    client.on_connect = lambda c, *_a: (
        c.subscribe(
            [
                (topics.console_filter(stack.tenant), 1),
                (topics.uplink_type_filter(stack.tenant, topics.UpType.TELEMETRY), 1),
                (topics.console_filter("othertenant"), 1),
            ]
        ),
        connected.set(),
    )
    client.on_subscribe = lambda *_a: None
    client.on_message = lambda _c, _u, msg: received.append(msg.topic)
    client.connect("127.0.0.1", int(stack.mqtt_url.rsplit(":", 1)[1].split("/")[0]))
    client.loop_start()
    try:
        assert connected.wait(10)
        mine = topics.uplink(stack.tenant, "pk-live-1", topics.UpType.TELEMETRY)
        push = topics.console(stack.tenant, topics.ConsoleStream.NOTIFICATIONS)
        foreign = topics.console("othertenant", topics.ConsoleStream.ALARMS)

        def delivered() -> bool:
            for topic, body in ((foreign, {"x": 1}), (mine, pack_telemetry(1)), (push, {"n": 1})):
                publisher.publish(topic, body)
            return mine in received and push in received

        wait_until(delivered, timeout=10, interval=0.3)
        assert foreign not in received
    finally:
        client.disconnect()
        client.loop_stop()
