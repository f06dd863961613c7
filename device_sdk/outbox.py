"""Durable on-disk outbox: every uplink message is written here before it is sent.

A row leaves the outbox only when the broker has acknowledged it (PUBACK), so a broker
outage, a network loss or a process restart loses nothing: the rows are replayed in
insertion order on the next connection. sqlite3 in WAL mode gives atomic appends and
deletes without a server; the file lives in the configured buffer directory.

The outbox is bounded. When it is full the configured :class:`OverflowPolicy` applies:
``DROP_OLDEST`` (default: keep the newest data, a safety device cares most about *now*) deletes
the oldest rows and counts them in ``dropped_total``; ``REJECT_NEW`` raises :class:`BufferFull`.

It also remembers the commands already handled, so a QoS 1 redelivery (or a platform retry
with the same idempotency key) is acknowledged again but never executed twice, even across a
restart.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

#: How many handled commands are remembered for dedupe; older ones are long expired anyway.
SEEN_COMMANDS_KEPT = 10_000


class OverflowPolicy(StrEnum):
    DROP_OLDEST = "drop_oldest"
    REJECT_NEW = "reject_new"


class BufferFull(RuntimeError):
    """The outbox is full and the policy is ``REJECT_NEW``."""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes


@dataclass(frozen=True)
class HandledCommand:
    command_id: str
    idempotency_key: str
    status: str
    reason: str | None


class DiskOutbox:
    """A bounded FIFO of (topic, payload) rows in one sqlite file; thread-safe."""

    def __init__(
        self,
        path: str | Path,
        max_messages: int = 100_000,
        overflow_policy: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
        synchronous: str = "NORMAL",
    ) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown sqlite synchronous mode {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_messages = max_messages
        self.overflow_policy = OverflowPolicy(overflow_policy)
        self._lock = threading.RLock()
        # One connection shared by the caller threads and the sender thread, serialised by the
        # lock; autocommit mode (isolation_level=None) so each statement is its own transaction.
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL survives a process crash; FULL also survives power loss at some cost per write.
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                topic TEXT NOT NULL,
                payload BLOB NOT NULL
            );
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS handled_commands (
                n INTEGER PRIMARY KEY AUTOINCREMENT,
                command_id TEXT NOT NULL UNIQUE,
                idempotency_key TEXT NOT NULL,
                status TEXT NOT NULL,
                reason TEXT
            );
            CREATE INDEX IF NOT EXISTS handled_by_key ON handled_commands (idempotency_key);
            """
        )
        self._count = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    # ---- outbox -------------------------------------------------------------------------

    def append(self, topic: str, payload: bytes) -> int:
        """Store one message durably and return its row id (its place in the replay order)."""
        with self._lock:
            if self._count >= self.max_messages:
                if self.overflow_policy is OverflowPolicy.REJECT_NEW:
                    raise BufferFull(f"outbox {self.path} holds {self._count} messages (max {self.max_messages})")
                excess = self._count - self.max_messages + 1
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    cur = self._db.execute(
                        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (excess,)
                    )
                    self._bump("dropped_total", cur.rowcount)
                    row_id = self._insert(topic, payload)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._count -= cur.rowcount
            else:
                row_id = self._insert(topic, payload)
            self._count += 1
            return row_id

    def _insert(self, topic: str, payload: bytes) -> int:
        cur = self._db.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)", (topic, payload))
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    def _bump(self, key: str, by: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = value + ?",
            (key, by, by),
        )

    def read_after(self, after_id: int, limit: int) -> list[OutboxRow]:
        """Up to ``limit`` rows with id > ``after_id``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
            ).fetchall()
        return [OutboxRow(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    def remove(self, row_id: int) -> None:
        """Forget a row the broker has acknowledged (no-op if already dropped)."""
        with self._lock:
            cur = self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            self._count -= cur.rowcount

    def __len__(self) -> int:
        with self._lock:
            return self._count

    @property
    def dropped_total(self) -> int:
        """Messages deleted unsent by the DROP_OLDEST policy, over the life of this file."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'dropped_total'").fetchone()
        return int(row[0]) if row else 0

    # ---- handled commands -----------------------------------------------------------------

    def find_handled(self, command_id: str, idempotency_key: str) -> HandledCommand | None:
        """The earlier outcome of this command (same id or same idempotency key), if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT command_id, idempotency_key, status, reason FROM handled_commands "
                "WHERE command_id = ? OR idempotency_key = ? ORDER BY n LIMIT 1",
                (command_id, idempotency_key),
            ).fetchone()
        return HandledCommand(str(row[0]), str(row[1]), str(row[2]), row[3]) if row else None

    def record_handled(self, command_id: str, idempotency_key: str, status: str, reason: str | None) -> None:
        """Remember a command's outcome; keeps the newest ``SEEN_COMMANDS_KEPT``."""
        with self._lock:
            self._db.execute(
                "INSERT INTO handled_commands (command_id, idempotency_key, status, reason) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(command_id) DO UPDATE SET status = excluded.status, reason = excluded.reason",
                (command_id, idempotency_key, status, reason),
            )
            self._db.execute(
                "DELETE FROM handled_commands WHERE n <= (SELECT MAX(n) FROM handled_commands) - ?",
                (SEEN_COMMANDS_KEPT,),
            )

    def close(self) -> None:
        """Close the database (the file stays, with whatever was not yet acknowledged)."""
        with self._lock:
            self._db.close()
