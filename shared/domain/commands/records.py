"""Requests of the command domain (the API's request bodies) and their limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.telemetry import CommandName

#: A command lives at most an hour: QoS 1 may redeliver for that long, and a late command
#: must never run (the device drops it at expires_at_ms).
MAX_TTL_S = 3600
DEFAULT_TTL_S = 30
DEFAULT_ACK_TIMEOUT_S = 15
REASON_MAX = 500
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:#@/+=-]{1,128}$"


class SendCommand(BaseModel):
    """An operator's command to one device (SLW-CTL-1/2): what, with which parameters, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: CommandName = Field(
        description="cut_off, stop_charge, stop_discharge, set_reporting_interval, restart, "
        "fault_reset or set_parameters."
    )
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="set_reporting_interval: {interval_ms: 100..600000}; set_parameters: at least one of "
        "max_charge_current_a, max_discharge_current_a (> 0, <= 3000 A), max_temperature_c (0..120), "
        "min_temperature_c (-40..40); the other commands take none.",
    )
    reason: str = Field(min_length=1, max_length=REASON_MAX, description="Why the operator sends it (kept).")
    idempotency_key: str = Field(
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Client-chosen key, unique per device: a retry with the same key returns the same command "
        "and never sends it twice.",
    )
    ttl_s: int = Field(
        default=DEFAULT_TTL_S,
        ge=1,
        le=MAX_TTL_S,
        description="Seconds the command stays valid; the device never executes it later.",
    )
