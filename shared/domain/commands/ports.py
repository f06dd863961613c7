"""Ports of the command domain: storage, the device registry, and whoever watches outcomes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from shared.contracts.commands import CommandRecord
from shared.contracts.devices import DeviceStatus


class CommandRepository(Protocol):
    """Command records (``shared/dal/commands.py``; an in-memory fake in unit tests).

    ``due_at_ms`` is when the sweep must next look at a command (``None``: never again, it is
    final). Writes are optimistic: ``replace`` succeeds only if the stored record still has the
    status and ``updated_at_ms`` of ``expected`` (else ``Conflict``); the service makes every
    new ``updated_at_ms`` greater than the last, so two writers on the same read never both win.
    Throttling is ``Unavailable``.
    """

    def create(self, record: CommandRecord, due_at_ms: int | None) -> None:
        """Store a new record; ``Conflict`` if its command id exists."""
        ...

    def get(self, tenant_id: str, command_id: str) -> CommandRecord | None: ...

    def replace(self, record: CommandRecord, *, expected: CommandRecord, due_at_ms: int | None) -> None: ...

    def list_for_device(
        self, tenant_id: str, thing_name: str, limit: int, after: str | None
    ) -> tuple[list[CommandRecord], str | None]:
        """A device's commands, newest first; ``after`` / the returned cursor are opaque storage keys."""
        ...

    def due(self, now_ms: int, limit: int) -> Iterable[CommandRecord]:
        """Open commands whose ``due_at_ms`` is at or before ``now_ms``, about ``limit`` of them
        (shared fairly over storage partitions, so ones that stay due cannot starve the rest)."""
        ...


class DeviceLookup(Protocol):
    """The device registry, as far as commands need it."""

    def status(self, tenant_id: str, thing_name: str) -> DeviceStatus | None:
        """The device's status, ``None`` if the tenant has no such device."""
        ...


class CommandObserver(Protocol):
    """Told about command outcomes; implemented by the alarm service (timeline, escalation).

    Calls come after the record is stored. ``on_sent``/``on_ack`` are best effort (a failure is
    logged; the record stays the truth). ``on_overdue`` is called once per command, for the
    first sweep that finds no ack by ``ack_deadline_ms`` (the record is then ``sent`` with
    ``detail.ack_overdue``, or already ``expired``/``failed``); if it raises, the sweep gives the
    claim back and the next sweep calls it again.
    """

    def on_sent(self, record: CommandRecord) -> None: ...

    def on_ack(self, record: CommandRecord) -> None:
        """The device answered: acked, rejected, failed, or expired (it arrived too late)."""
        ...

    def on_overdue(self, record: CommandRecord) -> None: ...
