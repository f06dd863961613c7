"""Alarm benchmarks through the local stack (reported figures, not tests).

(b) Publish → alarm stored → notification in the outbox: registered packs publish healthy
    telemetry at 1 message/s each, spread over the second; once a second one of them (rotating)
    publishes a sample that raises a level-3 alarm on that single sample (``gb_alarm_level3``:
    the terminal reports GB/T 32960 alarm level 3; no ``for_s``, no protective action). Per
    probe: publish → alarm raised (server stamp) and → visible in the alarms table (polled),
    publish → first outbox line of the alarm (any channel), → in-app line, → each channel.
(c) Thermal runaway → cut-off: fresh cabinets run the simulator's ``thermal_runaway`` scenario
    (gas phase fast-forwarded, real time from a few seconds before the heat); the default rules
    are evaluated in-process on exactly the published samples,
    which names the sample that first meets GB 38031 C.5.3.7; the figure is the time from
    publishing THAT sample to the ``thermal_runaway`` alarm's ``cut_off`` arriving on the
    device's command topic.

One :class:`~infra.local.stack.LocalStack` serves both (:func:`run` starts it once). Everything
(moto server aside, a child process) shares this process and its GIL with the benchmark's own
publishers, so the figures are for the whole local platform on this machine, not for AWS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Result keys, in the style of ``bench/results.json`` (``bench/__main__.py`` merges :func:`run`).
KEY_NOTIFICATION = "alarms_b_publish_to_notification_latency"
KEY_RUNAWAY = "alarms_c_runaway_to_cut_off_latency"
KEY_STACK = "alarms_bench_stack"

#: Raises on one sample (GbAlarmCondition, no for_s), level 3 (in-app, e-mail, SMS, voice in the
#: local demo policy), no protective action, auto-clears on the next sample without the alarm.
PROBE_RULE = "gb_alarm_level3"
RUNAWAY_RULE = "thermal_runaway"
CHANNELS = ("in_app", "email", "sms", "voice")
POLL_S = 0.05
SAMPLE_BACKLOG_S = 0.5
#: Nominal healthy cell voltage per chemistry prefix of the catalogue's model ids.
_NOMINAL_CELL_V = {"lfp": 3.30, "nmc": 3.70}


# ---- small helpers ------------------------------------------------------------------------------------


def _stats(values_s: list[float]) -> dict[str, Any]:
    """count, p50/p99/max/min in ms (inclusive quantiles: never outside the observed range)."""
    if not values_s:
        return {"count": 0}
    ms = sorted(v * 1000.0 for v in values_s)
    out: dict[str, Any] = {"count": len(ms), "min_ms": round(ms[0], 1), "max_ms": round(ms[-1], 1)}
    if len(ms) >= 2:
        q = statistics.quantiles(ms, n=100, method="inclusive")
        out["p50_ms"], out["p99_ms"] = round(q[49], 1), round(q[98], 1)
    else:
        out["p50_ms"] = out["p99_ms"] = round(ms[0], 1)
    return out


def _loadavg() -> list[float] | None:
    with contextlib.suppress(OSError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def _wait(predicate: Any, timeout_s: float, interval_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())


@contextlib.contextmanager
def _local_stack(packs: int, cabinets: int = 0) -> Iterator[Any]:
    """A stack of its own in a throw-away state dir (never a developer's ``.local``)."""
    from infra.local.stack import LocalStack

    state_dir = Path(tempfile.mkdtemp(prefix="voltops-bench-alarms-"))
    stack = LocalStack(packs=packs, cabinets=cabinets, simulator=False, state_dir=state_dir)
    # The functions print EMF metrics and JSON logs to stdout, as in Lambda: into a log file, as
    # voltops-local does, so the benchmark's own output stays readable.
    (state_dir / "logs").mkdir()
    try:
        with (state_dir / "logs" / "functions.log").open("a", buffering=1) as log_file:
            counter = _LogCounter(log_file)
            logging.getLogger().addHandler(counter)
            setattr(stack, "bench_log", counter)  # noqa: B010 - read back by run()
            with contextlib.redirect_stdout(log_file):
                try:
                    stack.start()
                    yield stack
                finally:
                    stack.stop()
                    logging.getLogger().removeHandler(counter)
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


class _LogCounter(logging.Handler):
    """Counts the stack's warnings and errors (pollers, pipeline) and keeps them in its log."""

    def __init__(self, stream: Any) -> None:
        super().__init__(logging.WARNING)
        self.counts: dict[str, int] = {}
        self.first: list[str] = []
        self.stream = stream
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] = self.counts.get(record.levelname, 0) + 1
        if len(self.first) < 10:
            self.first.append(f"{record.levelname} {record.name}: {record.getMessage()}"[:300])
        with contextlib.suppress(Exception):
            self.stream.write(self.format(record) + "\n")


def _function_errors(stack: Any) -> int:
    """ERROR lines the functions' own (powertools, JSON) loggers printed so far."""
    path = Path(stack.state_dir) / "logs" / "functions.log"
    if not path.exists():
        return 0
    with path.open(encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if '"level":"ERROR"' in line.replace(" ", ""))


def _mqtt_client(stack: Any, name: str) -> Any:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{name}-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(stack.broker_host, stack.plain_port)
    client.loop_start()
    return client


def _counters(stack: Any) -> dict[str, int]:
    """Monotonic counters of each stage (deltas over a run give throughput and backlog)."""
    return {
        "rules_engine_received": stack.rules_engine.stats.received,
        "ingest_done": stack.poller.stats.records_done,
        "alarms_done": stack.alarm_poller.stats.records_done,
        "notifications_in": stack.notification_poller.stats.records_in,
        "notifications_done": stack.notification_poller.stats.records_done,
    }


class _HandlerClock:
    """Wraps a poller's in-process handler: seconds spent inside it (wall time, so waiting for
    moto and for the GIL count; several shard threads may be inside at once) and records seen."""

    def __init__(self, poller: Any) -> None:
        self.poller = poller
        self.inner = poller.handler
        self.busy_s = 0.0
        self.calls = 0
        self.records = 0
        self.lock = threading.Lock()
        poller.handler = self

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        t = time.perf_counter()
        try:
            return self.inner(event, context)
        finally:
            with self.lock:
                self.busy_s += time.perf_counter() - t
                self.calls += 1
                self.records += len(event.get("Records", []))

    def restore(self) -> None:
        self.poller.handler = self.inner

    def report(self, wall_s: float) -> dict[str, Any]:
        return {
            "handler_s_per_wall_s": round(self.busy_s / wall_s, 2) if wall_s > 0 else None,
            "ms_per_record": round(self.busy_s * 1000 / self.records, 1) if self.records else None,
            "records": self.records,
            "invocations": self.calls,
        }


def _pipeline_idle(stack: Any) -> bool:
    s = stack.rules_engine.stats
    return (
        s.received == s.actions_ok + s.error_actions + s.lost
        and stack.poller.idle
        and stack.alarm_poller.idle
        and stack.notification_poller.idle
    )


def _quarantined_topics() -> list[str]:
    """Topics of the messages ingest quarantined (validation failures) so far."""
    from shared.dal.archive import list_quarantine

    with contextlib.suppress(Exception):
        return [str(q.get("topic", "")) for q in list_quarantine()]
    return []


def _model(stack: Any, model_id: str) -> Any:
    from functions.api import wiring

    scoped = wiring.model_registry().resolve(stack.tenant, model_id)
    if scoped is None:
        raise RuntimeError(f"model {model_id} not in the registry")
    return scoped.model


def _default_rules() -> Any:
    from shared.domain.alarms import engine
    from shared.domain.alarms.default_rules import DEFAULT_RULES, DEFAULT_RULES_VERSION

    return engine.EffectiveRules(version=f"default@{DEFAULT_RULES_VERSION}", rules=tuple(DEFAULT_RULES))


# ---- (b) healthy fleet with alarm probes ----------------------------------------------------------------


def _healthy_body(model: Any) -> dict[str, Any]:
    """A sample inside every default rule of the model (checked in-process by _check_probe_design)."""
    nominal = _NOMINAL_CELL_V.get(model.model_id.split("-")[0], 3.30)
    cells = [round(nominal + 0.0005 * (i % 10), 4) for i in range(model.cell_count)]
    return {
        "kind": model.kind.value,
        "boot_id": "",
        "seq": 0,
        "device_ts_ms": 0,
        "pack_voltage_v": round(sum(cells), 2),
        "current_a": round(0.1 * model.limits.max_discharge_current_a, 1),
        "soc_pct": 62.0,
        "insulation_resistance_kohm": 20000.0,
        "cell_voltages_v": cells,
        "probe_temperatures_c": [round(25.0 + 0.02 * i, 2) for i in range(model.probe_count)],
        "state": "discharging",
        "gb_alarm": {"flags": 0, "max_level": 0},
    }


def _with_alarm(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "gb_alarm": {"flags": 0, "max_level": 3}}


def _check_probe_design(models: dict[str, Any], hold_samples: int) -> str | None:
    """In-process, default rules: 70 s of healthy samples raise nothing; a probe raises exactly
    ``gb_alarm_level3`` on its first sample and nothing else; the next healthy sample clears it.
    Returns what is wrong, or None."""
    from pydantic import TypeAdapter

    from shared.contracts.telemetry import Telemetry
    from shared.domain.alarms import engine

    adapter: TypeAdapter[Any] = TypeAdapter(Telemetry)
    rules = _default_rules()
    t0 = int(time.time() * 1000) - 200_000
    for model in models.values():
        ctx = engine.DeviceContext("bench", "bench-check", model.kind, model.model_id, model.limits)
        state = engine.EngineState()
        healthy = _healthy_body(model)
        plan = ["ok"] * 70 + ["alarm"] * hold_samples + ["ok"] * 3
        seen: list[tuple[int, str, str]] = []
        for i, what in enumerate(plan):
            body = {**(_with_alarm(healthy) if what == "alarm" else healthy), "boot_id": "check", "seq": i}
            body["device_ts_ms"] = t0 + i * 1000
            sample = engine.Sample(f"k{i}", body["device_ts_ms"], body["device_ts_ms"], adapter.validate_python(body))
            ev = engine.evaluate(ctx, rules, state, sample)
            state = ev.state
            seen += [(i, t.kind, t.rule.rule_id) for t in ev.transitions]
        expected = [(70, "raise", PROBE_RULE), (70 + hold_samples, "clear", PROBE_RULE)]
        if seen != expected:
            return f"{model.model_id}: transitions {seen}, expected {expected}"
    return None


@dataclass
class _Probe:
    thing: str
    seq: int
    alarm_id: str
    published_s: float  # wall clock (the outbox stamps wall-clock ms)
    index: int
    raised_s: float | None = None  # the alarm's raised_at_ms (server stamp, before the write)
    visible_s: float | None = None  # first poll that saw it in the alarms table
    channels: dict[str, float] = field(default_factory=dict)  # first outbox line per channel


class _OutboxTail:
    """Reads new lines of ``<state>/outbox/<channel>.jsonl`` (no re-reading of the whole file)."""

    def __init__(self, state_dir: Path) -> None:
        from infra.local.outbox import outbox_dir

        self.dir = outbox_dir(state_dir)
        self.offsets: dict[str, int] = {}
        self.partial: dict[str, bytes] = {}

    def skip_existing(self) -> None:
        for channel in CHANNELS:
            path = self.dir / f"{channel}.jsonl"
            self.offsets[channel] = path.stat().st_size if path.exists() else 0
            self.partial[channel] = b""

    def read(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for channel in CHANNELS:
            path = self.dir / f"{channel}.jsonl"
            if not path.exists():
                continue
            with path.open("rb") as f:
                f.seek(self.offsets.get(channel, 0))
                data = f.read()
            if not data:
                continue
            self.offsets[channel] = self.offsets.get(channel, 0) + len(data)
            data = self.partial.get(channel, b"") + data
            *lines, self.partial[channel] = data.split(b"\n")
            out += [json.loads(line) for line in lines if line.strip()]
        return out


def run_notification_latency(
    devices: int = 200,
    duration_s: float = 30.0,
    *,
    warmup_s: float = 5.0,
    probes_per_s: float = 1.0,
    hold_samples: int = 3,
    drain_timeout_s: float = 60.0,
    stack: Any = None,
) -> dict[str, Any]:
    """(b) ``devices`` packs at 1 message/s each; ``probes_per_s`` of the messages raise an alarm.

    Probes start after ``warmup_s`` of healthy traffic and run for ``duration_s``; afterwards
    the watcher keeps looking until every probe has its alarm and all four outbox lines and both
    stream consumers have consumed everything published, for at most ``drain_timeout_s``
    (probes still missing then are reported as unobserved). A probe device reports the alarm in
    ``hold_samples`` consecutive samples, then healthy ones again (the alarm clears).
    """
    if stack is None:
        try:
            with _local_stack(packs=devices) as own:
                return run_notification_latency(
                    devices,
                    duration_s,
                    warmup_s=warmup_s,
                    probes_per_s=probes_per_s,
                    hold_samples=hold_samples,
                    drain_timeout_s=drain_timeout_s,
                    stack=own,
                )
        except ImportError as exc:
            return {"skipped": f"local stack unavailable: {exc}"}

    from shared.contracts import topics
    from shared.contracts.devices import DeviceKind
    from shared.dal.alarms import DynamoAlarmRepository
    from shared.domain.alarms.ports import AlarmQuery
    from shared.domain.alarms.service import alarm_id_for

    packs = [t for t in stack.registered_things() if stack.fleet[t].kind == DeviceKind.BATTERY_PACK.value]
    if len(packs) < devices:
        return {"error": f"the stack has {len(packs)} packs, {devices} asked for"}
    things = packs[:devices]
    models = {t: _model(stack, stack.fleet[t].model_id) for t in things}
    problem = _check_probe_design({m.model_id: m for m in models.values()}, hold_samples)
    if problem is not None:
        return {"error": f"the probe design does not hold against the default rules: {problem}"}
    templates = {t: _healthy_body(models[t]) for t in things}
    topic_of = {t: topics.uplink(stack.tenant, t, topics.UpType.TELEMETRY) for t in things}
    tenant = stack.tenant
    boot = f"bench{uuid.uuid4().hex[:10]}"  # a fresh boot per run: seq restarts at 0

    probes: dict[str, _Probe] = {}
    lock = threading.Lock()
    done = threading.Event()
    tail = _OutboxTail(stack.outbox_dir)
    tail.skip_existing()
    repo_holder: list[Any] = []
    poll_durations: list[float] = []

    def watch() -> None:
        repo = DynamoAlarmRepository()
        repo_holder.append(repo)
        while not done.is_set():
            with lock:
                waiting = [p for p in probes.values() if p.visible_s is None]
            if waiting:
                from_ms = int(min(p.published_s for p in waiting) * 1000) - 2000
                q0 = time.time()
                page = repo.query(tenant, AlarmQuery(rule_id=PROBE_RULE, from_ms=from_ms), limit=10_000, after=None)
                q1 = time.time()
                poll_durations.append(q1 - q0)
                with lock:
                    for alarm in page.items:
                        p = probes.get(alarm.alarm_id)
                        if p is not None and p.visible_s is None:
                            p.visible_s = q1  # upper bound: the previous poll did not see it
                            p.raised_s = alarm.raised_at_ms / 1000.0
            for record in tail.read():
                if record.get("kind") != "alarm_raised":
                    continue
                with lock:
                    p = probes.get(record.get("alarm_id", ""))
                    if p is not None:
                        p.channels.setdefault(record["channel"], record["at_ms"] / 1000.0)
            done.wait(POLL_S)

    samples: list[dict[str, float]] = []
    published = 0
    base = _counters(stack)

    def sample_backlog() -> None:
        while not done.is_set():
            c = _counters(stack)
            samples.append(
                {
                    "t": time.time(),
                    "published": published,
                    **{k: c[k] - base[k] for k in c},
                }
            )
            done.wait(SAMPLE_BACKLOG_S)

    client = _mqtt_client(stack, "alarms-b")
    watcher = threading.Thread(target=watch, name="bench-alarm-watch", daemon=True)
    sampler = threading.Thread(target=sample_backlog, name="bench-alarm-backlog", daemon=True)
    watcher.start()
    sampler.start()
    seq = dict.fromkeys(things, 0)
    # Probe k at second warmup + k / probes_per_s, on device k mod devices: a different device and a
    # different position in the second each time.
    probe_plan: dict[tuple[int, int], int] = {}
    k = 0
    while (at := warmup_s + k / probes_per_s) < warmup_s + duration_s:
        probe_plan.setdefault((int(at), k % devices), k)
        k += 1
    alarm_left: dict[str, int] = {}
    total_s = int(warmup_s + duration_s)
    max_behind = 0.0
    load_before = _loadavg()
    clocks = {
        "ingest": _HandlerClock(stack.poller),
        "alarms": _HandlerClock(stack.alarm_poller),
        "notifications": _HandlerClock(stack.notification_poller),
    }
    t0 = time.time() + 0.2
    try:
        for second in range(total_s):
            for i, thing in enumerate(things):
                target = t0 + second + i / devices
                delay = target - time.time()
                if delay > 0:
                    time.sleep(delay)
                else:
                    max_behind = max(max_behind, -delay)
                probe_no = probe_plan.get((second, i))
                probe_now = probe_no is not None and thing not in alarm_left
                body = templates[thing]
                if probe_now or thing in alarm_left:
                    body = _with_alarm(body)
                s = seq[thing]
                seq[thing] = s + 1
                payload = json.dumps({**body, "boot_id": boot, "seq": s, "device_ts_ms": int(time.time() * 1000)})
                if probe_now:
                    key = f"{tenant}#{thing}#{boot}#{s}"
                    p = _Probe(thing, s, alarm_id_for(tenant, thing, PROBE_RULE, key), time.time(), int(probe_no or 0))
                    with lock:
                        probes[p.alarm_id] = p
                    alarm_left[thing] = hold_samples
                client.publish(topic_of[thing], payload, qos=1)
                published += 1
                if thing in alarm_left:
                    alarm_left[thing] -= 1
                    if alarm_left[thing] <= 0:
                        del alarm_left[thing]
        t_end = time.time()
        publishing_s = t_end - t0
        end_counters = {k: v - base[k] for k, v in _counters(stack).items()}

        def complete() -> bool:
            with lock:
                return all(p.visible_s is not None and len(p.channels) == len(CHANNELS) for p in probes.values())

        # Until every probe is seen through, and both stream consumers have consumed everything
        # published (their drain times are figures too), or drain_timeout_s.
        drained: dict[str, float] = {}
        deadline = time.time() + drain_timeout_s
        while time.time() < deadline:
            now_counters = _counters(stack)
            for consumer in ("ingest", "alarms"):
                if consumer not in drained and now_counters[f"{consumer}_done"] - base[f"{consumer}_done"] >= published:
                    drained[consumer] = time.time() - t_end
            if len(drained) == 2 and complete():
                break
            time.sleep(0.1)
    finally:
        done.set()
        watched_s = time.time() - t0
        for c in clocks.values():
            c.restore()
        watcher.join(timeout=10)
        sampler.join(timeout=5)
        client.loop_stop()
        client.disconnect()

    ordered = sorted(probes.values(), key=lambda p: p.index)
    half = len(ordered) // 2

    def lat(attr: str, ps: list[_Probe]) -> list[float]:
        return [getattr(p, attr) - p.published_s for p in ps if getattr(p, attr) is not None]

    def first_any(p: _Probe) -> float | None:
        return min(p.channels.values()) - p.published_s if p.channels else None

    def chan(name: str, ps: list[_Probe]) -> list[float]:
        return [p.channels[name] - p.published_s for p in ps if name in p.channels]

    rate_window = [s for s in samples if t0 + warmup_s <= s["t"] <= t_end]  # probes on, publishing
    backlog_alarms = [s["published"] - s["alarms_done"] for s in rate_window]
    backlog_ingest = [s["published"] - s["ingest_done"] for s in rate_window]
    consumer_rate: dict[str, float] = {}
    if len(rate_window) >= 2:
        a, b = rate_window[0], rate_window[-1]
        span = b["t"] - a["t"]
        for name in ("rules_engine_received", "ingest_done", "alarms_done"):
            consumer_rate[name] = round((b[name] - a[name]) / span, 1)
    end_backlog_alarms = published - end_counters["alarms_done"]
    end_backlog_ingest = published - end_counters["ingest_done"]
    return {
        "devices": devices,
        "rate_per_device_per_s": 1,
        "warmup_s": warmup_s,
        "duration_s": duration_s,
        "probe_rule": PROBE_RULE,
        "probe_level": 3,
        "probes_per_s": probes_per_s,
        "published": published,
        "achieved_msg_per_s": round(published / publishing_s, 1),
        "publisher_max_behind_schedule_ms": round(max_behind * 1000, 1),
        "probes": len(ordered),
        "publish_to_alarm_raised": _stats(lat("raised_s", ordered)),
        "publish_to_alarm_visible": _stats(lat("visible_s", ordered)),
        "publish_to_first_outbox_line": _stats([v for p in ordered if (v := first_any(p)) is not None]),
        # Server stamps only: the notification leg (bus -> queue -> notification function -> channel).
        "alarm_raised_to_first_outbox_line": _stats(
            [min(p.channels.values()) - p.raised_s for p in ordered if p.channels and p.raised_s is not None]
        ),
        "publish_to_outbox_by_channel": {c: _stats(chan(c, ordered)) for c in CHANNELS},
        "trend_first_vs_second_half_p50_ms": {
            "alarm_visible": [
                _stats(lat("visible_s", ordered[:half])).get("p50_ms"),
                _stats(lat("visible_s", ordered[half:])).get("p50_ms"),
            ],
            "first_outbox_line": [
                _stats([v for p in ordered[:half] if (v := first_any(p)) is not None]).get("p50_ms"),
                _stats([v for p in ordered[half:] if (v := first_any(p)) is not None]).get("p50_ms"),
            ],
        },
        "unobserved": {
            "alarm": sum(1 for p in ordered if p.visible_s is None),
            "any_outbox_line": sum(1 for p in ordered if not p.channels),
            **{c: sum(1 for p in ordered if c not in p.channels) for c in CHANNELS},
        },
        "pipeline": {
            "consumed_per_s_while_publishing": consumer_rate,
            "backlog_at_end_of_publishing": {"ingest": end_backlog_ingest, "alarms": end_backlog_alarms},
            "max_backlog": {"ingest": max(backlog_ingest, default=0), "alarms": max(backlog_alarms, default=0)},
            "drained_s_after_publishing": {
                c: round(drained[c], 1) if c in drained else None for c in ("ingest", "alarms")
            },
            "kept_up": end_backlog_alarms <= devices and end_backlog_ingest <= devices,
            "notification_events_handled": end_counters["notifications_done"],
            # From the first message to the end of the drain wait: where the time goes.
            "consumers": {name: c.report(watched_s) for name, c in clocks.items()},
            "alarms_table_poll_ms_p50": _stats(poll_durations).get("p50_ms"),
        },
        "loadavg_before": load_before,
        "loadavg_after": _loadavg(),
        "note": "local stack on loopback, one process (moto server aside): mosquitto -> rules engine -> moto "
        "Kinesis -> alarm poller -> alarm handler -> moto DynamoDB + EventBridge -> SQS -> notification poller "
        "-> channels (moto SES/SNS) -> outbox. 'raised' is the alarm's server stamp (taken before it is "
        "written); 'visible' is the first 50 ms poll of the alarms table that returned it (upper bound); "
        "outbox times are the lines' own at_ms. Times are wall-clock. kept_up: backlog of both stream "
        "consumers at the end of publishing under one second of traffic.",
    }


# ---- (c) thermal runaway → cut-off ----------------------------------------------------------------------


_UP_TYPE = {
    "battery_pack": "TELEMETRY",
    "storage_cabinet": "TELEMETRY",
    "position": "POSITION",
    "event": "EVENT",
    "ack": "ACK",
}


def _runaway_device(
    stack: Any,
    thing: str,
    model: Any,
    start_at: float,
    warmup_steps: int,
    realtime_from_s: float,
    fast_speedup: float,
    max_steps: int,
    cutoff_timeout_s: float,
) -> dict[str, Any]:
    """One cabinet: warm-up (published at once), the runaway's first ``realtime_from_s`` (the gas
    phase) ``fast_speedup`` times faster than real time, then real time until the
    ``thermal_runaway`` alarm's cut-off arrives on its command topic. Device time trails the
    wall clock by the time the fast part took (never ahead of it)."""
    from device_sdk.commands import CommandProcessor, InMemoryHandledStore
    from device_sdk.simulate.device import DeviceSpec, SimulatedDevice
    from shared.contracts import topics
    from shared.contracts.telemetry import BatteryPackTelemetry, CommandAck, StorageCabinetTelemetry
    from shared.domain.alarms import engine
    from shared.domain.alarms.service import alarm_id_for

    tenant = stack.tenant
    rules = _default_rules()
    ctx = engine.DeviceContext(tenant, thing, model.kind, model.model_id, model.limits)
    state = engine.EngineState()
    inbox: queue.Queue[tuple[float, bytes]] = queue.Queue()
    client = _mqtt_client(stack, f"rw-{thing[-8:]}")
    client.on_message = lambda _c, _u, m: inbox.put((time.monotonic(), m.payload))
    client.subscribe(topics.downlink(tenant, thing), qos=1)
    time.sleep(max(0.2, start_at - time.monotonic()))  # subscribed, and this run's turn
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - round((warmup_steps + realtime_from_s) * 1000)
    sim = SimulatedDevice(DeviceSpec(tenant, thing, model), start_ms=start_ms)
    processor = CommandProcessor(InMemoryHandledStore(), sim.handle_command, lambda: int(time.time() * 1000))
    raises: list[dict[str, Any]] = []
    cut_off_keys: dict[str, str] = {}  # idempotency key of an in-process raise's cut-off -> rule id
    deciding: dict[str, Any] | None = None
    commands: list[dict[str, Any]] = []
    step_no = 0
    inject_ms: int | None = None

    def publish(messages: list[Any]) -> None:
        nonlocal state, deciding
        for m in messages:
            up = topics.UpType[_UP_TYPE[m.kind]]
            payload = m.model_dump_json(exclude_none=False)
            t_pub, t_pub_wall = time.monotonic(), time.time()
            client.publish(topics.uplink(tenant, thing, up), payload, qos=1)
            arrival = int(time.time() * 1000)
            if isinstance(m, BatteryPackTelemetry | StorageCabinetTelemetry):
                key = f"{tenant}#{thing}#{m.boot_id}#{m.seq}"
                ev = engine.evaluate(ctx, rules, state, engine.Sample(key, m.device_ts_ms, arrival, m))
            else:
                ev = engine.heard_from(ctx, rules, state, arrival)
            state = ev.state
            for t in ev.transitions:
                if t.kind != "raise" or t.message_key is None:
                    continue
                alarm_id = alarm_id_for(tenant, thing, t.rule.rule_id, t.message_key)
                rel = None if inject_ms is None else round((m.device_ts_ms - inject_ms) / 1000, 1)
                raises.append({"rule": t.rule.rule_id, "level": int(t.rule.level), "rel_s": rel})
                for i, action in enumerate(t.rule.actions):
                    if action.command.value == "cut_off":
                        cut_off_keys[f"{alarm_id}:action:{i}"] = t.rule.rule_id
                if t.rule.rule_id == RUNAWAY_RULE and deciding is None:
                    deciding = {
                        "published": t_pub,
                        "published_wall": t_pub_wall,
                        "message_key": t.message_key,
                        "alarm_id": alarm_id,
                        "cut_off_key": f"{alarm_id}:action:0",
                        "rel_s": rel,
                        "branch": "gb_thermal_event_bit" if "gb_flags" in t.params else "gb38031_c537",
                        "params": t.params,
                    }

    def handle_commands() -> None:
        while True:
            try:
                received_at, raw = inbox.get_nowait()
            except queue.Empty:
                return
            cmd = json.loads(raw)
            commands.append({"received": received_at, **cmd})
            outcome = processor.process(raw)
            if outcome is not None:
                ack = sim.headers.stamp(
                    CommandAck, sim.now_ms, command_id=outcome.command_id, status=outcome.status, reason=outcome.reason
                )
                publish([ack])

    try:
        publish(sim.step(float(warmup_steps)) if warmup_steps else [])
        # Real time from here: the device time of the runaway matches the wall clock.
        sim.inject("thermal_runaway")
        inject_ms = sim.now_ms
        tick = time.monotonic()
        while step_no < max_steps:
            dt = min(1.0, sim.reporting_interval_ms / 1000.0)  # 0.5 s once fast reporting is on
            fast = (sim.now_ms - inject_ms) / 1000.0 < realtime_from_s
            tick += dt / fast_speedup if fast else dt
            time.sleep(max(0.0, tick - time.monotonic()))
            publish(sim.step(dt))
            step_no += 1
            handle_commands()
            if deciding is not None:
                if any(c.get("idempotency_key") == deciding["cut_off_key"] for c in commands):
                    break
                if time.monotonic() - deciding["published"] > cutoff_timeout_s:
                    break
        time.sleep(0.3)
        handle_commands()  # the cut-off's ack
    finally:
        client.loop_stop()
        client.disconnect()

    out: dict[str, Any] = {"thing": thing, "model": model.model_id, "steps": step_no, "raised_in_process": raises}
    if deciding is None:
        out["error"] = f"no {RUNAWAY_RULE} decision within {max_steps} steps"
        return out
    cut = next((c for c in commands if c.get("idempotency_key") == deciding["cut_off_key"]), None)
    first_cut = next((c for c in commands if c.get("name") == "cut_off"), None)
    out.update(
        {
            "deciding_sample": deciding["message_key"].split("#", 2)[-1],
            "deciding_rel_s_after_inject": deciding["rel_s"],
            "deciding_sample_in_real_time_phase": (deciding["rel_s"] or 0.0) >= realtime_from_s,
            "decided_by": deciding["branch"],
            "decision_params": deciding["params"],
            "alarm_id": deciding["alarm_id"],
            "latency_ms": round((cut["received"] - deciding["published"]) * 1000, 1) if cut else None,
            # Split by the command's own server stamp: evaluation side | command out to the wire.
            "publish_to_command_issued_ms": round(cut["issued_at_ms"] - deciding["published_wall"] * 1000, 1)
            if cut
            else None,
            "first_cut_off_rule": cut_off_keys.get(first_cut["idempotency_key"], "other") if first_cut else None,
            "first_cut_off_ms_after_deciding_publish": round((first_cut["received"] - deciding["published"]) * 1000, 1)
            if first_cut
            else None,
            "commands_received": [c["name"] for c in commands],
        }
    )
    if cut is None:
        out["error"] = f"no cut_off of the {RUNAWAY_RULE} alarm within {cutoff_timeout_s}s of the deciding sample"
    return out


def run_runaway_cutoff(
    runs: int = 10,
    *,
    stagger_s: float = 5.0,
    warmup_steps: int = 10,
    realtime_from_s: float = 25.0,
    fast_speedup: float = 10.0,
    max_steps: int = 100,
    cutoff_timeout_s: float = 15.0,
    cabinet_models: tuple[str, ...] = ("sl-cab-lfp-48s", "ess-cab-215-240s"),
    stack: Any = None,
) -> dict[str, Any]:
    """(c) ``runs`` fresh cabinets, each through the runaway; started ``stagger_s`` apart, so a
    run's real-time part (~10 s) overlaps with at most two others (~2 messages/s per cabinet)."""
    if stack is None:
        try:
            with _local_stack(packs=0) as own:
                return run_runaway_cutoff(
                    runs,
                    stagger_s=stagger_s,
                    warmup_steps=warmup_steps,
                    realtime_from_s=realtime_from_s,
                    fast_speedup=fast_speedup,
                    max_steps=max_steps,
                    cutoff_timeout_s=cutoff_timeout_s,
                    cabinet_models=cabinet_models,
                    stack=own,
                )
        except ImportError as exc:
            return {"skipped": f"local stack unavailable: {exc}"}

    from shared.dal.alarms import DynamoAlarmRepository
    from shared.domain.alarms.ports import AlarmQuery

    idle_at_start = _wait(lambda: _pipeline_idle(stack), 5.0)
    token = uuid.uuid4().hex[:6].upper()
    with stack.broker_access.deferred():
        things = [
            stack.register_device(f"RUNAWAY-{token}-{i:02d}", cabinet_models[i % len(cabinet_models)]).device.thing_name
            for i in range(runs)
        ]
    models = {t: _model(stack, stack.fleet[t].model_id) for t in things}
    results: list[dict[str, Any] | None] = [None] * runs
    t0 = time.monotonic() + 1.0
    load_before = _loadavg()

    def one(i: int) -> None:
        try:
            results[i] = _runaway_device(
                stack,
                things[i],
                models[things[i]],
                t0 + i * stagger_s,
                warmup_steps,
                realtime_from_s,
                fast_speedup,
                max_steps,
                cutoff_timeout_s,
            )
        except Exception as exc:  # noqa: BLE001 - reported in the run's result, never hidden
            results[i] = {"thing": things[i], "error": f"{type(exc).__name__}: {exc}"}

    threads = [threading.Thread(target=one, args=(i,), name=f"bench-runaway-{i}", daemon=True) for i in range(runs)]
    started = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=max_steps * 1.1 + runs * stagger_s + 60)
    wall_s = time.monotonic() - started

    runs_out = [r or {"error": "did not finish"} for r in results]
    repo = DynamoAlarmRepository()
    quarantined = _quarantined_topics()
    for r in runs_out:  # the pipeline decided on the same sample as the in-process engine?
        if r.get("alarm_id"):
            stored = repo.get(stack.tenant, r["alarm_id"])
            r["stored_alarm_matches_deciding_sample"] = stored is not None and stored.rule_id == RUNAWAY_RULE
            if not r["stored_alarm_matches_deciding_sample"]:
                page = repo.query(
                    stack.tenant, AlarmQuery(thing_name=r["thing"], rule_id=RUNAWAY_RULE), limit=10, after=None
                )
                r["pipeline_decided_on"] = [
                    (a.trigger[-1].message_key.split("#", 2)[-1] if a.trigger else None) for a in page.items
                ]
        r["quarantined_messages"] = sum(1 for t in quarantined if f"/{r.get('thing')}/" in t)
    latencies = [r["latency_ms"] / 1000.0 for r in runs_out if r.get("latency_ms") is not None]
    return {
        "runs": runs,
        "stagger_s": stagger_s,
        "pipeline_idle_at_start": idle_at_start,
        "deciding_sample_to_cut_off_on_the_wire": _stats(latencies),
        "deciding_sample_to_command_issued": _stats(
            [r["publish_to_command_issued_ms"] / 1000.0 for r in runs_out if r.get("publish_to_command_issued_ms")]
        ),
        "failed_runs": sum(1 for r in runs_out if r.get("latency_ms") is None),
        "runs_where_pipeline_decided_elsewhere": sum(
            1 for r in runs_out if r.get("alarm_id") and not r.get("stored_alarm_matches_deciding_sample")
        ),
        "each_run": runs_out,
        "wall_s": round(wall_s, 1),
        "loadavg_before": load_before,
        "loadavg_after": _loadavg(),
        "note": "simulated cabinets (device_sdk.simulate, scenario thermal_runaway) published over plain MQTT: "
        "a 10 s warm-up at once, the runaway's first 25 s (gas phase) 10x faster than real time, then real time "
        "(1 s steps; 0.5 s once the H2 pre-warning's set_reporting_interval(500) is executed). Commands are "
        "executed and acked by the simulated device. The deciding sample is the first published sample on which "
        "the default rules, evaluated in-process on exactly the published samples, raise thermal_runaway (the "
        "stored alarm's id, derived from its deciding sample, is checked); latency = its publish -> that alarm's "
        "cut_off (matched by idempotency key) received on the device's command topic. Runs overlap (stagger_s); "
        "no other traffic meanwhile.",
    }


# ---- both, on one stack ------------------------------------------------------------------------------------


def run(
    devices: int = 200,
    low_devices: int = 50,
    duration_s: float = 30.0,
    high_duration_s: float = 20.0,
    runs: int = 10,
) -> dict[str, Any]:
    """(b) at ``low_devices`` then ``devices``, then (c), on ONE local stack (about 5 minutes)."""
    try:
        from infra.local.stack import LocalStack  # noqa: F401  (the local stack is wired in infra/local)
    except ImportError as exc:
        skipped = {"skipped": f"local stack unavailable: {exc}"}
        return {KEY_NOTIFICATION: skipped, KEY_RUNAWAY: skipped}
    t_all = time.monotonic()
    with _local_stack(packs=max(devices, low_devices)) as stack:
        # The smaller fleet first, on a quiet pipeline; the saturated run's backlog is drained
        # (bounded wait) before (c) starts.
        low = run_notification_latency(low_devices, duration_s, stack=stack)
        _wait(lambda: _pipeline_idle(stack), 30.0)
        high = run_notification_latency(devices, high_duration_s, stack=stack)
        drained = _wait(lambda: _pipeline_idle(stack), 60.0)
        runaway = run_runaway_cutoff(runs, stack=stack)
        runaway["pipeline_drained_before_start"] = drained
        stack_info: dict[str, Any] = {
            "started_in_s": round(stack.started_in_s or 0.0, 1),
            "start_steps_s": dict(stack.timings),
            "registered_devices": len(stack.fleet),
            "function_error_log_lines": _function_errors(stack),
            "stack_log_records": dict(getattr(stack, "bench_log", _LogCounter(None)).counts),
            "stack_log_first": list(getattr(stack, "bench_log", _LogCounter(None)).first),
            "rules_engine": {
                k: getattr(stack.rules_engine.stats, k) for k in ("received", "actions_ok", "error_actions", "lost")
            },
            "consumer_retries": {
                "ingest": stack.poller.stats.retries,
                "alarms": stack.alarm_poller.stats.retries,
                "notifications": stack.notification_poller.stats.retries,
            },
            "dead_lettered": {
                "ingest": stack.poller.stats.dead_lettered,
                "alarms": stack.alarm_poller.stats.dead_lettered,
            },
            "quarantined_messages": len(_quarantined_topics()),
        }
    stack_info["total_s"] = round(time.monotonic() - t_all, 1)
    return {
        KEY_NOTIFICATION: {
            f"{devices}_devices": high,
            f"{low_devices}_devices": low,
            "target": "p99 < 1 s (publish -> notification in the outbox)",
        },
        KEY_RUNAWAY: {**runaway, "target": "< 2 s (deciding sample -> cut_off on the wire)"},
        KEY_STACK: stack_info,
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(), indent=2) + "\n")
