"""In-memory fakes of the device domain's ports (unit tests: no AWS, no moto)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from shared.contracts.devices import BatteryIdentity, DeviceModel
from shared.domain.auth import Principal, Role
from shared.domain.devices.ports import IssuedCertificate
from shared.domain.devices.records import Device, DeviceFilter, Page
from shared.domain.devices.service import DeviceModelRegistry, DeviceService
from shared.domain.errors import Conflict


class FakeDevices:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Device] = {}
        self.fail_create: Exception | None = None

    def get(self, tenant_id: str, thing_name: str) -> Device | None:
        return self.items.get((tenant_id, thing_name))

    def create(self, device: Device) -> None:
        if self.fail_create is not None:
            raise self.fail_create
        key = (device.tenant_id, device.thing_name)
        if key in self.items:
            raise Conflict("exists", code="device_exists")
        self.items[key] = device

    def replace(self, device: Device, *, expected_status: str) -> None:
        key = (device.tenant_id, device.thing_name)
        if self.items[key].status.value != expected_status:
            raise Conflict("changed", code="device_changed")
        self.items[key] = device

    def query(self, tenant_id: str, flt: DeviceFilter, limit: int, after: str | None) -> Page:
        rows = sorted((d for (t, _), d in self.items.items() if t == tenant_id), key=lambda d: d.thing_name)
        rows = [d for d in rows if after is None or d.thing_name > after]
        rows = [
            d
            for d in rows
            if (flt.kind is None or d.kind == flt.kind)
            and (flt.status is None or d.status == flt.status)
            and (flt.model_id is None or d.model_id == flt.model_id)
            and (flt.label is None or flt.label in d.labels)
        ]
        page = rows[:limit]
        return Page(items=page, after=page[-1].thing_name if len(rows) > limit else None)


class FakeModels:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], DeviceModel] = {}

    def get(self, scope: str, model_id: str) -> DeviceModel | None:
        return self.items.get((scope, model_id))

    def list(self, scope: str) -> Sequence[DeviceModel]:
        return [m for (s, _), m in sorted(self.items.items()) if s == scope]

    def create(self, scope: str, model: DeviceModel, at_ms: int) -> None:
        if (scope, model.model_id) in self.items:
            raise Conflict("exists", code="model_exists")
        self.items[(scope, model.model_id)] = model


class FakeBatteries:
    def __init__(self) -> None:
        self.items: dict[tuple[str, int], BatteryIdentity] = {}

    def periods(self, battery_code: str) -> list[BatteryIdentity]:
        return [p for (c, _), p in sorted(self.items.items()) if c == battery_code]

    def open(self, period: BatteryIdentity) -> None:
        key = (period.battery_code, period.owned_from_ms)
        if key in self.items:
            raise Conflict("exists")
        self.items[key] = period

    def close(self, battery_code: str, owned_from_ms: int, until_ms: int) -> None:
        p = self.items[(battery_code, owned_from_ms)]
        if p.owned_until_ms is None:
            self.items[(battery_code, owned_from_ms)] = p.model_copy(update={"owned_until_ms": until_ms})

    def delete(self, battery_code: str, owned_from_ms: int) -> None:
        self.items.pop((battery_code, owned_from_ms), None)


class FakeIssuer:
    def __init__(self) -> None:
        self.issued: list[tuple[str, str | None]] = []
        self.status: dict[str, str] = {}
        self._ids = itertools.count(1)

    def issue(self, thing_name: str, csr_pem: str | None) -> IssuedCertificate:
        cid = f"cert{next(self._ids)}"
        self.issued.append((thing_name, csr_pem))
        self.status[cid] = "ACTIVE"
        return IssuedCertificate(
            certificate_id=cid,
            certificate_arn=f"arn:aws:iot:us-east-1:123456789012:cert/{cid}",
            certificate_pem="-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n",
            private_key_pem=None if csr_pem else "-----BEGIN RSA PRIVATE KEY-----\nfake\n",
        )

    def deactivate(self, certificate_id: str) -> None:
        self.status[certificate_id] = "INACTIVE"


class FakeThings:
    def __init__(self) -> None:
        self.things: dict[str, tuple[str, dict[str, str]]] = {}
        self.attached: set[tuple[str, str, str]] = set()
        self.fail_attach: Exception | None = None

    def create_thing(self, thing_name: str, thing_type: str, attributes: dict[str, str]) -> str:
        self.things[thing_name] = (thing_type, dict(attributes))
        return f"arn:aws:iot:us-east-1:123456789012:thing/{thing_name}"

    def attach(self, thing_name: str, certificate_arn: str, policy_name: str) -> None:
        if self.fail_attach is not None:
            raise self.fail_attach
        self.attached.add((thing_name, certificate_arn, policy_name))

    def detach(self, thing_name: str, certificate_arn: str, policy_name: str) -> None:
        self.attached.discard((thing_name, certificate_arn, policy_name))


class FakeBroker:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def device_enabled(self, tenant_id: str, thing_name: str) -> None:
        self.calls.append(("enabled", tenant_id, thing_name))

    def device_disabled(self, tenant_id: str, thing_name: str) -> None:
        self.calls.append(("disabled", tenant_id, thing_name))


class Clock:
    def __init__(self, start: int = 1_767_225_600_000) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1000
        return self.now


class World:
    def __init__(self) -> None:
        self.devices = FakeDevices()
        self.models = FakeModels()
        self.batteries = FakeBatteries()
        self.issuer = FakeIssuer()
        self.things = FakeThings()
        self.broker = FakeBroker()
        self.clock = Clock()
        self.registry = DeviceModelRegistry(self.models, clock=self.clock)
        self.registry.seed_catalogue()
        self.service = DeviceService(
            devices=self.devices,
            models=self.registry,
            batteries=self.batteries,
            issuer=self.issuer,
            things=self.things,
            broker=self.broker,
            policy_name="voltops-device",
            mqtt_endpoint=lambda: "abc-ats.iot.us-east-1.amazonaws.com",
            clock=self.clock,
        )


def principal(tenant: str = "acme", *roles: Role) -> Principal:
    return Principal(subject=f"sub-{tenant}", username=f"user-{tenant}", tenant_id=tenant, roles=frozenset(roles))


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def operator() -> Principal:
    return principal("acme", Role.OPERATOR)


@pytest.fixture
def make_principal() -> Any:
    return principal
