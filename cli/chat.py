"""``refund-agent chat``: talk to the agent in the terminal."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any, Final

from rich.console import Console
from rich.markup import escape

from core.settings import Settings

if TYPE_CHECKING:  # the graph is imported when a chat starts, not with the CLI
    from graph.types import NoOutcomeYet, Outcome

PROMPT = "[bold cyan]you>[/bold cyan] "

REASON_WORDS: Final = {
    "order_not_found": "order not found",
    "already_refunded": "already refunded",
    "invalid_amount": "not a valid amount",
    "refund_in_progress": "a refund of it is in progress",
    "outside_window": "outside the refund window",
    "exceeds_order": "more than is left on the order",
    "over_per_tx_cap": "over the per-refund cap",
    "over_daily_budget": "over today's budget",
    "velocity": "many recent refunds",
    "repeated_failed_lookups": "repeated failed lookups",
    "injection_suspected": "suspected prompt injection",
    "asked_for_a_person": "asked for a person",
    "refund_policy_violation": "MoltPe refused it (policy)",
    "refund_failed": "the refund failed",
    "refund_outcome_unknown": "MoltPe's answer is not known yet",
}


def describe_outcome(outcome: Outcome | NoOutcomeYet | None) -> str | None:
    """This turn's outcome in plain words, or None when there is nothing to report.

    ``refunded 20.00 USDC on ORD-1001, tx 0x09fde5818e…``, ``ticket RT-000003 opened
    (over the per-refund cap)``, ``no refund: already refunded``, ``no order ORD-9999
    for frank@example.com``.
    """
    if not outcome:
        return None
    if outcome["kind"] == "refunded":
        tx = outcome["tx_hash"]
        short = f", tx {tx[:12]}…" if tx else ""
        return f"refunded {outcome['amount']} USDC on {outcome['order_id']}{short}"
    if outcome["kind"] == "escalated":
        return f"ticket {outcome['ticket']} opened{_reasons(outcome['reasons'])}"
    if outcome["kind"] == "denied":
        return f"no refund{_reasons(outcome['reasons'], ': ')}"
    if outcome["kind"] == "lookup_failed":
        return f"no order {outcome['order_id']} for {outcome['email']}"
    return None


def _reasons(codes: object, lead: str = " ") -> str:
    if not isinstance(codes, list | tuple) or not codes:
        return ""
    words = ", ".join(REASON_WORDS.get(str(c), str(c).replace("_", " ")) for c in codes)
    return f"{lead}({words})" if lead == " " else f"{lead}{words}"


async def usable_settings(settings: Settings, console: Console) -> Settings:
    """``settings``, or a copy on the offline rules when the configured LLM does not work.

    Prints one warning line saying why, instead of letting every message wait for the
    model's timeout before falling back.
    """
    from wiring.llm_check import check_llm

    status = await check_llm(settings)
    if not status.configured or status.usable:
        return settings
    console.print(
        f"[yellow]warning: the LLM does not work ({status.state}: {escape(status.message)}); "
        "continuing with the offline rules. refund-agent config --check tells more.[/yellow]",
        soft_wrap=True,
    )
    return settings.model_copy(update={"openai_api_key": None})


async def run_chat(
    settings: Settings, console: Console, *, thread_id: str | None, customer_email: str | None
) -> None:
    """Read customer messages from the terminal until EOF or /quit."""
    from graph.context import Context
    from graph.graph import build_builder
    from persistence import repo
    from persistence.checkpoint import open_checkpointer
    from wiring import tracing
    from wiring.services import create_services

    settings = await usable_settings(settings, console)
    services = await create_services(settings)
    try:
        async with services.storage.pool.connection() as conn:
            if services.order_source is None and not await repo.has_orders(conn):
                console.print(
                    "[yellow]There are no orders yet: refund-agent db seed loads demo ones, "
                    "refund-agent orders import your own.[/yellow]"
                )
        saver = await open_checkpointer(services.storage.pool)

        agent = build_builder(services).compile(checkpointer=saver)
        thread = thread_id or uuid.uuid4().hex
        payments = "local sandbox" if settings.uses_sandbox else settings.moltpe_base_url
        understanding = f"LLM {settings.openai_model}" if settings.uses_llm else "offline rules"
        console.print(
            f"[dim]conversation {thread} (resume with --thread {thread}); "
            f"payments: {escape(payments)}; understanding: {escape(understanding)}; "
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
            console.print(f"[bold green]agent>[/bold green] {escape(result['reply'])}")
            summary = describe_outcome(result.get("outcome"))
            if summary:
                console.print(f"[dim]{escape(summary)}[/dim]")
    finally:
        await services.aclose()
        await tracing.ashutdown()
