"""The state keeps a window of messages; the whole transcript is in its table.

Checkpoints stay bounded (the latest messages only, superseded checkpoints pruned), and
nothing the customer or the agent said is lost: the transcript table has every line.
"""

from __future__ import annotations

from dataclasses import replace

from graph.services import Services
from persistence import transcripts
from persistence.checkpoint import open_checkpointer, prune_superseded
from tests.harness import Chat

FOLLOW_UPS = ("Did my refund go through?", "Thank you!", "When will I see it?")


async def test_state_keeps_a_window_and_the_table_keeps_every_line(services: Services) -> None:
    bounded = replace(
        services, settings=services.settings.model_copy(update={"state_message_window": 6})
    )
    saver = await open_checkpointer(services.storage.pool)
    chat = Chat(bounded, checkpointer=saver)
    thread = chat.new_thread()
    said = ["Hi, refund 20 USDC on ORD-1001 please. I'm alice@example.com"]
    first = await chat.say(thread, said[0])
    assert first["outcome"]["kind"] == "refunded"
    replies = [first["reply"]]
    for turn in range(11):
        said.append(FOLLOW_UPS[turn % len(FOLLOW_UPS)])
        replies.append((await chat.say(thread, said[-1]))["reply"])

    state = await chat.state(thread)
    assert len(state["messages"]) == 6
    assert state["messages"][-1].content == replies[-1]
    assert state["refund"]["status"] == "confirmed", "facts outlive the window"

    async with services.storage.pool.connection() as conn:
        stored = await transcripts.latest(conn, thread)
    expected = [line for pair in zip(said, replies, strict=True) for line in pair]
    assert [line.text for line in stored.lines] == expected
    assert [line.role for line in stored.lines] == ["customer", "agent"] * len(said)

    async with services.storage.pool.connection() as conn:
        shown = await transcripts.latest(conn, thread, 4)
    assert [line.text for line in shown.lines] == expected[-4:]
    assert shown.omitted == len(expected) - 4


async def test_pruning_keeps_only_the_latest_checkpoint_and_the_conversation_goes_on(
    services: Services,
) -> None:
    saver = await open_checkpointer(services.storage.pool)
    chat = Chat(services, checkpointer=saver)
    thread = chat.new_thread()
    await chat.say(thread, "Hi, refund 20 USDC on ORD-1001 please. I'm alice@example.com")
    for text in FOLLOW_UPS:
        await chat.say(thread, text)

    async def checkpoints() -> int:
        async with services.storage.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) AS n FROM checkpoints WHERE thread_id = %s", (thread,)
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row["n"])

    assert await checkpoints() == 4
    assert await prune_superseded(saver, thread)
    assert await checkpoints() == 1
    before = await chat.state(thread)
    after = await chat.say(thread, "Is there anything else I need to do?")
    assert after["reply"]
    state = await chat.state(thread)
    assert state["turn"] == before["turn"] + 1
    assert state["verified_order_id"] == "ORD-1001"
