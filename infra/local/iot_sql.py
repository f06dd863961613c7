"""Evaluator for the subset of AWS IoT SQL (version 2016-03-23) that VoltOps rules use.

Supported, with AWS semantics:

* ``SELECT`` list of ``*``, ``encode(*, 'base64')``, ``topic()``, ``topic(n)``,
  ``timestamp()``, ``clientid()``, ``principal()``; every function needs an ``AS`` alias.
* ``FROM '<topic filter>'`` with MQTT wildcards (``+`` one level, ``#`` the rest).
* Substitution templates (``${topic(3)}/${topic(4)}``) for action parameters.

A value that is *Undefined* in AWS (``topic(9)`` on a 6-level topic, an unknown client id) is
left out of the result, as AWS does. Everything else (``WHERE``, other functions, nested
expressions, JSON paths ...) is refused when the rule is loaded, with the reason: a rule the
local engine cannot evaluate exactly must not run with different semantics.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

SUPPORTED_SQL_VERSIONS = ("2016-03-23",)
_FUNCTIONS_NO_ARGS = ("topic", "timestamp", "clientid", "principal")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>\d+)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[(),*])
    )""",
    re.VERBOSE,
)


class IotSqlUnsupported(ValueError):
    """The rule uses IoT SQL the local engine does not implement (raised at load time)."""


class IotSqlEvaluationError(ValueError):
    """The rule cannot be evaluated on this message (in AWS: the error action runs)."""


@dataclass(frozen=True)
class MessageContext:
    """What the broker knows about one message."""

    topic: str
    payload: bytes
    timestamp_ms: int
    client_id: str | None = None
    principal: str | None = None


# -- topic filters ----------------------------------------------------------------------
def validate_filter(topic_filter: str) -> str:
    """Check an MQTT topic filter; return it unchanged."""
    if not topic_filter:
        raise IotSqlUnsupported("empty topic filter in FROM")
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise IotSqlUnsupported(f"'#' must be a whole, last level in topic filter {topic_filter!r}")
        if "+" in level and level != "+":
            raise IotSqlUnsupported(f"'+' must be a whole level in topic filter {topic_filter!r}")
    return topic_filter


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching: ``+`` is exactly one level, ``#`` is the parent level and everything under it;
    a wildcard in the first level never matches a ``$`` topic (MQTT 3.1.1 §4.7.2)."""
    if not topic or "+" in topic or "#" in topic:
        return False
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    if topic.startswith("$") and f_levels[0] in ("+", "#"):
        return False
    for i, f in enumerate(f_levels):
        if f == "#":
            return True
        if i >= len(t_levels):
            return False
        if f != "+" and f != t_levels[i]:
            return False
    return len(f_levels) == len(t_levels)


# -- expressions ------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """A supported function call: ``name`` with its (already validated) arguments."""

    name: str
    level: int | None = None  # topic(n)

    def evaluate(self, ctx: MessageContext) -> Any:
        """The value, or ``None`` for AWS's *Undefined* (left out of the result)."""
        if self.name == "encode":
            return base64.b64encode(ctx.payload).decode("ascii")
        if self.name == "topic":
            if self.level is None:
                return ctx.topic
            levels = ctx.topic.split("/")
            return levels[self.level - 1] if self.level <= len(levels) else None
        if self.name == "timestamp":
            return ctx.timestamp_ms
        if self.name == "clientid":
            return ctx.client_id or None
        if self.name == "principal":
            return ctx.principal or None
        raise AssertionError(self.name)  # unreachable: validated at parse time

    def __str__(self) -> str:
        if self.name == "encode":
            return "encode(*, 'base64')"
        return f"{self.name}({'' if self.level is None else self.level})"


@dataclass(frozen=True)
class SelectItem:
    """``*`` (``call is None``) or ``call AS alias``."""

    call: Call | None
    alias: str | None


class _Parser:
    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what
        self.tokens = self._tokenize(text)
        self.pos = 0

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if not m:
                raise IotSqlUnsupported(f"{self.what}: unsupported syntax at {text[pos:].strip()[:30]!r}")
            kind = m.lastgroup or ""
            tokens.append((kind, m.group(kind)))
            pos = m.end()
        return tokens

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self, expected: str) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise IotSqlUnsupported(f"{self.what}: unexpected end, expected {expected}")
        self.pos += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "ident" and tok[1].upper() == word:
            self.pos += 1
            return True
        return False

    def punct(self, char: str) -> bool:
        tok = self.peek()
        if tok == ("punct", char):
            self.pos += 1
            return True
        return False

    def expect_punct(self, char: str) -> None:
        tok = self.next(repr(char))
        if tok != ("punct", char):
            raise IotSqlUnsupported(f"{self.what}: expected {char!r}, got {tok[1]!r}")

    def call(self) -> Call:
        kind, name = self.next("a function")
        if kind != "ident":
            raise IotSqlUnsupported(f"{self.what}: expected a function call, got {name!r}")
        nxt = self.peek()
        if nxt != ("punct", "("):
            raise IotSqlUnsupported(
                f"{self.what}: {name!r} is not supported (only the functions encode(*, 'base64'), "
                "topic(), topic(n), timestamp(), clientid(), principal(); no JSON field references)"
            )
        self.pos += 1
        if name == "encode":
            if not self.punct("*"):
                raise IotSqlUnsupported(f"{self.what}: only encode(*, 'base64') is supported")
            self.expect_punct(",")
            kind, enc = self.next("'base64'")
            if (kind, enc) != ("string", "'base64'"):
                raise IotSqlUnsupported(f"{self.what}: encode() supports only 'base64', got {enc}")
            self.expect_punct(")")
            return Call("encode")
        if name == "topic":
            tok = self.peek()
            if tok and tok[0] == "number":
                self.pos += 1
                level = int(tok[1])
                if level < 1:
                    raise IotSqlUnsupported(f"{self.what}: topic(n) counts levels from 1, got {level}")
                self.expect_punct(")")
                return Call("topic", level)
            self.expect_punct(")")
            return Call("topic")
        if name in _FUNCTIONS_NO_ARGS:
            self.expect_punct(")")
            return Call(name)
        raise IotSqlUnsupported(f"{self.what}: function {name}() is not supported by the local IoT SQL engine")

    def at_end(self) -> bool:
        return self.pos >= len(self.tokens)


# -- rules ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompiledRule:
    sql: str
    select: tuple[SelectItem, ...]
    topic_filter: str

    def matches(self, topic: str) -> bool:
        return topic_matches(self.topic_filter, topic)

    def evaluate(self, ctx: MessageContext) -> dict[str, Any]:
        """The rule's JSON result for a message on a matching topic."""
        if not self.matches(ctx.topic):
            raise IotSqlEvaluationError(f"topic {ctx.topic!r} does not match {self.topic_filter!r}")
        result: dict[str, Any] = {}
        for item in self.select:
            if item.call is None:
                result.update(_payload_object(ctx.payload))
                continue
            value = item.call.evaluate(ctx)
            if value is not None:
                assert item.alias is not None
                result[item.alias] = value
        return result


def _payload_object(payload: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise IotSqlEvaluationError(f"SELECT * needs a JSON payload: {exc}") from exc
    if not isinstance(doc, dict):
        raise IotSqlEvaluationError("SELECT * needs a JSON object payload")
    return doc


def compile_sql(sql: str, sql_version: str = "2016-03-23") -> CompiledRule:
    """Parse a rule's SQL; raise :class:`IotSqlUnsupported` for anything outside the subset."""
    if sql_version not in SUPPORTED_SQL_VERSIONS:
        raise IotSqlUnsupported(f"IoT SQL version {sql_version!r} is not supported ({SUPPORTED_SQL_VERSIONS})")
    p = _Parser(sql, "IoT SQL")
    if not p.keyword("SELECT"):
        raise IotSqlUnsupported("IoT SQL must start with SELECT")
    if p.keyword("DISTINCT") or p.keyword("VALUE"):
        raise IotSqlUnsupported("SELECT DISTINCT / SELECT VALUE are not supported")
    items: list[SelectItem] = []
    aliases: set[str] = set()
    while True:
        if p.punct("*"):
            if p.keyword("AS"):
                raise IotSqlUnsupported("'* AS alias' is not supported")
            items.append(SelectItem(None, None))
        else:
            call = p.call()
            if not p.keyword("AS"):
                raise IotSqlUnsupported(f"{call} needs an AS alias (the result key must be explicit)")
            kind, alias = p.next("an alias")
            if kind != "ident" or not _IDENT.fullmatch(alias) or alias.upper() in ("FROM", "AS", "WHERE"):
                raise IotSqlUnsupported(f"invalid alias {alias!r} for {call}")
            if alias in aliases:
                raise IotSqlUnsupported(f"duplicate alias {alias!r}")
            aliases.add(alias)
            items.append(SelectItem(call, alias))
        if not p.punct(","):
            break
    if not p.keyword("FROM"):
        tok = p.peek()
        raise IotSqlUnsupported(f"expected ',' or FROM after a select item, got {tok[1] if tok else 'end'!r}")
    kind, literal = p.next("a quoted topic filter")
    if kind != "string":
        raise IotSqlUnsupported(f"FROM needs a quoted topic filter, got {literal!r}")
    topic_filter = validate_filter(literal[1:-1].replace("''", "'"))
    if not p.at_end():
        rest = p.tokens[p.pos][1]
        raise IotSqlUnsupported(
            f"unsupported clause after FROM starting at {rest!r} (WHERE etc. are not implemented locally)"
        )
    return CompiledRule(sql=sql, select=tuple(items), topic_filter=topic_filter)


# -- substitution templates --------------------------------------------------------------
_SUBST = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Template:
    """An action parameter with ``${expression}`` substitutions (e.g. a partition key)."""

    text: str
    parts: tuple[str | Call, ...]

    def render(self, ctx: MessageContext) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part.evaluate(ctx)
            if value is None or value == "":
                raise IotSqlEvaluationError(f"${{{part}}} is undefined for topic {ctx.topic!r}")
            out.append(str(value))
        return "".join(out)


def compile_template(text: str) -> Template:
    parts: list[str | Call] = []
    pos = 0
    for m in _SUBST.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        p = _Parser(m.group(1), f"substitution template {text!r}")
        call = p.call()
        if call.name == "encode":
            raise IotSqlUnsupported(f"substitution template {text!r}: encode() is not allowed here")
        if not p.at_end():
            raise IotSqlUnsupported(f"substitution template {text!r}: only a single function call per ${{}}")
        parts.append(call)
        pos = m.end()
    tail = text[pos:]
    if "${" in tail:
        raise IotSqlUnsupported(f"substitution template {text!r}: unterminated ${{")
    if tail:
        parts.append(tail)
    return Template(text=text, parts=tuple(parts))
