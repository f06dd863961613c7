"""The local console server: /v1 proxied to the API as is (same origin), /config.json, and the single-page-app
fallback over console/dist — against a stand-in API server on loopback."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra.local.stack import console_server


@dataclass
class Seen:
    requests: list[dict[str, Any]] = field(default_factory=list)


def _fake_api(seen: Seen) -> ThreadingHTTPServer:
    class Api(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "host": self.headers.get("Host"),
                    "body": self.rfile.read(length) if length else b"",
                }
            )
            body = json.dumps({"error": {"code": "teapot"}}).encode()
            self.send_response(418)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Request-Id", "r-1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _answer

        def log_message(self, *_a: Any) -> None:
            return

    return ThreadingHTTPServer(("127.0.0.1", 0), Api)


@dataclass
class StubStack:
    console_dir: Path | None
    api_port: int

    def console_config(self) -> dict[str, Any]:
        return {"apiUrl": "", "mqttUrl": "ws://127.0.0.1:1/mqtt"}

    def status_page(self) -> str:
        return "<p>status</p>"


@dataclass
class Servers:
    port: int
    seen: Seen

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=app></div>")
    (dist / "assets" / "app-1a2b.js").write_text("console.log(1)")
    seen = Seen()
    api = _fake_api(seen)
    web = console_server(StubStack(dist, api.server_address[1]), dist)
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True) for s in (api, web)
    ]
    for t in threads:
        t.start()
    yield Servers(web.server_address[1], seen)
    for s in (web, api):
        s.shutdown()
        s.server_close()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
def test_v1_is_forwarded_as_is(servers: Servers, method: str) -> None:
    """ARC-6, LCM-SEC-5: every method, the query, the Authorization header and the body reach the API; its status,
    headers and body come back unchanged (same origin for the console, no CORS)."""
    body = b'{"reason":"test"}' if method in {"POST", "PUT", "PATCH"} else None
    status, headers, data = servers.request(
        method, "/v1/devices/pk-1/commands?limit=5", body, Authorization="Bearer tok.en.x"
    )
    assert status == 418 and headers["x-request-id"] == "r-1"
    assert data == (b"" if method == "HEAD" else b'{"error": {"code": "teapot"}}')
    [req] = servers.seen.requests
    assert (req["method"], req["path"], req["authorization"]) == (
        method,
        "/v1/devices/pk-1/commands?limit=5",
        "Bearer tok.en.x",
    )
    assert req["body"] == (body or b"")
    assert req["host"] != f"127.0.0.1:{servers.port}"  # the API sees its own host, not the console's


def test_spa_fallback_and_static_files(servers: Servers) -> None:
    """ARC-6, LCM-UI-1: client-side routes get index.html, real files are served, a missing asset is a 404."""
    for path in ("/", "/devices/pk-00001-abc", "/alarms?status=active"):
        status, headers, data = servers.request("GET", path)
        assert status == 200 and b"<div id=app>" in data and headers["content-type"].startswith("text/html"), path
    status, headers, data = servers.request("GET", "/assets/app-1a2b.js")
    assert status == 200 and data == b"console.log(1)"
    assert servers.request("GET", "/assets/gone-9z.js")[0] == 404
    assert servers.request("POST", "/index.html")[0] == 405
    assert servers.seen.requests == []


def test_config_json_is_never_cached(servers: Servers) -> None:
    """ARC-6: /config.json is the stack's runtime configuration, served with no-store."""
    status, headers, data = servers.request("GET", "/config.json")
    assert status == 200 and json.loads(data)["mqttUrl"] == "ws://127.0.0.1:1/mqtt"
    assert headers["cache-control"] == "no-store" and headers["content-type"] == "application/json"
