"""The local stand-in for AWS IoT Core's custom-authorizer step in front of the console's MQTT.

In AWS the browser opens ``wss://<iot endpoint>/mqtt``; IoT Core reads the MQTT CONNECT, calls
the console authorizer Lambda (``functions.console_auth.handler``) and enforces the returned
policy until ``disconnectAfterInSeconds``. Locally this gateway does the same with the same
function:

1. accept a WebSocket at ``ws://127.0.0.1:<port>/mqtt`` with the ``mqtt`` subprotocol;
2. read the client's CONNECT (MQTT 3.1.1 or 5; :mod:`infra.local.mqtt_connect`) and build the
   authorizer event IoT Core would send (password base64-encoded, client id, username, the
   upgrade request's headers and query string);
3. call the real handler; on deny answer CONNACK "not authorized" and close;
4. on allow, read the tenant back from the returned policy (which must be exactly the console
   policy, :func:`~shared.domain.auth.console_access.scope_of_policy`), put that tenant's
   console broker user in place of the browser's credentials and pipe the bytes both ways to
   mosquitto's ``console`` listener, whose ACL grants what the policy grants;
5. close the connection when ``disconnectAfterInSeconds`` has passed (token expiry).

Wiring only: the decision is the handler's, the enforcement mosquitto's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from infra.local.mqtt_connect import (
    MAX_CONNECT_BYTES,
    Connect,
    MqttProtocolError,
    connack_not_authorized,
    encode_connect,
    packet_size,
    parse_connect,
)
from shared.domain.auth.console_access import ConsoleScope, scope_of_policy

log = logging.getLogger(__name__)

PATH = "/mqtt"
SUBPROTOCOL = Subprotocol("mqtt")
#: A browser that opened the socket has this long to send its CONNECT.
CONNECT_TIMEOUT_S = 10.0
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
_READ_CHUNK = 64 * 1024

Authorizer = Callable[[dict[str, Any]], dict[str, Any]]


class BrokerCredentials(Protocol):
    def credentials(self, tenant_id: str) -> tuple[str, str]: ...


@dataclass(frozen=True)
class LocalLambdaContext:
    """What the authorizer reads from its Lambda context: its own ARN (partition, region, account)."""

    invoked_function_arn: str
    function_name: str = "voltops-local-console-auth"
    aws_request_id: str = "local"


def local_authorizer(region: str, account: str) -> Authorizer:
    """The real console authorizer handler, called as Lambda would with a local context."""
    from functions.console_auth.handler import handler

    context = LocalLambdaContext(f"arn:aws:lambda:{region}:{account}:function:voltops-local-console-auth")
    return lambda event: handler(event, context)  # type: ignore[arg-type]


def authorizer_event(connect: Connect, request: Request | None, connection_id: str) -> dict[str, Any]:
    """The event IoT Core sends the custom authorizer for an MQTT-over-WebSocket CONNECT."""
    headers = dict(request.headers.raw_items()) if request is not None else {}
    query = urlsplit(request.path).query if request is not None else ""
    mqtt: dict[str, Any] = {"clientId": connect.client_id}
    if connect.username is not None:
        mqtt["username"] = connect.username
    if connect.password is not None:
        mqtt["password"] = base64.b64encode(connect.password).decode("ascii")
    host = headers.get("Host") or headers.get("host") or ""
    return {
        "signatureVerified": False,
        "protocols": ["tls", "http", "mqtt"],
        "protocolData": {
            "tls": {"serverName": host.split(":")[0]},
            "http": {"headers": headers, "queryString": f"?{query}" if query else ""},
            "mqtt": mqtt,
        },
        "connectionMetadata": {"id": connection_id},
    }


@dataclass(frozen=True)
class Decision:
    scope: ConsoleScope | None
    disconnect_after_s: float = 0.0
    reason: str = ""


def read_decision(response: Any) -> Decision:
    """Allow only an authenticated answer whose one policy is exactly a console policy."""
    if not isinstance(response, dict) or response.get("isAuthenticated") is not True:
        return Decision(None, reason="authorizer denied")
    docs = response.get("policyDocuments")
    seconds = response.get("disconnectAfterInSeconds")
    if not isinstance(docs, list) or len(docs) != 1 or not isinstance(seconds, int | float) or seconds <= 0:
        return Decision(None, reason="authorizer answer lacks one policy or a session length")
    try:
        doc = json.loads(docs[0]) if isinstance(docs[0], str) else docs[0]
        scope = scope_of_policy(doc)
    except (ValueError, TypeError) as exc:
        return Decision(None, reason=f"policy is not a console policy: {exc}")
    return Decision(scope, disconnect_after_s=float(seconds))


class ConsoleGateway:
    """WebSocket server on 127.0.0.1 that authorizes console MQTT connections like IoT Core."""

    def __init__(
        self,
        *,
        authorize: Authorizer,
        users: BrokerCredentials,
        broker_host: str,
        broker_port: int,
        host: str = "127.0.0.1",
        port: int = 0,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self._authorize = authorize
        self._users = users
        self.broker_host, self.broker_port = broker_host, broker_port
        self.host, self.port = host, port
        self._connect_timeout_s = connect_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        #: Counters for tests and the status page.
        self.allowed = 0
        self.denied = 0
        self.expired = 0

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{PATH}"

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> ConsoleGateway:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="console-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"console gateway did not start within {START_TIMEOUT_S}s")
        if self._error is not None:
            raise RuntimeError(f"console gateway failed to start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already finished
                loop.call_soon_threadsafe(self._stopping.set)
        thread.join(STOP_TIMEOUT_S + 1)
        self._loop = self._thread = None

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    async def _serve(self) -> None:
        try:
            server: Server = await serve(
                self._session,
                self.host,
                self.port,
                subprotocols=[SUBPROTOCOL],
                process_request=self._check_path,
                compression=None,
                close_timeout=2,
                max_size=MAX_CONNECT_BYTES + 16,
            )
        except OSError as exc:  # port taken, address not available
            self._error = exc
            self._ready.set()
            return
        self.port = next(iter(server.sockets)).getsockname()[1]
        self._stopping = asyncio.Event()
        self._ready.set()
        await self._stopping.wait()
        server.close(close_connections=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), STOP_TIMEOUT_S)
        # A client that never answers the closing handshake must not keep the loop alive.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    @staticmethod
    def _check_path(connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != PATH:
            return connection.respond(404, f"MQTT over WebSocket is served at {PATH}\n")
        return None

    # -- one connection -----------------------------------------------------------------
    async def _session(self, ws: ServerConnection) -> None:
        connection_id = str(uuid.uuid4())
        try:
            first, rest = await asyncio.wait_for(self._read_connect(ws), self._connect_timeout_s)
            connect = parse_connect(first)
        except (TimeoutError, MqttProtocolError) as exc:
            log.info("console gateway %s: no valid CONNECT (%s)", connection_id, exc or "timeout")
            await ws.close(1002, "expected an MQTT CONNECT")
            return
        except ConnectionClosed:
            return

        event = authorizer_event(connect, ws.request, connection_id)
        try:
            response = await asyncio.to_thread(self._authorize, event)
        except Exception:  # the handler must not raise; if it does, IoT Core denies too
            log.exception("console gateway %s: authorizer raised", connection_id)
            response = None
        decision = read_decision(response)
        if decision.scope is None:
            with self._lock:
                self.denied += 1
            log.info("console gateway %s: refused (%s)", connection_id, decision.reason)
            with contextlib.suppress(ConnectionClosed):
                await ws.send(connack_not_authorized(connect.level))
                await ws.close(1000, "not authorized")
            return

        username, password = await asyncio.to_thread(self._users.credentials, decision.scope.tenant)
        try:
            reader, writer = await asyncio.open_connection(self.broker_host, self.broker_port)
        except OSError as exc:
            log.warning("console gateway %s: broker unreachable (%s)", connection_id, exc)
            await ws.close(1011, "broker unreachable")
            return
        with self._lock:
            self.allowed += 1
        log.info(
            "console gateway %s: tenant %s, client %s, for %.0fs",
            connection_id,
            decision.scope.tenant,
            connect.client_id,
            decision.disconnect_after_s,
        )
        writer.write(encode_connect(connect.with_credentials(username, password.encode())) + rest)
        try:
            await self._pipe(ws, reader, writer, decision.disconnect_after_s)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _read_connect(ws: ServerConnection) -> tuple[bytes, bytes]:
        """The first packet (must be complete before anything is forwarded) and what followed it."""
        buf = bytearray()
        while True:
            size = packet_size(buf)
            if size is not None and size > MAX_CONNECT_BYTES:
                raise MqttProtocolError(f"CONNECT larger than {MAX_CONNECT_BYTES} bytes")
            if size is not None and len(buf) >= size:
                return bytes(buf[:size]), bytes(buf[size:])
            message = await ws.recv()
            if isinstance(message, str):
                raise MqttProtocolError("MQTT travels in binary WebSocket frames")
            buf += message

    async def _pipe(
        self, ws: ServerConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seconds: float
    ) -> None:
        async def client_to_broker() -> None:
            async for message in ws:
                if isinstance(message, str):
                    return
                writer.write(message)
                await writer.drain()

        async def broker_to_client() -> None:
            while data := await reader.read(_READ_CHUNK):
                await ws.send(data)

        tasks = [asyncio.create_task(client_to_broker()), asyncio.create_task(broker_to_client())]
        done, pending = await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                await task
        for task in done:
            with contextlib.suppress(ConnectionClosed, OSError):
                task.result()
        if not done:  # the session outlived the token, as IoT Core's disconnectAfterInSeconds
            with self._lock:
                self.expired += 1
            reason = "authorization expired"
        else:
            reason = "connection closed"
        with contextlib.suppress(ConnectionClosed):
            await ws.close(1000, reason)


__all__ = [
    "PATH",
    "BrokerCredentials",
    "ConsoleGateway",
    "Decision",
    "LocalLambdaContext",
    "authorizer_event",
    "local_authorizer",
    "read_decision",
]
