"""Throughput and latency under concurrent conversations: the stock saver vs an unlocked one.

Question: LangGraph's ``AsyncPostgresSaver`` serialises every call (read, put, put_writes)
on one instance-wide ``asyncio.Lock``, even when it is given a pool (langgraph issue
7259), and it holds that lock while it waits for a pooled connection and while it
(de)serialises in a worker thread. How much does that cost the agent with 1, 8, 32 (and
128) concurrent conversations on one process and a pool of 20 connections?

Two variants of the agent run the same two-turn refund conversations (ask, then
identity -> lookup -> decide -> refund -> respond), interleaved, on one database, one pool
and one set of services; only the saver differs:

* ``stock``: ``AsyncPostgresSaver`` as shipped; its lock is swapped for a subclass of
  ``asyncio.Lock`` that only measures how long each acquisition waited (same FIFO
  semantics), so the lock's share of turn latency is reported;
* ``unlocked``: :class:`persistence.checkpoint.PooledSaver` (what the product uses),
  ``AsyncPostgresSaver`` whose lock is a no-op when
  it was given a pool.

Why the unlocked variant is safe with a pool (and only with a pool): the lock exists so
that coroutines never share one ``AsyncConnection`` (or its pipeline) at the same time.
With a pool, every saver call takes its own connection for the duration of the call
(``async with pool.connection()`` inside ``_cursor``), runs its statements on it in
autocommit or a pipeline, and returns it, so no two calls ever touch the same connection.
The lock gives no other guarantee: the order of a run's checkpoint writes is enforced by
LangGraph itself (each put awaits the previous one, ``_checkpointer_put_after_previous``),
and two runs of one thread are not made safe by it either (it orders single calls, not
turns). With a single connection or ``pipe`` the lock is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any, Final, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph.state import CompiledStateGraph
from psycopg import AsyncConnection

from benchmarks._common import (
    ASK_TEXT,
    IDENTITY_TEXT,
    BenchEnv,
    Flag,
    bench_env,
    emit,
    machine_info,
    machine_line,
    parse_options,
    percentile,
    progress,
    ratio,
    run_and_report,
    table,
)
from benchmarks.turn_overhead import build_bare
from graph.context import Context
from graph.graph import build_builder
from persistence.checkpoint import PooledSaver, open_checkpointer

Variant = Literal["stock", "unlocked", "bare"]
VARIANTS: Final[tuple[Variant, ...]] = ("stock", "unlocked", "bare")
"""``bare`` is the five-node graph of :mod:`benchmarks.turn_overhead` on a stock saver of its
own: the reference the agent's throughput is compared with (``ratio_vs_bare_stock_at_32``)."""
RATIO_LEVEL: Final = 32
DEFAULT_LEVELS: Final = (1, 8, 32)
SAMPLE_INTERVAL: Final = 0.05
TOP_STATES: Final = 5
BUSY_SESSIONS: Final = """
SELECT CASE WHEN state = 'idle in transaction' THEN 'idle in transaction (client)'
            ELSE coalesce(wait_event_type || ':' || wait_event, 'running') END AS what,
       count(*) AS n
  FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
   AND backend_type = 'client backend' AND state IN ('active', 'idle in transaction')
 GROUP BY 1
"""
"""What the database's busy sessions are doing: running, waiting (by wait event), or
holding a transaction open while the client works."""


@dataclass(frozen=True, slots=True)
class Options:
    """Size of the run."""

    levels: tuple[int, ...] = DEFAULT_LEVELS
    """Concurrent conversations to measure at."""

    rounds: int = 4
    """Runs per level and variant (interleaved)."""

    min_conversations: int = 32
    """Conversations per run at least; a run has ``max(this, 2 x level)``."""

    pool_size: int = 20
    """Connections in the shared pool."""

    @property
    def warmup_level(self) -> int:
        """Concurrency of the discarded warm-up run of each variant."""
        return min(8, max(self.levels))

    def conversations(self, level: int) -> int:
        """Conversations in one run at ``level``."""
        return max(self.min_conversations, 2 * level)


# --- the locks and the saver ------------------------------------------------------------


class TimedLock(asyncio.Lock):
    """``asyncio.Lock`` that adds up how long acquisitions waited (same semantics)."""

    def __init__(self) -> None:
        super().__init__()
        self.waited = 0.0
        self.acquisitions = 0
        self.contended = 0

    async def acquire(self) -> Literal[True]:
        """Acquire, timing the wait."""
        busy = self.locked()
        start = time.perf_counter()
        await super().acquire()
        self.waited += time.perf_counter() - start
        self.acquisitions += 1
        self.contended += int(busy)
        return True

    def take(self) -> tuple[float, int, int]:
        """The totals so far, reset."""
        totals = (self.waited, self.acquisitions, self.contended)
        self.waited, self.acquisitions, self.contended = 0.0, 0, 0
        return totals


# --- what the database is doing -------------------------------------------------------------


class BusySampler:
    """Samples :data:`BUSY_SESSIONS` every 50 ms from a connection of its own."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self.seen: Counter[str] = Counter()
        self.samples = 0

    async def __aenter__(self) -> BusySampler:
        self._conn = await AsyncConnection.connect(self._url, autocommit=True)
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            await self._conn.close()

    async def _sample(self) -> None:
        assert self._conn is not None
        while True:
            cur = await self._conn.execute(BUSY_SESSIONS)
            for what, n in await cur.fetchall():
                self.seen[str(what)] += int(n)
            self.samples += 1
            await asyncio.sleep(SAMPLE_INTERVAL)


# --- the run -----------------------------------------------------------------------------


@dataclass
class RunResult:
    """One run: every turn's latency, the wall time and what was waited for."""

    variant: Variant
    level: int
    turns: list[float] = field(default_factory=list)
    refund_turns: list[float] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0
    lock_wait: float = 0.0
    lock_acquisitions: int = 0
    lock_contended: int = 0
    pool_wait_ms: float = 0.0
    pool_requests: int = 0
    busy: Counter[str] = field(default_factory=Counter)
    busy_samples: int = 0


async def one_run(
    env: BenchEnv,
    variant: Variant,
    agent: CompiledStateGraph[Any, Any, Any, Any],
    level: int,
    conversations: int,
    lock: TimedLock | None,
) -> RunResult:
    """``conversations`` two-turn conversations, ``level`` at a time."""
    result = RunResult(variant, level)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(conversations):
        queue.put_nowait(i)

    async def client() -> None:
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            order = env.take_order()
            config: RunnableConfig = {"configurable": {"thread_id": f"{variant}-{order.order_id}"}}
            identity = IDENTITY_TEXT.format(email=order.email, order_id=order.order_id)
            for text in (ASK_TEXT, identity):
                message: Any = {"messages": [{"role": "user", "content": text}]}
                start = time.perf_counter()
                context = None if variant == "bare" else Context()
                out = await agent.ainvoke(message, config, context=context, durability="exit")
                took = time.perf_counter() - start
                result.turns.append(took)
                if text is identity and variant != "bare":
                    result.refund_turns.append(took)
                    if out["outcome"].get("kind") != "refunded":
                        raise RuntimeError(f"{variant}: refund turn ended with {out['outcome']}")

    if lock is not None:
        lock.take()
    env.pool.pop_stats()
    async with BusySampler(env.url) as sampler:
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(client() for _ in range(level)))
        result.wall = time.perf_counter() - start
        result.cpu = time.process_time() - cpu
    result.busy, result.busy_samples = sampler.seen, sampler.samples
    stats = env.pool.pop_stats()
    result.pool_wait_ms = float(stats.get("requests_wait_ms", 0))
    result.pool_requests = int(stats.get("requests_num", 0))
    if lock is not None:
        result.lock_wait, result.lock_acquisitions, result.lock_contended = lock.take()
    return result


def orders_needed(options: Options) -> int:
    """Orders the whole benchmark refunds (one per conversation)."""
    runs = sum(options.conversations(level) for level in options.levels)
    return len(VARIANTS) * (options.rounds * runs + options.conversations(options.warmup_level))


async def run(options: Options, *, admin: str | None = None) -> dict[str, Any]:
    """Measure; return the figures."""
    async with bench_env(
        orders=orders_needed(options), pool_size=options.pool_size, admin=admin
    ) as env:
        info = await machine_info(env.pool)
        await open_checkpointer(env.pool)  # the tables
        stock = AsyncPostgresSaver(conn=env.pool)
        lock = TimedLock()
        stock.lock = lock
        unlocked = PooledSaver(env.pool)
        services = env.services

        agents: dict[Variant, CompiledStateGraph[Any, Any, Any, Any]] = {
            "stock": build_builder(services).compile(checkpointer=stock),
            "unlocked": build_builder(services).compile(checkpointer=unlocked),
            # The reference: a bare graph on the saver as LangGraph ships it.
            "bare": build_bare().compile(checkpointer=AsyncPostgresSaver(conn=env.pool)),
        }
        warmup = options.warmup_level
        for variant in VARIANTS:  # warm up both
            progress(f"warm-up: {variant} saver at {warmup} concurrent conversations")
            await one_run(
                env, variant, agents[variant], warmup, options.conversations(warmup), None
            )
        results: list[RunResult] = []
        for level in options.levels:
            for r in range(options.rounds):
                order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]
                for variant in order:
                    progress(
                        f"{level} concurrent conversations, round {r + 1}/{options.rounds}, "
                        f"{variant} saver"
                    )
                    results.append(
                        await one_run(
                            env,
                            variant,
                            agents[variant],
                            level,
                            options.conversations(level),
                            lock if variant == "stock" else None,
                        )
                    )
    return figures(results, info, options)


def figures(results: Sequence[RunResult], info: dict[str, Any], options: Options) -> dict[str, Any]:
    """Per level and variant: throughput, latency, waits; the ratios."""
    levels: dict[str, Any] = {}
    for level in options.levels:
        per: dict[str, Any] = {}
        for variant in VARIANTS:
            runs = [r for r in results if r.level == level and r.variant == variant]
            turns = [t for r in runs for t in r.turns]
            refunds = [t for r in runs for t in r.refund_turns]
            wall = sum(r.wall for r in runs)
            turn_time = sum(turns)
            requests = sum(r.pool_requests for r in runs)
            states: Counter[str] = Counter()
            for r in runs:
                states.update(r.busy)
            busy_total = sum(states.values())
            samples = sum(r.busy_samples for r in runs)
            per[variant] = {
                "db_busy_sessions_avg": round(busy_total / samples, 2) if samples else math.nan,
                "db_busy_by_state": {
                    what: round(n / busy_total, 3) for what, n in states.most_common(TOP_STATES)
                },
                "turns": len(turns),
                "turns_per_s": round(len(turns) / wall, 2) if wall else math.nan,
                "process_cpu_share": round(sum(r.cpu for r in runs) / wall, 2)
                if wall
                else math.nan,
                "p50_ms": round(percentile(turns, 0.5) * 1000, 1),
                "p99_ms": round(percentile(turns, 0.99) * 1000, 1),
                "p99_over_p50": ratio(percentile(turns, 0.99), percentile(turns, 0.5)),
                "refund_p50_ms": round(percentile(refunds, 0.5) * 1000, 1) if refunds else 0.0,
                "refund_p99_ms": round(percentile(refunds, 0.99) * 1000, 1) if refunds else 0.0,
                "pool_wait_ms_per_request": (
                    round(sum(r.pool_wait_ms for r in runs) / requests, 2) if requests else math.nan
                ),
                "saver_lock_wait_share": (
                    round(sum(r.lock_wait for r in runs) / turn_time, 3)
                    if variant == "stock"
                    else 0.0
                ),
                "saver_lock_wait_ms_per_turn": (
                    round(sum(r.lock_wait for r in runs) / len(turns) * 1000, 2)
                    if variant == "stock"
                    else 0.0
                ),
                "saver_lock_contended_share": (
                    round(
                        sum(r.lock_contended for r in runs)
                        / max(1, sum(r.lock_acquisitions for r in runs)),
                        3,
                    )
                    if variant == "stock"
                    else 0.0
                ),
            }
        stock, unlocked = per["stock"], per["unlocked"]
        per["ratios"] = {
            "throughput unlocked/stock": ratio(unlocked["turns_per_s"], stock["turns_per_s"]),
            "p50 stock/unlocked": ratio(stock["p50_ms"], unlocked["p50_ms"]),
            "p99 stock/unlocked": ratio(stock["p99_ms"], unlocked["p99_ms"]),
            "throughput agent stock/bare stock": ratio(
                stock["turns_per_s"], per["bare"]["turns_per_s"]
            ),
            "throughput agent unlocked/bare stock": ratio(
                unlocked["turns_per_s"], per["bare"]["turns_per_s"]
            ),
        }
        levels[str(level)] = per
    at = levels.get(str(RATIO_LEVEL))
    return {
        "benchmark": "concurrency",
        "options": {**asdict(options), "levels": list(options.levels)},
        "machine": info,
        "levels": levels,
        # The product's saver is the unlocked one (persistence.checkpoint.PooledSaver).
        "ratio_vs_bare_stock_at_32": (
            at["ratios"]["throughput agent unlocked/bare stock"] if at else None
        ),
        "ratio_stock_saver_vs_bare_stock_at_32": (
            at["ratios"]["throughput agent stock/bare stock"] if at else None
        ),
    }


def report(result: dict[str, Any]) -> None:
    """Print the figures as a table."""
    emit(machine_line(result["machine"]))
    emit(f"options: {result['options']}", "")
    rows = []
    for level, per in result["levels"].items():
        for variant in VARIANTS:
            f = per[variant]
            rows.append(
                [
                    level,
                    variant,
                    f["turns"],
                    f["turns_per_s"],
                    f["p50_ms"],
                    f["p99_ms"],
                    f["refund_p50_ms"],
                    f["pool_wait_ms_per_request"],
                    f["process_cpu_share"],
                    f"{f['saver_lock_wait_share']:.1%}" if variant == "stock" else "-",
                    f"{f['saver_lock_contended_share']:.1%}" if variant == "stock" else "-",
                ]
            )
    emit(
        table(
            [
                "concurrent",
                "saver",
                "turns",
                "turns/s",
                "p50 ms",
                "p99 ms",
                "refund p50 ms",
                "pool wait ms/req",
                "agent CPU",
                "lock wait share",
                "lock contended",
            ],
            rows,
        )
    )
    for level, per in result["levels"].items():
        emit(f"{level:>4} concurrent: " + ", ".join(f"{k} {v}" for k, v in per["ratios"].items()))
    emit(
        f"ratio_vs_bare_stock_at_32 (the product's saver): {result['ratio_vs_bare_stock_at_32']}"
        f"; with the stock saver: {result['ratio_stock_saver_vs_bare_stock_at_32']}"
    )
    emit("", "what the database's busy sessions were doing (share of sampled session-states):")
    busy_rows = []
    for level, per in result["levels"].items():
        for variant in VARIANTS:
            f = per[variant]
            states = ", ".join(f"{k} {v:.0%}" for k, v in f["db_busy_by_state"].items())
            busy_rows.append([level, variant, f["db_busy_sessions_avg"], states])
    emit(table(["concurrent", "saver", "busy sessions (avg)", "top states"], busy_rows))


def parse_levels(text: str) -> tuple[int, ...]:
    """``"1,8,32,128"`` as a tuple of positive ints."""
    levels = tuple(int(part) for part in text.split(",") if part.strip())
    if not levels or any(level < 1 for level in levels):
        raise argparse.ArgumentTypeError("levels are positive integers, comma separated")
    return levels


FLAGS: Final = (
    Flag(
        "--levels",
        "concurrent conversations, comma separated (default 1,8,32; add 128)",
        type=parse_levels,
    ),
    Flag("--rounds", "interleaved runs per level and saver (default %(default)s)"),
    Flag(
        "--min-conversations",
        "conversations per run at least; runs have max(this, 2 x level) (default %(default)s)",
    ),
    Flag("--pool-size", "connections in the pool (default %(default)s)"),
)


def parse_args(argv: list[str] | None = None) -> tuple[Options, str | None]:
    """Options from the command line."""
    return parse_options(Options, "benchmarks.concurrency", __doc__, FLAGS, argv)


def main(argv: list[str] | None = None) -> None:
    """Run from the command line."""
    run_and_report(*parse_args(argv), run, report)


if __name__ == "__main__":
    main()
