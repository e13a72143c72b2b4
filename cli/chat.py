"""``refund-agent chat``: talk to the agent in the terminal."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from rich.console import Console

from core.settings import Settings
from graph.context import Context
from graph.graph import build_builder
from persistence import repo
from persistence.checkpoint import open_checkpointer
from wiring import tracing
from wiring.services import create_services

PROMPT = "[bold cyan]you>[/bold cyan] "


async def run_chat(
    settings: Settings, console: Console, *, thread_id: str | None, customer_email: str | None
) -> None:
    """Read customer messages from the terminal until EOF or /quit."""
    services = await create_services(settings)
    try:
        async with services.storage.pool.connection() as conn:
            if not await repo.has_orders(conn):
                console.print(
                    "[yellow]There are no orders yet: `refund-agent db seed` loads demo ones."
                    "[/yellow]"
                )
        saver = await open_checkpointer(services.storage.pool)

        agent = build_builder(services).compile(checkpointer=saver)
        thread = thread_id or uuid.uuid4().hex
        console.print(
            f"[dim]conversation {thread} (resume with --thread {thread}); "
            f"payments: {'local sandbox' if settings.uses_sandbox else settings.moltpe_base_url}; "
            "type /quit to leave[/dim]"
        )
        while True:
            try:
                text = await asyncio.to_thread(console.input, PROMPT)
            except (EOFError, KeyboardInterrupt):
                console.print()
                break
            if text.strip() in {"/quit", "/exit"}:
                break
            turn: Any = {"messages": [{"role": "user", "content": text}]}
            result = await agent.ainvoke(
                turn,
                tracing.with_tracing(
                    {"configurable": {"thread_id": thread}}, settings, channel="terminal"
                ),
                context=Context(customer_email=customer_email, channel="terminal"),
                durability="exit",
            )
            console.print(f"[bold green]agent>[/bold green] {result['reply']}")
            outcome = result.get("outcome") or {}
            if outcome.get("kind") not in (None, "none", "asked"):
                console.print(f"[dim]{outcome}[/dim]")
    finally:
        await services.aclose()
        await tracing.ashutdown()
