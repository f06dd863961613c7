"""moto server for the local stack: every boto3/pynamodb client is pointed at it by env vars.

moto is pinned in the lock file (5.2.5): the local stack relies on its server mode, its IoT
certificate registry, Kinesis, Cognito (with its JWKS endpoint) and S3/SQS/DynamoDB.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
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


def _die_with_parent() -> None:
    """Linux: the moto server gets SIGTERM if the stack's process dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    """moto's server in a child process on 127.0.0.1 and a free port.

    A child process rather than ``ThreadedMotoServer``: moto is pure Python, and sharing one
    interpreter (one GIL) with the rules engine, the pollers, the handlers and the simulator
    made the whole pipeline CPU-bound on moto. Nothing of the stack reads moto's in-process
    backends; everything goes through the AWS APIs, exactly as against AWS.
    """

    host: str = "127.0.0.1"
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _saved_env: dict[str, str | None] = field(default_factory=dict, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> MotoServer:
        if not self.port:
            self.port = _free_port(self.host)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from moto.server import main; main()", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # werkzeug logs every request
            preexec_fn=_die_with_parent,
            # Own process group: Ctrl-C reaches the stack only, which stops moto last.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto server exited at start-up with code {self._proc.returncode}")
            try:
                # An empty reset doubles as the readiness probe.
                req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310
                urllib.request.urlopen(req, timeout=2).close()  # noqa: S310 - loopback only
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto server not ready on {self.endpoint} after {timeout_s} s") from None
                time.sleep(0.05)
        self._apply_env()
        return self

    def _apply_env(self) -> None:
        for key, value in aws_env(self.endpoint).items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        reset_cached_clients()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        reset_cached_clients()
