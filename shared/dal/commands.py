"""DynamoDB repository of command records (pynamodb) — implements ``CommandRepository``.

Keys (``shared/dal/tables.py`` ``CommandItem``): pk tenant, sk command id; GSI ``by-device``
(``tenant#thing`` / ``issued_ms(13)#command_id``) for a device's commands newest first; sparse
GSI ``open-by-deadline`` (``open_shard`` / ``ack_deadline_ms``) holding only open commands.

The sparse index's sort key is *when the sweep must next look at the command* (the domain's
``due_at_ms``): a short retry delay while pending, the ack deadline while sent, the expiry once
the ack is overdue. The record's own ``ack_deadline_ms`` (in ``body``) never changes. Final
commands have neither attribute, so the sweep never reads them. ``open_shard`` spreads open
commands over :data:`OPEN_SHARDS` partitions (a fleet-wide cut-off must not make one hot key).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from shared.contracts.commands import CommandRecord
from shared.dal.devices import storage_errors
from shared.dal.tables import CommandItem, bind_tables

OPEN_SHARDS = 8
_PAGE_SIZE = 100


def open_shard(command_id: str) -> int:
    return zlib.crc32(command_id.encode()) % OPEN_SHARDS


def device_key(tenant_id: str, thing_name: str) -> str:
    return f"{tenant_id}#{thing_name}"


def issued_key(record: CommandRecord) -> str:
    return f"{record.issued_at_ms:013d}#{record.command_id}"


def _to_item(record: CommandRecord, due_at_ms: int | None) -> CommandItem:
    return CommandItem(
        record.tenant_id,
        record.command_id,
        device_key=device_key(record.tenant_id, record.thing_name),
        issued_key=issued_key(record),
        status=record.status.value,
        open_shard=open_shard(record.command_id) if due_at_ms is not None else None,
        ack_deadline_ms=due_at_ms,
        updated_at_ms=record.updated_at_ms,
        body=record.model_dump(mode="json"),
    )


def _to_record(item: CommandItem) -> CommandRecord:
    return CommandRecord.model_validate(item.body)


class DynamoCommandRepository:
    """Command records in DynamoDB; conditions become ``Conflict``, throttling ``Unavailable``."""

    def __init__(self) -> None:
        bind_tables()

    def create(self, record: CommandRecord, due_at_ms: int | None) -> None:
        with storage_errors(f"command {record.command_id} already exists", "command_exists"):
            _to_item(record, due_at_ms).save(condition=CommandItem.command_id.does_not_exist())

    def get(self, tenant_id: str, command_id: str) -> CommandRecord | None:
        with storage_errors("unexpected condition"):
            try:
                return _to_record(CommandItem.get(tenant_id, command_id, consistent_read=True))
            except CommandItem.DoesNotExist:
                return None

    def replace(self, record: CommandRecord, *, expected: CommandRecord, due_at_ms: int | None) -> None:
        # A full put: attributes left out (the sparse index keys of a final command) are removed.
        with storage_errors(f"command {record.command_id} changed concurrently; read it again", "command_changed"):
            _to_item(record, due_at_ms).save(
                condition=(CommandItem.status == expected.status.value)
                & (CommandItem.updated_at_ms == expected.updated_at_ms)
            )

    def list_for_device(
        self, tenant_id: str, thing_name: str, limit: int, after: str | None
    ) -> tuple[list[CommandRecord], str | None]:
        key = device_key(tenant_id, thing_name)
        start = None
        if after is not None:
            start = {
                "device_key": {"S": key},
                "issued_key": {"S": after},
                "tenant_id": {"S": tenant_id},
                "command_id": {"S": after.partition("#")[2]},
            }
        items: list[CommandRecord] = []
        more = False
        with storage_errors("unexpected condition"):
            for item in CommandItem.by_device.query(
                key, scan_index_forward=False, last_evaluated_key=start, page_size=min(_PAGE_SIZE, limit + 1)
            ):
                if len(items) == limit:
                    more = True  # one item beyond the page exists
                    break
                items.append(_to_record(item))
        return items, issued_key(items[-1]) if more and items else None

    def due(self, now_ms: int, limit: int) -> Iterator[CommandRecord]:
        """Open commands due by ``now_ms``: an equal share of ``limit`` from every shard, earliest
        first, so commands that stay due (a broker outage) in one shard never starve the others.
        Index copies are eventually consistent, which the service tolerates (its writes are conditional)."""
        share = max(1, -(-limit // OPEN_SHARDS))
        for shard in range(OPEN_SHARDS):
            with storage_errors("unexpected condition"):
                found = list(
                    CommandItem.open_by_deadline.query(
                        shard, CommandItem.ack_deadline_ms <= now_ms, limit=share, page_size=min(_PAGE_SIZE, share)
                    )
                )
            for item in found:
                yield _to_record(item)
