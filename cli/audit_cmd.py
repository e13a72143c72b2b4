"""``refund-agent audit``: verify the hash chain, show the latest events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from cli._common import err, new_app, out, run, settings, with_storage

if TYPE_CHECKING:
    from persistence.audit import VerifyResult
    from persistence.runtime import Storage

audit_app = new_app("The tamper-evident audit log.")


@audit_app.command("verify")
def audit_verify(
    against: Annotated[
        list[Path] | None,
        typer.Option(
            "--against",
            metavar="FILE",
            help="Also compare with an outside copy: the AUDIT_LOG_FILE mirror, kept "
            "where the database's owner cannot rewrite it. Repeat to read several "
            "files as one.",
        ),
    ] = None,
) -> None:
    """Walk the hash chain.

    Exit 0 when intact, 1 naming the first edited, deleted or inserted row. With
    --against, also every difference from the mirror: gaps, extra rows, rewritten rows.
    Events committed but not chained yet are counted, and their seals checked.
    """
    from rich.markup import escape

    from persistence import audit as audit_mod

    async def work(storage: Storage) -> list[VerifyResult]:
        async with storage.pool.connection() as conn:
            results = [await audit_mod.verify_chain(conn)]
            if against and results[0].ok:
                results.append(await audit_mod.verify_against_mirror(conn, against))
            return results

    results = run(with_storage(settings(), work))
    result = next((r for r in results if not r.ok), results[0])
    files = ", ".join(str(path) for path in against or [])
    if result.ok:
        out().print(f"[green]audit chain intact[/green]: {results[0].checked} events verified")
        if results[0].pending:
            out().print(_backlog(results[0]))
        if against:
            mirrored = results[1]
            newer = (
                f"; {mirrored.not_mirrored} newer not in it yet" if mirrored.not_mirrored else ""
            )
            out().print(
                f"[green]matches the mirror[/green]: {mirrored.checked} events in "
                f"{escape(files)}{newer}"
            )
        return
    if result is results[0]:
        err().print(
            f"[red]audit chain broken at row {result.broken_seq}[/red]: "
            f"{escape(str(result.problem))}"
        )
        err().print(f"({result.checked} events verified before it)")
        raise typer.Exit(1)
    err().print(
        f"[red]the audit chain differs from the mirror[/red] {escape(files)} "
        f"({len(result.problems)} problem{'s' if len(result.problems) != 1 else ''}):"
    )
    for problem in result.problems:
        err().print(f"  {escape(problem)}")
    raise typer.Exit(1)


def _backlog(result: VerifyResult) -> str:
    """``3 events committed, waiting to be chained (the oldest 0.2 s ago)``."""
    import datetime as dt

    age = ""
    if result.oldest_pending is not None:
        seconds = (dt.datetime.now(dt.UTC) - result.oldest_pending).total_seconds()
        age = f" (the oldest {max(seconds, 0):.1f} s ago)"
    noun = "event" if result.pending == 1 else "events"
    return f"{result.pending} {noun} committed, waiting to be chained{age}"


@audit_app.command("tail")
def audit_tail(
    thread: Annotated[
        str | None, typer.Option("--thread", metavar="ID", help="One conversation.")
    ] = None,
    limit: Annotated[
        int,
        typer.Option(
            "--limit", "-n", min=1, max=10000, metavar="N", help="How many events to show."
        ),
    ] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="Every field of every event, one JSON object a line.")
    ] = False,
) -> None:
    """Show the latest audit events.

    One line each: time, type, actor, order and a short summary; --json shows every field.
    """
    from persistence import audit as audit_mod

    async def work(storage: Storage) -> list[dict[str, Any]]:
        async with storage.pool.connection() as conn:
            return await audit_mod.tail(conn, thread_id=thread, limit=limit)

    rows = run(with_storage(settings(), work))
    if as_json:
        for row in rows:
            print(json.dumps(row, default=str, ensure_ascii=False, sort_keys=True))
        return
    print_events(rows)


COLUMNS: Final = (("time (UTC)", 14), ("event", 18), ("actor", 8), ("order", 10))
"""The fixed columns of ``audit tail`` and their widths; the summary takes the rest."""


def print_events(rows: list[dict[str, Any]]) -> None:
    """The compact layout: one line per event, fitted to the terminal (80 columns and up).

    Every value is shown as text, never interpreted as markup, and cut with an
    ellipsis when it is too long for its column.
    """
    import datetime as dt

    from rich.text import Text

    console = out()
    rest = max(12, console.width - sum(w for _, w in COLUMNS) - len(COLUMNS))

    def line(cells: list[str], style: str = "") -> Text:
        widths = [w for _, w in COLUMNS] + [rest]
        parts = []
        for value, width in zip(cells, widths, strict=True):
            cell = Text(_printable(value), style=style)
            cell.truncate(width, overflow="ellipsis", pad=True)
            parts.append(cell)
        joined = Text(" ").join(parts)
        joined.rstrip()
        return joined

    console.print(line([name for name, _ in COLUMNS] + ["summary"], "bold"), no_wrap=True)
    for row in rows:
        cells = [
            row["ts"].astimezone(dt.UTC).strftime("%m-%d %H:%M:%S"),
            str(row["event_type"]),
            str(row["actor"]),
            row["order_id"] or "",
            summarize(str(row["event_type"]), row["payload"] or {}),
        ]
        console.print(line(cells), no_wrap=True, crop=True)
    if rows:
        console.print(Text("refund-agent audit tail --json shows every field.", style="dim"))


def _printable(value: str) -> str:
    """One line of visible characters: newlines, tabs and control characters become spaces."""
    return "".join(ch if ch.isprintable() else " " for ch in value)


def summarize(event_type: str, payload: Mapping[str, Any]) -> str:
    """One short line about an event, from the fields that matter for its type."""
    get = payload.get

    def words(*parts: object) -> str:
        return " ".join(str(p) for p in parts if p not in (None, "", [], {}))

    if event_type == "node":
        outcome = get("outcome") or {}
        detail = outcome.get("outcome") or outcome.get("intent") or outcome.get("decision")
        return words(get("node"), f"turn {get('turn')}", detail)
    if event_type == "lookup":
        return words(get("result"), "owner mismatch" if get("owner_mismatch") else None)
    if event_type == "decision":
        return words(get("action"), get("amount"), ", ".join(get("reasons") or []))
    if event_type.startswith("refund_"):
        tx = get("tx_hash")
        return words(
            get("amount_usdc"),
            f"{get('was')} -> {get('now')}" if get("was") else None,
            f"tx {str(tx)[:12]}..." if tx else None,
            get("code"),
            get("reason"),
        )
    if event_type == "escalation":
        return words(get("ticket"), get("reason"))
    if event_type == "escalation_attached":
        return words("attached to", get("ticket"), get("reason"))
    if event_type == "ticket_resolved":
        return words(get("ticket"), get("decision"), get("amount"))
    if event_type == "injection_suspected":
        return words(", ".join(get("signals") or []), repr(str(get("excerpt") or "")[:60]))
    if event_type == "llm_fallback":
        return words("rules:", str(get("error") or "")[:60])
    if event_type == "orders_imported":
        updated = get("updated") or {}
        return words(
            get("source"),
            f"{len(get('inserted') or [])} inserted,",
            f"{len(updated)} updated",
        )
    if event_type == "seed":
        added = get("added") or {}
        return ", ".join(f"{n} {what}" for what, n in added.items())
    return ", ".join(f"{k}={_short(v)}" for k, v in list(payload.items())[:4])


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 24 else text[:23] + "..."
