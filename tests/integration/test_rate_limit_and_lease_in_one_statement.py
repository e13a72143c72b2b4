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


async def test_the_conversation_and_a_kept_answer_are_read_together(seeded: Storage) -> None:
    thread = uuid.uuid4().hex
    async with seeded.pool.connection() as conn:
        assert await repo.conversation_and_answer(conn, thread, "k") == (None, None)
        await repo.create_conversation(conn, thread, "alice@example.com", "web")
        await repo.store_request_answer(conn, thread, "k", {"reply": "hi"})
        row, answer = await repo.conversation_and_answer(conn, thread, "k")
        assert row is not None and row["customer_email"] == "alice@example.com"
        assert answer == {"reply": "hi"}
        row, none = await repo.conversation_and_answer(conn, thread, None)
        assert row is not None and none is None
