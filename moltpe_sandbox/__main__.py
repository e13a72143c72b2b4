"""``python -m moltpe_sandbox``: serve the sandbox until SIGINT/SIGTERM.

Prints the base URL alone on the first line of stdout once it accepts
connections (scripts and tests read that line), then a line with the keys on
stderr. The admin key is ``--admin-key``, else ``MOLTPE_SANDBOX_ADMIN_KEY`` from the
environment (how a parent process hands one over without showing it in ``ps``),
else a fresh random one.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from decimal import Decimal
from pathlib import Path
from types import FrameType

from core.money import InvalidAmount, parse_usdc
from moltpe_sandbox.server import start_sandbox
from moltpe_sandbox.state import DEFAULT_FLOAT, SANDBOX_API_KEY


def _amount(text: str) -> Decimal:
    try:
        return parse_usdc(text)
    except InvalidAmount as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve until a signal, return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m moltpe_sandbox", description="Serve the local MoltPe sandbox."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port; 0 picks a free one")
    parser.add_argument("--state-file", type=Path, default=None, help="persist state here")
    parser.add_argument("--api-key", default=SANDBOX_API_KEY, help="bearer key of MoltPe's API")
    parser.add_argument(
        "--admin-key",
        default=os.environ.get("MOLTPE_SANDBOX_ADMIN_KEY") or None,
        help="bearer key of the admin routes (default: MOLTPE_SANDBOX_ADMIN_KEY or a random one)",
    )
    parser.add_argument(
        "--initial-float", type=_amount, default=DEFAULT_FLOAT, help="USDC in each new wallet"
    )
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        server = start_sandbox(
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            admin_key=args.admin_key,
            state_file=args.state_file,
            initial_float=args.initial_float,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        sys.stderr.write(f"moltpe sandbox: cannot start: {exc}\n")
        return 1
    with server:
        sys.stdout.write(server.url + "\n")
        sys.stdout.flush()
        sys.stderr.write(
            f"moltpe sandbox serving on {server.url} (API key {server.api_key}, "
            f"admin key {server.admin_key})\n"
        )
        sys.stderr.flush()
        while not stop.wait(0.5):
            if not server.running:
                sys.stderr.write("moltpe sandbox: server thread stopped\n")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
