"""IoT topic rule definitions — the one place they exist.

The CDK construct (``infra/constructs/iot.py``) deploys them as ``AWS::IoT::TopicRule``; the
local rules engine (``infra/local/rules_engine.py``) evaluates the very same SQL against the
local broker's traffic. The SQL uses only this subset, which the local evaluator implements
and refuses to go beyond: ``SELECT`` of ``encode(*, 'base64')``, ``topic()``, ``topic(n)``,
``timestamp()``, ``clientid()``, ``principal()`` with ``AS`` aliases, ``FROM '<filter>'``.

Why ``encode(*, 'base64')``: the rule must forward *every* byte a device sends — malformed
JSON included — so that ingest can quarantine it with the reason. ``SELECT *`` would make the
rule itself fail on a non-JSON payload and the message would only reach the error action.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts import topics


@dataclass(frozen=True)
class KinesisTarget:
    """Put the SQL result on a Kinesis stream; ``partition_key`` is an IoT substitution template."""

    stream: str  # logical stream name; the CDK construct / local stack map it to the real one
    partition_key: str


@dataclass(frozen=True)
class TopicRuleDefinition:
    name: str
    description: str
    sql: str
    target: KinesisTarget
    sql_version: str = "2016-03-23"


#: Everything a device sends upward goes to one stream, keyed by device, so per-device order
#: holds across telemetry, positions, events and acks (stateful alarm rules depend on it).
UPLINK_INGEST = TopicRuleDefinition(
    name="voltops_uplink_ingest",
    description="Every uplink message of every device to the ingest stream, keyed by tenant/thing.",
    sql=(
        "SELECT encode(*, 'base64') AS payload_b64, topic() AS topic, timestamp() AS arrival_ms, "
        f"clientid() AS client_id, principal() AS principal FROM '{topics.UPLINK_FILTER}'"
    ),
    target=KinesisTarget(stream="uplink", partition_key="${topic(3)}/${topic(4)}"),
)

RULES: tuple[TopicRuleDefinition, ...] = (UPLINK_INGEST,)
