"""The console's live updates locally: a browser-like MQTT-over-WebSocket client → console gateway (the real
console authorizer, a real Cognito-like JWT checked against a JWKS served over HTTP) → mosquitto's console
listener (password file + ACL generated from console_access)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import paho.mqtt.client as paho
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.local.broker import ConsoleBrokerUsers, MosquittoBroker, find_mosquitto
from infra.local.ca import LocalCA
from infra.local.console_gateway import ConsoleGateway, local_authorizer
from shared.adapters.jwt_verifier import cognito_issuer
from shared.contracts import topics


def _have_mosquitto() -> bool:
    try:
        find_mosquitto()
    except RuntimeError:
        return False
    return True


pytestmark = [
    pytest.mark.skipif(not _have_mosquitto(), reason="mosquitto not installed (scripts/ensure_system_packages.sh)"),
    pytest.mark.timeout(90),
]

POOL = "us-east-1_ConsoleGw"
ISSUER = cognito_issuer("us-east-1", POOL)
CLIENT = "console-gw-client"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
FORGED = rsa.generate_private_key(public_exponent=65537, key_size=2048)
WAIT_S = 10.0
QUIET_S = 1.5


def mint(tenant: str | None, sub: str, *, key: Any = KEY, exp_in: int = 3600) -> str:
    """An ID token shaped like Cognito's, signed with the key the JWKS serves."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "iat": now - 10,
        "exp": now + exp_in,
        "cognito:username": f"user-{sub[:8]}",
        "cognito:groups": ["viewer"],
    }
    if tenant is not None:
        claims["custom:tenant_id"] = tenant
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_a: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{POOL}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


@dataclass
class Local:
    broker: MosquittoBroker
    users: ConsoleBrokerUsers
    gateway: ConsoleGateway


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, jwks_url: str) -> Iterator[Local]:
    from functions.api import wiring

    d = tmp_path_factory.mktemp("console-gw")
    with pytest.MonkeyPatch.context() as mp:
        # The authorizer builds its verifier from the settings, exactly as in Lambda.
        mp.setenv("USER_POOL_ID", POOL)
        mp.setenv("USER_POOL_CLIENT_ID", CLIENT)
        mp.setenv("JWT_ISSUER", ISSUER)
        mp.setenv("JWKS_URL", jwks_url)
        wiring.reset()
        broker = MosquittoBroker(d, LocalCA(d / "ca").ensure().files).start()
        users = ConsoleBrokerUsers(broker)
        gateway = ConsoleGateway(
            authorize=local_authorizer("us-east-1", "123456789012"),
            users=users,
            broker_host="127.0.0.1",
            broker_port=broker.console_port,
        ).start()
        try:
            yield Local(broker, users, gateway)
        finally:
            gateway.stop()
            broker.stop()
            wiring.reset()


@dataclass
class Console:
    """A paho client connecting as the browser console does (WebSocket, /mqtt, token as password)."""

    client: paho.Client
    connack: list[Any] = field(default_factory=list)
    disconnects: list[Any] = field(default_factory=list)
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, pred: Callable[[], bool], timeout: float = WAIT_S) -> bool:
        with self.cond:
            return self.cond.wait_for(pred, timeout)

    def subscribe(self, *filters: str) -> None:
        acked = threading.Event()
        self.client.on_subscribe = lambda *_a: acked.set()
        for f in filters:
            acked.clear()
            self.client.subscribe(f, 1)
            assert acked.wait(5), f


@pytest.fixture
def console(local: Local) -> Iterator[Callable[..., Console]]:
    made: list[paho.Client] = []

    def connect(
        token: str, sub: str, *, protocol: int = paho.MQTTv311, client_id: str | None = None, port: int | None = None
    ) -> Console:
        c = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"console-{sub}-{uuid.uuid4().hex[:8]}",
            transport="websockets",
            protocol=protocol,  # type: ignore[arg-type]
        )
        c.ws_set_options(path="/mqtt")
        c.username_pw_set("console", token)
        c.reconnect_delay_set(60, 120)  # one attempt per test: a refused client must not retry
        con = Console(c)

        def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            with con.cond:
                con.connack.append(reason)
                con.cond.notify_all()

        def on_disconnect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            with con.cond:
                con.disconnects.append(reason)
                con.cond.notify_all()

        def on_message(_c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
            with con.cond:
                con.messages.append((msg.topic, bytes(msg.payload)))
                con.cond.notify_all()

        c.on_connect, c.on_disconnect, c.on_message = on_connect, on_disconnect, on_message
        c.connect("127.0.0.1", port or local.gateway.port)
        c.loop_start()
        made.append(c)
        assert con.wait(lambda: bool(con.connack)), "no CONNACK"
        return con

    yield connect
    for c in made:
        c.disconnect()
        c.loop_stop()


@pytest.fixture
def platform(local: Local) -> Iterator[Callable[[str, bytes], None]]:
    """The platform's own publisher (plain listener): console pushes and device uplinks."""
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"platform-{uuid.uuid4().hex[:6]}")
    pub.connect("127.0.0.1", local.broker.plain_port)
    pub.loop_start()

    def publish(topic: str, payload: bytes) -> None:
        pub.publish(topic, payload, qos=1).wait_for_publish(5)

    yield publish
    pub.disconnect()
    pub.loop_stop()


def _sub() -> str:
    return str(uuid.uuid4())


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5], ids=["mqtt311", "mqtt5"])
def test_console_gets_its_tenant_pushes_and_device_values_only(
    console: Callable[..., Console], platform: Callable[[str, bytes], None], protocol: int
) -> None:
    """SLW-WEB-7, LCM-MON-4, SLW-MON-3, LCM-SEC-5: a console with a valid ID token receives its tenant's alarm and
    notification pushes and device telemetry/position live; another tenant's topics and device events are
    silently withheld by the broker ACL, and nothing it publishes reaches anyone."""
    tenant, other, sub = f"acme{uuid.uuid4().hex[:6]}", f"bolt{uuid.uuid4().hex[:6]}", _sub()
    con = console(mint(tenant, sub), sub, protocol=protocol)
    assert not con.connack[0].is_failure
    con.subscribe(
        topics.console_filter(tenant),
        topics.uplink_type_filter(tenant, topics.UpType.TELEMETRY),
        topics.uplink_type_filter(tenant, topics.UpType.POSITION),
        # Not granted: another tenant's streams, device events, and everything at once.
        topics.console_filter(other),
        topics.uplink_type_filter(other, topics.UpType.TELEMETRY),
        topics.device_uplink_filter(tenant, "pack-1"),
        "#",
    )
    allowed = {
        topics.console(tenant, topics.ConsoleStream.ALARMS): b'{"alarm":"thermal_runaway"}',
        topics.console(tenant, topics.ConsoleStream.NOTIFICATIONS): b'{"n":1}',
        topics.uplink(tenant, "pack-1", topics.UpType.TELEMETRY): b'{"soc":81}',
        topics.uplink(tenant, "pack-1", topics.UpType.POSITION): b'{"lat":31.2,"lon":121.5}',
    }
    withheld = {
        topics.console(other, topics.ConsoleStream.ALARMS): b"other tenant",
        topics.uplink(other, "pack-9", topics.UpType.TELEMETRY): b"other tenant",
        topics.uplink(tenant, "pack-1", topics.UpType.EVENT): b"not a console stream",
    }
    for topic, payload in {**withheld, **allowed}.items():
        platform(topic, payload)
    assert con.wait(lambda: {t for t, _ in con.messages} >= set(allowed))
    con.client.publish(topics.console(tenant, topics.ConsoleStream.ALARMS), b"forged by a console", qos=1)
    time.sleep(QUIET_S)
    assert {t: p for t, p in con.messages} == allowed


def test_new_tenant_gets_its_own_broker_user_without_dropping_others(
    local: Local, console: Callable[..., Console], platform: Callable[[str, bytes], None]
) -> None:
    """SLW-WEB-7, LCM-SEC-5: a second tenant's console connects (new broker user, files rewritten, broker
    reloaded); the first tenant's console stays connected and each sees only its own pushes."""
    a, b = f"ta{uuid.uuid4().hex[:6]}", f"tb{uuid.uuid4().hex[:6]}"
    sa, sb = _sub(), _sub()
    con_a = console(mint(a, sa), sa)
    con_a.subscribe(topics.console_filter(a), topics.console_filter(b))
    assert a in local.users.tenants and b not in local.users.tenants
    con_b = console(mint(b, sb), sb)
    assert not con_b.connack[0].is_failure and b in local.users.tenants
    con_b.subscribe(topics.console_filter(a), topics.console_filter(b))
    platform(topics.console(a, topics.ConsoleStream.ALARMS), b"for a")
    platform(topics.console(b, topics.ConsoleStream.ALARMS), b"for b")
    assert con_a.wait(lambda: len(con_a.messages) >= 1) and con_b.wait(lambda: len(con_b.messages) >= 1)
    time.sleep(QUIET_S)
    assert con_a.messages == [(topics.console(a, topics.ConsoleStream.ALARMS), b"for a")]
    assert con_b.messages == [(topics.console(b, topics.ConsoleStream.ALARMS), b"for b")]
    assert con_a.disconnects == []


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5], ids=["mqtt311", "mqtt5"])
@pytest.mark.parametrize("case", ["forged_signature", "expired", "no_tenant", "client_id_of_another_user"])
def test_bad_credentials_get_connack_not_authorized(
    local: Local, console: Callable[..., Console], case: str, protocol: int
) -> None:
    """LCM-SEC-5, SLW-WEB-7: a forged or expired token, a user without tenant, or a client id that is not
    console-<own sub>-* is answered CONNACK 'not authorized' (3.1.1 return code 5, MQTT 5 reason 0x87)."""
    sub = _sub()
    denied_before = local.gateway.denied
    token = {
        "forged_signature": lambda: mint("acme", sub, key=FORGED),
        "expired": lambda: mint("acme", sub, exp_in=-30),
        "no_tenant": lambda: mint(None, sub),
        "client_id_of_another_user": lambda: mint("acme", sub),
    }[case]()
    client_id = f"console-{_sub()}-x1" if case == "client_id_of_another_user" else None
    con = console(token, sub, protocol=protocol, client_id=client_id)
    reason = con.connack[0]
    # paho reports 3.1.1's return code 5 and MQTT 5's 0x87 alike as 'Not authorized' (the bytes: unit tests).
    assert reason.is_failure and str(reason) == "Not authorized"
    assert local.gateway.denied == denied_before + 1


def test_connection_ends_when_the_authorization_expires(
    local: Local, console: Callable[..., Console], platform: Callable[[str, bytes], None]
) -> None:
    """LCM-SEC-5: like IoT Core's disconnectAfterInSeconds, the gateway drops a console when its grant runs out
    (here the real authorizer's answer shortened to 1 s, since IoT's minimum is 300 s)."""
    real = local_authorizer("us-east-1", "123456789012")

    def short(event: dict[str, Any]) -> dict[str, Any]:
        answer = real(event)
        return {**answer, "disconnectAfterInSeconds": 1} if answer.get("isAuthenticated") else answer

    gateway = ConsoleGateway(
        authorize=short, users=local.users, broker_host="127.0.0.1", broker_port=local.broker.console_port
    ).start()
    try:
        tenant, sub = f"tx{uuid.uuid4().hex[:6]}", _sub()
        started = time.monotonic()
        con = console(mint(tenant, sub), sub, port=gateway.port)
        assert not con.connack[0].is_failure
        assert con.wait(lambda: bool(con.disconnects), timeout=8)
        assert 0.8 <= time.monotonic() - started < 6
        assert gateway.expired == 1
    finally:
        gateway.stop()


def test_gateway_only_speaks_mqtt_at_mqtt_path(local: Local) -> None:
    """LCM-SEC-5: other paths and connections without the mqtt subprotocol are refused at the handshake."""
    import urllib.error
    import urllib.request

    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as exc:
        connect(f"ws://127.0.0.1:{local.gateway.port}/other", subprotocols=["mqtt"], open_timeout=5)  # type: ignore[list-item]
    assert exc.value.response.status_code == 404
    with pytest.raises(InvalidStatus) as exc:
        connect(local.gateway.url, open_timeout=5)
    assert exc.value.response.status_code == 400
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://127.0.0.1:{local.gateway.port}/mqtt", timeout=5)
