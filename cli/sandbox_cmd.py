"""``refund-agent sandbox``: serve the local MoltPe sandbox in the foreground."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

SANDBOX_API_KEY = "sk_sandbox_local"
"""The sandbox's default API key (``moltpe_sandbox.SANDBOX_API_KEY``), written out here
so that ``refund-agent --help`` does not import the sandbox."""


def sandbox(
    port: Annotated[
        int, typer.Option(metavar="PORT", help="TCP port to listen on; 0 picks a free one.")
    ] = 8765,
    host: Annotated[
        str, typer.Option(metavar="HOST", help="Interface to listen on.")
    ] = "127.0.0.1",
    state_file: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Keep wallets and the ledger in this JSON file across restarts.",
        ),
    ] = None,
    api_key: Annotated[
        str,
        typer.Option(metavar="KEY", help="Bearer key MoltPe's API accepts (what the agent holds)."),
    ] = SANDBOX_API_KEY,
    admin_key: Annotated[
        str | None,
        typer.Option(
            metavar="KEY",
            help="Bearer key of the admin routes (registering payments, faults); "
            "a random one is generated when not given.",
            envvar="MOLTPE_SANDBOX_ADMIN_KEY",
            show_envvar=False,
        ),
    ] = None,
) -> None:
    """Serve a local MoltPe-compatible sandbox until Ctrl-C.

    It enforces MoltPe's caps and refunds only to the original payer.
    """
    from rich.console import Console

    from moltpe_sandbox import start_sandbox

    console = Console()
    try:
        server = start_sandbox(
            host=host, port=port, api_key=api_key, admin_key=admin_key, state_file=state_file
        )
    except (OSError, ValueError, RuntimeError) as exc:
        console.print(f"[red]Cannot start the MoltPe sandbox:[/red] {exc}")
        raise typer.Exit(1) from None
    with server:
        console.print(f"[green]MoltPe sandbox[/green] serving on [bold]{server.url}[/bold]")
        console.print(f"API key: [bold]{server.api_key}[/bold]")
        console.print(f"admin key: [bold]{server.admin_key}[/bold] (registering payments, faults)")
        console.print(f"State: {state_file or 'in memory'}")
        console.print(
            "Point the agent at it:\n"
            f"  export MOLTPE_BASE_URL={server.url} MOLTPE_API_KEY={server.api_key}\n"
            f"  export MOLTPE_SANDBOX_ADMIN_KEY={server.admin_key}\n"
            "  refund-agent wallet create && export MOLTPE_AGENT_ID=<the agent_id it prints>\n"
            "  refund-agent wallet policy --daily-cap 100 --per-tx-cap 50 --refund-only\n"
            "  refund-agent db seed   # registers the orders' payments with this sandbox",
            soft_wrap=True,
        )
        console.print("Press Ctrl-C to stop.")
        try:
            while server.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            console.print("Stopping the sandbox.")
