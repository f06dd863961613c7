"""Local-mode notification outbox: every delivery of every channel, one JSON line per delivery.

:func:`wrap_with_outbox` wraps the real channels: e-mail and SMS go through (moto's) SES and
SNS first, and only a delivery the provider accepted is appended; voice has no moto, so a
call is written to the outbox only; in-app deliveries (already stored in the inbox and pushed
to the console topic) are appended too. Files: ``<state_dir>/outbox/<channel>.jsonl`` with
channel ``email``, ``sms``, ``voice`` or ``in_app``. :func:`read_outbox` reads them back for
tests and people (``tail -f .local/outbox/sms.jsonl`` works as well).

Every line has ``at_ms`` (wall-clock time of the delivery), ``channel``, ``to``, ``tenant_id``,
``alarm_id``, ``kind`` (alarm_raised, alarm_escalated, alarm_reminder, alarm_cleared) and
``level``; then per channel::

    email:  "subject", "text", "key", "provider_id"
    sms:    "text", "key", "provider_id"
    voice:  "speech", "language", "key", "provider_id"
    in_app: "notification" (the NotificationView as pushed; "to" is the user or "_tenant")

``key`` is the delivery's idempotency key (the same key never appears twice for a sent delivery).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from shared.contracts.notifications import Language, NotificationView
from shared.domain.notifications.ports import Channels, DeliveryRef

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

    @staticmethod
    def _about(to: str, ref: DeliveryRef) -> dict[str, Any]:
        return {
            "to": to,
            "tenant_id": ref.tenant_id,
            "alarm_id": ref.alarm_id,
            "kind": ref.kind.value,
            "level": int(ref.level),
            "key": ref.key,
        }

    def send_email(self, to: str, subject: str, text: str, *, ref: DeliveryRef) -> str:
        provider_id = self._inner.send_email(to, subject, text, ref=ref)
        self._append("email", {**self._about(to, ref), "subject": subject, "text": text, "provider_id": provider_id})
        return provider_id

    def send_sms(self, to: str, text: str, *, ref: DeliveryRef) -> str:
        provider_id = self._inner.send_sms(to, text, ref=ref)
        self._append("sms", {**self._about(to, ref), "text": text, "provider_id": provider_id})
        return provider_id

    def call(self, to: str, speech: str, language: Language, *, ref: DeliveryRef) -> str:
        # No moto for Amazon Connect: the outbox is the call. Same id for the same key (as ClientToken).
        provider_id = "local-" + hashlib.sha256(ref.key.encode()).hexdigest()[:32]
        record = {**self._about(to, ref), "speech": speech, "language": language.value, "provider_id": provider_id}
        self._append("voice", record)
        return provider_id

    def in_app(self, notification: NotificationView) -> None:
        self._inner.in_app(notification)
        self._append(
            "in_app",
            {
                "to": notification.inbox,
                "tenant_id": notification.tenant_id,
                "alarm_id": notification.alarm_id,
                "kind": notification.kind.value,
                "level": int(notification.level),
                "notification": notification.model_dump(mode="json"),
            },
        )


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
