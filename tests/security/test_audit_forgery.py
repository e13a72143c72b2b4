"""Audit rows cannot be forged: only granted roles append, and the database chains every row.

A role that may only read the log cannot append to it; nobody can store a row whose hash
is not the one the database computes; the database's canonical content is byte for byte
the one ``persistence.audit.verify_chain`` recomputes in Python.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from persistence.audit import (
    AuditEvent,
    AuditLog,
    EventType,
    append_events,
    canonical_content,
    pending_seal,
    row_hash,
    verify_chain,
)
from persistence.db import Conn, Pool, connect
from persistence.migrations import GENESIS_HASH, migrate


@pytest.fixture
async def make_role(db_url: str) -> AsyncIterator[Any]:
    """Create throwaway NOLOGIN roles; each is stripped of its grants and dropped afterwards."""
    made: list[str] = []

    async def make() -> str:
        name = f"test_role_{uuid.uuid4().hex[:12]}"
        async with await connect(db_url) as conn:
            await conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
        made.append(name)
        return name

    yield make
    async with await connect(db_url) as conn:
        for name in made:
            await conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            await conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


async def as_role(db_url: str, role: str) -> Conn:
    """A connection acting as ``role`` (the test's superuser switches to it)."""
    conn = await connect(db_url)
    await conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    return conn


async def _events(pool: Pool, n: int) -> None:
    audit = AuditLog(pool)
    for i in range(n):
        await audit.record(AuditEvent(EventType.NODE, payload={"i": i}))
    await audit.flush()


async def test_a_read_only_role_cannot_append(db_url: str, pool: Pool, make_role: Any) -> None:
    reader = await make_role()
    async with await connect(db_url) as conn:
        ident = sql.Identifier(reader)
        await conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
        await conn.execute(
            sql.SQL("GRANT SELECT ON audit_events, audit_chain_head, audit_pending TO {}").format(
                ident
            )
        )
    await _events(pool, 2)
    async with await as_role(db_url, reader) as conn:
        assert (await verify_chain(conn)).ok  # it may read and verify...
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="audit_append"):
            await conn.execute("SELECT * FROM audit_append('x', 'x', NULL, NULL, NULL, '{}')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            async with conn.transaction():
                await append_events(conn, [AuditEvent(EventType.REFUND_CONFIRMED)])
        for statement in (
            "INSERT INTO audit_events (seq, ts, event_type, actor, payload, prev_hash, hash)"
            " VALUES (3, now(), 'x', 'x', '{}', '', '')",
            "UPDATE audit_chain_head SET seq = 0",
            "INSERT INTO audit_pending (ts, event_type, actor, payload, seal)"
            " VALUES (now(), 'x', 'x', '{}', '')",
            "SELECT audit_chain_pending(10, true)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await conn.execute(statement)  # type: ignore[arg-type]
    async with pool.connection() as conn:
        result = await verify_chain(conn)
    assert result.ok and result.checked == 2


async def test_the_granted_app_role_appends_and_python_verifies(
    db_url: str, pool: Pool, make_role: Any
) -> None:
    app = await make_role()
    async with await connect(db_url) as conn:
        assert await migrate(conn, app_role=app) == []  # grants even with nothing to apply
    async with await as_role(db_url, app) as conn:
        async with conn.transaction():
            records = await append_events(
                conn,
                [
                    AuditEvent(EventType.LOOKUP, order_id="ORD-1", payload={"n": 1}),
                    AuditEvent(EventType.DECISION, payload={"amount": "12.50"}),
                ],
            )
        assert [r.event_type for r in records] == ["lookup", "decision"]
        assert records[0].id < records[1].id
        cur = await conn.execute("SELECT audit_chain_pending(10, false) AS n")
        assert await cur.fetchone() == {"n": 2}  # it may chain what is pending
        cur = await conn.execute("SELECT * FROM audit_events ORDER BY seq")
        chained = await cur.fetchall()
        assert [r["seq"] for r in chained] == [1, 2]
        assert [r["pending_id"] for r in chained] == [r.id for r in records]
        assert chained[0]["prev_hash"] == GENESIS_HASH
        assert chained[1]["prev_hash"] == chained[0]["hash"]
        # It appends only through the function: never directly, never the head.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute(
                "INSERT INTO audit_events (seq, ts, event_type, actor, payload, prev_hash, hash)"
                " VALUES (3, now(), 'x', 'x', '{}', '', '')"
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        result = await verify_chain(conn)
    assert result.ok and result.checked == 2


async def test_execute_is_not_granted_to_public(pool: Pool) -> None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT has_function_privilege('public', 'audit_append_many(jsonb)', 'EXECUTE')"
            " OR has_function_privilege('public', 'audit_chain_pending(integer, boolean)',"
            " 'EXECUTE') AS may"
        )
        assert await cur.fetchone() == {"may": False}
        cur = await conn.execute(
            "SELECT has_function_privilege('public',"
            " 'audit_append(text, text, text, text, text, jsonb)', 'EXECUTE') AS public_may,"
            " to_regprocedure('audit_append(bigint, timestamptz, text, text, text, text,"
            " text, jsonb, text, text)') AS old_signature"
        )
        row = await cur.fetchone()
    assert row == {"public_may": False, "old_signature": None}


async def test_no_caller_can_store_a_wrong_hash(pool: Pool) -> None:
    """Even the tables' owner inserting directly gets the database's seq, time and hash."""
    await _events(pool, 2)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO audit_events (seq, ts, event_type, actor, payload, prev_hash, hash)"
            " VALUES (99, '2000-01-01', 'forged', 'mallory', '{\"amount\": \"1000\"}',"
            " %s, %s) RETURNING *",
            (GENESIS_HASH, "f" * 64),
        )
        row = await cur.fetchone()
        assert row is not None
        assert row["seq"] == 3 and row["hash"] != "f" * 64 and row["prev_hash"] != GENESIS_HASH
        assert row_hash(row) == row["hash"]
        # The function takes no hash at all: the caller names the event, nothing more.
        with pytest.raises(psycopg.errors.UndefinedFunction):
            async with conn.transaction():
                await conn.execute(
                    "SELECT audit_append(4, now(), 'x', 'x', NULL, NULL, NULL, '{}', %s, %s)",
                    (row["hash"], "0" * 64),
                )
        result = await verify_chain(conn)
    assert result.ok and result.checked == 3


async def test_payloads_the_python_verifier_could_not_reproduce_are_refused(pool: Pool) -> None:
    async with pool.connection() as conn:
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="integers only"):
            async with conn.transaction():
                await conn.execute(
                    "SELECT * FROM audit_append('x', 'x', NULL, NULL, NULL, %s)",
                    (Jsonb({"amount": 1.5}),),
                )
        assert (await verify_chain(conn)).ok


async def _tamper(pool: Pool, statement: str) -> None:
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(statement)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statement", "seq", "word"),
    [
        ("UPDATE audit_events SET payload = '{\"i\": 9}' WHERE seq = 2", 2, "edited"),
        ("DELETE FROM audit_events WHERE seq = 2", 2, "deleted"),
        (
            "INSERT INTO audit_events SELECT 4, ts, event_type, actor, thread_id, order_id,"
            " customer_email, payload, hash, md5(hash) || md5(hash) FROM audit_events"
            " WHERE seq = 3",
            4,
            "inserted",
        ),
    ],
)
async def test_verify_still_finds_tampering_of_database_chained_rows(
    pool: Pool, statement: str, seq: int, word: str
) -> None:
    await _events(pool, 3)
    await _tamper(pool, statement)
    async with pool.connection() as conn:
        result = await verify_chain(conn)
    assert not result.ok and result.broken_seq == seq
    assert result.problem is not None and word in result.problem


# --- one canonical form in SQL and in Python -------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def sync_conn(db_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.dictionaries(TEXT, JSON, max_size=5), actor=TEXT, order=st.none() | TEXT)
def test_the_database_hashes_what_python_verifies(
    sync_conn: psycopg.Connection[dict[str, Any]],
    payload: dict[str, Any],
    actor: str,
    order: str | None,
) -> None:
    row = sync_conn.execute(
        "SELECT * FROM audit_append('node', %s, 'thread \"1\"', %s, NULL, %s)",
        (actor, order, Jsonb(payload)),
    ).fetchone()
    assert row is not None
    assert row["payload"] == payload
    content = canonical_content(
        seq=row["seq"],
        ts=row["ts"],
        event_type=row["event_type"],
        actor=row["actor"],
        thread_id=row["thread_id"],
        order_id=row["order_id"],
        customer_email=row["customer_email"],
        payload=row["payload"],
    )
    in_sql = sync_conn.execute(
        "SELECT audit_canonical_json(jsonb_build_object("
        "'seq', seq, 'ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
        " || '+00:00', 'event_type', event_type, 'actor', actor, 'thread_id', thread_id,"
        " 'order_id', order_id, 'customer_email', customer_email, 'payload', payload)) AS c"
        " FROM audit_events WHERE seq = %s",
        (row["seq"],),
    ).fetchone()
    assert in_sql is not None and in_sql["c"] == content
    assert row_hash(row) == row["hash"]
    # The same event through the writers' way in: sealed when written, chained later.
    event = {"event_type": "node", "actor": actor, "thread_id": 'thread "1"', "order_id": order}
    pending = sync_conn.execute(
        "SELECT * FROM audit_append_many(%s)", (Jsonb([{**event, "payload": payload}]),)
    ).fetchone()
    assert pending is not None and pending["payload"] == payload
    assert pending_seal(pending) == pending["seal"]  # the seal written, as Python computes it
    sync_conn.execute("SELECT audit_chain_pending(1000, true)")
    chained = sync_conn.execute(
        "SELECT * FROM audit_events WHERE pending_id = %s", (pending["id"],)
    ).fetchone()
    assert chained is not None and chained["pending_seal"] == pending["seal"]
    assert pending_seal(chained) == chained["pending_seal"]
    assert row_hash(chained) == chained["hash"]
