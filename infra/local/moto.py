"""moto server for the local stack: every boto3/pynamodb client is pointed at it by env vars.

moto is pinned in the lock file (5.2.5): the local stack relies on its server mode, its IoT
certificate registry, Kinesis, Cognito (with its JWKS endpoint) and S3/SQS/DynamoDB.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

#: Dummy credentials: moto accepts anything, and real ones must never be picked up locally.
LOCAL_ACCESS_KEY = "test"
LOCAL_SECRET_KEY = "test"  # noqa: S105
LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT = "123456789012"


def aws_env(endpoint: str) -> dict[str, str]:
    """The environment every client of the local stack needs."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_REGION": LOCAL_REGION,
        # botocore >= 1.37 routes DynamoDB Streams to an account-specific host moto does not serve.
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        # No instance metadata probes on a developer machine.
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def reset_cached_clients() -> None:
    """Drop every ``functools.cache`` factory of the platform code (settings, table bindings,
    clients, wired services): they capture settings on first use, and the endpoint changed."""
    import sys

    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(("shared.", "functions.")):
            continue
        for value in list(vars(module).values()):
            if callable(value) and hasattr(value, "cache_clear") and getattr(value, "__module__", None) == name:
                value.cache_clear()


@dataclass
class MotoServer:
    """A ``ThreadedMotoServer`` on 127.0.0.1 and a free port."""

    host: str = "127.0.0.1"
    port: int = 0
    _server: object | None = field(default=None, repr=False)
    _saved_env: dict[str, str | None] = field(default_factory=dict, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        # verbose=False does not silence werkzeug's per-request log lines.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        # ThreadedMotoServer keeps the bound werkzeug server privately; port 0 = a free port.
        self.port = server._server.server_port  # type: ignore[attr-defined]
        self._server = server
        self._apply_env()
        return self

    def _apply_env(self) -> None:
        for key, value in aws_env(self.endpoint).items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        reset_cached_clients()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        reset_cached_clients()
