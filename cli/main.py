"""``refund-agent``: set up, inspect and run the support refund agent."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from cli.eval_cmd import eval_command
from cli.ops import refunds_app, wallet_app
from cli.sandbox_cmd import sandbox
from core.settings import DEFAULT_MOLTPE_BASE_URL, Settings, get_settings
from persistence import audit as audit_mod
from persistence.embedded import EmbeddedPostgresError, embedded_data_dir, stop_embedded
from persistence.migrations import MIGRATIONS, current_version, migrate
from persistence.runtime import Storage, open_storage
from persistence.seed import SeedError, apply_seed, load_seed_file

T = TypeVar("T")

app = typer.Typer(
    name="refund-agent",
    help="A support agent that refunds USDC through MoltPe within policy and escalates the rest.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database: migrations and demo data.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(refunds_app, name="refunds")
app.add_typer(wallet_app, name="wallet")
app.command(name="sandbox")(sandbox)
app.command(name="eval")(eval_command)

console = Console()
err = Console(stderr=True)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine, turning known set-up failures into clear errors."""

    async def _main() -> T:
        return await coro

    try:
        return asyncio.run(_main())
    except EmbeddedPostgresError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except OSError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


async def _with_storage(
    settings: Settings, work: Callable[[Storage], Awaitable[T]], *, announce: bool = True
) -> T:
    storage = await open_storage(settings)
    if announce and settings.database_url is None:
        err.print(f"[dim]embedded PostgreSQL: {storage.url}[/dim]", soft_wrap=True)
    try:
        return await work(storage)
    finally:
        await storage.close()


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def config(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective settings, secrets masked."""
    settings = get_settings()
    values = settings.masked()
    if as_json:
        console.print_json(json.dumps(values))
        return
    table = Table("setting", "value", title="effective settings")
    for key, value in values.items():
        table.add_row(key, value)
    console.print(table)
    mode = "MoltPe sandbox (no MOLTPE_API_KEY)" if settings.uses_sandbox else "MoltPe"
    llm = f"LLM {settings.openai_model}" if settings.uses_llm else "offline rules"
    console.print(f"payments: {mode}; understanding: {llm}")


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations (also done automatically at start-up)."""

    async def work(storage: Storage) -> None:
        async with storage.pool.connection() as conn:
            applied = await migrate(conn)
            version = await current_version(conn)
        if applied:
            console.print(f"applied migrations {applied}; schema at version {version}")
        else:
            console.print(f"schema up to date at version {version} of {len(MIGRATIONS)}")

    run(_with_storage(get_settings(), work))


@db_app.command("seed")
def db_seed(
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Seed JSON (default: the bundled demo data)."),
    ] = None,
) -> None:
    """Load demo customers and orders. Idempotent: seeding twice changes nothing."""
    try:
        seed = load_seed_file(file)
    except SeedError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None

    async def work(storage: Storage) -> None:
        async with storage.pool.connection() as conn:
            counts, records = await apply_seed(conn, seed)
        await storage.audit.mirror(records)
        added = ", ".join(f"{n} {what}" for what, n in counts.items())
        console.print(f"seeded: {added}" if any(counts.values()) else "nothing new to seed")
        await register_with_sandbox(get_settings(), storage)

    run(_with_storage(get_settings(), work))


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL (its data stays; the next command starts it again)."""
    settings = get_settings()
    if settings.database_url is not None:
        err.print("DATABASE_URL is set: there is no embedded server to stop")
        raise typer.Exit(2)
    data_dir = embedded_data_dir(settings.refund_agent_home)
    try:
        stopped = stop_embedded(data_dir)
    except EmbeddedPostgresError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"stopped the embedded PostgreSQL in {data_dir}" if stopped else "not running")


async def register_with_sandbox(settings: Settings, storage: Storage) -> None:
    """Register every order's payment with the configured MoltPe, if it is a sandbox."""
    if settings.moltpe_api_key is None or settings.moltpe_base_url == DEFAULT_MOLTPE_BASE_URL:
        return
    from moltpe_sandbox import SandboxAdmin
    from wiring.services import register_payments

    admin_key = settings.moltpe_sandbox_admin_key
    admin = SandboxAdmin(
        settings.moltpe_base_url,
        settings.moltpe_api_key.get_secret_value(),
        admin_key=admin_key.get_secret_value() if admin_key is not None else None,
    )
    try:
        if not await asyncio.to_thread(admin.is_sandbox):
            return
        if not await asyncio.to_thread(admin.has_admin_access):
            problem = (
                "MOLTPE_SANDBOX_ADMIN_KEY is not set"
                if admin_key is None
                else "it refused MOLTPE_SANDBOX_ADMIN_KEY"
            )
            err.print(
                f"[yellow]MOLTPE_BASE_URL is a MoltPe sandbox ({admin.url}) but {problem}: "
                "the orders' payments were not registered with it (refunds of them will "
                "fail with PAYMENT_NOT_FOUND). Set it to the admin key the sandbox printed."
                "[/yellow]"
            )
            return
        count = await register_payments(admin, storage)
        console.print(f"registered {count} payments with the MoltPe sandbox at {admin.url}")
    finally:
        admin.close()


@audit_app.command("verify")
def audit_verify(
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="Also compare with an outside copy: the AUDIT_LOG_FILE mirror, kept "
            "where the database's owner cannot rewrite it.",
        ),
    ] = None,
) -> None:
    """Walk the hash chain: exit 0 when intact, 1 naming the first broken row."""

    async def work(storage: Storage) -> list[audit_mod.VerifyResult]:
        async with storage.pool.connection() as conn:
            results = [await audit_mod.verify_chain(conn)]
            if against is not None and results[0].ok:
                results.append(await audit_mod.verify_against_mirror(conn, against))
            return results

    results = run(_with_storage(get_settings(), work))
    result = next((r for r in results if not r.ok), results[0])
    if result.ok:
        console.print(f"[green]audit chain intact[/green]: {results[0].checked} events verified")
        if against is not None:
            console.print(
                f"[green]matches the mirror[/green]: {results[1].checked} events in {against}"
            )
        return
    err.print(f"[red]audit chain broken at row {result.broken_seq}[/red]: {result.problem}")
    err.print(f"({result.checked} events verified before it)")
    raise typer.Exit(1)


@audit_app.command("tail")
def audit_tail(
    thread: Annotated[str | None, typer.Option("--thread", help="One conversation.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10000)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show the latest audit events."""

    async def work(storage: Storage) -> list[dict[str, Any]]:
        async with storage.pool.connection() as conn:
            return await audit_mod.tail(conn, thread_id=thread, limit=limit)

    rows = run(_with_storage(get_settings(), work, announce=not as_json))
    if as_json:
        for row in rows:
            print(json.dumps(row, default=str, ensure_ascii=False, sort_keys=True))
        return
    table = Table("seq", "time (UTC)", "event", "actor", "thread", "order", "details")
    for row in rows:
        table.add_row(
            str(row["seq"]),
            row["ts"].astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            row["event_type"],
            row["actor"],
            (row["thread_id"] or "")[:12],
            row["order_id"] or "",
            json.dumps(row["payload"], ensure_ascii=False)[:80],
        )
    console.print(table)


@app.command()
def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the demo database instead of dropping it.")
    ] = False,
) -> None:
    """Run the guide's four scenarios end to end on local defaults; exit 1 if any fails."""
    from cli.demo import run_demo

    ok = run(run_demo(get_settings(), console, keep=keep))
    raise typer.Exit(0 if ok else 1)


@app.command()
def chat(
    thread: Annotated[
        str | None, typer.Option("--thread", help="Continue this conversation.")
    ] = None,
    customer_email: Annotated[
        str | None,
        typer.Option("--as", help="Act as a customer already signed in with this email."),
    ] = None,
) -> None:
    """Talk to the agent in the terminal (Postgres-checkpointed; resumable)."""
    from cli.chat import run_chat

    run(run_chat(get_settings(), console, thread_id=thread, customer_email=customer_email))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
) -> None:
    """Serve the HTTP API, the customer web chat (/) and the review console (/review)."""
    from server.app import create_app
    from server.runner import serve as serve_app

    settings = get_settings()
    console.print(
        f"customer chat: http://{host}:{port}/   review console: http://{host}:{port}/review   "
        f"API docs: http://{host}:{port}/docs",
        soft_wrap=True,
    )
    if not settings.reviewers():
        console.print(
            "[yellow]REVIEWER_TOKENS is not set: the review console will refuse every "
            "token (e.g. REVIEWER_TOKENS='dana:choose-a-long-secret').[/yellow]"
        )
    serve_app(create_app(settings=settings), host=host, port=port)


def main() -> None:
    """Console-script entry point."""
    app()
