"""(d) AWS cost per million messages of the chosen design (us-east-1 list prices)."""

from __future__ import annotations

from typing import Any

PRICES = {
    "iot_messaging_per_million": 1.00,  # per million messages (5 KB increments), first billion
    "iot_rules_per_million": 0.15,  # rules triggered
    "iot_actions_per_million": 0.15,  # actions executed
    "kinesis_shard_hour": 0.015,
    "kinesis_put_units_per_million": 0.014,  # 25 KB payload units
    "lambda_gb_s": 0.0000166667,  # x86_64
    "lambda_requests_per_million": 0.20,
    "dynamodb_wru_per_million": 0.625,  # on-demand write request units
    "s3_put_per_thousand": 0.005,
}
ASSUMPTIONS = {
    "message_kb": 1.3,  # a 100-cell pack message as JSON
    "batch_size": 100,  # Kinesis → Lambda batch
    "lambda_memory_gb": 0.5,
    "io_ms_per_batch": 120,  # DynamoDB batch writes + S3 put per batch (network wait, billed)
    "wru_per_message": 5,  # history 2 + latest 2 + dedupe 1 (items of 1-2 KB)
    "s3_puts_per_batch": 1,
    "throughput_msgs_per_s": 100,  # 1,000 devices at one message per 10 s, for the shard-hours share
}


def run(cpu_us_per_msg: float | None) -> dict[str, Any]:
    cpu_us = cpu_us_per_msg if cpu_us_per_msg is not None else 300.0
    m = 1_000_000
    batches = m / ASSUMPTIONS["batch_size"]
    lambda_s = batches * (ASSUMPTIONS["io_ms_per_batch"] / 1000) + m * cpu_us / 1e6
    seconds_for_million = m / ASSUMPTIONS["throughput_msgs_per_s"]
    items = {
        "iot_messaging": PRICES["iot_messaging_per_million"],
        "iot_rules_and_actions": PRICES["iot_rules_per_million"] + PRICES["iot_actions_per_million"],
        "kinesis_put_units": PRICES["kinesis_put_units_per_million"],
        "kinesis_shard_hours": PRICES["kinesis_shard_hour"] * seconds_for_million / 3600,
        "lambda_compute": lambda_s * ASSUMPTIONS["lambda_memory_gb"] * PRICES["lambda_gb_s"],
        "lambda_requests": batches / m * PRICES["lambda_requests_per_million"],
        "dynamodb_writes": ASSUMPTIONS["wru_per_message"] * PRICES["dynamodb_wru_per_million"],
        "s3_archive_puts": batches * ASSUMPTIONS["s3_puts_per_batch"] / 1000 * PRICES["s3_put_per_thousand"],
    }
    items = {k: round(v, 4) for k, v in items.items()}
    return {
        "usd_per_million_messages": round(sum(items.values()), 2),
        "line_items_usd": items,
        "measured_cpu_us_per_msg": cpu_us,
        "prices_usd": PRICES,
        "assumptions": ASSUMPTIONS,
        "note": "us-east-1 list prices (2025); DynamoDB writes dominate - see docs/decisions.md D3",
    }
