"""The whole transcript of each conversation, one row a message.

The checkpointed graph state keeps only the latest messages (``STATE_MESSAGE_WINDOW``);
every message a customer sent, the agent answered or a reviewer wrote is appended here,
in the same transaction as the turn's audit trail, and read back by the conversation API
and the review console.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from persistence.db import Conn

Role = Literal["customer", "agent", "reviewer"]

APPEND: Final = """
INSERT INTO conversation_messages (thread_id, role, text, author)
SELECT %s, u.role, u.text, u.author
  FROM unnest(%s::text[], %s::text[], %s::text[]) WITH ORDINALITY AS u(role, text, author, n)
 ORDER BY u.n
"""
LATEST: Final = """
SELECT role, text, author, count(*) OVER () AS total
  FROM conversation_messages WHERE thread_id = %s
 ORDER BY seq DESC LIMIT %s
"""


@dataclass(frozen=True, slots=True)
class Line:
    """One message of a transcript."""

    role: Role
    text: str
    author: str | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    """The latest lines of a conversation, oldest first, and how many came before them."""

    lines: list[Line]
    omitted: int = 0


def storable(text: str) -> str:
    """``text`` as Postgres can store it: NULs and lone surrogates become U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


async def append(conn: Conn, thread_id: str, lines: Sequence[Line]) -> None:
    """Append ``lines`` to the conversation's transcript, in order, in one statement."""
    if not lines:
        return
    await conn.execute(
        APPEND,
        (
            thread_id,
            [line.role for line in lines],
            [storable(line.text) for line in lines],
            [line.author for line in lines],
        ),
    )


async def latest(conn: Conn, thread_id: str, limit: int = 10_000) -> Transcript:
    """The conversation's latest ``limit`` lines (oldest first); empty if none is stored."""
    cur = await conn.execute(LATEST, (thread_id, limit))
    rows = await cur.fetchall()
    lines = [Line(role=r["role"], text=r["text"], author=r["author"]) for r in reversed(rows)]
    total = int(rows[0]["total"]) if rows else 0
    return Transcript(lines=lines, omitted=total - len(lines))
