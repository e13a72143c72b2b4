"""Writers never wait for the audit chain; what waits to be chained is sealed and counted."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from cli.main import app
from persistence.audit import AuditEvent, AuditLog, EventType, append_events, verify_chain
from persistence.db import Pool, connect


async def _pending(pool: Pool, n: int) -> None:
    """``n`` committed events nobody chained (a process that died right after its commit)."""
    async with pool.connection() as conn, conn.transaction():
        await append_events(conn, [AuditEvent(EventType.NODE, payload={"i": i}) for i in range(n)])


async def test_a_writer_commits_while_the_chain_head_is_held(db_url: str, pool: Pool) -> None:
    """A business transaction appends and commits with the chain head locked elsewhere.

    Before, every append locked the head until its transaction ended, so writers queued
    behind each other (and behind any slow one); a writer that needed the head here would
    hit its lock timeout.
    """
    audit = AuditLog(pool, chain_after_commit=False)  # chained by hand below
    async with await connect(db_url) as holder, holder.transaction():
        await holder.execute("SELECT * FROM audit_chain_head WHERE id FOR UPDATE")
        async with audit.transaction() as tx:
            await tx.conn.execute("SET LOCAL lock_timeout = '200ms'")
            await tx.append(
                AuditEvent(EventType.DECISION, order_id="ORD-1", payload={"amount": "5.00"}),
                AuditEvent(EventType.REFUND_REQUESTED, order_id="ORD-1"),
            )
        assert (await audit.chain()) == -1  # the chainer skips a held head, never waits
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FILTER (WHERE seq IS NULL) AS pending, count(*) AS n"
                " FROM audit_log"
            )
            assert await cur.fetchone() == {"pending": 2, "n": 2}
    assert await audit.flush() == 2
    async with pool.connection() as conn:
        result = await verify_chain(conn)
    assert result.ok and result.checked == 2 and result.pending == 0
    await audit.aclose()


async def _tamper(pool: Pool, statement: str) -> None:
    """What only the tables' owner can do: write with the triggers off."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(statement)  # type: ignore[arg-type]


async def test_a_pending_event_edited_before_it_is_chained_is_found(pool: Pool) -> None:
    await _pending(pool, 3)
    await _tamper(
        pool, "UPDATE audit_pending SET payload = '{\"i\": 99}' WHERE payload->>'i' = '1'"
    )
    async with pool.connection() as conn:
        waiting = await verify_chain(conn)
    assert not waiting.ok and waiting.pending == 3
    assert waiting.problem is not None and "does not match its seal: edited" in waiting.problem
    await AuditLog(pool).flush()  # chained as it now reads: the chain alone would hide it
    async with pool.connection() as conn:
        chained = await verify_chain(conn)
    assert not chained.ok and chained.broken_seq == 2 and chained.pending == 0
    assert chained.problem is not None and "edited before chaining" in chained.problem


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_pending SET actor = 'mallory'",
        "DELETE FROM audit_pending",
        "TRUNCATE audit_pending",
    ],
)
async def test_pending_events_cannot_be_changed_or_removed(pool: Pool, statement: str) -> None:
    await _pending(pool, 2)
    async with pool.connection() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            await conn.execute(statement)  # type: ignore[arg-type]
    async with pool.connection() as conn:
        result = await verify_chain(conn)
    assert result.ok and result.pending == 2


async def test_a_chained_event_keeps_when_it_was_written_and_gets_the_chains_time(
    pool: Pool,
) -> None:
    """Nobody picks a chained row's time: it is the database's clock at chaining (so an
    event cannot be backdated into the chain); the written time rides along, sealed."""
    await _pending(pool, 1)
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, ts FROM audit_pending")
        written = await cur.fetchone()
    await AuditLog(pool).flush()
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT pending_id, written_at, ts FROM audit_events")
        chained = await cur.fetchone()
        cur = await conn.execute("SELECT ts FROM audit_log")
        shown = await cur.fetchone()
    assert written is not None and chained is not None and shown is not None
    assert chained["pending_id"] == written["id"] and chained["written_at"] == written["ts"]
    assert chained["ts"] >= written["ts"]
    assert shown["ts"] == written["ts"]  # what readers see: when it happened


async def test_a_backdated_pending_event_is_chained_at_the_chains_time(pool: Pool) -> None:
    await _pending(pool, 1)
    await _tamper(
        pool, "UPDATE audit_pending SET ts = '2020-01-01', seal = audit_pending_seal(audit_pending)"
    )
    await AuditLog(pool).flush()
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT ts, written_at FROM audit_events")
        row = await cur.fetchone()
    assert row is not None and row["ts"].year >= 2026 and row["written_at"].year == 2020


def test_verify_counts_events_waiting_to_be_chained(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from core.settings import get_settings
    from persistence.db import open_pool

    async def leave_three() -> None:
        pool = await open_pool(db_url, get_settings())
        try:
            await _pending(pool, 3)
        finally:
            await pool.close()

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    asyncio.run(leave_three())
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "3 events committed, waiting to be chained (the oldest" in result.output
    # verify only reads: the events are still waiting afterwards
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert "3 events committed, waiting to be chained" in result.output
