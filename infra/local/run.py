"""``voltops-local`` / ``python -m infra.local``: run the whole platform on this machine.

Prints the API and console URLs, the broker addresses, the moto endpoint and the seeded
login, then ``VoltOps local stack ready``; Ctrl-C or SIGTERM stops everything it started.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from infra.local.stack import DEFAULT_STATE_DIR, LocalStack

READY_LINE = "VoltOps local stack ready"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="voltops-local", description=__doc__.splitlines()[0])
    p.add_argument("--packs", type=int, default=50, help="battery packs to register (default 50)")
    p.add_argument("--cabinets", type=int, default=5, help="storage cabinets to register (default 5)")
    p.add_argument("--no-simulator", action="store_true", help="register the fleet but do not simulate it")
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="CA, broker config, fleet file")
    p.add_argument("--api-port", type=int, default=0, help="API port on 127.0.0.1 (default: a free port)")
    p.add_argument("--console-port", type=int, default=0, help="console port on 127.0.0.1 (default: free)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    args = p.parse_args(argv)
    if args.packs < 0 or args.cabinets < 0:
        p.error("--packs and --cabinets must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    # The functions print EMF metrics and JSON logs to stdout, as in Lambda: keep them in a
    # log file (CloudWatch Logs locally) so the terminal shows the stack's own lines.
    console = sys.stdout
    logs = args.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    functions_log = (logs / "functions.log").open("a", buffering=1)
    sys.stdout = functions_log

    def say(text: str) -> None:
        print(text, file=console, flush=True)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    stack = LocalStack(
        packs=args.packs,
        cabinets=args.cabinets,
        simulator=not args.no_simulator,
        state_dir=args.state_dir,
        api_port=args.api_port,
        console_port=args.console_port,
    )
    try:
        say("Starting the VoltOps local stack ...")
        stack.start()
        for name, value in stack.addresses().items():
            say(f"  {name:<30} {value}")
        login = stack.login
        say(f"  {'Login (tenant ' + login.tenant_id + ', admin)':<30} {login.username} / {login.password}")
        sim = "on" if stack.simulator_running else "off"
        say(f"  {'Devices':<30} {len(stack.fleet)} registered; simulator {sim}")
        say(f"  {'Function logs':<30} {logs / 'functions.log'}")
        say(f"  {'Started in':<30} {stack.started_in_s:.1f} s")
        say(READY_LINE)
        while not stop.wait(0.5):
            pass
        say("Stopping ...")
        return 0
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.stdout = console
        functions_log.close()
        say("Stopped.")


if __name__ == "__main__":
    sys.exit(main())
