"""``voltops-simulate`` / ``python -m device_sdk.simulate``: run a simulated fleet.

    voltops-simulate fleet.json --endpoint localhost --port 8883 --ca ca.pem \\
        --interval-ms 1000 --buffer-dir .sim-buffer [--duration-s 60] [--control-file ctl.jsonl]

The fleet file is a JSON list of ``{tenant_id, thing_name, kind, model, cert_path, key_path,
has_gnss, scenario?}`` (see :class:`device_sdk.simulate.fleet.FleetEntry`). Ctrl-C stops cleanly.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from device_sdk.simulate.fleet import Fleet, FleetSettings, load_fleet_file


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(prog="voltops-simulate", description="Run a fleet of simulated VoltOps devices.")
    p.add_argument("fleet_file", help="JSON list of devices (tenant_id, thing_name, kind, model, cert/key paths)")
    p.add_argument("--endpoint", default="localhost", help="MQTT broker / AWS IoT endpoint (default: localhost)")
    p.add_argument("--port", type=int, default=8883, help="mTLS port (default: 8883)")
    p.add_argument("--ca", default=None, help="CA bundle to verify the broker (default: system trust store)")
    p.add_argument("--interval-ms", type=int, default=1000, help="telemetry interval per device (default: 1000)")
    p.add_argument("--buffer-dir", default=".voltops-sim-buffer", help="directory of the on-disk outboxes")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds (default: run)")
    p.add_argument("--control-file", default=None, help="JSON-lines file watched for scenario injections")
    p.add_argument("--no-metrics", action="store_true", help="do not send the SDK version in CONNECT")
    p.add_argument("--log-level", default="INFO")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not 100 <= args.interval_ms <= 3_600_000:
        print("--interval-ms must be between 100 and 3600000", file=sys.stderr)
        return 2
    entries = load_fleet_file(args.fleet_file)
    settings = FleetSettings(
        endpoint=args.endpoint,
        port=args.port,
        ca_path=args.ca,
        buffer_dir=args.buffer_dir,
        interval_ms=args.interval_ms,
        control_file=args.control_file,
        enable_metrics_collection=not args.no_metrics,
    )
    fleet = Fleet(entries, settings)
    done = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    fleet.start(wait_connected_s=10)
    connected = sum(1 for s in fleet.stats().values() if s.connected)
    print(f"simulating {len(entries)} devices ({connected} connected) -> {args.endpoint}:{args.port}", flush=True)
    try:
        done.wait(args.duration_s)
    finally:
        fleet.stop()
    stats = fleet.stats()
    published = sum(s.published_total for s in stats.values())
    buffered = sum(s.buffered for s in stats.values())
    print(f"stopped: {published} messages acknowledged, {buffered} still buffered on disk", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
