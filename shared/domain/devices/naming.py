"""Thing names and thing types.

Decision (docs/decisions.md): the thing name is derived deterministically from tenant and serial
as ``{serial-slug}-{16 hex of sha256(tenant NUL serial)}``, e.g. ``sn-2024-0001-3f9a0c1d2e7b6a55``:

* deterministic, so a retried registration targets the same IoT thing (no duplicate thing);
* readable in broker logs and MQTT client ids (the slug), yet unambiguous across tenants —
  ``f"{tenant}-{serial}"`` is not (tenant ``a-b`` + serial ``c`` = tenant ``a`` + serial ``b-c``),
  and IoT thing names are global to the account, so one tenant could squat another's name;
* always valid for :func:`shared.contracts.topics.check_id` (≤ 57 characters, ``[a-z0-9_-]``).
"""

from __future__ import annotations

import hashlib
import re

from shared.contracts.devices import DeviceKind
from shared.contracts.topics import check_id

_SLUG_MAX = 40
_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def thing_name_for(tenant_id: str, serial_number: str) -> str:
    digest = hashlib.sha256(f"{tenant_id}\x00{serial_number}".encode()).hexdigest()[:16]
    slug = _UNSAFE.sub("-", serial_number.lower()).strip("-_")[:_SLUG_MAX].rstrip("-_") or "d"
    if not slug[0].isalnum():
        slug = "d" + slug
    return check_id(f"{slug}-{digest}", "thing")


def thing_type_for(kind: DeviceKind) -> str:
    """IoT thing type per device kind (the infra stack creates these; attributes are searchable)."""
    return f"voltops-{kind.value.replace('_', '-')}"
