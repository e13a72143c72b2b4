"""``refund-agent config``: the effective settings, and whether what they name works."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from cli._common import announce_database, out, run, settings

if TYPE_CHECKING:
    from core.settings import Settings
    from persistence.db import Conn

CheckState = Literal["ok", "off", "warning", "failed"]


@dataclass(frozen=True, slots=True)
class Check:
    """One component's check: ``failed`` makes ``config --check`` exit 1."""

    component: str
    state: CheckState
    detail: str


def config(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Also try the database, MoltPe (or the sandbox) and the LLM; "
            "exit 1 when something configured does not work.",
        ),
    ] = False,
) -> None:
    """Print the effective settings, every secret masked."""
    from rich.table import Table
    from rich.text import Text

    current = settings()
    values = current.masked()
    checks = run(run_checks(current)) if check else []
    failed = any(c.state == "failed" for c in checks)
    if as_json:
        doc: dict[str, object] = dict(values)
        if check:
            doc = {
                "settings": values,
                "checks": {c.component: {"state": c.state, "detail": c.detail} for c in checks},
                "ok": not failed,
            }
        print(json.dumps(doc, indent=2))
        raise typer.Exit(1 if failed else 0)
    table = Table("setting", "value", title="effective settings")
    for key, value in values.items():
        table.add_row(key, Text(value))
    console = out()
    console.print(table)
    if not check:
        mode = "MoltPe sandbox (no MOLTPE_API_KEY)" if current.uses_sandbox else "MoltPe"
        llm = f"LLM {current.openai_model}" if current.uses_llm else "offline rules"
        console.print(
            f"payments: {mode}; understanding: {llm} (configured; "
            "refund-agent config --check tries them)",
            highlight=False,
        )
        return
    styles = {"ok": "green", "off": "dim", "warning": "yellow", "failed": "red"}
    results = Table("component", "state", "detail", title="checks")
    for item in checks:
        results.add_row(
            item.component, Text(item.state, style=styles[item.state]), Text(item.detail)
        )
    console.print(results)
    console.print(
        "[red]something configured does not work[/red]" if failed else "[green]all good[/green]"
    )
    raise typer.Exit(1 if failed else 0)


async def run_checks(current: Settings) -> list[Check]:
    """Check every configured component; never raises for a component's failure."""
    return [
        await check_database(current),
        await check_moltpe(current),
        await check_llm_component(current),
    ]


async def check_database(current: Settings) -> Check:
    """Connect, read the server's version and the schema version; try the source query."""
    import asyncio

    from persistence.db import connect, resolve_database_url
    from persistence.embedded import EmbeddedPostgresError
    from persistence.migrations import MIGRATIONS

    where = "DATABASE_URL" if current.database_url is not None else "embedded PostgreSQL"
    try:
        url = await resolve_database_url(current)
        announce_database(url, current)
        async with asyncio.timeout(10):
            conn = await connect(url, current)
        async with conn:
            cur = await conn.execute("SELECT current_setting('server_version') AS v")
            row = await cur.fetchone()
            version = row["v"] if row else "?"
            cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL AS t")
            row = await cur.fetchone()
            schema = 0
            if row and row["t"]:
                cur = await conn.execute(
                    "SELECT coalesce(max(version), 0) AS v FROM schema_migrations"
                )
                row = await cur.fetchone()
                schema = int(row["v"]) if row else 0
            source = await _check_source(conn, current)
    except (EmbeddedPostgresError, OSError, TimeoutError) as exc:
        return Check("database", "failed", f"{where}: {_one_line(exc)}")
    except Exception as exc:  # psycopg's errors: report, do not crash the check
        return Check("database", "failed", f"{where}: {_one_line(exc)}")
    code = len(MIGRATIONS)
    detail = f"{where}: PostgreSQL {version}, schema version {schema} of {code}"
    if schema > code:
        return Check("database", "failed", detail + " (newer than this code: upgrade it)")
    if source is not None:
        return Check("database", "failed", f"{detail}; {source}")
    if schema < code:
        return Check("database", "warning", detail + " (start-up or db migrate applies the rest)")
    return Check("database", "ok", detail)


async def _check_source(conn: Conn, current: Settings) -> str | None:
    """What is wrong with ``ORDERS_SOURCE_QUERY``, or None (also when it is not set)."""
    if not current.orders_source_query:
        return None
    from tools.order_source import OrderSourceError, validate_source_query

    try:
        await validate_source_query(conn, current.orders_source_query)
    except OrderSourceError as exc:
        return str(exc)
    return None


async def check_moltpe(current: Settings) -> Check:
    """Ping MoltPe with the key (or say the local sandbox stands in)."""
    import asyncio

    from moltpe_sandbox import SandboxAdmin
    from tools.moltpe import MoltPeClient, MoltPeError

    if current.moltpe_api_key is None:
        return Check("moltpe", "ok", "no MOLTPE_API_KEY: the local sandbox starts on demand")
    if not current.moltpe_agent_id:
        return Check("moltpe", "failed", "MOLTPE_AGENT_ID is not set (refund-agent wallet create)")
    try:
        async with MoltPeClient.from_settings(current) as client:
            reachable = await client.ping()
    except MoltPeError as exc:
        return Check("moltpe", "failed", f"{current.moltpe_base_url} refused the key: {exc}")
    if not reachable:
        return Check("moltpe", "failed", f"cannot reach {current.moltpe_base_url}")
    detail = f"{current.moltpe_base_url} answered with MOLTPE_API_KEY"
    if current.moltpe_sandbox_admin_key is not None:
        admin = SandboxAdmin(
            current.moltpe_base_url,
            current.moltpe_api_key.get_secret_value(),
            admin_key=current.moltpe_sandbox_admin_key.get_secret_value(),
        )
        try:
            allowed = await asyncio.to_thread(admin.has_admin_access)
        finally:
            admin.close()
        if not allowed:
            return Check("moltpe", "failed", detail + "; it refused MOLTPE_SANDBOX_ADMIN_KEY")
        detail += "; sandbox admin key accepted"
    return Check("moltpe", "ok", detail)


async def check_llm_component(current: Settings) -> Check:
    """The LLM, through :func:`wiring.llm_check.check_llm`."""
    from wiring.llm_check import check_llm

    status = await check_llm(current)
    if status.state == "off":
        return Check("llm", "off", status.message)
    if status.usable:
        return Check("llm", "ok", status.message)
    return Check(
        "llm", "failed", f"{status.state}: {status.message} (chat and demo fall back to rules)"
    )


def _one_line(exc: BaseException) -> str:
    from core.settings import mask_dsn

    text = " ".join(str(exc).split()) or type(exc).__name__
    return mask_dsn(text)[:300]
