"""Query parameters of the fleet endpoints (every bad value a precise 400) and the table's
filter → facet counts → sort → page (pure)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.devices import DeviceKind
from shared.domain.errors import Invalid
from shared.domain.fleet.status import STATUS_RANK, FleetStatus
from shared.domain.fleet.views import FleetDeviceList, FleetDeviceRow

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 20
MAX_Q_LENGTH = 128
MAX_MODEL_ID_LENGTH = 64
TREND_HOURS = (1, 168)
DEFAULT_TREND_HOURS = 24
_INT = re.compile(r"^-?[0-9]{1,12}$")


class SortKey(StrEnum):
    THING_NAME = "thing_name"
    LAST_SEEN_MS = "last_seen_ms"
    WORST_LEVEL = "worst_level"
    SOC_PCT = "soc_pct"
    STATUS = "status"
    KIND = "kind"


#: Sorts whose natural reading is "biggest first".
_DESC_BY_DEFAULT = {SortKey.WORST_LEVEL, SortKey.LAST_SEEN_MS}

_SORT_VALUE: dict[SortKey, Callable[[FleetDeviceRow], Any]] = {
    SortKey.THING_NAME: lambda r: r.thing_name,
    SortKey.LAST_SEEN_MS: lambda r: r.last_seen_ms,
    SortKey.WORST_LEVEL: lambda r: r.worst_level,
    SortKey.SOC_PCT: lambda r: r.soc_pct,
    SortKey.STATUS: lambda r: STATUS_RANK[r.status],
    SortKey.KIND: lambda r: r.kind.value,
}


@dataclass(frozen=True)
class DeviceQuery:
    q: str | None = None
    kind: DeviceKind | None = None
    statuses: frozenset[FleetStatus] = frozenset()
    model_id: str | None = None
    min_level: int | None = None
    sort: SortKey = SortKey.WORST_LEVEL
    descending: bool = True
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


def _param(description: str, **schema: Any) -> Any:
    """A query value received as text (the parsers below check it: 400 naming the parameter) and
    documented in OpenAPI as what it must be (``schema``: type, enum, bounds, default)."""

    def document(field_schema: dict[str, Any]) -> None:
        field_schema.clear()
        field_schema.update(schema, description=description)

    return Field(default=None, json_schema_extra=document)


class _Params(BaseModel):
    """Unknown parameters are refused like on every route (422)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_KINDS = [k.value for k in DeviceKind]


class OverviewParams(_Params):
    hours: str | None = _param(
        "Trend window: hourly buckets aligned to the UTC hour, the last one the current hour.",
        type="integer",
        minimum=TREND_HOURS[0],
        maximum=TREND_HOURS[1],
        default=DEFAULT_TREND_HOURS,
    )


class PositionParams(_Params):
    kind: str | None = _param("Only devices of this kind.", type="string", enum=_KINDS)


class DeviceListParams(_Params):
    q: str | None = _param(
        "Case-insensitive substring of thing_name, model_id or battery_code.", type="string", maxLength=MAX_Q_LENGTH
    )
    kind: str | None = _param("Only devices of this kind.", type="string", enum=_KINDS)
    status: str | None = _param(
        "One or more of charging, discharging, idle, fault, offline, inactive: comma-separated and/or repeated.",
        type="string",
        examples=["fault,offline"],
    )
    model_id: str | None = _param("Exact device model id.", type="string", maxLength=MAX_MODEL_ID_LENGTH)
    min_level: str | None = _param(
        "Only devices whose worst open alarm is at or above this level.", type="integer", minimum=0, maximum=3
    )
    sort: str | None = _param(
        "Sort key; status sorts fault, offline, discharging, charging, idle, inactive; nulls always last, "
        "ties by thing_name.",
        type="string",
        enum=[k.value for k in SortKey],
        default=SortKey.WORST_LEVEL.value,
    )
    order: str | None = _param(
        "Default desc for worst_level and last_seen_ms, asc otherwise.", type="string", enum=["asc", "desc"]
    )
    page: str | None = _param("Page number; past the end: no items.", type="integer", minimum=1, default=1)
    page_size: str | None = _param(
        "Rows per page.", type="integer", minimum=1, maximum=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE
    )


def _choices(values: Sequence[str]) -> str:
    return ", ".join(values)


def _text(value: str | None) -> str | None:
    """A query value with surrounding blanks removed; empty counts as absent."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(name: str, value: str, lo: int, hi: int | None) -> int:
    bound = f"between {lo} and {hi}" if hi is not None else f"≥ {lo}"
    if not _INT.match(value) or not (lo <= int(value) and (hi is None or int(value) <= hi)):
        raise Invalid(
            f"{name} must be an integer {bound}, got {value[:32]!r}",
            code=f"invalid_{name}",
            details={"parameter": name, "min": lo, "max": hi},
        )
    return int(value)


def parse_kind(value: str | None) -> DeviceKind | None:
    value = _text(value)
    if value is None:
        return None
    try:
        return DeviceKind(value)
    except ValueError:
        allowed = [k.value for k in DeviceKind]
        raise Invalid(
            f"kind must be one of {_choices(allowed)}, got {value[:64]!r}",
            code="invalid_kind",
            details={"parameter": "kind", "allowed": allowed},
        ) from None


def _sort_key(value: str | None) -> SortKey:
    if value is None:
        return SortKey.WORST_LEVEL
    try:
        return SortKey(value)
    except ValueError:
        allowed = [k.value for k in SortKey]
        raise Invalid(
            f"sort must be one of {_choices(allowed)}, got {value[:64]!r}",
            code="invalid_sort",
            details={"parameter": "sort", "allowed": allowed},
        ) from None


def parse_statuses(values: Sequence[str]) -> frozenset[FleetStatus]:
    """``status`` values, each possibly comma-separated (``status=fault,offline`` or repeated)."""
    wanted = [s.strip() for v in values for s in v.split(",") if s.strip()]
    allowed = [s.value for s in FleetStatus]
    bad = [s for s in wanted if s not in allowed]
    if bad:
        raise Invalid(
            f"status must be one or more of {_choices(allowed)} (comma-separated), got {bad[0][:64]!r}",
            code="invalid_status",
            details={"parameter": "status", "allowed": allowed},
        )
    return frozenset(FleetStatus(s) for s in wanted)


def parse_hours(value: str | None) -> int:
    value = _text(value)
    lo, hi = TREND_HOURS
    return DEFAULT_TREND_HOURS if value is None else _int("hours", value, lo, hi)


def parse_device_query(params: DeviceListParams) -> DeviceQuery:
    """The query string of ``GET /v1/fleet/devices`` as typed values; :class:`Invalid` names the
    parameter, the value and what is allowed."""
    text = _text(params.q)
    if text is not None and len(text) > MAX_Q_LENGTH:
        raise Invalid(
            f"q is {len(text)} characters long; at most {MAX_Q_LENGTH}",
            code="invalid_q",
            details={"parameter": "q", "max_length": MAX_Q_LENGTH},
        )
    model = _text(params.model_id)
    if model is not None and len(model) > MAX_MODEL_ID_LENGTH:
        raise Invalid(
            f"model_id is {len(model)} characters long; at most {MAX_MODEL_ID_LENGTH}",
            code="invalid_model_id",
            details={"parameter": "model_id", "max_length": MAX_MODEL_ID_LENGTH},
        )
    level = _text(params.min_level)
    sort_key = _sort_key(_text(params.sort))
    order_text = _text(params.order)
    if order_text is not None and order_text not in ("asc", "desc"):
        raise Invalid(
            f"order must be asc or desc, got {order_text[:64]!r}",
            code="invalid_order",
            details={"parameter": "order", "allowed": ["asc", "desc"]},
        )
    descending = order_text == "desc" if order_text is not None else sort_key in _DESC_BY_DEFAULT
    page_text, size_text = _text(params.page), _text(params.page_size)
    return DeviceQuery(
        q=text.casefold() if text is not None else None,
        kind=parse_kind(params.kind),
        statuses=parse_statuses([params.status] if params.status is not None else []),
        model_id=model,
        min_level=_int("min_level", level, 0, 3) if level is not None else None,
        sort=sort_key,
        descending=descending,
        page=_int("page", page_text, 1, None) if page_text is not None else 1,
        page_size=_int("page_size", size_text, 1, MAX_PAGE_SIZE) if size_text is not None else DEFAULT_PAGE_SIZE,
    )


def _matches(row: FleetDeviceRow, query: DeviceQuery) -> bool:
    """Every filter except status (the status facet is counted before it)."""
    if query.kind is not None and row.kind is not query.kind:
        return False
    if query.model_id is not None and row.model_id != query.model_id:
        return False
    if query.min_level is not None and (row.worst_level is None or row.worst_level < query.min_level):
        return False
    if query.q is not None:
        fields = (row.thing_name, row.model_id, row.battery_code or "")
        return any(query.q in f.casefold() for f in fields)
    return True


def sort_rows(rows: Sequence[FleetDeviceRow], key: SortKey, descending: bool) -> list[FleetDeviceRow]:
    """Sorted by ``key``; rows without a value (null) always last; ties by thing name ascending."""
    value = _SORT_VALUE[key]
    by_name = sorted(rows, key=lambda r: r.thing_name)
    present = [r for r in by_name if value(r) is not None]
    missing = [r for r in by_name if value(r) is None]
    # Python's sort is stable also with reverse=True, so equal values keep the name order.
    return sorted(present, key=value, reverse=descending) + missing


def select(rows: Sequence[FleetDeviceRow], query: DeviceQuery) -> FleetDeviceList:
    """Filter, count the status facet, sort and cut one page (a page past the end is empty)."""
    matching = [r for r in rows if _matches(r, query)]
    counts = {s.value: 0 for s in FleetStatus}
    for r in matching:
        counts[r.status.value] += 1
    if query.statuses:
        matching = [r for r in matching if r.status in query.statuses]
    ordered = sort_rows(matching, query.sort, query.descending)
    start = (query.page - 1) * query.page_size
    return FleetDeviceList(
        items=ordered[start : start + query.page_size],
        total=len(matching),
        page=query.page,
        page_size=query.page_size,
        counts_by_status=counts,
    )
