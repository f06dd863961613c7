"""In-memory fakes of the command domain's ports (unit tests: no AWS, no moto, no broker)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.contracts import topics
from shared.contracts.commands import CommandRecord
from shared.contracts.devices import DeviceStatus
from shared.domain.auth import Principal, Role
from shared.domain.commands import CommandService
from shared.domain.errors import Conflict

T0 = 1_750_000_000_000
TENANT = "acme"
THING = "cab-0001"


class FakeCommandRepo:
    """Same contract as ``DynamoCommandRepository``: conditional create/replace, due index, newest-first list."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], CommandRecord] = {}
        self.due_at: dict[tuple[str, str], int] = {}
        self.writes = 0
        #: Called before each replace (tests use it to simulate a concurrent writer).
        self.before_replace: Any = None

    def create(self, record: CommandRecord, due_at_ms: int | None) -> None:
        key = (record.tenant_id, record.command_id)
        if key in self.items:
            raise Conflict("exists", code="command_exists")
        self._store(record, due_at_ms)

    def get(self, tenant_id: str, command_id: str) -> CommandRecord | None:
        return self.items.get((tenant_id, command_id))

    def replace(self, record: CommandRecord, *, expected: CommandRecord, due_at_ms: int | None) -> None:
        if self.before_replace is not None:
            hook, self.before_replace = self.before_replace, None
            hook()
        current = self.items[(record.tenant_id, record.command_id)]
        if current.status != expected.status or current.updated_at_ms != expected.updated_at_ms:
            raise Conflict("changed", code="command_changed")
        self._store(record, due_at_ms)

    def _store(self, record: CommandRecord, due_at_ms: int | None) -> None:
        key = (record.tenant_id, record.command_id)
        self.items[key] = record
        self.writes += 1
        if due_at_ms is None:
            self.due_at.pop(key, None)
        else:
            self.due_at[key] = due_at_ms

    def list_for_device(
        self, tenant_id: str, thing_name: str, limit: int, after: str | None
    ) -> tuple[list[CommandRecord], str | None]:
        def cursor(r: CommandRecord) -> str:
            return f"{r.issued_at_ms:013d}#{r.command_id}"

        rows = sorted(
            (r for (t, _), r in self.items.items() if t == tenant_id and r.thing_name == thing_name),
            key=cursor,
            reverse=True,
        )
        rows = [r for r in rows if after is None or cursor(r) < after]
        page = rows[:limit]
        return page, cursor(page[-1]) if len(rows) > limit else None

    def due(self, now_ms: int, limit: int) -> Iterator[CommandRecord]:
        keys = sorted((k for k, at in self.due_at.items() if at <= now_ms), key=lambda k: self.due_at[k])
        for k in keys[:limit]:
            yield self.items[k]


@dataclass
class FakePublisher:
    """Records publishes; ``fail`` makes the next publishes on the command topic raise."""

    published: list[tuple[str, bytes, int]] = field(default_factory=list)
    fail: int = 0
    fail_console: bool = False

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        is_console = topic.startswith(topics.CONSOLE_ROOT)
        if is_console and self.fail_console:
            raise ConnectionError("console down")
        if not is_console and self.fail > 0:
            self.fail -= 1
            raise ConnectionError("broker down")
        self.published.append((topic, payload, qos))

    def commands(self) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, _ in self.published if "/down/" in t]

    def console(self) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, _ in self.published if t.startswith(topics.CONSOLE_ROOT)]


class FakeDevices:
    def __init__(self) -> None:
        self.status_of: dict[tuple[str, str], DeviceStatus] = {}

    def status(self, tenant_id: str, thing_name: str) -> DeviceStatus | None:
        return self.status_of.get((tenant_id, thing_name))


@dataclass
class RecordingObserver:
    calls: list[tuple[str, CommandRecord]] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)

    def _record(self, event: str, record: CommandRecord) -> None:
        self.calls.append((event, record))
        if event in self.fail:
            raise RuntimeError(f"{event} observer down")

    def on_sent(self, record: CommandRecord) -> None:
        self._record("sent", record)

    def on_ack(self, record: CommandRecord) -> None:
        self._record("ack", record)

    def on_overdue(self, record: CommandRecord) -> None:
        self._record("overdue", record)

    def events(self) -> list[tuple[str, str]]:
        return [(e, r.status.value) for e, r in self.calls]


class Clock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now


@dataclass
class World:
    service: CommandService
    repo: FakeCommandRepo
    publisher: FakePublisher
    devices: FakeDevices
    observer: RecordingObserver
    clock: Clock


@pytest.fixture
def world() -> World:
    repo, publisher, devices, observer, clock = (
        FakeCommandRepo(),
        FakePublisher(),
        FakeDevices(),
        RecordingObserver(),
        Clock(),
    )
    devices.status_of[(TENANT, THING)] = DeviceStatus.ACTIVE
    devices.status_of[(TENANT, "cab-revoked")] = DeviceStatus.REVOKED
    devices.status_of[("bolt", "bolt-0001")] = DeviceStatus.ACTIVE
    service = CommandService(repo, publisher, devices, clock, observer)
    return World(service, repo, publisher, devices, observer, clock)


def _principal(role: Role | None = Role.OPERATOR, tenant: str = TENANT) -> Principal:
    return Principal(
        subject=f"sub-{role}", username=f"user-{role}", tenant_id=tenant, roles=frozenset({role} if role else ())
    )


@pytest.fixture
def as_user() -> Any:
    """``as_user(role=Role.OPERATOR, tenant="acme")`` → a verified principal."""
    return _principal
