"""Checkpoint storage per conversation as it grows to 50 turns, durability "exit" vs "sync".

Question: how many bytes does one conversation leave in LangGraph's checkpoint tables
(``checkpoints``, ``checkpoint_blobs``, ``checkpoint_writes``) and its transcript table
(``conversation_messages``) after 1, 5, 10, 25, 50, 100 and 200 turns, with the project's
``durability="exit"`` (one checkpoint per turn) and with
``"sync"`` (one per step)? And what dominates it?

Each conversation asks for a refund, gives its identity (the refund is made), then keeps
chatting with follow-ups ("did my refund go through?", "thank you!", ...) that move no
money, so every turn appends a customer message and a reply to ``messages``. The state
keeps the latest ``STATE_MESSAGE_WINDOW`` messages, and superseded checkpoints are pruned
every ``--prune-every`` turns as ``serve`` does, so storage should grow linearly (the
transcript) instead of with the square of the turns (the goal: at most 300 KiB at 200
turns). After the
sampled turns the thread's rows are summed: stored bytes of the data columns
(``pg_column_size``: after TOAST compression) and their uncompressed length
(``octet_length``), and the blobs are broken down by channel at the last turn.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, cast

from benchmarks._common import (
    ASK_TEXT,
    IDENTITY_TEXT,
    Flag,
    bench_env,
    emit,
    every,
    machine_info,
    machine_line,
    parse_options,
    progress,
    ratio,
    run_and_report,
    table,
)
from graph.context import Context
from graph.graph import build_builder
from persistence import transcripts
from persistence.checkpoint import prune_superseded
from persistence.db import Pool

Durability = Literal["exit", "async", "sync"]
DEFAULT_SAMPLES: Final = (1, 5, 10, 25, 50, 100, 200)
FOLLOW_UPS: Final = (
    "Thanks! Did my refund go through?",
    "Great, thank you so much!",
    "When will I see the money?",
    "Is there anything else I need to do?",
    "What is the status of my refund?",
    "Ok, have a nice day",
)
TABLES: Final = ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "conversation_messages")
LATENCY_WINDOW: Final = 5
"""Turn latency at turn t is the median over turns t-4..t of every conversation."""

SIZE_OF_CHECKPOINTS: Final = """
SELECT count(*) AS rows,
       coalesce(sum(pg_column_size(checkpoint) + pg_column_size(metadata)), 0) AS stored,
       coalesce(sum(octet_length(checkpoint::text) + octet_length(metadata::text)), 0) AS raw
  FROM checkpoints WHERE thread_id = %s
"""
SIZE_OF_BLOBS: Final = """
SELECT count(*) AS rows,
       coalesce(sum(pg_column_size(blob)), 0) AS stored,
       coalesce(sum(octet_length(blob)), 0) AS raw
  FROM checkpoint_blobs WHERE thread_id = %s
"""
SIZE_OF_WRITES: Final = """
SELECT count(*) AS rows,
       coalesce(sum(pg_column_size(blob)), 0) AS stored,
       coalesce(sum(octet_length(blob)), 0) AS raw
  FROM checkpoint_writes WHERE thread_id = %s
"""
BLOBS_BY_CHANNEL: Final = """
SELECT channel, count(*) AS rows,
       coalesce(sum(pg_column_size(blob)), 0) AS stored,
       coalesce(sum(octet_length(blob)), 0) AS raw
  FROM checkpoint_blobs WHERE thread_id = %s
 GROUP BY channel ORDER BY raw DESC
"""
SIZE_OF_TRANSCRIPT: Final = """
SELECT count(*) AS rows,
       coalesce(sum(pg_column_size(conversation_messages.*)), 0) AS stored,
       coalesce(sum(octet_length(text) + octet_length(role) + 24), 0) AS raw
  FROM conversation_messages WHERE thread_id = %s
"""
LATEST_MESSAGES_BLOB: Final = """
SELECT octet_length(blob) AS raw FROM checkpoint_blobs
 WHERE thread_id = %s AND channel = 'messages' ORDER BY version DESC LIMIT 1
"""
SIZE_QUERIES: Final = dict(
    zip(
        TABLES,
        (SIZE_OF_CHECKPOINTS, SIZE_OF_BLOBS, SIZE_OF_WRITES, SIZE_OF_TRANSCRIPT),
        strict=True,
    )
)


@dataclass(frozen=True, slots=True)
class Options:
    """Size of the run."""

    turns: int = 50
    """Turns per conversation."""

    conversations: int = 5
    """Conversations per durability mode (sizes are averaged, latencies medianed)."""

    modes: tuple[Durability, ...] = ("exit", "sync")
    """Durability modes to compare."""

    prune_every: int = 10
    """Turns between prunings of superseded checkpoints, as ``serve`` does
    (``CHECKPOINT_PRUNE_EVERY``); 0 never prunes."""

    def samples(self) -> list[int]:
        """The turns after which sizes are read."""
        picked = [t for t in DEFAULT_SAMPLES if t <= self.turns]
        return picked if self.turns in picked else [*picked, self.turns]


def text_of_turn(turn: int, email: str, order_id: str) -> str:
    """The customer's message of turn ``turn`` (1-based)."""
    if turn == 1:
        return ASK_TEXT
    if turn == 2:
        return IDENTITY_TEXT.format(email=email, order_id=order_id)
    return FOLLOW_UPS[(turn - 3) % len(FOLLOW_UPS)]


async def sizes(pool: Pool, thread: str) -> dict[str, dict[str, int]]:
    """Rows, stored and raw bytes of each checkpoint table for ``thread``."""
    out: dict[str, dict[str, int]] = {}
    async with pool.connection() as conn:
        for name, query in SIZE_QUERIES.items():
            cur = await conn.execute(query, (thread,))
            row = await cur.fetchone()
            assert row is not None
            out[name] = {k: int(row[k]) for k in ("rows", "stored", "raw")}
        cur = await conn.execute(LATEST_MESSAGES_BLOB, (thread,))
        latest = await cur.fetchone()
    out["total"] = {k: sum(out[t][k] for t in TABLES) for k in ("rows", "stored", "raw")}
    out["latest_messages_blob"] = {"raw": int(latest["raw"]) if latest else 0}
    return out


async def by_channel(pool: Pool, thread: str) -> list[dict[str, Any]]:
    """Blob rows and bytes per channel for ``thread``, largest first."""
    async with pool.connection() as conn:
        cur = await conn.execute(BLOBS_BY_CHANNEL, (thread,))
        rows = await cur.fetchall()
    return [{k: row[k] for k in ("channel", "rows", "stored", "raw")} for row in rows]


async def run(options: Options, *, admin: str | None = None) -> dict[str, Any]:
    """Measure; return the figures."""
    samples = options.samples()
    modes = options.modes
    async with bench_env(orders=len(modes) * options.conversations, admin=admin) as env:
        info = await machine_info(env.pool)
        saver = await env.saver()
        services = env.services

        agent = build_builder(services).compile(checkpointer=saver)
        threads = {
            (mode, c): (f"{mode}-{c}", env.take_order())
            for mode in modes
            for c in range(options.conversations)
        }
        measured: dict[tuple[str, int], list[dict[str, Any]]] = {}
        latency: dict[tuple[str, int], list[float]] = {}
        step = every(options.turns)
        for turn in range(1, options.turns + 1):
            if turn % step == 0 or turn == 1:
                progress(f"turn {turn}/{options.turns} of every conversation")
            # Interleave: turn k of every conversation of every mode before turn k + 1.
            for (mode, _), (thread, order) in threads.items():
                message: Any = {
                    "messages": [
                        {"role": "user", "content": text_of_turn(turn, order.email, order.order_id)}
                    ]
                }
                start = time.perf_counter()
                out = await agent.ainvoke(
                    message,
                    {"configurable": {"thread_id": thread}},
                    context=Context(),
                    durability=mode,
                )
                latency.setdefault((mode, turn), []).append(time.perf_counter() - start)
                if turn == 2 and out["outcome"].get("kind") != "refunded":
                    raise RuntimeError(f"{thread}: no refund at turn 2: {out['outcome']}")
                if options.prune_every and turn % options.prune_every == 0:
                    await prune_superseded(saver, thread)
                if turn in samples:
                    measured.setdefault((mode, turn), []).append(await sizes(env.pool, thread))
        channels: dict[str, list[dict[str, Any]]] = {
            mode: await by_channel(env.pool, threads[(mode, 0)][0]) for mode in modes
        }
        # What LangGraph's own pruning (keep the latest checkpoint) leaves, and proof that
        # the conversation is whole afterwards.
        pruned: dict[str, Any] = {}
        for mode in modes:
            thread = threads[(mode, 0)][0]
            await saver.aprune([thread], strategy="keep_latest")
            pruned[mode] = await sizes(env.pool, thread)
            async with env.pool.connection() as conn:
                stored = await transcripts.latest(conn, thread)
            if len(stored.lines) != 2 * options.turns:
                raise RuntimeError(f"{thread}: the transcript lost messages")
    return figures(measured, latency, channels, pruned, info, options)


def _mean_sizes(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [*TABLES, "total"]
    out: dict[str, Any] = {
        t: {k: round(statistics.fmean(r[t][k] for r in runs)) for k in ("rows", "stored", "raw")}
        for t in keys
    }
    out["latest_messages_blob"] = {
        "raw": round(statistics.fmean(r["latest_messages_blob"]["raw"] for r in runs))
    }
    return out


def figures(
    measured: dict[tuple[str, int], list[dict[str, Any]]],
    latency: dict[tuple[str, int], list[float]],
    channels: dict[str, list[dict[str, Any]]],
    pruned: dict[str, Any],
    info: dict[str, Any],
    options: Options,
) -> dict[str, Any]:
    """Mean sizes at each sampled turn and median latency of the turns up to it, per mode."""
    per_mode: dict[str, Any] = {}
    for mode in options.modes:
        per_turn: dict[str, Any] = {}
        for turn in options.samples():
            entry = _mean_sizes(measured[(mode, turn)])
            window = [
                t
                for k in range(max(1, turn - LATENCY_WINDOW + 1), turn + 1)
                for t in latency[(mode, k)]
            ]
            entry["turn_ms"] = round(statistics.median(window) * 1000, 1)
            per_turn[str(turn)] = entry
        per_mode[mode] = {
            "turns": per_turn,
            "blobs_by_channel_at_last_turn": channels[mode],
            "after_prune_keep_latest": pruned[mode],
        }
    result: dict[str, Any] = {
        "benchmark": "checkpoint_size",
        "options": {**asdict(options), "modes": list(options.modes)},
        "machine": info,
        "modes": per_mode,
    }
    if "exit" in options.modes and "sync" in options.modes:
        last = str(options.samples()[-1])
        result["ratios_sync_over_exit_at_last_turn"] = {
            "stored_bytes": ratio(
                per_mode["sync"]["turns"][last]["total"]["stored"],
                per_mode["exit"]["turns"][last]["total"]["stored"],
            ),
            "rows": ratio(
                per_mode["sync"]["turns"][last]["total"]["rows"],
                per_mode["exit"]["turns"][last]["total"]["rows"],
            ),
        }
    return result


def kib(n: int) -> str:
    """Bytes as KiB with one decimal."""
    return f"{n / 1024:,.1f}"


def report(result: dict[str, Any]) -> None:
    """Print the figures as tables."""
    emit(machine_line(result["machine"]))
    emit(f"options: {result['options']}")
    for mode, data in result["modes"].items():
        rows = []
        for turn, e in data["turns"].items():
            rows.append(
                [
                    turn,
                    f"{e['checkpoints']['rows']} / {kib(e['checkpoints']['stored'])}",
                    f"{e['checkpoint_blobs']['rows']} / {kib(e['checkpoint_blobs']['stored'])}",
                    f"{e['checkpoint_writes']['rows']} / {kib(e['checkpoint_writes']['stored'])}",
                    f"{e['conversation_messages']['rows']} / "
                    f"{kib(e['conversation_messages']['stored'])}",
                    kib(e["total"]["stored"]),
                    kib(e["total"]["raw"]),
                    kib(e["latest_messages_blob"]["raw"]),
                    e["turn_ms"],
                ]
            )
        emit("", f'durability="{mode}" (rows / KiB stored per table, per conversation):')
        emit(
            table(
                [
                    "turn",
                    "checkpoints",
                    "checkpoint_blobs",
                    "checkpoint_writes",
                    "transcript",
                    "total KiB stored",
                    "total KiB raw",
                    "latest messages blob KiB",
                    "turn ms (median, last 5 turns)",
                ],
                rows,
            )
        )
        channel_rows = [
            [c["channel"], c["rows"], kib(int(c["stored"])), kib(int(c["raw"]))]
            for c in cast(list[dict[str, Any]], data["blobs_by_channel_at_last_turn"])
        ]
        emit("blobs by channel at the last turn:")
        emit(table(["channel", "rows", "KiB stored", "KiB raw"], channel_rows))
        p = data["after_prune_keep_latest"]
        emit(
            f"after saver.aprune(keep_latest): {p['total']['rows']} rows, "
            f"{kib(p['total']['stored'])} KiB stored, {kib(p['total']['raw'])} KiB raw "
            f"(checkpoints {p['checkpoints']['rows']}, blobs {p['checkpoint_blobs']['rows']}, "
            f"writes {p['checkpoint_writes']['rows']})"
        )
    if "ratios_sync_over_exit_at_last_turn" in result:
        emit("", f"sync/exit at the last turn: {result['ratios_sync_over_exit_at_last_turn']}")


def parse_modes(text: str) -> tuple[Durability, ...]:
    """``"exit,sync"`` as durability modes."""
    modes = tuple(part.strip() for part in text.split(",") if part.strip())
    for mode in modes:
        if mode not in ("exit", "async", "sync"):
            raise argparse.ArgumentTypeError(f"unknown durability {mode!r}")
    return cast(tuple[Durability, ...], modes)


FLAGS: Final = (
    Flag("--turns", "turns per conversation (default %(default)s)"),
    Flag("--conversations", "conversations per durability mode (default %(default)s)"),
    Flag(
        "--durability",
        "modes to compare, comma separated (default exit,sync; async also works)",
        type=parse_modes,
        field="modes",
    ),
    Flag(
        "--prune-every",
        "turns between checkpoint prunings, as serve does; 0 never (default %(default)s)",
    ),
)


def parse_args(argv: list[str] | None = None) -> tuple[Options, str | None]:
    """Options from the command line."""
    return parse_options(Options, "benchmarks.checkpoint_size", __doc__, FLAGS, argv)


def main(argv: list[str] | None = None) -> None:
    """Run from the command line."""
    run_and_report(*parse_args(argv), run, report)


if __name__ == "__main__":
    main()
