"""What an alarm change leaves behind: a timeline entry, a bus event, a console push.

Shared by the pipeline (automatic changes) and the desk (operators' changes), so both write the
same shapes with the same idempotent ids.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.contracts import topics
from shared.contracts.alarms import (
    ALARM_EVENT_SOURCE,
    Alarm,
    AlarmEvent,
    AlarmEventType,
    TimelineEntry,
    TimelineEntryType,
)
from shared.domain.alarms.ports import AlarmStore
from shared.domain.messaging import EventPublisher, MqttPublisher

log = logging.getLogger(__name__)


class AlarmOutput:
    def __init__(self, store: AlarmStore, events: EventPublisher, console: MqttPublisher | None) -> None:
        self.store = store
        self.events = events
        self.console = console

    def timeline(
        self, alarm: Alarm, entry_id: str, kind: TimelineEntryType, at_ms: int, actor: str, params: dict[str, Any]
    ) -> TimelineEntry:
        """Append one entry (idempotent: a retried write with the same entry id lands on the same item)."""
        entry = TimelineEntry(
            alarm_id=alarm.alarm_id, entry_id=entry_id, at_ms=at_ms, type=kind, actor=actor, params=params
        )
        self.store.add_timeline(alarm.tenant_id, entry)
        return entry

    def event(self, alarm: Alarm, kind: AlarmEventType, event_id: str, at_ms: int, reason: str | None = None) -> None:
        """Put the event on the bus (raises: the caller retries) and push it to the tenant's consoles."""
        event = AlarmEvent(event_id=event_id, type=kind, at_ms=at_ms, alarm=alarm, reason=reason)
        self.events.put(ALARM_EVENT_SOURCE, kind.value, [event.model_dump(mode="json")])
        if self.console is not None:
            try:
                topic = topics.console(alarm.tenant_id, topics.ConsoleStream.ALARMS)
                self.console.publish(topic, event.model_dump_json().encode())
            except Exception:
                log.warning("console push of %s failed", event_id, exc_info=True)
