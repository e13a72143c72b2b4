"""Operations commands: refunds (list, reconcile) and the MoltPe wallet (create, policy)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer

from cli._common import fail, new_app, out, run, settings

if TYPE_CHECKING:
    from core.settings import Settings
    from persistence.models import Refund
    from tools.moltpe import MoltPeClient

refunds_app = new_app("Refunds and their exactly-once records.")
wallet_app = new_app("The MoltPe refund wallet (the guide's steps 1 and 2).")


def _refund_json(refund: Refund) -> dict[str, Any]:
    from core.money import format_usdc

    data = refund.model_dump(mode="json")
    data["amount_usdc"] = format_usdc(refund.amount_usdc)
    return data


@refunds_app.command("list")
def refunds_list(
    status: Annotated[
        str | None,
        typer.Option(metavar="STATUS", help="intent, confirmed, failed or unknown."),
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=1, max=10000, metavar="N", help="Most refunds to show."),
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show refunds, newest first, with their states."""
    from rich.table import Table
    from rich.text import Text

    from cli._common import with_storage
    from core.money import format_usdc
    from persistence import repo
    from persistence.models import RefundStatus
    from persistence.runtime import Storage

    allowed = set(get_args(RefundStatus))
    if status is not None and status not in allowed:
        raise fail(f"--status must be one of {', '.join(sorted(allowed))}")

    async def work(storage: Storage) -> list[Refund]:
        async with storage.pool.connection() as conn:
            return await repo.list_refunds(conn, status=status, limit=limit)  # type: ignore[arg-type]

    rows: list[Refund] = run(with_storage(settings(), work))
    if as_json:
        for refund in rows:
            print(json.dumps(_refund_json(refund), sort_keys=True))
        return
    table = Table("created (UTC)", "order", "amount", "status", "approved by", "tx_hash / error")
    for r in rows:
        table.add_row(
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            Text(r.order_id),
            format_usdc(r.amount_usdc),
            r.status,
            Text(r.approved_by),
            Text(r.tx_hash or f"{r.error_code or ''} {r.error_reason or ''}".strip()),
        )
    out().print(table)


@refunds_app.command("reconcile")
def refunds_reconcile(
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Keep reconciling, as the deployment's one reconciler: the process that "
            "holds a lock in the database leads, the others stand by until it goes.",
        ),
    ] = False,
    interval: Annotated[
        float,
        typer.Option(
            "--interval", metavar="SECONDS", min=1.0, help="Pause between passes with --watch."
        ),
    ] = 10.0,
) -> None:
    """Settle refunds whose outcome is unknown.

    Each is re-sent to MoltPe with its idempotency key; exit 1 if any stays unknown. With
    --watch it runs until stopped, settling refunds left unsettled for longer than
    MOLTPE_DEADLINE_SECONDS (the longest a serving process may still be sending one).
    """
    from wiring.services import create_services

    current = settings()
    if watch:
        if current.uses_sandbox:
            raise fail(
                "--watch needs MOLTPE_API_KEY: a reconciler re-sends refunds to the MoltPe "
                "the serving processes use, not to a sandbox of its own"
            )
        run(_watch(current, interval))
        return

    async def work() -> list[tuple[str, str, str]]:
        services = await create_services(current, reconcile=False)
        try:
            outcomes = await services.refunds.reconcile_all()
            return [(str(o.refund.id), o.refund.order_id, o.refund.status) for o in outcomes]
        finally:
            await services.aclose()

    settled = run(work())
    if not settled:
        out().print("nothing to reconcile: every refund is settled")
        return
    for refund_id, order_id, status in settled:
        out().print(f"{refund_id} ({order_id}): {status}", markup=False, highlight=False)
    if any(status == "unknown" for _, _, status in settled):
        raise typer.Exit(1)


async def _watch(current: Settings, interval: float) -> None:
    from wiring.reconciler import reconcile_forever
    from wiring.services import create_services

    services = await create_services(current, reconcile=False)
    try:
        await reconcile_forever(
            services,
            interval=interval,
            older_than=current.moltpe_deadline_seconds,
            report=lambda line: out().print(line, markup=False, highlight=False),
        )
    finally:
        await services.aclose()


def _client(current: Settings) -> MoltPeClient:
    from tools.moltpe import MoltPeClient

    if current.moltpe_api_key is None:
        raise fail(
            "MOLTPE_API_KEY is not set. For the local sandbox, run "
            "refund-agent sandbox and set MOLTPE_BASE_URL to its URL and MOLTPE_API_KEY "
            "to its key."
        )
    return MoltPeClient.from_settings(current)


@wallet_app.command("create")
def wallet_create(
    name: Annotated[
        str, typer.Option(metavar="NAME", help="Name of the agent.")
    ] = "support-refund-agent",
    network: Annotated[
        str, typer.Option(metavar="NETWORK", help="Network of the wallet.")
    ] = "polygon",
) -> None:
    """Create a dedicated refund wallet (POST /v1/agents/create)."""
    from tools.moltpe import MoltPeError

    current = settings()

    async def work() -> Any:
        async with _client(current) as client:
            return await client.create_agent(name, network)

    try:
        wallet = run(work())
    except MoltPeError as exc:
        raise fail(f"MoltPe refused: {exc}", 1) from None
    console = out()
    console.print(f"agent_id:       {wallet.agent_id}")
    console.print(f"wallet_address: {wallet.wallet_address}")
    console.print(f"network:        {wallet.network}")
    console.print(
        f"\nPut this in your settings:  MOLTPE_AGENT_ID={wallet.agent_id}\n"
        "Then fund the wallet with the float you are willing to expose (500 USDC is a good "
        "start) and apply a spending policy with refund-agent wallet policy."
    )


@wallet_app.command("policy")
def wallet_policy(
    daily_cap: Annotated[str, typer.Option(metavar="USDC", help="USDC per UTC day.")] = "100",
    per_tx_cap: Annotated[str, typer.Option(metavar="USDC", help="USDC per refund.")] = "50",
    refund_only: Annotated[
        bool, typer.Option("--refund-only/--any-payment", help="Only refunds to the payer.")
    ] = True,
    agent_id: Annotated[
        str | None,
        typer.Option(metavar="ID", help="Agent to apply it to (default: MOLTPE_AGENT_ID)."),
    ] = None,
) -> None:
    """Apply the server-side spending policy (POST /v1/agents/{id}/policy)."""
    from core.money import InvalidAmount, format_usdc, parse_usdc
    from tools.moltpe import MoltPeError

    current = settings()
    target = agent_id or current.moltpe_agent_id
    if not target:
        raise fail("give --agent-id or set MOLTPE_AGENT_ID")
    try:
        daily = parse_usdc(daily_cap, allow_zero=False)
        per_tx = parse_usdc(per_tx_cap, allow_zero=False)
    except InvalidAmount as exc:
        raise fail(str(exc)) from None
    if per_tx > daily:
        raise fail("the per-transaction cap is larger than the daily cap")

    async def work() -> Any:
        async with _client(current) as client:
            return await client.set_policy(
                target, daily_cap=daily, per_tx_cap=per_tx, refund_only=refund_only
            )

    try:
        policy = run(work())
    except MoltPeError as exc:
        raise fail(f"MoltPe refused: {exc}", 1) from None
    console = out()
    console.print(
        f"policy of {policy.agent_id}: daily_cap {format_usdc(policy.daily_cap)} USDC, "
        f"per_tx_cap {format_usdc(policy.per_tx_cap)} USDC, refund_only {policy.refund_only}"
    )
    if per_tx != current.refund_per_tx_cap or daily != current.refund_daily_cap:
        console.print(
            "[yellow]Note: the agent's own gate uses REFUND_PER_TX_CAP="
            f"{format_usdc(current.refund_per_tx_cap)} and REFUND_DAILY_CAP="
            f"{format_usdc(current.refund_daily_cap)}; keep them at or below MoltPe's.[/yellow]"
        )
