"""What the pending audit table and the pipelined writing transactions must guarantee:
refusals, failures and cancellations leave nothing; two processes' chainers leave one whole
chain; a stopped chainer loses nothing; the previous release keeps appending."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import psycopg
import pytest

from persistence.audit import AuditEvent, AuditLog, EventType, append_events, verify_chain
from persistence.db import Pool, connect, pipelined_transaction


async def _pending(pool: Pool, n: int) -> None:
    async with pool.connection() as conn, conn.transaction():
        await append_events(conn, [AuditEvent(EventType.NODE, payload={"i": i}) for i in range(n)])


async def test_a_direct_insert_into_the_chain_gets_the_database_clock(pool: Pool) -> None:
    """Whoever inserts into the chain, and with whatever setting, the row gets the
    database's clock: nothing is backdated into the chain without disabling a trigger."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL audit.chaining = 'on'")
        await conn.execute(
            "INSERT INTO audit_events (seq, ts, event_type, actor, payload, prev_hash, hash,"
            " pending_id) VALUES (0, '2020-01-01T00:00:00Z', 'refund_confirmed', 'x', '{}',"
            " '', '', 424242)"
        )
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT ts FROM audit_events")
        row = await cur.fetchone()
        result = await verify_chain(conn)
    assert result.ok
    assert row is not None and row["ts"].year != 2020, "backdated row chained and verifies"


async def test_cancelling_a_pipelined_transaction_raises_cancelled(db_url: str, pool: Pool) -> None:
    """A turn cancelled (timeout, client gone) while its pipelined transaction waits.

    The cancellation must surface as CancelledError (so asyncio.timeout turns it into
    TimeoutError) and the pooled connection must come back idle and usable.
    """
    async with await connect(db_url) as holder, holder.transaction():
        await holder.execute("CREATE TABLE IF NOT EXISTS probe (id int PRIMARY KEY)")
    async with await connect(db_url) as holder:
        await holder.execute("INSERT INTO probe VALUES (1)")
        async with holder.transaction():
            await holder.execute("SELECT * FROM probe WHERE id = 1 FOR UPDATE")

            async def blocked() -> None:
                async with pool.connection() as conn, pipelined_transaction(conn):
                    await conn.execute("INSERT INTO probe VALUES (2)")
                    cur = await conn.execute("SELECT * FROM probe WHERE id = 1 FOR UPDATE")
                    await cur.fetchone()

            raised: BaseException | None = None
            try:
                async with asyncio.timeout(0.3):
                    await blocked()
            except BaseException as exc:  # noqa: BLE001 - what surfaces is the finding
                raised = exc
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM probe")
        assert await cur.fetchone() == {"n": 1}  # nothing of the cancelled one committed
    assert isinstance(raised, TimeoutError), f"cancellation surfaced as {raised!r}"


async def test_the_refund_path_counts_the_velocity_window_as_the_gate_does(pool: Pool) -> None:
    """N x 24 hours on both: ``make_interval(days => N)`` would count calendar days in the
    session's time zone, an hour off across a daylight-saving change."""
    from persistence import repo
    from tools.orders import CUSTOMER_REFUNDS_IN_DAYS

    span = "make_interval(secs => %s * 86400.0)"
    assert span in repo.RECENT_CUSTOMER_REFUNDS
    assert span.replace("%s", "%(days)s") in CUSTOMER_REFUNDS_IN_DAYS
    at = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)  # 30 days span the change of 8 March
    async with pool.connection() as conn:
        await conn.execute("SET TimeZone = 'America/New_York'")
        cur = await conn.execute(
            "SELECT %(at)s::timestamptz - make_interval(secs => %(days)s * 86400.0) AS start",
            {"at": at, "days": 30},
        )
        row = await cur.fetchone()
        await conn.execute("RESET TimeZone")
    assert row is not None and row["start"] == at - dt.timedelta(days=30)


@pytest.mark.parametrize("velocity_max", [None, 5])
async def test_a_refusal_after_the_intent_was_sent_leaves_nothing(
    seeded: Any, caplog: pytest.LogCaptureFixture, velocity_max: int | None
) -> None:
    """Control: the budget refusal comes after the intent's INSERT and its event were sent.

    Nothing of it may commit (no refund row, no event, no reservation), and the
    connection goes back to the pool idle (the pool warns when it must roll one back).
    """
    from decimal import Decimal

    from core.limits import Limits, Reason
    from tools.refunds import RefundRefused, RefundService

    caps = Limits(
        per_tx_cap=Decimal("50"),
        daily_cap=Decimal("10"),
        window_days=30,
        velocity_max=velocity_max,
    )
    service = RefundService(audit=seeded.audit, moltpe=None, agent_id="a", limits=caps)  # type: ignore[arg-type]
    with caplog.at_level("WARNING", logger="psycopg.pool"):
        with pytest.raises(RefundRefused) as refused:
            await service._record_intent(
                request_key="rk-1",
                order_id="ORD-1001",
                customer_email="alice@example.com",
                amount=Decimal("20"),
                reason="quality_issue",
                approved_by="policy_gate",
                policy_version="t",
                thread_id="t-1",
                human_approval=False,
            )
    assert refused.value.code == Reason.OVER_DAILY_BUDGET
    async with seeded.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT (SELECT count(*) FROM refunds WHERE request_key = 'rk-1') AS refunds,"
            " (SELECT count(*) FROM audit_log WHERE event_type = 'refund_requested') AS events,"
            " (SELECT coalesce(sum(spent), 0) FROM refund_budget_days) AS reserved"
        )
        row = await cur.fetchone()
    assert row == {"refunds": 0, "events": 0, "reserved": 0}
    assert not [r for r in caplog.records if "returned" in r.getMessage()], caplog.text


async def test_a_process_of_the_previous_release_still_appends_after_migration_13(
    pool: Pool,
) -> None:
    """Migration 13 is additive: the previous release's append (its statement and
    ``record_of``, unchanged) still works while the new release rolls out, chaining at
    once as it did."""
    from persistence.audit import record_of

    old_append = "SELECT * FROM audit_append(%s, %s, %s, %s, %s, %s::jsonb)"
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(old_append, ("node", "system", None, None, None, "{}"))
        row = await cur.fetchone()
        assert row is not None
        record = record_of(row)
    assert record.seq >= 1 and record.hash


async def test_two_processes_writing_and_chaining_leave_one_whole_chain(
    db_url: str, pool: Pool, settings: Any
) -> None:
    """Control: two logs on two pools (two processes), many concurrent writers each.

    Without any flush, their chainers alone chain every committed event once, in one
    unforked chain, and nothing stays pending.
    """
    from persistence.db import open_pool

    other_pool = await open_pool(db_url, settings)
    logs = [AuditLog(pool), AuditLog(other_pool)]
    try:

        async def write(log: AuditLog, i: int) -> None:
            await log.record(
                AuditEvent(EventType.NODE, payload={"i": i}),
                AuditEvent(EventType.NODE, payload={"j": i}),
            )

        await asyncio.gather(*(write(logs[i % 2], i) for i in range(400)))
        for _ in range(100):
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT count(*) AS n FROM audit_pending")
                row = await cur.fetchone()
            if row == {"n": 0}:
                break
            await asyncio.sleep(0.05)
        async with pool.connection() as conn:
            result = await verify_chain(conn)
            cur = await conn.execute(
                "SELECT count(*) AS n, count(DISTINCT pending_id) AS ids FROM audit_events"
            )
            counts = await cur.fetchone()
        assert result.ok and result.pending == 0, result
        assert counts == {"n": 800, "ids": 800}
    finally:
        for log in logs:
            await log.aclose()
        await other_pool.close()


async def test_a_chainer_stopped_mid_backlog_leaves_nothing_lost_or_twice(pool: Pool) -> None:
    """Control: closing the log while its chainer works through a backlog.

    Whatever batch the cancellation hits is either chained whole or left pending, and the
    close chains the rest: one unforked chain, every event once.
    """
    async with pool.connection() as conn, conn.transaction():
        await append_events(
            conn, [AuditEvent(EventType.NODE, payload={"i": i}) for i in range(5000)]
        )
    log = AuditLog(pool)
    log.wake()
    await asyncio.sleep(0.05)
    await log.aclose()
    async with pool.connection() as conn:
        result = await verify_chain(conn)
        cur = await conn.execute("SELECT count(DISTINCT pending_id) AS n FROM audit_events")
        row = await cur.fetchone()
    assert result.ok and result.pending == 0 and row == {"n": 5000}, result


async def test_a_failed_unread_write_fails_the_whole_pipelined_transaction(pool: Pool) -> None:
    """Control: a statement whose answer nobody reads fails; its error comes out at the end.

    The events sent with it do not commit, and the connection goes back idle.
    """
    log = AuditLog(pool, chain_after_commit=False)
    async with pool.connection() as conn:
        with pytest.raises(psycopg.errors.UniqueViolation):
            async with log.transaction(conn, pipeline=True) as tx:
                await tx.append(AuditEvent(EventType.NODE, payload={"before": 1}), fetch=False)
                await conn.execute("INSERT INTO customers (email) VALUES ('x@e.com')")
                await conn.execute("INSERT INTO customers (email) VALUES ('x@e.com')")
                await tx.append(AuditEvent(EventType.NODE, payload={"after": 1}), fetch=False)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        cur = await conn.execute(
            "SELECT (SELECT count(*) FROM audit_log) AS events,"
            " (SELECT count(*) FROM customers WHERE email = 'x@e.com') AS customers"
        )
        assert await cur.fetchone() == {"events": 0, "customers": 0}
