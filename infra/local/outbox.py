"""Local-mode notification outbox: every delivery of every channel, one JSON line per delivery.

:func:`wrap_with_outbox` wraps the real channels: e-mail and SMS go through (moto's) SES and
SNS first, and only a delivery the provider accepted is appended; voice has no moto, so a
call is written to the outbox only; in-app deliveries (already stored in the inbox and pushed
to the console topic) are appended too. Files: ``<state_dir>/outbox/<channel>.jsonl`` with
channel ``email``, ``sms``, ``voice`` or ``in_app``. :func:`read_outbox` reads them back for
tests and people (``tail -f .local/outbox/sms.jsonl`` works as well).

Lines (``at_ms`` is wall-clock time of the delivery, ``key`` the delivery's idempotency key)::

    email:  {"at_ms", "channel": "email", "to", "subject", "text", "key", "provider_id"}
    sms:    {"at_ms", "channel": "sms", "to", "text", "key", "provider_id"}
    voice:  {"at_ms", "channel": "voice", "to", "speech", "language", "key", "provider_id"}
    in_app: {"at_ms", "channel": "in_app", "to" (user or "_tenant"), "notification": {...view...}}
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from shared.contracts.notifications import Language, NotificationView
from shared.domain.notifications.ports import Channels

OUTBOX_DIR = "outbox"
CHANNELS = ("email", "sms", "voice", "in_app")


def outbox_dir(state_dir: Path | str) -> Path:
    return Path(state_dir) / OUTBOX_DIR


class OutboxChannels:
    """``Channels`` that records each accepted delivery in the outbox after the inner channel."""

    def __init__(self, inner: Channels, state_dir: Path | str) -> None:
        self._inner = inner
        self._dir = outbox_dir(state_dir)
        self._lock = threading.Lock()

    def _append(self, channel: str, record: dict[str, Any]) -> None:
        line = json.dumps({"at_ms": time.time_ns() // 1_000_000, "channel": channel, **record}, ensure_ascii=False)
        with self._lock:
            self._dir.mkdir(parents=True, exist_ok=True)
            with (self._dir / f"{channel}.jsonl").open("a", encoding="utf-8") as f:
                f.write(line + "\n")

    def send_email(self, to: str, subject: str, text: str, *, key: str) -> str:
        provider_id = self._inner.send_email(to, subject, text, key=key)
        self._append("email", {"to": to, "subject": subject, "text": text, "key": key, "provider_id": provider_id})
        return provider_id

    def send_sms(self, to: str, text: str, *, key: str) -> str:
        provider_id = self._inner.send_sms(to, text, key=key)
        self._append("sms", {"to": to, "text": text, "key": key, "provider_id": provider_id})
        return provider_id

    def call(self, to: str, speech: str, language: Language, *, key: str) -> str:
        # No moto for Amazon Connect: the outbox is the call. Same id for the same key (as ClientToken).
        provider_id = "local-" + hashlib.sha256(key.encode()).hexdigest()[:32]
        self._append(
            "voice", {"to": to, "speech": speech, "language": language.value, "key": key, "provider_id": provider_id}
        )
        return provider_id

    def in_app(self, notification: NotificationView) -> None:
        self._inner.in_app(notification)
        self._append("in_app", {"to": notification.inbox, "notification": notification.model_dump(mode="json")})


def wrap_with_outbox(channels: Channels, state_dir: Path | str) -> OutboxChannels:
    """The local stack's channels: ``channels`` (moto SES/SNS) plus the outbox record."""
    return OutboxChannels(channels, state_dir)


def read_outbox(state_dir: Path | str, channel: str | None = None) -> list[dict[str, Any]]:
    """Every recorded delivery (of one channel, or of all in time order)."""
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    names = [channel] if channel else list(CHANNELS)
    records: list[dict[str, Any]] = []
    for name in names:
        path = outbox_dir(state_dir) / f"{name}.jsonl"
        if path.exists():
            records += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted(records, key=lambda r: r["at_ms"]) if channel is None else records
