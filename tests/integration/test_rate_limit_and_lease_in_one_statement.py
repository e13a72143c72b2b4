"""One statement counts a message against its conversation's rate limit and takes the lease."""

from __future__ import annotations

import uuid

from persistence import repo
from persistence.runtime import Storage


async def test_the_lease_is_taken_only_within_the_limit_and_when_free(seeded: Storage) -> None:
    thread = uuid.uuid4().hex
    bucket = f"thread:{thread}"
    async with seeded.pool.connection() as conn:
        await repo.create_conversation(conn, thread, None, "web")

        async def hit() -> tuple[bool, int, str | None]:
            return await repo.hit_and_take_conversation(
                conn, thread, bucket=bucket, limit=2, window_seconds=60, lease_seconds=30
            )

        allowed, retry_after, first = await hit()
        assert allowed and first is not None and 1 <= retry_after <= 60
        allowed, _, busy = await hit()
        assert allowed and busy is None, "a running turn holds the conversation"
        await repo.release_conversation(conn, thread, first)
        allowed, _, refused = await hit()
        assert not allowed and refused is None, "over the limit: no lease is taken"
        row = await repo.get_conversation(conn, thread)
    assert row is not None and row["busy_token"] is None


async def test_the_address_limit_the_conversation_and_a_kept_answer_in_one_statement(
    seeded: Storage,
) -> None:
    thread = uuid.uuid4().hex

    async def admit(key: str | None, limit: int = 10) -> repo.Admission:
        async with seeded.pool.connection() as conn:
            return await repo.hit_and_read_conversation(
                conn, f"ip:test-{thread}", limit=limit, window_seconds=60, thread_id=thread, key=key
            )

    missing = await admit("k")
    assert missing.allowed and missing.conversation is None and missing.kept_answer is None
    async with seeded.pool.connection() as conn:
        await repo.create_conversation(conn, thread, "alice@example.com", "web")
        await repo.store_request_answer(conn, thread, "k", {"reply": "hi"})
        stored = await repo.get_conversation(conn, thread)
    found = await admit("k")
    assert found.conversation == stored  # the same row, its times as datetimes
    assert found.kept_answer == {"reply": "hi"}
    assert (await admit(None)).kept_answer is None
    over = await admit("k", limit=3)  # the fourth hit of this address in the window
    assert not over.allowed and 1 <= over.retry_after <= 60
    assert over.conversation is not None  # read all the same; the caller answers 429
