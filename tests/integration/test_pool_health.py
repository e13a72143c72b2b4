"""The pool replaces connections that died under it instead of handing them out."""

from __future__ import annotations

from core.settings import Settings
from persistence.db import connect, open_pool


async def test_connections_killed_under_the_pool_are_replaced(db_url: str) -> None:
    settings = Settings(_env_file=None, db_pool_min_size=3, db_pool_max_size=3)  # type: ignore[call-arg]
    pool = await open_pool(db_url, settings)
    try:
        await pool.wait(timeout=10)
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
        async with await connect(db_url) as killer:
            cur = await killer.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) AS killed"
                " FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            row = await cur.fetchone()
        assert row is not None and row["killed"] == 3
        for _ in range(6):  # every connection the pool held was dead: each is replaced
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT 1 AS one")
                assert await cur.fetchone() == {"one": 1}
    finally:
        await pool.close()
