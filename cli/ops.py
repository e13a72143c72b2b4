"""Operations commands: refunds (list, reconcile) and the MoltPe wallet (create, policy)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from core.money import InvalidAmount, format_usdc, parse_usdc
from core.settings import Settings, get_settings
from persistence import repo
from persistence.models import Refund
from persistence.runtime import open_storage
from tools.moltpe import MoltPeClient, MoltPeError
from wiring.services import create_services

refunds_app = typer.Typer(help="Refunds and their exactly-once records.", no_args_is_help=True)
wallet_app = typer.Typer(
    help="The MoltPe refund wallet (the guide's steps 1 and 2).", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)


def _run(coro: Any) -> Any:
    from cli.main import run

    return run(coro)


def _refund_json(refund: Refund) -> dict[str, Any]:
    data = refund.model_dump(mode="json")
    data["amount_usdc"] = format_usdc(refund.amount_usdc)
    return data


@refunds_app.command("list")
def refunds_list(
    status: Annotated[
        str | None, typer.Option(help="intent, submitted, confirmed, failed or unknown.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show refunds, newest first, with their states."""
    allowed = {"intent", "submitted", "confirmed", "failed", "unknown"}
    if status is not None and status not in allowed:
        err.print(f"[red]error:[/red] --status must be one of {', '.join(sorted(allowed))}")
        raise typer.Exit(2)

    async def work() -> list[Refund]:
        storage = await open_storage(get_settings())
        try:
            async with storage.pool.connection() as conn:
                return await repo.list_refunds(conn, status=status, limit=limit)  # type: ignore[arg-type]
        finally:
            await storage.close()

    rows: list[Refund] = _run(work())
    if as_json:
        for refund in rows:
            print(json.dumps(_refund_json(refund), sort_keys=True))
        return
    table = Table("created (UTC)", "order", "amount", "status", "approved by", "tx_hash / error")
    for r in rows:
        table.add_row(
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.order_id,
            format_usdc(r.amount_usdc),
            r.status,
            r.approved_by,
            r.tx_hash or f"{r.error_code or ''} {r.error_reason or ''}".strip(),
        )
    console.print(table)


@refunds_app.command("reconcile")
def refunds_reconcile() -> None:
    """Settle every refund whose outcome is unknown, by re-sending it with its key."""

    async def work() -> list[tuple[str, str, str]]:
        services = await create_services(get_settings(), reconcile=False)
        try:
            outcomes = await services.refunds.reconcile_all()
            return [(str(o.refund.id), o.refund.order_id, o.refund.status) for o in outcomes]
        finally:
            await services.aclose()

    settled = _run(work())
    if not settled:
        console.print("nothing to reconcile: every refund is settled")
        return
    for refund_id, order_id, status in settled:
        console.print(f"{refund_id} ({order_id}): {status}")
    if any(status == "unknown" for _, _, status in settled):
        raise typer.Exit(1)


def _client(settings: Settings) -> MoltPeClient:
    if settings.moltpe_api_key is None:
        err.print(
            "[red]error:[/red] MOLTPE_API_KEY is not set. For the local sandbox, run "
            "`refund-agent sandbox` and set MOLTPE_BASE_URL to its URL and MOLTPE_API_KEY "
            "to its key."
        )
        raise typer.Exit(2)
    return MoltPeClient.from_settings(settings)


@wallet_app.command("create")
def wallet_create(
    name: Annotated[str, typer.Option(help="Name of the agent.")] = "support-refund-agent",
    network: Annotated[str, typer.Option(help="Network of the wallet.")] = "polygon",
) -> None:
    """Create a dedicated refund wallet (``POST /v1/agents/create``)."""
    settings = get_settings()

    async def work() -> Any:
        async with _client(settings) as client:
            return await client.create_agent(name, network)

    try:
        wallet = _run(work())
    except MoltPeError as exc:
        err.print(f"[red]MoltPe refused:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"agent_id:       {wallet.agent_id}")
    console.print(f"wallet_address: {wallet.wallet_address}")
    console.print(f"network:        {wallet.network}")
    console.print(
        f"\nPut this in your settings:  MOLTPE_AGENT_ID={wallet.agent_id}\n"
        "Then fund the wallet with the float you are willing to expose (500 USDC is a good "
        "start) and apply a spending policy with `refund-agent wallet policy`."
    )


@wallet_app.command("policy")
def wallet_policy(
    daily_cap: Annotated[str, typer.Option(help="USDC per UTC day.")] = "100",
    per_tx_cap: Annotated[str, typer.Option(help="USDC per refund.")] = "50",
    refund_only: Annotated[
        bool, typer.Option("--refund-only/--any-payment", help="Only refunds to the payer.")
    ] = True,
    agent_id: Annotated[
        str | None, typer.Option(help="Agent to apply it to (default: MOLTPE_AGENT_ID).")
    ] = None,
) -> None:
    """Apply the server-side spending policy (``POST /v1/agents/{id}/policy``)."""
    settings = get_settings()
    target = agent_id or settings.moltpe_agent_id
    if not target:
        err.print("[red]error:[/red] give --agent-id or set MOLTPE_AGENT_ID")
        raise typer.Exit(2)
    try:
        daily = parse_usdc(daily_cap, allow_zero=False)
        per_tx = parse_usdc(per_tx_cap, allow_zero=False)
    except InvalidAmount as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if per_tx > daily:
        err.print("[red]error:[/red] the per-transaction cap is larger than the daily cap")
        raise typer.Exit(2)

    async def work() -> Any:
        async with _client(settings) as client:
            return await client.set_policy(
                target, daily_cap=daily, per_tx_cap=per_tx, refund_only=refund_only
            )

    try:
        policy = _run(work())
    except MoltPeError as exc:
        err.print(f"[red]MoltPe refused:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"policy of {policy.agent_id}: daily_cap {format_usdc(policy.daily_cap)} USDC, "
        f"per_tx_cap {format_usdc(policy.per_tx_cap)} USDC, refund_only {policy.refund_only}"
    )
    if per_tx != settings.refund_per_tx_cap or daily != settings.refund_daily_cap:
        console.print(
            "[yellow]Note: the agent's own gate uses REFUND_PER_TX_CAP="
            f"{format_usdc(settings.refund_per_tx_cap)} and REFUND_DAILY_CAP="
            f"{format_usdc(settings.refund_daily_cap)}; keep them at or below MoltPe's.[/yellow]"
        )
