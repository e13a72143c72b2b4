"""``refund-agent orders import``: orders from the merchant's own systems."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from cli._common import err, fail, new_app, out, run, settings, with_storage

if TYPE_CHECKING:
    from moltpe_sandbox import SandboxAdmin
    from persistence.runtime import Storage
    from tools.order_import import ImportSummary, OrderRecord

orders_app = new_app("Orders from your own systems: see docs/ORDERS.md.")

ERRORS_SHOWN: Final = 20
PROGRESS_AFTER_ROWS: Final = 1000
PROGRESS_EVERY_SECONDS: Final = 1.0


@orders_app.command("import")
def orders_import(
    file: Annotated[
        Path,
        # Described in the docstring: typer would print a "<path>" placeholder here.
        typer.Argument(metavar="FILE", hidden=True, show_default=False),
    ],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="csv|json",
            help="The file's format (default: from its suffix: .csv, .json, .jsonl).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Check every row and count what would change; write nothing."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary and the row errors as JSON.")
    ] = False,
) -> None:
    """Import orders from a CSV or JSON file.

    FILE holds the orders (columns and examples: docs/ORDERS.md); - reads standard
    input. Idempotent: the same file again changes nothing. Payment facts of an order with
    refunds cannot change. New payments are registered with a configured MoltPe sandbox.
    Exit 0 when every row was applied, 1 when some rows were rejected (each named with
    its row), 2 when the file cannot be read.
    """
    from tools.order_files import OrderFileError, detect_format, open_text, read_rows

    stdin = str(file) == "-"
    try:
        if stdin and fmt is None:
            raise OrderFileError("reading standard input: give --format csv or --format json")
        chosen = detect_format(file, fmt)
        binary = sys.stdin.buffer if stdin else file.open("rb")
    except OrderFileError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}") from None
    label = "standard input" if stdin else file.name
    current = settings()
    registered = [0, 0]  # payments registered, failed

    async def work(storage: Storage) -> ImportSummary:
        import psycopg

        from cli.sandbox_link import configured_sandbox
        from tools.order_import import import_orders

        admin = None if dry_run else await configured_sandbox(current)
        try:
            with open_text(binary) as stream:
                return await import_orders(
                    storage.audit,
                    read_rows(stream, chosen),
                    dry_run=dry_run,
                    default_network=current.moltpe_network,
                    source=label,
                    on_applied=_registrar(admin, registered) if admin else None,
                    on_progress=_progress_printer(),
                )
        except psycopg.Error as exc:
            raise fail(f"the database refused the import: {exc}") from None
        finally:
            if admin is not None:
                admin.close()

    try:
        summary = run(with_storage(current, work))
    except OrderFileError as exc:
        raise fail(f"{label}: {exc}") from None
    if as_json:
        doc: dict[str, Any] = {"file": label, **summary.as_dict()}
        doc["payments_registered"] = registered[0]
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        _report(summary, label, registered)
    raise typer.Exit(0 if summary.ok else 1)


def _registrar(admin: SandboxAdmin, registered: list[int]) -> Any:
    """An ``on_applied`` callback registering new payments with the sandbox."""
    import asyncio

    def register_all(records: list[OrderRecord]) -> None:
        for record in records:
            try:
                admin.register_payment(
                    record.payment_id, record.payer_address, record.amount_usdc, record.network
                )
                registered[0] += 1
            except Exception as exc:  # report and go on: the orders are imported
                registered[1] += 1
                if registered[1] <= 5:
                    err().print(
                        f"sandbox refused payment {record.payment_id} of {record.id}: {exc}",
                        markup=False,
                        highlight=False,
                        soft_wrap=True,
                    )

    async def on_applied(records: list[OrderRecord]) -> None:
        await asyncio.to_thread(register_all, records)

    return on_applied


def _progress_printer() -> Any:
    """An ``on_progress`` callback: a line on stderr now and then, for large files."""
    last = [time.monotonic()]

    def on_progress(summary: ImportSummary) -> None:
        now = time.monotonic()
        if summary.rows >= PROGRESS_AFTER_ROWS and now - last[0] >= PROGRESS_EVERY_SECONDS:
            last[0] = now
            err().print(f"{summary.rows:,} rows: {summary.counts()}", markup=False, highlight=False)

    return on_progress


def _report(summary: ImportSummary, label: str, registered: list[int]) -> None:
    for error in summary.errors[:ERRORS_SHOWN]:
        err().print(str(error), markup=False, highlight=False, soft_wrap=True)
    more = summary.rejected - min(len(summary.errors), ERRORS_SHOWN)
    if more > 0:
        err().print(f"... and {more} more rejected rows (--json lists them)", highlight=False)
    if summary.ignored_columns:
        err().print(
            f"ignored columns: {', '.join(summary.ignored_columns)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    verb = "dry run of" if summary.dry_run else "imported"
    line = f"{verb} {label}: {summary.counts()} ({summary.rows} rows)"
    if summary.dry_run:
        line += "; nothing was written"
    elif summary.customers_created:
        line += f"; {summary.customers_created} new customers"
    out().print(line, markup=False, highlight=False, soft_wrap=True)
    if registered[0] or registered[1]:
        out().print(
            f"registered {registered[0]} payments with the MoltPe sandbox"
            + (f" ({registered[1]} refused)" if registered[1] else ""),
            highlight=False,
        )
