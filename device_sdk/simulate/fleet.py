"""Run many simulated devices in one process, each on its own DeviceClient connection.

One scheduler thread steps every device on a short tick in real time and hands the messages
to that device's client (which buffers to disk and sends on its own thread, paced ≤ 100/s).
awscrt's event loop does the network work; 55+ devices at 1 msg/s are light on 2 cores.

Scenarios can be switched on at run time with :meth:`Fleet.inject` (in-process, e.g. by the
local stack) or by appending a JSON line to the ``control_file``::

    {"thing": "cab-0001", "scenario": "thermal_runaway"}
    {"thing": "cab-0001", "scenario": {"name": "thermal_runaway", "gas_lead_s": 60}}
    {"thing": "cab-0001", "clear": true}
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from device_sdk.client import ClientConfig, ClientStats, DeviceClient, MessageTooLarge
from device_sdk.header import wall_clock_ms
from device_sdk.outbox import BufferFull
from device_sdk.simulate.device import DeviceSpec, SimulatedDevice
from device_sdk.simulate.scenarios import Scenario
from shared.contracts import topics
from shared.contracts.devices import DeviceKind, DeviceModel
from shared.contracts.telemetry import (
    BatteryPackTelemetry,
    BootEvent,
    CommandAck,
    FaultEvent,
    Position,
    StateChangeEvent,
    StorageCabinetTelemetry,
    UplinkHeader,
)

log = logging.getLogger(__name__)


class FleetEntry(BaseModel):
    """One row of the fleet file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str = Field(pattern=f"^{topics.ID_PATTERN}$")
    thing_name: str = Field(pattern=f"^{topics.ID_PATTERN}$")
    kind: DeviceKind
    model: DeviceModel
    cert_path: str
    key_path: str
    has_gnss: bool = False
    scenario: str | dict[str, Any] | None = None
    seed: int | None = None
    soh: float | None = Field(default=None, gt=0, le=1)
    ambient_c: float = 25.0
    initial_soc: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _kind_matches_model(self) -> FleetEntry:
        if self.kind is not self.model.kind:
            raise ValueError(f"kind {self.kind} does not match the model's kind {self.model.kind}")
        return self

    def spec(self) -> DeviceSpec:
        """The simulation part of the row."""
        return DeviceSpec(
            tenant_id=self.tenant_id,
            thing_name=self.thing_name,
            model=self.model,
            kind=self.kind,
            has_gnss=self.has_gnss,
            seed=self.seed,
            soh=self.soh,
            ambient_c=self.ambient_c,
            initial_soc=self.initial_soc,
            scenario=self.scenario,
        )


_FLEET_FILE = TypeAdapter(list[FleetEntry])


def load_fleet_file(path: str | Path) -> list[FleetEntry]:
    """Parse and validate a fleet file (a JSON list of :class:`FleetEntry`); thing names must be unique."""
    entries = _FLEET_FILE.validate_json(Path(path).read_bytes())
    seen: set[str] = set()
    for e in entries:
        if e.thing_name in seen:
            raise ValueError(f"thing {e.thing_name!r} appears twice in {path}")
        seen.add(e.thing_name)
    return entries


@dataclass(frozen=True)
class FleetSettings:
    """Where and how the fleet connects; every device gets its own client with these settings."""

    endpoint: str
    buffer_dir: str
    port: int = 8883
    ca_path: str | None = None
    interval_ms: int = 1000
    position_interval_ms: int = 10_000
    tick_s: float = 0.1
    min_reconnect_delay_ms: int = 1_000
    max_reconnect_delay_ms: int = 30_000
    enable_metrics_collection: bool = True
    control_file: str | None = None


def publish_message(client: DeviceClient, message: UplinkHeader) -> int:
    """Route a contract message to the matching typed publish of ``client``."""
    if isinstance(message, BatteryPackTelemetry | StorageCabinetTelemetry):
        return client.publish_telemetry(message)
    if isinstance(message, Position):
        return client.publish_position(message)
    if isinstance(message, BootEvent | FaultEvent | StateChangeEvent):
        return client.publish_event(message)
    if isinstance(message, CommandAck):
        return client.publish_ack(message)
    raise TypeError(f"no uplink for {type(message).__name__}")


class Fleet:
    """A running fleet of simulated devices.

    ``Fleet(entries, settings).start()`` connects every device and starts stepping them in real
    time; :meth:`inject` switches a scenario on in a named device; :meth:`stop` (or leaving the
    ``with`` block) flushes briefly and disconnects everything.
    """

    def __init__(self, entries: list[FleetEntry], settings: FleetSettings) -> None:
        if not entries:
            raise ValueError("a fleet needs at least one device")
        self.entries = {e.thing_name: e for e in entries}
        if len(self.entries) != len(entries):
            raise ValueError("thing names in a fleet must be unique")
        self.settings = settings
        self.devices: dict[str, SimulatedDevice] = {}
        self.clients: dict[str, DeviceClient] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._control_offset = 0
        self._next_control_poll = 0.0
        self.errors: dict[str, int] = {}

    @property
    def things(self) -> list[str]:
        """Thing names in fleet-file order."""
        return list(self.entries)

    # ---- lifecycle ---------------------------------------------------------------------------

    def _client_config(self, entry: FleetEntry) -> ClientConfig:
        s = self.settings
        return ClientConfig(
            endpoint=s.endpoint,
            port=s.port,
            ca_path=s.ca_path,
            cert_path=entry.cert_path,
            key_path=entry.key_path,
            buffer_dir=s.buffer_dir,
            min_reconnect_delay_ms=s.min_reconnect_delay_ms,
            max_reconnect_delay_ms=s.max_reconnect_delay_ms,
            enable_metrics_collection=s.enable_metrics_collection,
        )

    def start(self, wait_connected_s: float | None = None) -> Fleet:
        """Create and connect every device's client, then start the scheduler thread.

        With ``wait_connected_s`` it also waits (up to that long in total) for all connections.
        """
        if self._thread is not None:
            return self
        start_ms = wall_clock_ms()
        if self.settings.control_file is not None:
            # Watch for *new* lines only: what an earlier run wrote must not be replayed.
            try:
                self._control_offset = Path(self.settings.control_file).stat().st_size
            except FileNotFoundError:
                self._control_offset = 0
        n = len(self.entries)
        for k, (thing, entry) in enumerate(self.entries.items()):
            # The client handler needs the device and the device needs the client's header
            # source, so the handler looks the device up when a command arrives.
            client = DeviceClient(
                entry.tenant_id,
                thing,
                self._client_config(entry),
                command_handler=lambda cmd, thing=thing: self.devices[thing].handle_command(cmd),  # type: ignore[misc]
            )
            device = SimulatedDevice(
                entry.spec(),
                client.headers,
                start_ms=start_ms,
                reporting_interval_ms=self.settings.interval_ms,
                position_interval_ms=self.settings.position_interval_ms,
            )
            # Spread the devices' report instants over the interval instead of bursting together.
            device.set_reporting_interval(self.settings.interval_ms, phase_s=self.settings.interval_ms / 1000.0 * k / n)
            self.devices[thing] = device
            self.clients[thing] = client
            client.start()
        if wait_connected_s is not None:
            deadline = time.monotonic() + wait_connected_s
            for client in self.clients.values():
                client.wait_connected(max(0.0, deadline - time.monotonic()))
        self._thread = threading.Thread(target=self._run, name="fleet-scheduler", daemon=True)
        self._thread.start()
        log.info("fleet of %d devices started against %s:%d", n, self.settings.endpoint, self.settings.port)
        return self

    def run(self, duration_s: float | None = None) -> None:
        """Start (if needed) and block for ``duration_s`` seconds (or until :meth:`stop`)."""
        self.start()
        self._stop.wait(duration_s)

    def stop(self, flush_timeout: float = 2.0) -> None:
        """Stop stepping, flush what can be sent within ``flush_timeout`` and disconnect all."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        deadline = time.monotonic() + flush_timeout
        for client in self.clients.values():
            client.close(flush_timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- control -------------------------------------------------------------------------------

    def device(self, thing: str) -> SimulatedDevice:
        """The simulated device of ``thing`` (KeyError if unknown or not started)."""
        return self.devices[thing]

    def inject(self, thing: str, scenario: str | Mapping[str, Any] | Scenario) -> Scenario:
        """Switch a fault scenario on in ``thing`` now; returns the parsed scenario."""
        if thing not in self.entries:
            raise KeyError(f"no device {thing!r} in this fleet")
        sc = self.devices[thing].inject(scenario)
        log.info("scenario %s injected into %s", sc.name, thing)
        return sc

    def clear(self, thing: str) -> None:
        """Switch every scenario of ``thing`` off."""
        self.devices[thing].clear_scenarios()

    def stats(self) -> dict[str, ClientStats]:
        """Per-device client counters."""
        return {thing: client.stats() for thing, client in self.clients.items()}

    # ---- scheduler -------------------------------------------------------------------------------

    def _run(self) -> None:
        last = {thing: time.monotonic() for thing in self.devices}
        while not self._stop.wait(self.settings.tick_s):
            self._poll_control_file()
            for thing, device in self.devices.items():
                now = time.monotonic()
                dt, last[thing] = now - last[thing], now
                try:
                    for message in device.step(dt):
                        publish_message(self.clients[thing], message)
                except (MessageTooLarge, BufferFull) as exc:
                    self.errors[thing] = self.errors.get(thing, 0) + 1
                    log.error("%s: message not buffered: %s", thing, exc)
                except Exception:  # one broken device must not stop the fleet
                    self.errors[thing] = self.errors.get(thing, 0) + 1
                    log.exception("%s: simulation step failed", thing)

    def _poll_control_file(self) -> None:
        path = self.settings.control_file
        if path is None or time.monotonic() < self._next_control_poll:
            return
        self._next_control_poll = time.monotonic() + 0.5
        try:
            with open(path, "rb") as fh:
                fh.seek(self._control_offset)
                data = fh.read()
        except FileNotFoundError:
            return
        # Only whole lines: a writer may be mid-line.
        end = data.rfind(b"\n") + 1
        self._control_offset += end
        for line in data[:end].splitlines():
            if line.strip():
                self.apply_control(line)

    def apply_control(self, line: bytes | str) -> None:
        """Apply one control-file line (see the module docstring); bad lines are logged, not fatal."""
        try:
            cmd = json.loads(line)
            thing = cmd["thing"]
            if cmd.get("clear"):
                self.clear(thing)
                log.info("scenarios cleared in %s", thing)
            else:
                self.inject(thing, cmd["scenario"])
        except (ValueError, KeyError, TypeError) as exc:
            log.error("bad control line %r: %s", line, exc)
