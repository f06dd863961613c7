"""The whole platform on one machine: :class:`LocalStack` (used by ``voltops-local``, e2e tests
and the benchmarks — one stack per process).

Wiring only: moto server for the AWS services, mosquitto + the local CA for IoT Core's
broker, the local rules engine for the topic rules, a Kinesis poller for the ingest event
source mapping, the Chalice app served in-process, the console gateway for IoT Core's custom
authorizer (the console's live MQTT over WebSocket), and a console server that serves
``console/dist`` and proxies ``/v1`` to the API (same origin, as CloudFront does). The
fleet is registered through the API's own device service (``functions.api.wiring``) with the
local certificate issuer and broker hook injected, exactly as a POST /v1/devices would.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra.local.broker import BrokerError, ConsoleBrokerUsers, LocalBrokerAccess, MosquittoBroker, find_mosquitto
from infra.local.ca import LocalCA, LocalCertificateIssuer, write_private
from infra.local.console_gateway import ConsoleGateway, local_authorizer
from infra.local.moto import LOCAL_ACCOUNT, LOCAL_REGION, MotoServer, reset_cached_clients
from infra.local.pollers import KinesisPoller, PeriodicTimer, SqsPoller
from infra.local.resources import LocalResources, create_all
from infra.local.rules_engine import RulesEngine

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO_ROOT / ".local"
LOOPBACK = "127.0.0.1"
#: Built-in catalogue models the default fleet cycles through (≤ 100 cells: realistic load).
PACK_MODELS = ("lfp-16s280-ess", "nmc-96s150-ev", "lfp-100s206-bus", "nmc-13s30-swap")
CABINET_MODELS = ("sl-cab-lfp-48s", "ess-cab-215-240s")
IDLE_TIMEOUT_S = 30.0
#: The local clock of the scheduled timers function (``rate(1 minute)`` in AWS): a few seconds
#: here so escalations and ack deadlines of a demo or a test need no minute-long waits.
TIMERS_INTERVAL_S = 2.0


@dataclass(frozen=True)
class FleetDevice:
    thing_name: str
    serial_number: str
    kind: str
    model_id: str
    cell_count: int
    probe_count: int
    cert_path: Path
    key_path: Path


def _quiet_env() -> None:
    """Powertools in a long-running local process: only warnings from the loggers.

    Metrics stay enabled: with ``POWERTOOLS_METRICS_DISABLED`` powertools never clears its metric
    set on flush and prints it anyway every 100 values. ``voltops-local`` sends the functions'
    stdout (EMF metrics, JSON logs) to ``<state>/logs/functions.log``, like CloudWatch Logs."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "voltops-local")


def ensure_mosquitto() -> None:
    """Install mosquitto with the project's script when missing (root only, e.g. CI images)."""
    try:
        find_mosquitto()
        return
    except BrokerError:
        if os.geteuid() != 0:
            raise
    subprocess.run(["bash", str(REPO_ROOT / "scripts" / "ensure_system_packages.sh")], check=True)
    find_mosquitto()


#: Headers that describe one HTTP hop, never forwarded by the ``/v1`` proxy (RFC 9110 §7.6.1),
#: plus the ones the proxy sets itself.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "date",
        "server",
    }
)
API_PREFIX = "/v1"
PROXY_TIMEOUT_S = 60.0


class _StaticHandler(SimpleHTTPRequestHandler):
    """The console server: ``/v1/*`` proxied to the API (same origin, as CloudFront does in AWS),
    ``/config.json``, and ``console/dist`` with the single-page-app fallback (a status page when
    the console is not built)."""

    stack: LocalStack  # set on the subclass

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _is_api(self) -> bool:
        path = urlsplit(self.path).path
        return path == API_PREFIX or path.startswith(API_PREFIX + "/")

    def do_GET(self) -> None:
        if self._is_api():
            self._proxy()
            return
        if urlsplit(self.path).path == "/config.json":
            self._send(200, "application/json", json.dumps(self.stack.console_config()).encode())
            return
        if self.stack.console_dir is None:
            self._send(200, "text/html; charset=utf-8", self.stack.status_page().encode())
            return
        self.path = self._spa_path()
        super().do_GET()

    def do_HEAD(self) -> None:
        if self._is_api():
            self._proxy()
            return
        if self.stack.console_dir is not None:
            self.path = self._spa_path()
        super().do_HEAD()

    def _other_method(self) -> None:
        if self._is_api():
            self._proxy()
        else:
            self._send(405, "text/plain; charset=utf-8", b"the console server only serves files\n")

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _other_method

    def _spa_path(self) -> str:
        """Client-side routes (``/devices/pk-1``: no file, no extension) get ``index.html``."""
        path = urlsplit(self.path).path
        if Path(self.translate_path(path)).exists() or "." in path.rsplit("/", 1)[-1]:
            return self.path
        return "/index.html"

    def _proxy(self) -> None:
        """Forward the request as is (method, path, query, headers incl. Authorization, body) to the
        in-process API and relay its status, headers and body."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._send(411, "text/plain; charset=utf-8", b"send a Content-Length\n")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        conn = http.client.HTTPConnection(LOOPBACK, self.stack.api_port, timeout=PROXY_TIMEOUT_S)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            self._send(502, "text/plain; charset=utf-8", f"API unreachable: {exc}\n".encode())
            return
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for name, value in resp.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class _ConsoleHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser closing a tab mid-response is normal; anything else is still reported.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def console_server(stack: Any, directory: Path, port: int = 0) -> ThreadingHTTPServer:
    """The console server on 127.0.0.1 (not started). ``stack`` provides ``console_dir``,
    ``console_config()``, ``status_page()`` and ``api_port``."""
    handler = type("Handler", (_StaticHandler,), {"stack": stack})

    def factory(*args: Any, **kwargs: Any) -> _StaticHandler:
        return handler(*args, directory=str(directory), **kwargs)

    return _ConsoleHttpServer((LOOPBACK, port), factory)


class LocalStack:
    """Start/stop the local platform; attributes give every address a client needs."""

    def __init__(
        self,
        packs: int = 50,
        cabinets: int = 5,
        simulator: bool = True,
        state_dir: Path | str | None = None,
        tenant: str = "demo",
        api_port: int = 0,
        console_port: int = 0,
        register_workers: int = 8,
    ) -> None:
        self.packs = packs
        self.cabinets = cabinets
        self.simulator_enabled = simulator
        self.state_dir = Path(state_dir) if state_dir else DEFAULT_STATE_DIR
        self.tenant = tenant
        self.broker_host = LOOPBACK
        self._api_port = api_port
        self._console_port = console_port
        self._register_workers = register_workers

        self.moto: MotoServer | None = None
        self.resources: LocalResources | None = None
        self.ca: LocalCA | None = None
        self.broker: MosquittoBroker | None = None
        self.broker_access: LocalBrokerAccess | None = None
        self.console_users: ConsoleBrokerUsers | None = None
        self.console_gateway: ConsoleGateway | None = None
        self.issuer: LocalCertificateIssuer | None = None
        self.rules_engine: RulesEngine | None = None
        self.poller: KinesisPoller | None = None
        self.alarm_poller: KinesisPoller | None = None
        self.notification_poller: SqsPoller | None = None
        self.timers: PeriodicTimer | None = None
        self.publisher: Any = None
        self.fleet: dict[str, FleetDevice] = {}
        self.fleet_file = self.state_dir / "fleet.json"
        self.console_dir: Path | None = None
        self.started_in_s: float | None = None
        self._api_server: Any = None
        self._console_server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._simulator: Any = None
        self._stops: list[Callable[[], None]] = []
        self._started = False
        self._env_before: dict[str, str] | None = None
        #: Seconds per start-up step (reported by ``voltops-local -v`` and the benchmarks).
        self.timings: dict[str, float] = {}

    # -- addresses ----------------------------------------------------------------------
    @property
    def moto_endpoint(self) -> str:
        return self._require(self.moto).endpoint

    @property
    def plain_port(self) -> int:
        return self._require(self.broker).plain_port

    @property
    def tls_port(self) -> int:
        return self._require(self.broker).tls_port

    @property
    def ca_path(self) -> Path:
        return self._require(self.ca).files.ca_cert

    @property
    def api_port(self) -> int:
        return self._api_port

    @property
    def api_url(self) -> str:
        return f"http://{LOOPBACK}:{self._api_port}"

    @property
    def mqtt_url(self) -> str:
        """The console's live channel: MQTT over WebSocket through the console gateway."""
        return str(self._require(self.console_gateway).url)

    @property
    def console_url(self) -> str:
        return f"http://{LOOPBACK}:{self._console_port}"

    @property
    def login(self) -> Any:
        """The seeded operator (username, random password, tenant, groups)."""
        return self._require(self.resources).operator

    @staticmethod
    def _require(value: Any) -> Any:
        if value is None:
            raise RuntimeError("the local stack is not started")
        return value

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> LocalStack:
        if self._started:
            return self
        t0 = time.monotonic()
        self._started = True
        self._env_before = dict(os.environ)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_in_s = time.monotonic() - t0
        return self

    @contextlib.contextmanager
    def _step(self, name: str) -> Any:
        t0 = time.monotonic()
        yield
        self.timings[name] = round(time.monotonic() - t0, 3)

    def _start(self) -> None:
        with self._step("mosquitto check"):
            ensure_mosquitto()
        _quiet_env()
        self.state_dir.mkdir(parents=True, exist_ok=True)

        with self._step("moto server"):
            self.moto = MotoServer().start()
            self._stops.append(self.moto.stop)
        with self._step("resources"):
            self.resources = create_all(self.moto.endpoint)
        os.environ.update(
            USER_POOL_ID=self.resources.user_pool_id,
            USER_POOL_CLIENT_ID=self.resources.user_pool_client_id,
            JWKS_URL=self.resources.jwks_url,
            JWT_ISSUER=self.resources.jwt_issuer,
            IOT_ENDPOINT="localhost",
        )
        reset_cached_clients()

        with self._step("ca + mosquitto"):
            self.ca = LocalCA(self.state_dir).ensure()
            self.broker = MosquittoBroker(self.state_dir, self.ca.files).start()
            self._stops.append(self.broker.stop)
            self.broker_access = LocalBrokerAccess(self.broker)
            self.issuer = LocalCertificateIssuer(self.ca, self.broker_access, on_revoked=self.broker_access.refresh)

        with self._step("api wiring"):
            from functions.api import wiring
            from shared.settings import get_settings

            # Registration responses must name the local broker's mTLS port, not IoT Core's 8883.
            os.environ["MQTT_PORT"] = str(self.tls_port)
            get_settings.cache_clear()
            wiring.configure(issuer=self.issuer, broker=self.broker_access, mqtt_endpoint="localhost")
            self._stops.append(wiring.reset)
            settings = get_settings()

        with self._step("console gateway"):
            # IoT Core's custom-authorizer step for the console's live MQTT: the real authorizer
            # function decides, mosquitto's console listener enforces the same topics.
            self.console_users = ConsoleBrokerUsers(self.broker)
            self.console_gateway = ConsoleGateway(
                authorize=local_authorizer(LOCAL_REGION, LOCAL_ACCOUNT),
                users=self.console_users,
                broker_host=LOOPBACK,
                broker_port=self.broker.console_port,
            ).start()
            self._stops.append(self.console_gateway.stop)

        with self._step("rules engine"):
            self.rules_engine = RulesEngine(
                LOOPBACK,
                self.broker.plain_port,
                streams={"uplink": settings.uplink_stream},
                error_bucket=settings.quarantine_bucket,
            ).start()
            self._stops.append(self.rules_engine.stop)

        with self._step("ingest poller"):
            from functions.ingest.handler import handler as ingest_handler

            self.poller = KinesisPoller(settings.uplink_stream, ingest_handler, self.resources.ingest_dlq_url).start()
            self._stops.append(self.poller.stop)

        with self._step("alarms, commands, notifications"):
            self._start_alarms(settings)

        with self._step("api + console servers"):
            self._start_api()
            self._start_console()
        with self._step("fleet registration"):
            self.register_fleet(self.packs, self.cabinets)
        if self.simulator_enabled:
            with self._step("simulator"):
                self._start_simulator()

    def _start_alarms(self, settings: Any) -> None:
        """The alarm consumer (second mapping on the uplink stream), the notification queue's
        mapping, the timers clock, and the adapters that differ locally: MQTT publishes go to
        the local broker, notification channels record every delivery in the outbox."""
        from functions import services
        from functions.alarms.handler import handler as alarms_handler
        from functions.notifications.handler import handler as notifications_handler
        from functions.timers.handler import run_sweeps
        from infra.local.outbox import wrap_with_outbox
        from infra.local.publisher import BrokerPublisher
        from shared.adapters.channels import default_channels

        resources = self._require(self.resources)
        self.publisher = BrokerPublisher(LOOPBACK, self.plain_port)
        self._stops.append(self.publisher.close)
        services.configure(publisher=self.publisher, channels=wrap_with_outbox(default_channels(), self.outbox_dir))
        self._stops.append(services.reset)
        self.alarm_poller = KinesisPoller(
            settings.uplink_stream, alarms_handler, resources.alarms_dlq_url, function_name="alarms"
        ).start()
        self._stops.append(self.alarm_poller.stop)
        self.notification_poller = SqsPoller(
            resources.notifications_queue_url, notifications_handler, function_name="notifications"
        ).start()
        self._stops.append(self.notification_poller.stop)
        self._seed_notification_policy()
        self.timers = PeriodicTimer(
            lambda: run_sweeps(int(time.time() * 1000)), TIMERS_INTERVAL_S, name="timers"
        ).start()
        self._stops.append(self.timers.stop)

    def _seed_notification_policy(self) -> None:
        """A demo duty roster so the outbox shows every channel: the tenant inbox for every
        alarm, e-mail + SMS from level 2, a voice call at level 3, SMS/voice escalation."""
        from functions import services
        from shared.contracts.notifications import PolicyDraft

        login = self._require(self.resources).operator
        draft = PolicyDraft.model_validate(
            {
                "contacts": [
                    {
                        "contact_id": "duty",
                        "name": "Duty operator",
                        "user": login.username,
                        "email": login.username,
                        "phone": "+8613800138000",
                        "language": "zh-CN",
                    }
                ],
                "routes": [
                    {"min_level": 0, "tenant_inbox": True},
                    {"min_level": 2, "contacts": ["duty"], "channels": ["email", "sms"]},
                    {"min_level": 3, "contacts": ["duty"], "channels": ["voice"]},
                ],
                "escalation": {
                    "min_level": 1,
                    "steps": [{"after_s": 60, "contacts": ["duty"], "channels": ["sms", "voice"]}],
                    "repeat_interval_s": 300,
                    "max_repeats": 3,
                },
                "comment": "local demo roster",
            }
        )
        services.notification_service().put_policy(self._principal(), draft)

    @property
    def outbox_dir(self) -> Path:
        """Where every notification channel writes locally (one JSON line per delivery)."""
        return self.state_dir

    def stop(self) -> None:
        """Stop everything started, in reverse order; safe to call twice."""
        t0 = time.monotonic()
        if self._simulator is not None:
            with contextlib.suppress(Exception):
                self._simulator.stop()
            self._simulator = None
            log.info("stopped the simulator in %.2fs", time.monotonic() - t0)
        for server in (self._api_server, self._console_server):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.shutdown()
                    server.server_close()
        self._api_server = self._console_server = None
        log.info("stopped the HTTP servers at %.2fs", time.monotonic() - t0)
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()
        while self._stops:
            stop = self._stops.pop()
            t1 = time.monotonic()
            try:
                stop()
            except Exception:
                log.exception("local stack: stop step failed")
            log.info("stopped %s in %.2fs", getattr(stop, "__qualname__", stop), time.monotonic() - t1)
        if self._env_before is not None:
            # Leave the process as it was (tests run other suites after the e2e tests).
            for key in set(os.environ) - set(self._env_before):
                del os.environ[key]
            os.environ.update(self._env_before)
            self._env_before = None
            reset_cached_clients()
        self._started = False

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- servers ------------------------------------------------------------------------
    def _serve(self, server: Any, name: str) -> None:
        t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _start_api(self) -> None:
        from chalice.config import Config
        from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalDevServer, create_local_server

        from functions.api.app import app

        config = Config.create(chalice_stage="dev", app_name=app.app_name, chalice_app=app)

        class QuietHandler(ChaliceRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                log.debug("api: " + format, *args)

        if not isinstance(app, CustomLocalChalice):  # patches the app's class once per process
            create_local_server(app, config, LOOPBACK, 0).server.server_close()
        dev = LocalDevServer(app, config, LOOPBACK, self._api_port, handler_cls=QuietHandler)
        self._api_server = dev.server
        self._api_port = dev.server.server_address[1]
        self._serve(dev.server, "local-api")

    def _start_console(self) -> None:
        dist = REPO_ROOT / "console" / "dist"
        self.console_dir = dist if (dist / "index.html").exists() else None
        server = console_server(self, self.console_dir or self.state_dir, self._console_port)
        self._console_server = server
        self._console_port = server.server_address[1]
        self._serve(server, "local-console")

    def console_config(self) -> dict[str, Any]:
        """``/config.json``: what the console build needs at run time (CDK deploys the same keys)."""
        r = self._require(self.resources)
        return {
            "apiUrl": "",  # same origin: this server proxies /v1 to the API
            "region": LOCAL_REGION,
            "cognitoEndpoint": self.moto_endpoint,
            "userPoolId": r.user_pool_id,
            "userPoolClientId": r.user_pool_client_id,
            "tenant": self.tenant,
            "local": True,
            "mqttUrl": self.mqtt_url,
            "mqttAuthorizer": None,  # the local gateway needs no authorizer name
            "mapTiles": None,  # the console's offline base map: no internet needed locally
        }

    def status_page(self) -> str:
        rows = "".join(f"<tr><th>{k}</th><td><code>{v}</code></td></tr>" for k, v in self.addresses().items())
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>VoltOps local</title></head>"
            "<body style='font-family:sans-serif'><h1>VoltOps local stack</h1>"
            "<p>The console is not built (console/dist); these are the local endpoints.</p>"
            f"<table>{rows}</table><p>Devices registered: {len(self.fleet)}</p></body></html>"
        )

    def addresses(self) -> dict[str, str]:
        return {
            "API": f"{self.api_url}/v1",
            "Console": self.console_url,
            "Console live (MQTT/WebSocket)": self.mqtt_url,
            "MQTT mTLS (devices)": f"mqtts://localhost:{self.tls_port}  (CA {self.ca_path})",
            "MQTT plain (tests, loopback)": f"mqtt://{LOOPBACK}:{self.plain_port}",
            "moto (AWS APIs)": self.moto_endpoint,
            "Fleet file": str(self.fleet_file),
            "Notification outbox": f"{self.outbox_dir / 'outbox'}/<channel>.jsonl",
            "Inject a scenario": f'echo \'{{"thing": "<thing>", "scenario": "thermal_runaway"}}\' '
            f">> {self.state_dir / 'control.jsonl'}",
        }

    # -- devices ------------------------------------------------------------------------
    def _principal(self) -> Any:
        from shared.domain.auth import Principal, Role

        # The stack provisions as an admin of its tenant, through the same service as the API.
        return Principal(
            subject="local-stack", username="local-stack", tenant_id=self.tenant, roles=frozenset({Role.ADMIN})
        )

    def register_device(
        self, serial_number: str, model_id: str, *, csr_pem: str | None = None, battery_code: str | None = None
    ) -> Any:
        """Register one device (the API's device service); keys/certs go to ``<state>/fleet``."""
        from functions.api import wiring
        from shared.domain.devices.records import RegisterDevice

        service = wiring.device_service()
        reg = service.register(
            self._principal(),
            RegisterDevice(serial_number=serial_number, model_id=model_id, csr_pem=csr_pem, battery_code=battery_code),
        )
        thing = reg.device.thing_name
        folder = self.state_dir / "fleet"
        folder.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = folder / f"{thing}.pem", folder / f"{thing}.key"
        cert_path.write_text(reg.certificate_pem)
        if reg.private_key_pem:
            write_private(key_path, reg.private_key_pem.encode())
        model = wiring.model_registry().resolve(self.tenant, model_id)
        assert model is not None
        self.fleet[thing] = FleetDevice(
            thing_name=thing,
            serial_number=serial_number,
            kind=reg.device.kind.value,
            model_id=model_id,
            cell_count=model.model.cell_count,
            probe_count=model.model.probe_count,
            cert_path=cert_path,
            key_path=key_path,
        )
        return reg

    def revoke_device(self, thing_name: str, reason: str = "local") -> Any:
        from functions.api import wiring
        from shared.domain.devices.records import RevokeDevice

        return wiring.device_service().revoke(self._principal(), thing_name, RevokeDevice(reason=reason))

    def register_fleet(self, packs: int, cabinets: int) -> list[str]:
        """Register the default fleet in parallel, with one broker reload at the end."""
        specs = [(f"PK-{i:05d}", PACK_MODELS[i % len(PACK_MODELS)]) for i in range(1, packs + 1)]
        specs += [(f"CAB-{i:04d}", CABINET_MODELS[i % len(CABINET_MODELS)]) for i in range(1, cabinets + 1)]
        access = self._require(self.broker_access)
        from functions.api import wiring

        wiring.model_registry()  # seed the catalogue once, before the parallel registrations
        with access.deferred(), ThreadPoolExecutor(self._register_workers) as pool:
            regs = list(pool.map(lambda spec: self.register_device(*spec), specs))
        self.write_fleet_file()
        return [r.device.thing_name for r in regs]

    def registered_things(self) -> list[str]:
        return sorted(self.fleet, key=lambda t: self.fleet[t].serial_number)

    def cell_count(self, thing_name: str) -> int:
        return self.fleet[thing_name].cell_count

    def probe_count(self, thing_name: str) -> int:
        return self.fleet[thing_name].probe_count

    def write_fleet_file(self) -> Path:
        """The simulator's fleet file (``device_sdk.simulate.fleet``: a JSON list of entries)."""
        from functions.api import wiring

        registry = wiring.model_registry()
        rows = []
        for thing in self.registered_things():
            d = self.fleet[thing]
            scoped = registry.resolve(self.tenant, d.model_id)
            assert scoped is not None
            rows.append(
                {
                    "tenant_id": self.tenant,
                    "thing_name": d.thing_name,
                    "kind": d.kind,
                    "model": scoped.model.model_dump(mode="json"),
                    "cert_path": str(d.cert_path),
                    "key_path": str(d.key_path),
                    "has_gnss": scoped.model.has_gnss,
                    "seed": int(d.serial_number.split("-")[-1]),
                }
            )
        tmp = self.fleet_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=1))
        tmp.replace(self.fleet_file)
        return self.fleet_file

    def simulate_command(self) -> str:
        """The equivalent ``voltops-simulate`` command line for this stack's fleet."""
        return (
            f"voltops-simulate {self.fleet_file} --endpoint localhost --port {self.tls_port} "
            f"--ca {self.ca_path} --buffer-dir {self.state_dir / 'sim-buffers'}"
        )

    # -- simulator ----------------------------------------------------------------------
    def _start_simulator(self) -> None:
        try:
            from device_sdk.simulate.fleet import Fleet
        except ImportError as exc:
            log.warning("fleet simulator not available (%s); the stack runs without it", exc)
            return
        from device_sdk.simulate.fleet import FleetSettings, load_fleet_file

        if not self.fleet:
            return
        buffers = self.state_dir / "buffers"
        shutil.rmtree(buffers, ignore_errors=True)  # outboxes of a previous run's devices
        control = self.state_dir / "control.jsonl"
        control.write_text("")  # a previous run's injections must not replay
        settings = FleetSettings(
            endpoint="localhost",  # the server certificate's SAN, as a device would use
            port=self.tls_port,
            ca_path=str(self.ca_path),
            buffer_dir=str(buffers),
            min_reconnect_delay_ms=200,
            max_reconnect_delay_ms=5_000,
            control_file=str(control),
        )
        self._simulator = Fleet(load_fleet_file(self.fleet_file), settings).start(wait_connected_s=10)

    @property
    def simulator_running(self) -> bool:
        return self._simulator is not None

    def inject(self, thing_name: str, scenario: str | dict[str, Any]) -> None:
        """Switch on a fault scenario in one simulated device (``device_sdk.simulate.scenarios``)."""
        if self._simulator is None:
            raise RuntimeError("the simulator is not running (start the stack with simulator=True)")
        self._simulator.inject(thing_name, scenario)

    # -- waiting ------------------------------------------------------------------------
    def wait_idle(self, timeout: float = IDLE_TIMEOUT_S) -> bool:
        """True once the rules engine and the poller have nothing left in flight."""
        engine, poller = self._require(self.rules_engine), self._require(self.poller)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = engine.stats
            if s.received == s.actions_ok + s.error_actions + s.lost and poller.idle:
                time.sleep(0.1)  # one more poll round for records put just before
                if poller.idle:
                    return True
            time.sleep(0.05)
        return False
