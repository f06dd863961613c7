"""Command handling on the device: expiry, dedupe, dispatch to the maker's handler.

Pure logic (no MQTT): :class:`CommandProcessor` turns one raw downlink payload into a
:class:`CommandOutcome`; the client publishes the matching ``CommandAck``. The rules:

1. An unparseable payload that still names a ``command_id`` is ``rejected``
   (``unknown_command`` when the name is not one of ``CommandName``, else ``invalid_command``);
   without a usable ``command_id`` it cannot be acknowledged and is only logged.
2. A command already handled (same ``command_id`` *or* same ``idempotency_key``) is never
   executed again; its earlier outcome is acknowledged again, so a lost ack heals itself.
3. ``now_ms >= expires_at_ms`` → ``expired``; the handler is never called.
4. Otherwise the handler runs: returning normally → ``executed``; raising
   :class:`CommandRejected` → ``rejected`` with its reason code; any other exception → ``failed``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError

from shared.contracts.telemetry import AckStatus, Command, CommandName

log = logging.getLogger(__name__)

_COMMAND_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_REASON_MAX = 64

CommandHandler = Callable[[Command], None]


class CommandRejected(Exception):
    """Raise from a handler to refuse a command; ``reason`` is a short code (≤ 64 chars)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:_REASON_MAX]


class HandledStore(Protocol):
    """Where outcomes are remembered for dedupe (the client's on-disk outbox in production)."""

    def find_handled(self, command_id: str, idempotency_key: str) -> HandledLike | None: ...

    def record_handled(self, command_id: str, idempotency_key: str, status: str, reason: str | None) -> None: ...


class HandledLike(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def reason(self) -> str | None: ...


@dataclass(frozen=True)
class CommandOutcome:
    """What to acknowledge, and whether the handler actually ran this time."""

    command_id: str
    status: AckStatus
    reason: str | None
    executed: bool = False
    duplicate: bool = False
    command: Command | None = None


class InMemoryHandledStore:
    """A dict-backed :class:`HandledStore` for tests and the pure simulator."""

    @dataclass(frozen=True)
    class _Entry:
        status: str
        reason: str | None

    def __init__(self) -> None:
        self._by_id: dict[str, InMemoryHandledStore._Entry] = {}
        self._by_key: dict[str, InMemoryHandledStore._Entry] = {}

    def find_handled(self, command_id: str, idempotency_key: str) -> _Entry | None:
        return self._by_id.get(command_id) or self._by_key.get(idempotency_key)

    def record_handled(self, command_id: str, idempotency_key: str, status: str, reason: str | None) -> None:
        entry = self._Entry(status, reason)
        self._by_id[command_id] = entry
        self._by_key.setdefault(idempotency_key, entry)


class CommandProcessor:
    """Applies the rules above; call :meth:`process` from one thread at a time."""

    def __init__(
        self,
        store: HandledStore,
        handler: CommandHandler | None,
        clock_ms: Callable[[], int],
        supported: Collection[CommandName] | None = None,
    ) -> None:
        self._store = store
        self._handler = handler
        self._clock_ms = clock_ms
        self._supported = None if supported is None else frozenset(supported)

    def process(self, payload: bytes) -> CommandOutcome | None:
        """Decide (and, if due, execute) one command; ``None`` if it cannot even be acked."""
        try:
            raw = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            log.warning("command payload is not JSON; ignored (%d bytes)", len(payload))
            return None
        if not isinstance(raw, dict):
            log.warning("command payload is not a JSON object; ignored")
            return None
        try:
            cmd = Command.model_validate(raw)
        except ValidationError as exc:
            command_id = raw.get("command_id")
            if not isinstance(command_id, str) or not _COMMAND_ID.match(command_id):
                log.warning("invalid command without a usable command_id; ignored: %s", exc)
                return None
            bad_name = any(err["loc"] == ("name",) for err in exc.errors())
            reason = "unknown_command" if bad_name else "invalid_command"
            log.warning("command %s rejected: %s", command_id, reason)
            return CommandOutcome(command_id, AckStatus.REJECTED, reason)

        earlier = self._store.find_handled(cmd.command_id, cmd.idempotency_key)
        if earlier is not None:
            # Redelivery (QoS 1 DUP) or a platform retry: ack again, never execute again.
            return CommandOutcome(
                cmd.command_id, AckStatus(earlier.status), earlier.reason, duplicate=True, command=cmd
            )

        outcome = self._decide(cmd)
        self._store.record_handled(cmd.command_id, cmd.idempotency_key, outcome.status.value, outcome.reason)
        return outcome

    def _decide(self, cmd: Command) -> CommandOutcome:
        if self._clock_ms() >= cmd.expires_at_ms:
            return CommandOutcome(cmd.command_id, AckStatus.EXPIRED, "expired", command=cmd)
        if self._handler is None or (self._supported is not None and cmd.name not in self._supported):
            return CommandOutcome(cmd.command_id, AckStatus.REJECTED, "unsupported_command", command=cmd)
        try:
            self._handler(cmd)
        except CommandRejected as exc:
            return CommandOutcome(cmd.command_id, AckStatus.REJECTED, exc.reason, executed=False, command=cmd)
        except Exception as exc:  # any handler failure becomes a 'failed' ack, not a crash
            log.exception("handler failed for command %s", cmd.command_id)
            reason = f"handler_error:{type(exc).__name__}"[:_REASON_MAX]
            return CommandOutcome(cmd.command_id, AckStatus.FAILED, reason, executed=True, command=cmd)
        return CommandOutcome(cmd.command_id, AckStatus.EXECUTED, None, executed=True, command=cmd)
