"""``refund-agent db``: migrations, demo data, and the embedded PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli._common import err, fail, new_app, out, run, settings, with_storage

if TYPE_CHECKING:
    from core.settings import Settings
    from persistence.runtime import Storage
    from persistence.seed import SeedFile

db_app = new_app("The database: migrations, demo data and the embedded PostgreSQL.")


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations (also done automatically at start-up)."""
    from persistence.migrations import MIGRATIONS, current_version, migrate

    current = settings()

    async def work(storage: Storage) -> tuple[list[int], int]:
        async with storage.pool.connection() as conn:
            applied = await migrate(conn, app_role=current.db_app_role)
            return applied, await current_version(conn)

    applied, version = run(with_storage(current, work, migrations=False))
    if applied:
        numbers = ", ".join(map(str, applied))
        out().print(
            f"applied {len(applied)} migration{'s' if len(applied) > 1 else ''} ({numbers}); "
            f"schema now at version {version} of {len(MIGRATIONS)}"
        )
    else:
        out().print(f"schema up to date at version {version} of {len(MIGRATIONS)}")


@db_app.command("seed")
def db_seed(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", metavar="FILE", help="Seed JSON (default: the bundled demo data)."
        ),
    ] = None,
    show: Annotated[
        bool,
        typer.Option(
            "--list", help="Show the seed's customers and orders, and what each can ask for."
        ),
    ] = False,
) -> None:
    """Load demo customers and orders. Idempotent: seeding twice changes nothing."""
    from persistence.seed import SeedError, apply_seed, load_seed_file

    try:
        seed = load_seed_file(file)
    except SeedError as exc:
        raise fail(str(exc)) from None
    current = settings()
    if show:
        _show_seed(seed, current)
        return

    async def work(storage: Storage) -> None:
        async with storage.pool.connection() as conn:
            counts, _ = await apply_seed(conn, seed)
        await storage.audit.flush()
        added = ", ".join(f"{n} {what}" for what, n in counts.items())
        out().print(f"seeded: {added}" if any(counts.values()) else "nothing new to seed")
        await register_with_sandbox(current, storage)

    run(with_storage(current, work))


def _show_seed(seed: SeedFile, current: Settings) -> None:
    """A table of who can ask for what, judged with the configured limits."""
    import datetime as dt
    from collections import Counter, defaultdict
    from decimal import Decimal

    from rich.table import Table
    from rich.text import Text

    from core.money import format_usdc

    now = dt.datetime.now(dt.UTC)
    refunded: dict[str, Decimal] = defaultdict(Decimal)
    recent: Counter[str] = Counter()
    owner = {o.id: o.customer_email for o in seed.orders}
    for refund in seed.refunds:
        refunded[refund.order_id] += refund.amount_usdc
        if refund.when(now) >= now - dt.timedelta(days=current.refund_velocity_days):
            recent[owner[refund.order_id]] += 1
    names = {c.email: c.name for c in seed.customers}
    table = Table(
        "customer", "order", "amount", "age", "refunded", "try", title="demo customers and orders"
    )
    for order in seed.orders:
        age = (now - order.when(now)).days
        left = order.amount_usdc - refunded[order.id]
        cap = current.refund_per_tx_cap
        if left <= 0:
            hint = "already refunded: denied"
        elif age > current.refund_window_days:
            hint = f"older than {current.refund_window_days} days: escalated"
        elif recent[order.customer_email] >= current.refund_velocity_max:
            hint = f"{recent[order.customer_email]} recent refunds: escalated (velocity)"
        elif left > cap:
            hint = f"up to {format_usdc(cap)} refunded; more is escalated"
        else:
            hint = f"up to {format_usdc(left)} refunded automatically"
        table.add_row(
            Text(f"{names.get(order.customer_email, '')} <{order.customer_email}>"),
            Text(order.id),
            format_usdc(order.amount_usdc),
            f"{age} d",
            format_usdc(refunded[order.id]),
            Text(hint),
        )
    console = out()
    console.print(table)
    console.print(
        'Try it in refund-agent chat: "refund 20 USDC on ORD-1001, alice@example.com". '
        "Limits from settings: "
        f"{format_usdc(current.refund_per_tx_cap)} USDC per refund, "
        f"{format_usdc(current.refund_daily_cap)} USDC a day, "
        f"{current.refund_window_days}-day window.",
        highlight=False,
        markup=False,
    )


async def register_with_sandbox(current: Settings, storage: Storage) -> None:
    """Register every order's payment with the configured MoltPe, if it is a sandbox."""
    from cli.sandbox_link import configured_sandbox
    from wiring.services import register_payments

    admin = await configured_sandbox(current)
    if admin is None:
        return
    try:
        count = await register_payments(admin, storage)
    finally:
        admin.close()
    out().print(f"registered {count} payments with the MoltPe sandbox at {admin.url}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL.

    Its data stays; the next command starts it again.
    """
    from persistence.embedded import EmbeddedPostgresError, embedded_data_dir, stop_embedded

    current = settings()
    data_dir = embedded_data_dir(current.refund_agent_home)
    if current.database_url is not None:
        err().print(
            "note: DATABASE_URL is set, so commands use that server; "
            "stopping the embedded one anyway if it runs",
            highlight=False,
        )
    try:
        stopped = stop_embedded(data_dir)
    except EmbeddedPostgresError as exc:
        raise fail(str(exc), 1) from None
    if stopped:
        out().print(
            f"stopped the embedded PostgreSQL in {data_dir}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    else:
        out().print(
            f"the embedded PostgreSQL in {data_dir} is not running",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@db_app.command("status")
def db_status(
    show_url: Annotated[
        bool, typer.Option("--show-url", help="Also print the URL to connect with.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show whether the embedded PostgreSQL runs.

    Data dir, port and pid; exit 3 when it does not run.
    """
    from persistence.embedded import embedded_data_dir, embedded_status

    current = settings()
    status = embedded_status(embedded_data_dir(current.refund_agent_home))
    doc: dict[str, Any] = {
        "running": status.running,
        "data_dir": str(status.data_dir),
        "pid": status.pid,
        "port": status.port,
        "socket_dir": str(status.socket_dir) if status.socket_dir else None,
        "database_url_set": current.database_url is not None,
    }
    if status.stale_pid_file:
        doc["stale_pid_file"] = True
    if status.other_pids and status.pid is None:
        doc["orphan_pids"] = list(status.other_pids)
    if show_url:
        doc["url"] = status.url
    if as_json:
        print(json.dumps(doc))
    else:
        lines = [
            f"embedded PostgreSQL: {'running' if status.running else 'not running'}",
            f"data dir: {status.data_dir}",
        ]
        if status.pid is not None:
            lines.append(f"pid: {status.pid}")
            lines.append(f"port: {status.port} (Unix socket in {status.socket_dir}; no TCP)")
        if status.stale_pid_file:
            lines.append("postmaster.pid names a process that is gone (a crash or a kill)")
        if status.other_pids and status.pid is None:
            pids = ", ".join(map(str, status.other_pids))
            lines.append(f"leftover postgres processes: {pids} (refund-agent db stop ends them)")
        if show_url and status.url:
            lines.append(f"url: {status.url}")
        if current.database_url is not None:
            lines.append("DATABASE_URL is set: commands use that server, not this one")
        for line in lines:
            out().print(line, highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(0 if status.running else 3)
