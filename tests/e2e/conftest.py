"""End-to-end fixtures: ONE local stack per test run (moto server, mosquitto with mTLS, the
rules engine, the ingest poller, the Chalice API) shared by every e2e test.

With ``pytest -n 2 --dist loadgroup`` every e2e test carries ``xdist_group("e2e")``, so a
single worker runs them all and only that worker starts the stack.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from tests.e2e.helpers import PACK_MODEL, Api, Device, Publisher

_serials = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Belt and braces: every test under tests/e2e is e2e and in the one xdist group.
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.xdist_group("e2e"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from infra.local.stack import LocalStack

    # Own state dir: never disturbs a developer's running `make run` (.local/).
    local = LocalStack(packs=2, cabinets=1, simulator=False, state_dir=tmp_path_factory.mktemp("local"))
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def api(stack: Any) -> Api:
    """Log in through (moto) Cognito with the seeded operator: a real, signed ID token."""
    idp = boto3.client("cognito-idp", endpoint_url=stack.moto_endpoint, region_name="us-east-1")
    auth = idp.initiate_auth(
        ClientId=stack.resources.user_pool_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": stack.login.username, "PASSWORD": stack.login.password},
    )["AuthenticationResult"]
    return Api(base=stack.api_url, token=auth["IdToken"])


@pytest.fixture
def new_device(stack: Any) -> Callable[..., Device]:
    """Register a fresh device through the API's device service (its own topics, its own cert)."""

    def make(model_id: str = PACK_MODEL) -> Device:
        reg = stack.register_device(f"E2E-{next(_serials):04d}-{uuid.uuid4().hex[:6]}", model_id)
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
