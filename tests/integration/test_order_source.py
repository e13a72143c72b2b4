"""ORDERS_SOURCE_QUERY: orders read from the merchant's own view, copied in on first sight."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import Settings, get_settings
from graph.services import Services
from moltpe_sandbox import SandboxServer
from persistence.runtime import Storage
from tests.harness import Chat
from tools.order_source import OrderSourceError, validate_source_query
from wiring.services import create_services

QUERY = "SELECT * FROM shop.refund_orders WHERE id = %(order_id)s"
PAYER = "0x" + "ef" * 20

SHOP_SCHEMA = """
CREATE SCHEMA shop;
CREATE TABLE shop.sales (
    order_no  text PRIMARY KEY,
    buyer     text NOT NULL,
    total     numeric(12, 2) NOT NULL,
    paid_at   timestamptz NOT NULL,
    pay_ref   text NOT NULL,
    wallet    text NOT NULL,
    item      text NOT NULL
);
-- The documented columns, named with AS: the agent never sees the shop's own names.
CREATE VIEW shop.refund_orders AS
SELECT order_no AS id, buyer AS customer_email, total AS amount_usdc, paid_at AS created_at,
       pay_ref AS payment_id, wallet AS payer_address, item AS description
  FROM shop.sales;
INSERT INTO shop.sales VALUES
    ('ORD-8001', 'zoe@example.com', 38.50, now() - interval '2 days', 'pay_shop_8001',
     '{payer}', 'Desk mat'),
    ('ORD-8002', 'yann@example.com', 12.00, now() - interval '1 day', 'pay_shop_8002',
     'not-a-wallet', 'Stickers');
"""


@pytest.fixture
async def shop(storage: Storage) -> Storage:
    """The test database with the shop's own table and a view over it."""
    async with storage.pool.connection() as conn:
        await conn.execute(SHOP_SCHEMA.replace("{payer}", PAYER))  # type: ignore[arg-type]
    return storage


@pytest.fixture
async def services_with_source(
    shop: Storage, sandbox: SandboxServer, settings: Settings
) -> AsyncIterator[Services]:
    configured = settings.model_copy(update={"orders_source_query": QUERY})
    svc = await create_services(configured, storage=shop, sandbox=sandbox, reconcile=False)
    yield svc
    await svc.aclose()


async def test_an_order_only_in_the_view_is_copied_in_and_refunded(
    services_with_source: Services, sandbox: SandboxServer
) -> None:
    svc = services_with_source
    assert svc.order_source is not None
    chat = Chat(svc)
    result = await chat.say(
        chat.new_thread(), "Please refund 20 USDC on ORD-8001, my email is zoe@example.com"
    )
    outcome = result["outcome"]
    assert outcome["kind"] == "refunded", result["reply"]
    assert outcome["amount"] == "20.00"
    [entry] = sandbox.ledger(payment_id="pay_shop_8001")
    assert entry["tx_hash"] == outcome["tx_hash"]
    async with svc.storage.pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM orders WHERE id = 'ORD-8001'")
        stored = await cur.fetchone()
        cur = await conn.execute(
            "SELECT event_type, actor, payload FROM audit_log "
            "WHERE event_type IN ('orders_imported', 'lookup') ORDER BY seq NULLS LAST, pending_id"
        )
        events = await cur.fetchall()
    assert stored is not None
    assert stored["amount_usdc"] == Decimal("38.500000")
    assert stored["refunded_usdc"] == Decimal("20.000000")
    assert stored["payer_address"] == PAYER and stored["description"] == "Desk mat"
    copied, lookup = events[0], events[1]
    assert copied["event_type"] == "orders_imported" and copied["actor"] == "orders_source"
    assert copied["payload"] == {"source": "ORDERS_SOURCE_QUERY", "inserted": ["ORD-8001"]}
    assert lookup["payload"]["copied_from_source"] is True

    # Seen once, the agent's own row is what counts (it keeps the refund bookkeeping).
    again = await chat.say(chat.new_thread(), "refund 10 USDC on ORD-8001, zoe@example.com")
    assert again["outcome"]["kind"] == "refunded"
    async with svc.storage.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM audit_log WHERE event_type = 'orders_imported'"
        )
        assert await cur.fetchone() == {"n": 1}


async def test_unknown_and_invalid_source_rows_are_not_found(
    services_with_source: Services,
) -> None:
    chat = Chat(services_with_source)
    for order_id, email in (("ORD-8999", "zoe@example.com"), ("ORD-8002", "yann@example.com")):
        result = await chat.say(chat.new_thread(), f"refund 5 USDC on {order_id}, {email}")
        assert result["outcome"]["kind"] == "lookup_failed"
    async with services_with_source.storage.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM orders")
        assert await cur.fetchone() == {"n": 0}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT * FROM shop.refund_orders WHERE id = 'x'", "must use %(order_id)s"),
        (
            "SELECT * FROM shop.nowhere WHERE id = %(order_id)s",
            'does not run: relation "shop.nowhere" does not exist',
        ),
        (
            "SELECT order_no AS id, buyer AS customer_email, total AS amount_usdc, "
            "paid_at AS created_at, pay_ref AS payment_id FROM shop.sales "
            "WHERE order_no = %(order_id)s",
            "returns no payer_address column",
        ),
        (
            "SELECT id, customer_email, amount_usdc::float8 AS amount_usdc, created_at, "
            "payment_id, payer_address FROM shop.refund_orders WHERE id = %(order_id)s",
            "amount_usdc is double precision",
        ),
        (
            "SELECT id, customer_email, amount_usdc, created_at::timestamp AS created_at, "
            "payment_id, payer_address FROM shop.refund_orders WHERE id = %(order_id)s",
            "timestamp without time zone",
        ),
        ("DELETE FROM shop.sales WHERE order_no = %(order_id)s RETURNING *", "does not run"),
        ("SELECT * FROM shop.refund_orders WHERE id LIKE %(order_id)s || '%'", "placeholder"),
    ],
)
async def test_a_broken_query_is_refused_with_a_clear_error(
    shop: Storage, query: str, message: str
) -> None:
    async with shop.pool.connection() as conn:
        with pytest.raises(OrderSourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
            await validate_source_query(conn, query)
        cur = await conn.execute("SELECT count(*) AS n FROM shop.sales")
        assert await cur.fetchone() == {"n": 2}  # nothing was deleted


async def test_services_refuse_to_start_on_a_broken_query(
    shop: Storage, sandbox: SandboxServer, settings: Settings
) -> None:
    broken = settings.model_copy(update={"orders_source_query": "SELECT 1 WHERE %(order_id)s = ''"})
    with pytest.raises(OrderSourceError, match="returns no id, customer_email"):
        await create_services(broken, storage=shop, sandbox=sandbox, reconcile=False)


def test_config_check_names_a_broken_query(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith(("MOLTPE_", "OPENAI_", "ORDERS_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ORDERS_SOURCE_QUERY", "SELECT * FROM shop.gone WHERE id = %(order_id)s")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["config", "--check", "--json"])
    assert result.exit_code == 1, result.output
    check = json.loads(result.stdout)["checks"]["database"]
    assert check["state"] == "failed"
    assert (
        'ORDERS_SOURCE_QUERY does not run: relation "shop.gone" does not exist' in check["detail"]
    )
