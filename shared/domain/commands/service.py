"""Device commands: record, publish through IoT, track to the ack, expire (SLW-CTL-1/2, SLW-IF-1, SLW-PR-1..4).

One flow for operators (API, with a reason) and for the alarm service (protective commands):

1. **Record** — the command id is derived from (tenant, thing, idempotency key), so a retried
   ``issue`` finds the same record (conditional put) and a command is never sent twice once
   ``sent``. It starts ``pending`` with an expiry and an ack deadline.
2. **Publish** — the wire :class:`~shared.contracts.telemetry.Command` on the device's command
   topic, QoS 1, at once; then ``sent``. A failed publish leaves it ``pending`` and raises
   ``Unavailable``: the caller retries with the same key, and the sweep republishes meanwhile.
3. **Ack** — the device's ``up/ack`` moves it to ``acked``/``rejected``/``failed``/``expired``.
4. **Sweep** (timer) — no ack by the deadline: the observer is told once (the alarm escalates);
   past the expiry the command is closed (``expired``, or ``failed`` if it never went out).
   The device itself never executes a command at or after ``expires_at_ms``, so a QoS 1
   redelivery an hour later is harmless.

Every stored status change is also pushed, best effort, to the tenant's console stream.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from shared.contracts import topics
from shared.contracts.commands import FINAL_STATUSES, CommandOrigin, CommandRecord, CommandStatus
from shared.contracts.devices import DeviceStatus
from shared.contracts.telemetry import AckStatus, Command, CommandAck, CommandName
from shared.domain.auth import Action, Principal, authorize
from shared.domain.commands.params import validate_params
from shared.domain.commands.ports import CommandObserver, CommandRepository, DeviceLookup
from shared.domain.commands.records import (
    DEFAULT_ACK_TIMEOUT_S,
    DEFAULT_TTL_S,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_TTL_S,
    REASON_MAX,
    SendCommand,
)
from shared.domain.devices.paging import check_limit, decode_token, encode_token
from shared.domain.devices.ports import DeviceRepository
from shared.domain.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from shared.domain.messaging import MqttPublisher

log = logging.getLogger(__name__)

#: A pending command (publish failed) is due for republishing this long after the failure.
PENDING_RETRY_MS = 2_000
#: Open commands one sweep handles at most (shared out over the index shards); the rest wait.
SWEEP_BATCH = 800
#: Optimistic-write retries when an ack, a retry or another sweep changed the record meanwhile.
_ATTEMPTS = 4
_COMMAND_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CURSOR = re.compile(r"^\d{13}#[A-Za-z0-9_-]{1,64}$")
#: ``detail`` keys the service sets.
OVERDUE = "ack_overdue"
OVERDUE_AT = "ack_overdue_at_ms"
CLOSED_BY = "closed_by"
FAILURE = "failure"
ACK_DEVICE_TS = "ack_device_ts_ms"

_ACK_STATUS: Mapping[AckStatus, CommandStatus] = {
    AckStatus.EXECUTED: CommandStatus.ACKED,
    AckStatus.REJECTED: CommandStatus.REJECTED,
    AckStatus.FAILED: CommandStatus.FAILED,
    AckStatus.EXPIRED: CommandStatus.EXPIRED,
}


def command_id_for(tenant_id: str, thing_name: str, idempotency_key: str) -> str:
    """Deterministic command id: the same key on the same device is the same command."""
    digest = hashlib.sha256(f"{tenant_id}\x00{thing_name}\x00{idempotency_key}".encode()).hexdigest()
    return "c" + digest[:24]


def is_overdue(record: CommandRecord) -> bool:
    return record.detail.get(OVERDUE) is True


def _check_id(value: str, what: str) -> str:
    try:
        return topics.check_id(value, what)
    except topics.TopicError as exc:
        raise Invalid(str(exc), code=f"invalid_{what}_name" if what == "thing" else f"invalid_{what}") from exc


class CommandService:
    """Issues commands, records acks, sweeps overdue ones; see the module docstring."""

    def __init__(
        self,
        repo: CommandRepository,
        publisher: MqttPublisher,
        devices: DeviceLookup,
        clock_ms: Callable[[], int],
        observer: CommandObserver | None = None,
    ) -> None:
        self.repo = repo
        self.publisher = publisher
        self.devices = devices
        self.clock_ms = clock_ms
        self.observer = observer

    # ---- issuing ----------------------------------------------------------------------------------

    def issue(
        self,
        *,
        tenant_id: str,
        thing_name: str,
        name: CommandName,
        params: Mapping[str, Any],
        reason: str,
        origin: CommandOrigin,
        idempotency_key: str,
        ttl_s: int = DEFAULT_TTL_S,
        ack_timeout_s: int = DEFAULT_ACK_TIMEOUT_S,
    ) -> CommandRecord:
        """Record the command and publish it; a retry with the same key returns the same record.

        Raises ``Invalid`` (bad thing, parameters, reason, ttl or key), ``NotFound`` (no such
        device in the tenant), ``Conflict`` (device not active, or the key was used for another
        command) and ``Unavailable`` (recorded but not published: retry with the same key).
        """
        _check_id(tenant_id, "tenant")
        _check_id(thing_name, "thing")
        clean = validate_params(name, params)
        if origin.type == "operator" and not reason.strip():
            raise Invalid("reason is required for an operator command", code="reason_required")
        if len(reason) > REASON_MAX:
            raise Invalid(f"reason must be at most {REASON_MAX} characters", code="invalid_reason")
        if not re.match(IDEMPOTENCY_KEY_PATTERN, idempotency_key):
            raise Invalid(f"idempotency_key must match {IDEMPOTENCY_KEY_PATTERN}", code="invalid_idempotency_key")
        if not 1 <= ttl_s <= MAX_TTL_S:
            raise Invalid(f"ttl_s must be between 1 and {MAX_TTL_S}, got {ttl_s}", code="invalid_ttl")
        if ack_timeout_s < 1:
            raise Invalid(f"ack_timeout_s must be at least 1, got {ack_timeout_s}", code="invalid_ack_timeout")

        command_id = command_id_for(tenant_id, thing_name, idempotency_key)
        existing = self.repo.get(tenant_id, command_id)
        if existing is not None:
            return self._resume(existing, name, clean)
        self._require_active(tenant_id, thing_name)
        now = self.clock_ms()
        record = CommandRecord(
            command_id=command_id,
            tenant_id=tenant_id,
            thing_name=thing_name,
            name=name,
            params=clean,
            reason=reason,
            origin=origin,
            idempotency_key=idempotency_key,
            issued_at_ms=now,
            expires_at_ms=now + ttl_s * 1000,
            ack_deadline_ms=now + min(ack_timeout_s, ttl_s) * 1000,
            status=CommandStatus.PENDING,
            updated_at_ms=now,
        )
        try:
            self.repo.create(record, due_at_ms=now + PENDING_RETRY_MS)
        except Conflict:
            # A concurrent retry with the same key recorded it first.
            raced = self.repo.get(tenant_id, command_id)
            if raced is None:
                raise Unavailable("command record is not readable yet; retry") from None
            return self._resume(raced, name, clean)
        log.info(
            "command recorded",
            extra={"tenant_id": tenant_id, "thing_name": thing_name, "command_id": command_id, "command": name.value},
        )
        # The command goes out before any console update: a protective cut-off must not wait for one.
        return self._publish(record, new=True)

    def send_operator_command(self, principal: Principal, thing_name: str, request: SendCommand) -> CommandRecord:
        """An operator's command through the API: role checked, tenant from the caller, key scoped to the device."""
        authorize(principal, Action.SEND_COMMANDS)
        return self.issue(
            tenant_id=principal.tenant_id,
            thing_name=thing_name,
            name=request.name,
            params=request.params,
            reason=request.reason,
            origin=CommandOrigin(type="operator", user=principal.username),
            idempotency_key=request.idempotency_key,
            ttl_s=request.ttl_s,
            ack_timeout_s=min(DEFAULT_ACK_TIMEOUT_S, request.ttl_s),
        )

    def _require_active(self, tenant_id: str, thing_name: str) -> None:
        status = self.devices.status(tenant_id, thing_name)
        if status is None:
            raise NotFound(f"device {thing_name!r} not found", code="device_not_found")
        if status is not DeviceStatus.ACTIVE:
            raise Conflict(
                f"device {thing_name!r} is {status.value}; commands go to active devices only",
                code="device_not_active",
                details={"status": status.value},
            )

    def _resume(self, existing: CommandRecord, name: CommandName, params: Mapping[str, Any]) -> CommandRecord:
        """A retried issue: the same command again, published again only if it never went out."""
        if existing.name is not name or dict(existing.params) != dict(params):
            raise Conflict(
                f"idempotency_key {existing.idempotency_key!r} was already used for another command "
                f"({existing.name.value}) on this device",
                code="idempotency_key_reused",
                details={"command_id": existing.command_id},
            )
        if existing.status is CommandStatus.PENDING and self.clock_ms() < existing.expires_at_ms:
            return self._publish(existing)
        return existing

    def _publish(self, record: CommandRecord, *, new: bool = False) -> CommandRecord:
        """Publish a pending command and mark it sent; ``Unavailable`` if the broker refused it.

        The consoles hear of a new command as ``sent``, or as ``pending`` when it could not go out.
        """
        try:
            self._send(record)
        except Exception as exc:  # any publisher failure: stays pending, the caller retries
            log.warning(
                "command publish failed; left pending",
                extra={"tenant_id": record.tenant_id, "command_id": record.command_id, "error": repr(exc)},
            )
            if new:
                self._console(record)
            raise Unavailable(
                f"command {record.command_id} is recorded but could not be published; "
                "retry with the same idempotency_key",
                code="publish_failed",
                details={"command_id": record.command_id},
            ) from exc
        try:
            return self._mark_sent(record)
        except Conflict:
            # An ack (or a concurrent retry/sweep) got there first: theirs is the newer truth.
            current = self.repo.get(record.tenant_id, record.command_id)
            return current if current is not None else record

    def _send(self, record: CommandRecord) -> None:
        wire = Command(
            command_id=record.command_id,
            name=record.name,
            params=dict(record.params),
            issued_at_ms=record.issued_at_ms,
            expires_at_ms=record.expires_at_ms,
            idempotency_key=record.idempotency_key,
        )
        topic = topics.downlink(record.tenant_id, record.thing_name)
        self.publisher.publish(topic, wire.model_dump_json().encode(), qos=topics.QOS)

    def _mark_sent(self, record: CommandRecord) -> CommandRecord:
        now = self.clock_ms()
        sent = record.model_copy(
            update={"status": CommandStatus.SENT, "sent_at_ms": now, "updated_at_ms": self._next_update(record, now)}
        )
        self.repo.replace(sent, expected=record, due_at_ms=self._due_at(sent, now))
        self._notify("on_sent", sent)
        self._console(sent)
        return sent

    # ---- acks -------------------------------------------------------------------------------------

    def record_ack(self, tenant_id: str, thing_name: str, ack: CommandAck, arrival_ms: int) -> CommandRecord | None:
        """Apply a device's ack (from ``up/ack``); idempotent. ``None`` for a command we do not know.

        A redelivered ack with the same outcome changes nothing. A command the platform closed
        itself (expired or never published) still takes the device's answer, which says what
        really happened; a second, different answer from the device is logged and ignored.
        """
        for _ in range(_ATTEMPTS):
            record = self.repo.get(tenant_id, ack.command_id)
            where = {"tenant_id": tenant_id, "thing_name": thing_name, "command_id": ack.command_id}
            if record is None:
                log.warning("ack for an unknown command ignored", extra=where)
                return None
            if record.thing_name != thing_name:
                log.warning("ack from another device than the command's ignored", extra=where)
                return None
            if record.status in FINAL_STATUSES and record.ack_status is not None:
                if record.ack_status != ack.status.value:
                    log.warning(
                        "second, different ack ignored",
                        extra={**where, "stored": record.ack_status, "received": ack.status.value},
                    )
                return record
            now = self.clock_ms()
            updated = record.model_copy(
                update={
                    "status": _ACK_STATUS[ack.status],
                    "acked_at_ms": arrival_ms,
                    "ack_status": ack.status.value,
                    "ack_reason": ack.reason,
                    "detail": {**record.detail, ACK_DEVICE_TS: ack.device_ts_ms},
                    "updated_at_ms": self._next_update(record, now),
                }
            )
            try:
                self.repo.replace(updated, expected=record, due_at_ms=None)
            except Conflict:
                continue  # changed meanwhile (sent, swept): read again
            log.info("command ack recorded", extra={**where, "status": updated.status.value})
            self._notify("on_ack", updated)
            self._console(updated)
            return updated
        raise Unavailable(f"command {ack.command_id} keeps changing concurrently; retry", code="busy")

    # ---- sweep ------------------------------------------------------------------------------------

    def sweep(self, now_ms: int) -> list[CommandRecord]:
        """Timer: republish pending commands, flag missing acks (observer told once), close expired ones.

        Returns the records this sweep changed. A storage or publish failure on one command is
        logged and left for the next sweep; the others go on.
        """
        changed: list[CommandRecord] = []
        for due in list(self.repo.due(now_ms, SWEEP_BATCH)):
            try:
                result = self._sweep_one(due, now_ms)
            except DomainError as exc:
                log.warning(
                    "sweep could not advance a command",
                    extra={"tenant_id": due.tenant_id, "command_id": due.command_id, "error": exc.message},
                )
                continue
            if result is not None:
                changed.append(result)
        return changed

    def _sweep_one(self, record: CommandRecord, now: int) -> CommandRecord | None:
        for _ in range(_ATTEMPTS):
            try:
                return self._advance(record, now)
            except Conflict:
                # The index copy was stale, or an ack arrived meanwhile: work on the stored record.
                fresh = self.repo.get(record.tenant_id, record.command_id)
                if fresh is None:
                    return None
                record = fresh
        return None

    def _advance(self, record: CommandRecord, now: int) -> CommandRecord | None:
        if record.status in FINAL_STATUSES:
            return None
        if now >= record.expires_at_ms:
            return self._close(record, now)
        changed: CommandRecord | None = None
        if record.status is CommandStatus.PENDING:
            try:
                self._send(record)
            except Exception as exc:  # noqa: BLE001 - still pending; the next sweep tries again
                log.warning(
                    "command republish failed",
                    extra={"tenant_id": record.tenant_id, "command_id": record.command_id, "error": repr(exc)},
                )
            else:
                record = changed = self._mark_sent(record)
        if now >= record.ack_deadline_ms and not is_overdue(record):
            flagged = record.model_copy(
                update={
                    "detail": {**record.detail, OVERDUE: True, OVERDUE_AT: now},
                    "updated_at_ms": self._next_update(record, now),
                }
            )
            # Told before the flag is stored: if the observer fails, nothing is stored and the next
            # sweep tries again, so an escalation is never lost (at worst repeated).
            if not self._notify("on_overdue", flagged):
                return changed
            self.repo.replace(flagged, expected=record, due_at_ms=self._due_at(flagged, now))
            log.warning(
                "command ack overdue",
                extra={"tenant_id": record.tenant_id, "thing_name": record.thing_name, "command_id": record.command_id},
            )
            self._console(flagged)
            return flagged
        return changed

    def _close(self, record: CommandRecord, now: int) -> CommandRecord:
        """Past its expiry without an ack: ``expired`` (sent) or ``failed`` (never published)."""
        detail: dict[str, Any] = {**record.detail, CLOSED_BY: "platform"}
        if record.status is CommandStatus.PENDING:
            status, detail[FAILURE] = CommandStatus.FAILED, "not_published"
        else:
            status = CommandStatus.EXPIRED
        first_notice = not is_overdue(record)
        if first_notice:
            detail |= {OVERDUE: True, OVERDUE_AT: now}
        closed = record.model_copy(
            update={"status": status, "detail": detail, "updated_at_ms": self._next_update(record, now)}
        )
        # Closing does not wait for the observer: a broken observer must not keep commands open.
        # Overdue is told once; a command already flagged overdue reports its final outcome.
        self._notify("on_overdue" if first_notice else "on_ack", closed)
        self.repo.replace(closed, expected=record, due_at_ms=None)
        log.warning(
            "command closed without an ack",
            extra={"tenant_id": record.tenant_id, "command_id": record.command_id, "status": status.value},
        )
        self._console(closed)
        return closed

    # ---- queries ------------------------------------------------------------------------------------

    def get(self, principal: Principal, command_id: str) -> CommandRecord:
        authorize(principal, Action.READ)
        record = self.repo.get(principal.tenant_id, command_id) if _COMMAND_ID.match(command_id) else None
        if record is None:
            raise NotFound(f"command {command_id[:64]!r} not found", code="command_not_found")
        return record

    def list_for_device(
        self, principal: Principal, thing_name: str, limit: int, next_token: str | None
    ) -> tuple[list[CommandRecord], str | None]:
        """A device's commands, newest first (also of revoked and decommissioned devices)."""
        authorize(principal, Action.READ)
        check_limit(limit)
        _check_id(thing_name, "thing")
        after = decode_token(next_token)
        if after is not None and not _CURSOR.match(after):
            raise Invalid("next_token is not a token issued by this API", code="invalid_next_token")
        if self.devices.status(principal.tenant_id, thing_name) is None:
            raise NotFound(f"device {thing_name!r} not found", code="device_not_found")
        items, cursor = self.repo.list_for_device(principal.tenant_id, thing_name, limit, after)
        return items, encode_token(cursor)

    # ---- internals ----------------------------------------------------------------------------------

    @staticmethod
    def _next_update(previous: CommandRecord, now: int) -> int:
        """Strictly after the previous write, so an optimistic write always changes the version."""
        return max(now, previous.updated_at_ms + 1)

    @staticmethod
    def _due_at(record: CommandRecord, now: int) -> int | None:
        """When the sweep must look at the command next (``None``: final)."""
        if record.status in FINAL_STATUSES:
            return None
        if record.status is CommandStatus.PENDING:
            return min(now + PENDING_RETRY_MS, record.expires_at_ms)
        return record.expires_at_ms if is_overdue(record) else record.ack_deadline_ms

    def _notify(self, event: str, record: CommandRecord) -> bool:
        """Call the observer; a failure is logged (with the command) and reported as ``False``."""
        if self.observer is None:
            return True
        try:
            getattr(self.observer, event)(record)
        except Exception:  # the command record stays the truth; see CommandObserver
            log.exception(
                "command observer failed",
                extra={"event": event, "tenant_id": record.tenant_id, "command_id": record.command_id},
            )
            return False
        return True

    def _console(self, record: CommandRecord) -> None:
        """Best effort live update for the tenant's consoles; never fails the command."""
        update = {
            "type": "command_status",
            "command_id": record.command_id,
            "thing_name": record.thing_name,
            "name": record.name.value,
            "status": record.status.value,
            "ack_status": record.ack_status,
            "ack_reason": record.ack_reason,
            "ack_overdue": is_overdue(record),
            "origin": record.origin.type,
            "issued_at_ms": record.issued_at_ms,
            "updated_at_ms": record.updated_at_ms,
        }
        try:
            topic = topics.console(record.tenant_id, topics.ConsoleStream.COMMANDS)
            self.publisher.publish(topic, json.dumps(update, separators=(",", ":")).encode(), qos=0)
        except Exception as exc:  # noqa: BLE001 - live updates are a convenience
            log.warning(
                "console update not published",
                extra={"tenant_id": record.tenant_id, "command_id": record.command_id, "error": repr(exc)},
            )


class RegistryDeviceLookup:
    """``DeviceLookup`` over the device repository (consistent reads: a revocation counts at once)."""

    def __init__(self, devices: DeviceRepository) -> None:
        self._devices = devices

    def status(self, tenant_id: str, thing_name: str) -> DeviceStatus | None:
        device = self._devices.get(tenant_id, thing_name)
        return device.status if device is not None else None
