"""Importing orders: idempotent upserts, frozen payment facts, dry runs, the command line.

The headline: a new team imports 1,000 orders from a CSV of its own and a customer gets
a refund on one of them through the agent.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import Settings, get_settings
from moltpe_sandbox import SandboxServer
from persistence.runtime import Storage, open_storage
from tests.harness import Chat
from tools.order_import import OrderConflict, import_orders, parse_order, upsert_order
from wiring.services import create_services

PAYER = "0x" + "cd" * 20


def order(order_id: str, **changes: Any) -> dict[str, Any]:
    """A valid order row as a CSV or JSON file would give it."""
    number = order_id.split("-")[-1]
    row = {
        "id": order_id,
        "customer_email": f"buyer{number}@shop.example",
        "amount_usdc": "45.00",
        "created_at": (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).isoformat(),
        "payment_id": f"pay_imp_{number}",
        "payer_address": PAYER,
        "description": "Wireless earbuds",
    }
    row.update(changes)
    return row


async def stored_rows(storage: Storage) -> dict[str, dict[str, Any]]:
    """Every stored order as an import row with exactly its stored facts."""
    async with storage.pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM orders")
        rows = await cur.fetchall()
    return {
        r["id"]: {
            "id": r["id"],
            "customer_email": r["customer_email"],
            "amount_usdc": str(r["amount_usdc"]),
            "created_at": r["created_at"].isoformat(),
            "payment_id": r["payment_id"],
            "payer_address": r["payer_address"],
            "description": r["description"],
            "network": r["network"],
        }
        for r in rows
    }


async def count(storage: Storage, query: str, *args: Any) -> int:
    async with storage.pool.connection() as conn:
        cur = await conn.execute(query, args)
        row = await cur.fetchone()
    assert row is not None
    return int(next(iter(row.values())))


async def test_upserts_are_idempotent_and_payment_facts_freeze_with_refunds(
    seeded: Storage,
) -> None:
    stored = await stored_rows(seeded)

    def seed_row(order_id: str) -> dict[str, Any]:
        return dict(stored[order_id])

    rows = [
        (2, order("ORD-9001", customer_name="Zoe Park")),
        (3, {**seed_row("ORD-1001"), "created_at": None}),  # invalid: no time
        (4, seed_row("ORD-1002") | {"description": "Phone case, blue"}),
        (5, seed_row("ORD-4001") | {"amount_usdc": "30.00"}),  # refunded already
        (6, order("ORD-9002", payment_id=seed_row("ORD-1001")["payment_id"])),
        (7, order("ORD-9001")),  # the same order id again
        (8, seed_row("ORD-1001")),
        (9, seed_row("ORD-2001") | {"amount_usdc": "110.00"}),  # no refunds: a correction
    ]
    first = await import_orders(seeded.audit, rows, batch_size=3, source="orders.csv")
    assert (first.inserted, first.updated, first.unchanged, first.rejected) == (1, 2, 1, 4)
    assert first.customers_created == 1
    messages = {e.row: str(e) for e in first.errors}
    assert messages[3] == "row 3 (ORD-1001): created_at: missing"
    assert messages[5].startswith(
        "row 5 (ORD-4001): amount_usdc: cannot change from 25.00 to 30.00: the order has refunds"
    )
    assert messages[6] == (
        f"row 6 (ORD-9002): payment_id: {seed_row('ORD-1001')['payment_id']} already belongs "
        "to order ORD-1001"
    )
    assert messages[7] == "row 7 (ORD-9001): id: ORD-9001 appears again (first on row 2)"
    async with seeded.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, amount_usdc, description FROM orders WHERE id = ANY(%s) ORDER BY id",
            (["ORD-1002", "ORD-2001", "ORD-4001", "ORD-9001"],),
        )
        after = {r["id"]: r for r in await cur.fetchall()}
        cur = await conn.execute(
            "SELECT name FROM customers WHERE email = 'buyer9001@shop.example'"
        )
        assert (await cur.fetchone()) == {"name": "Zoe Park"}
        cur = await conn.execute(
            "SELECT payload FROM audit_log WHERE event_type = 'orders_imported'"
            " ORDER BY seq NULLS LAST, pending_id"
        )
        events = [r["payload"] for r in await cur.fetchall()]
    assert after["ORD-1002"]["description"] == "Phone case, blue"
    assert after["ORD-2001"]["amount_usdc"] == Decimal("110.000000")
    assert after["ORD-4001"]["amount_usdc"] == Decimal("25.000000")
    assert after["ORD-9001"]["amount_usdc"] == Decimal("45.000000")
    assert events[0]["source"] == "orders.csv" and events[0]["inserted"] == ["ORD-9001"]
    assert {k for e in events for k in e["updated"]} == {"ORD-1002", "ORD-2001"}

    again = await import_orders(seeded.audit, rows, batch_size=3)
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 4, 4)
    assert await count(
        seeded, "SELECT count(*) FROM audit_log WHERE event_type = 'orders_imported'"
    ) == len(events)


async def test_a_dry_run_writes_nothing(seeded: Storage) -> None:
    seed = await stored_rows(seeded)
    before = await count(seeded, "SELECT count(*) FROM orders")
    events = await count(seeded, "SELECT count(*) FROM audit_log")
    rows = [(n, order(f"ORD-{7100 + n}")) for n in range(1, 8)]
    rows.append((8, seed["ORD-4001"] | {"payer_address": PAYER}))
    rows.append((9, order("ORD-7101")))
    summary = await import_orders(seeded.audit, rows, dry_run=True, batch_size=4)
    assert summary.dry_run
    assert (summary.inserted, summary.updated, summary.rejected) == (7, 0, 2)
    assert "the order has refunds" in str(summary.errors[0])
    assert "appears again" in str(summary.errors[1])
    assert await count(seeded, "SELECT count(*) FROM orders") == before
    assert await count(seeded, "SELECT count(*) FROM audit_log") == events


async def test_upsert_order_for_the_http_layer(seeded: Storage) -> None:
    seed = await stored_rows(seeded)
    record = parse_order(order("ORD-9100"))
    assert (await upsert_order(seeded.audit, record)).outcome == "inserted"
    assert (await upsert_order(seeded.audit, record)).outcome == "unchanged"
    moved = parse_order(record.as_dict() | {"description": "Earbuds (refurbished)"})
    result = await upsert_order(seeded.audit, moved)
    assert result.outcome == "updated" and result.changed == ("description",)
    refunded = parse_order(seed["ORD-4001"] | {"customer_email": "mallory@example.com"})
    with pytest.raises(OrderConflict) as info:
        await upsert_order(seeded.audit, refunded)
    assert info.value.order_id == "ORD-4001" and info.value.fields == ("customer_email",)
    assert "the order has refunds" in str(info.value)


# --- the command line ------------------------------------------------------------------


@pytest.fixture
def import_env(
    db_url: str, sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    for key in list(os.environ):
        if key.startswith(("MOLTPE_", "OPENAI_", "REFUND_", "AUDIT_", "ORDERS_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": db_url,
        "MOLTPE_BASE_URL": sandbox.url,
        "MOLTPE_API_KEY": sandbox.api_key,
        "MOLTPE_SANDBOX_ADMIN_KEY": sandbox.admin_key,
        "MOLTPE_AGENT_ID": "ag_unused",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return Settings(_env_file=None, database_url=db_url)  # type: ignore[call-arg]


def refund_agent(*args: str) -> tuple[int, str, str]:
    get_settings.cache_clear()
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_new_team_imports_1000_orders_from_a_csv_and_refunds_one(
    import_env: Settings, sandbox: SandboxServer, tmp_path: Path, db_url: str
) -> None:
    rows = [
        order(f"ORD-{200000 + n}", customer_name=f"Buyer {n}", network="polygon")
        for n in range(1000)
    ]
    path = write_csv(tmp_path / "orders.csv", rows)

    code, out, err = refund_agent("orders", "import", str(path), "--dry-run")
    assert code == 0, out + err
    assert "dry run of orders.csv: 1000 inserted" in out and "nothing was written" in out

    code, out, err = refund_agent("orders", "import", str(path))
    assert code == 0, out + err
    assert "imported orders.csv: 1000 inserted, 0 updated, 0 unchanged, 0 rejected" in out
    assert "registered 1000 payments with the MoltPe sandbox" in out
    assert sandbox.payment("pay_imp_200500")["amount"] in ("45.00", "45.000000")

    code, out, err = refund_agent("orders", "import", str(path), "--json")
    assert code == 0, out + err
    doc = json.loads(out)
    assert (doc["inserted"], doc["unchanged"], doc["rows"]) == (0, 1000, 1000)

    async def customer_asks() -> dict[str, Any]:
        # The agent's own services, on the local sandbox the import registered with.
        settings = Settings(_env_file=None, moltpe_api_key=None, moltpe_agent_id=None)  # type: ignore[call-arg]
        storage = await open_storage(settings, url=db_url)
        try:
            services = await create_services(
                settings, storage=storage, sandbox=sandbox, reconcile=False
            )
            try:
                chat = Chat(services)
                return await chat.say(
                    chat.new_thread(),
                    "Hi, I'm buyer200500@shop.example. Order ORD-200500 arrived broken, "
                    "please refund 20 USDC.",
                )
            finally:
                await services.aclose()
        finally:
            await storage.close()

    result = asyncio.run(customer_asks())
    outcome = result["outcome"]
    assert outcome["kind"] == "refunded", result["reply"]
    assert outcome["amount"] == "20.00" and outcome["order_id"] == "ORD-200500"
    [entry] = sandbox.ledger(payment_id="pay_imp_200500")
    assert entry["tx_hash"] == outcome["tx_hash"]
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT refunded_usdc FROM orders WHERE id = 'ORD-200500'"
        ).fetchone() == (Decimal("20.000000"),)

    # The refunded order's amount is now frozen; the rest of the file still applies.
    rows[500]["amount_usdc"] = "40.00"
    rows[501]["description"] = "Earbuds, returned"
    write_csv(path, rows)
    code, out, err = refund_agent("orders", "import", str(path))
    assert code == 1
    assert "0 inserted, 1 updated, 998 unchanged, 1 rejected" in out
    assert "row 502 (ORD-200500): amount_usdc: cannot change from 45.00 to 40.00" in err


def test_rejected_rows_and_unreadable_files(import_env: Settings, tmp_path: Path) -> None:
    good = order("ORD-3101")
    bad = order("ORD-3102", amount_usdc="12,5O")
    path = write_csv(tmp_path / "orders.csv", [good, bad])
    code, out, err = refund_agent("orders", "import", str(path))
    assert code == 1
    assert "row 3 (ORD-3102): amount_usdc: '12,5O' is not an amount" in err
    assert "1 inserted, 0 updated, 0 unchanged, 1 rejected" in out

    jsonl = tmp_path / "more.jsonl"
    line = json.dumps(order("ORD-3103")).replace('"amount_usdc": "45.00"', '"amount_usdc": 19.99')
    assert '"amount_usdc": 19.99' in line  # a JSON number, read as an exact decimal
    jsonl.write_text(line + "\n")
    code, out, err = refund_agent("orders", "import", str(jsonl), "--json")
    assert code == 0, out + err
    assert json.loads(out)["inserted"] == 1

    missing = tmp_path / "missing-column.csv"
    missing.write_text("id,customer_email\nORD-1,a@b.io\n")
    code, out, err = refund_agent("orders", "import", str(missing))
    assert code == 1  # rows without required values are rejected one by one
    assert "amount_usdc: missing" in err

    for args, message in [
        (("orders", "import", str(tmp_path / "nope.csv")), "cannot read"),
        (("orders", "import", str(tmp_path / "orders.txt")), "--format"),
        (("orders", "import", str(write_bytes(tmp_path / "x.csv", b"\xff\xfe\x00"))), "UTF-8"),
        (("orders", "import", str(write_bytes(tmp_path / "x.json", b"nope"))), "JSON"),
    ]:
        code, out, err = refund_agent(*args)
        assert code == 2, (args, out, err)
        assert message in err, (message, err)


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
