from __future__ import annotations

import asyncio
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from persistence import repo
from persistence.audit import AuditEvent, AuditLog, EventType, verify_chain
from persistence.db import Pool, connect
from persistence.migrations import MIGRATIONS, current_version, migrate
from persistence.seed import SeedError, apply_seed, default_seed_path, load_seed_file


async def test_migrations_apply_from_empty_and_rerun(empty_db_url: str) -> None:
    async with await connect(empty_db_url) as conn:
        assert await current_version(conn) == 0
        applied = await migrate(conn)
        assert applied == list(range(1, len(MIGRATIONS) + 1))
        assert await migrate(conn) == []
        assert await current_version(conn) == len(MIGRATIONS)
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        tables = {r["table_name"] for r in await cur.fetchall()}
    assert {"orders", "refunds", "review_tickets", "audit_events", "customers"} <= tables


async def test_concurrent_migrations_do_not_race(empty_db_url: str) -> None:
    async def run() -> list[int]:
        async with await connect(empty_db_url) as conn:
            return await migrate(conn)

    results = await asyncio.gather(*(run() for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, len(MIGRATIONS)]


async def test_seed_is_idempotent(pool: Pool) -> None:
    seed = load_seed_file()
    async with pool.connection() as conn:
        first, records = await apply_seed(conn, seed)
        assert first == {"customers": 7, "orders": 11, "refunds": 4}
        assert [r.event_type for r in records] == ["seed"]
        second, records = await apply_seed(conn, seed)
        assert second == {"customers": 0, "orders": 0, "refunds": 0}
        assert records == []
        dave = await repo.get_order(conn, "ORD-4001")
        assert dave is not None and dave.refund_status == "refunded"
        assert dave.unrefunded_usdc == Decimal("0")
        old = await repo.get_order(conn, "ORD-3001")
        assert old is not None
        assert dt.datetime.now(dt.UTC) - old.created_at > dt.timedelta(days=44)
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        assert await repo.customer_refunds_since(conn, "erin@example.com", since) == 3


def test_seed_file_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"customers": [], "orders": [{"id": "X"}]}')
    with pytest.raises(SeedError, match="does not match the seed format"):
        load_seed_file(bad)
    floaty = tmp_path / "float.json"
    floaty.write_text('{"orders": [{"amount_usdc": 24.99}]}')
    with pytest.raises(SeedError, match="not JSON numbers"):
        load_seed_file(floaty)
    with pytest.raises(SeedError, match="cannot read"):
        load_seed_file(tmp_path / "missing.json")
    doc = json.loads(load_seed_file().model_dump_json())
    doc["refunds"].append({"order_id": "ORD-4001", "amount_usdc": "1.00", "age_days": 1})
    over = tmp_path / "over.json"
    over.write_text(json.dumps(doc, default=str))
    with pytest.raises(SeedError, match="exceed its amount"):
        load_seed_file(over)


async def test_amounts_round_trip_as_decimal_with_six_places(pool: Pool) -> None:
    async with pool.connection() as conn:
        await conn.execute("INSERT INTO customers (email) VALUES ('z@example.com')")
        for i, amount in enumerate(["0.000001", "24.99", "49.999999", "123456789.123456"]):
            await conn.execute(
                "INSERT INTO orders (id, customer_email, payment_id, payer_address, amount_usdc,"
                " created_at) VALUES (%s, 'z@example.com', %s, '0x00', %s, now())",
                (f"O{i}", f"p{i}", Decimal(amount)),
            )
            order = await repo.get_order(conn, f"O{i}")
            assert order is not None
            assert isinstance(order.amount_usdc, Decimal)
            assert order.amount_usdc == Decimal(amount)
            assert order.amount_usdc.as_tuple().exponent == -6


# --- audit log -----------------------------------------------------------------------


async def _write_events(audit: AuditLog, n: int) -> None:
    for i in range(n):
        await audit.record(
            AuditEvent(
                EventType.LOOKUP,
                thread_id="t1",
                order_id=f"ORD-{i}",
                customer_email="A@Example.com",
                payload={"i": i, "amount": Decimal("1.50"), "text": "héllo\x00"},
            )
        )
    await audit.flush()  # chained (and mirrored) now, not by the background chainer


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'x' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 1",
        "TRUNCATE audit_events",
        "TRUNCATE audit_events CASCADE",
        "DELETE FROM audit_chain_head",
    ],
)
async def test_audit_rows_cannot_be_changed(pool: Pool, statement: str) -> None:
    await _write_events(AuditLog(pool), 2)
    async with pool.connection() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            await conn.execute(statement)  # type: ignore[arg-type]
        assert (await verify_chain(conn)).ok


async def test_verify_passes_on_an_intact_chain(pool: Pool, tmp_path: Path) -> None:
    mirror = tmp_path / "audit.jsonl"
    await _write_events(AuditLog(pool, mirror), 5)
    async with pool.connection() as conn:
        result = await verify_chain(conn, batch=2)
    assert result.ok and result.checked == 5 and result.head_seq == 5
    lines = [json.loads(line) for line in mirror.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert lines[0]["customer_email"] == "a@example.com"
    assert lines[0]["payload"]["amount"] == "1.50"


async def _tamper(pool: Pool, statement: str) -> None:
    """Change the log as a superuser would: with the triggers switched off."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(statement)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statement", "seq", "word"),
    [
        ("UPDATE audit_events SET payload = '{\"i\": 99}' WHERE seq = 3", 3, "edited"),
        ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 5", 5, "edited"),
        ("DELETE FROM audit_events WHERE seq = 2", 2, "deleted"),
        ("DELETE FROM audit_events WHERE seq = 5", 5, "deleted"),
        (
            "INSERT INTO audit_events SELECT 6, ts, event_type, actor, thread_id, order_id,"
            " customer_email, payload, hash, md5(hash) || md5(hash) FROM audit_events"
            " WHERE seq = 5",
            6,
            "inserted",
        ),
    ],
)
async def test_verify_finds_tampering(pool: Pool, statement: str, seq: int, word: str) -> None:
    await _write_events(AuditLog(pool), 5)
    await _tamper(pool, statement)
    async with pool.connection() as conn:
        result = await verify_chain(conn)
    assert not result.ok
    assert result.broken_seq == seq
    assert result.problem is not None and word in result.problem


async def test_verify_finds_an_edit_with_a_recomputed_hash(pool: Pool) -> None:
    """Rewriting a row and its own hash is found: the row no longer matches the seal it
    was written with (and its link to the next row breaks)."""
    from persistence.audit import row_hash

    await _write_events(AuditLog(pool), 4)
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM audit_events WHERE seq = 2")
        row = await cur.fetchone()
        assert row is not None
        row["payload"] = {"i": 1, "amount": "1000000.00"}
        forged = row_hash(row)
    await _tamper(
        pool,
        'UPDATE audit_events SET payload = \'{"i": 1, "amount": "1000000.00"}\','
        f" hash = '{forged}' WHERE seq = 2",
    )
    async with pool.connection() as conn:
        result = await verify_chain(conn)
    assert not result.ok and result.broken_seq == 2
    assert result.problem is not None and "edited before chaining" in result.problem


async def test_concurrent_appends_keep_one_chain(db_url: str, pool: Pool) -> None:
    """50 writers on separate connections, each chaining after its commit (half of them
    waiting for the head, half skipping when it is taken): one valid chain, no gaps, no
    forks, every event in it once."""
    from persistence.audit import append_events

    async def writer(i: int) -> None:
        async with await connect(db_url) as conn:
            async with conn.transaction():
                await append_events(conn, [AuditEvent(EventType.NODE, payload={"writer": i})])
        await AuditLog(pool).chain(wait=i % 2 == 0)

    await asyncio.gather(*(writer(i) for i in range(50)))
    await AuditLog(pool).flush()
    async with pool.connection() as conn:
        result = await verify_chain(conn)
        cur = await conn.execute("SELECT count(DISTINCT payload->>'writer') AS n FROM audit_events")
        row = await cur.fetchone()
    assert result.ok and result.checked == 50
    assert row is not None and row["n"] == 50


async def test_append_outside_a_transaction_is_refused(pool: Pool) -> None:
    from persistence.audit import append_events

    async with pool.connection() as conn:
        with pytest.raises(RuntimeError, match="inside a transaction"):
            await append_events(conn, [AuditEvent(EventType.NODE)])


async def test_tickets_keep_context_with_nul_characters(pool: Pool) -> None:
    async with pool.connection() as conn:
        ticket, created = await repo.create_ticket(
            conn,
            request_key="k1",
            customer_email=None,
            order_id=None,
            reason="injection_suspected",
            thread_id="t",
            context={"injection_signals": ["model:evil\x00"], "bad\x00key": 1},
        )
    assert created and ticket.context["injection_signals"] == ["model:evil"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["orders"][1].update(payment_id=d["orders"][0]["payment_id"]), "used twice"),
        (lambda d: d["refunds"][0].update(age_days=400), "dated before the order"),
        (lambda d: d["orders"][0].update(description="bad\u0000"), "NUL"),
    ],
)
def test_seed_files_that_would_lose_data_are_refused(
    tmp_path: Path, change: Any, message: str
) -> None:
    doc = json.loads((default_seed_path()).read_text())
    change(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(SeedError, match=message):
        load_seed_file(bad)


async def test_old_rate_limit_windows_are_pruned(pool: Pool) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO rate_limit_hits (bucket, window_start, hits)"
            " VALUES ('ip:old', now() - interval '2 hours', 5)"
        )
        allowed, _ = await repo.hit_rate_limit(conn, "ip:new", limit=1, window_seconds=60)
        assert allowed
        await repo.prune_rate_limits(conn)
        cur = await conn.execute("SELECT bucket FROM rate_limit_hits ORDER BY bucket")
        assert [r["bucket"] for r in await cur.fetchall()] == ["ip:new"]


async def test_the_ticket_search_can_use_trigram_indexes(pool: Pool) -> None:
    """Where the server has pg_trgm, a search by part of an email or order id uses an index."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT 1 AS ok FROM pg_available_extensions WHERE name = 'pg_trgm'"
        )
        if await cur.fetchone() is None:
            # The embedded server ships no pg_trgm: the migration skipped the indexes.
            cur = await conn.execute(
                "SELECT count(*) AS n FROM pg_indexes WHERE indexname LIKE '%trgm%'"
            )
            row = await cur.fetchone()
            assert row is not None and row["n"] == 0
            return
        async with conn.transaction():
            # The table is tiny here: make scanning it (or its primary key) look dear.
            await conn.execute("SET LOCAL enable_seqscan = off")
            await conn.execute("SET LOCAL enable_indexscan = off")
            query = repo.SEARCH_TICKETS.format(
                view=repo.VIEW_FILTERS["all"], matches=repo.TICKET_MATCHES, order="t.id DESC"
            )
            params = {**repo.ticket_search("buyer417@shop"), "limit": 50, "offset": 0}
            cur = await conn.execute(f"EXPLAIN {query}", params)
            plan = "\n".join(row["QUERY PLAN"] for row in await cur.fetchall())
    assert "review_tickets_email_trgm_idx" in plan, plan
    assert "review_tickets_order_trgm_idx" in plan, plan
    # A generic plan would scan every ticket: the search is never prepared, however often.
    async with pool.connection() as conn:
        for _ in range(8):
            await repo.search_tickets(conn, view="all", q="buyer417@shop")
            await repo.count_ticket_views(conn, assignee=None, q="buyer417@shop")
        cur = await conn.execute(
            "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE %s",
            ("%review_tickets AS t%",),
        )
        row = await cur.fetchone()
    assert row is not None and row["n"] == 0
