"""``audit.transaction()``: business writes and their events commit together; the
process's chainer, woken after the commit, chains and mirrors them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persistence.audit import AuditEvent, AuditLog, EventType
from persistence.db import Pool
from tests.helpers.waiting import wait_until


def mirrored(mirror: Path) -> list[dict[str, object]]:
    if not mirror.exists():
        return []
    return [json.loads(line) for line in mirror.read_text().splitlines()]


async def events_in_log(pool: Pool) -> int:
    """Committed events, chained or pending."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM audit_log")
        row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


async def test_events_commit_with_the_business_write_and_reach_the_mirror_after(
    pool: Pool, tmp_path: Path
) -> None:
    mirror = tmp_path / "audit.jsonl"
    audit = AuditLog(pool, mirror)
    before = await events_in_log(pool)
    async with audit.transaction() as tx:
        await tx.conn.execute("INSERT INTO customers (email, name) VALUES ('tx@example.com', 'Tx')")
        await tx.append(AuditEvent(EventType.NODE, payload={"step": 1}))
        await tx.append(AuditEvent(EventType.NODE, payload={"step": 2}))
        assert mirrored(mirror) == []  # nothing is copied before the commit
        assert await events_in_log(pool) == before  # nor visible to others
    assert await events_in_log(pool) == before + 2  # committed when the block ends
    # chained and copied by the process's chainer, without anyone asking
    await wait_until(lambda: len(mirrored(mirror)) == before + 2, what="two mirrored events")
    assert [line["payload"] for line in mirrored(mirror)][-2:] == [{"step": 1}, {"step": 2}]
    await audit.aclose()


async def test_a_failure_rolls_back_the_write_and_its_events_and_mirrors_nothing(
    pool: Pool, tmp_path: Path
) -> None:
    mirror = tmp_path / "audit.jsonl"
    audit = AuditLog(pool, mirror)
    before = await events_in_log(pool)
    with pytest.raises(RuntimeError, match="after the event"):
        async with audit.transaction() as tx:
            await tx.conn.execute(
                "INSERT INTO customers (email, name) VALUES ('gone@example.com', 'Gone')"
            )
            await tx.append(AuditEvent(EventType.NODE, payload={"step": "lost"}))
            raise RuntimeError("failed after the event")
    assert await events_in_log(pool) == before
    await audit.flush()
    assert mirrored(mirror) == []
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT 1 FROM customers WHERE email = 'gone@example.com'")
        assert await cur.fetchone() is None


async def test_a_dry_run_writes_and_mirrors_nothing(pool: Pool, tmp_path: Path) -> None:
    mirror = tmp_path / "audit.jsonl"
    audit = AuditLog(pool, mirror)
    before = await events_in_log(pool)
    async with pool.connection() as conn, audit.transaction(conn, force_rollback=True) as tx:
        assert tx.conn is conn  # the caller's connection
        await tx.append(AuditEvent(EventType.NODE, payload={"step": "dry"}))
    assert await events_in_log(pool) == before
    await audit.flush()
    assert mirrored(mirror) == []
