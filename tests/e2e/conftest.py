"""End-to-end fixtures: ONE local stack per test run (moto server, mosquitto with mTLS, the
rules engine, the ingest poller, the Chalice API) shared by every e2e test.

With ``pytest -n 2 --dist loadgroup`` every e2e test carries ``xdist_group("e2e")``, so a
single worker runs them all and only that worker starts the stack. The stack is stopped right
after the last e2e test of a run of consecutive e2e tests (not at session end): it points the
process's AWS clients at its moto server, which other suites (``mock_aws``) must not see.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.browser import console_session
from tests.e2e.console_support import browser  # noqa: F401 - the browser tests' fixture
from tests.e2e.helpers import PACK_MODEL, Api, Device, Publisher

_serials = itertools.count(1)


def _is_e2e(item: pytest.Item | None) -> bool:
    return item is not None and "tests/e2e/" in str(item.path).replace("\\", "/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Belt and braces: every test under tests/e2e is e2e and in the one xdist group.
    for item in items:
        if _is_e2e(item):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.xdist_group("e2e"))


class _Shared:
    """The run's one stack (started on first use) and the operator's token."""

    stack: Any = None
    token: str | None = None

    @classmethod
    def get(cls, state_dir: Path) -> Any:
        if cls.stack is None:
            from infra.local.stack import LocalStack

            # Own state dir: never disturbs a developer's running `make run` (.local/).
            local = LocalStack(packs=2, cabinets=1, simulator=False, state_dir=state_dir)
            local.start()
            cls.stack = local
        return cls.stack

    @classmethod
    def stop(cls) -> None:
        if cls.stack is not None:
            cls.stack.stop()
        cls.stack = None
        cls.token = None


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _Shared.stack is not None and _is_e2e(item) and not _is_e2e(nextitem):
        _Shared.stop()


def pytest_sessionfinish() -> None:
    _Shared.stop()


@pytest.fixture
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return _Shared.get(tmp_path_factory.mktemp("local") if _Shared.stack is None else Path())


@pytest.fixture
def api(stack: Any) -> Api:
    """Log in through (moto) Cognito with the seeded operator: a real, signed ID token."""
    if _Shared.token is None:
        _Shared.token = console_session(stack)["idToken"]
    return Api(base=stack.api_url, token=_Shared.token)


@pytest.fixture
def new_device(stack: Any) -> Callable[..., Device]:
    """Register a fresh device through the API's device service (its own topics, its own cert)."""

    def make(model_id: str = PACK_MODEL) -> Device:
        reg = stack.register_device(f"E2E-{next(_serials):04d}-{uuid.uuid4().hex[:6]}", model_id)
        # The registration response tells the device where to connect: the local mTLS listener.
        assert (reg.mqtt.endpoint, reg.mqtt.port) == ("localhost", stack.tls_port)
        d = stack.fleet[reg.device.thing_name]
        return Device(reg.device.thing_name, stack.tenant, d.cert_path, d.key_path)

    return make


@pytest.fixture
def publisher(stack: Any) -> Iterator[Publisher]:
    p = Publisher(stack.broker_host, stack.plain_port)
    try:
        yield p
    finally:
        p.close()
