"""Scale-out: one or two agent processes on one database.

Question: with the audit chain and the daily budget off the writers' path, do two agent
processes on one database serve more turns than one? (Measured before that rework, two
``serve`` processes added only 25%: every turn of every process queued on the audit
chain's head row and the budget lock.)

Method: one throwaway database, seeded orders and the sandbox, as every benchmark here.
Each leg runs the same number of two-turn refund conversations (ask, then identity ->
lookup -> decide -> refund -> respond), ``--concurrency`` at a time in all: the one-process
leg runs them all in one process, the two-process leg half in each. Every process is a
fresh Python (``multiprocessing`` spawn) that opens its own pool and services on the
shared database and sandbox (the refund wallet is created once, by the parent), compiles
the agent on the product's saver, warms up, waits for a common start signal, and reports
its turns and wall time. A leg's turns/s are all its turns over its slowest process's
wall time. Legs alternate (1, 2, 2, 1, ...) so that neither always runs first; the ratio
two/one is reported per round and as the median.

On a machine with two cores, the database, the sandbox and the benchmark share them with
the agent processes: the ratio says how much of a second core the agent can use, not what
a second machine would add.

    uv run python -m benchmarks.scale_out [--rounds 3] [--concurrency 32] [--json FILE]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
from dataclasses import dataclass
from typing import Any, Final

from benchmarks._common import (
    ASK_TEXT,
    IDENTITY_TEXT,
    Flag,
    SeededOrder,
    bench_env,
    bench_settings,
    emit,
    machine_info,
    machine_line,
    open_counting_pool,
    parse_options,
    progress,
    run_and_report,
    table,
)
from persistence.checkpoint import open_checkpointer

WARMUP: Final = 4
"""Conversations each process runs before the start signal (imports, caches, pool)."""


@dataclass(frozen=True, slots=True)
class Options:
    """Size of the run."""

    rounds: int = 3
    """Pairs of legs (one process, two processes)."""
    concurrency: int = 32
    """Conversations at a time in each leg, over all its processes."""
    conversations: int = 256
    """Conversations per leg."""
    pool_size: int = 20
    """Connections per process."""


FLAGS: Final = (
    Flag("--rounds", "pairs of legs, one process and two (default %(default)s)"),
    Flag("--concurrency", "conversations at a time per leg, all processes (default %(default)s)"),
    Flag("--conversations", "conversations per leg (default %(default)s)"),
    Flag("--pool-size", "connections per process (default %(default)s)"),
)


@dataclass(frozen=True, slots=True)
class Job:
    """What one agent process runs (everything it needs, picklable)."""

    url: str
    sandbox_url: str
    api_key: str
    agent_id: str
    pool_size: int
    concurrency: int
    warmup: tuple[SeededOrder, ...]
    orders: tuple[SeededOrder, ...]


@dataclass(frozen=True, slots=True)
class Done:
    """What one agent process reports."""

    turns: int
    wall: float
    cpu: float


def _process(job: Job, ready: Any, go: Any, out: Any) -> None:
    """The body of one agent process."""
    try:
        out.put(asyncio.run(_serve(job, ready, go)))
    except BaseException as exc:  # reported to the parent, which raises it
        out.put(repr(exc))
        ready.set()


async def _serve(job: Job, ready: Any, go: Any) -> Done:
    from graph.context import Context
    from graph.graph import build_builder
    from persistence.audit import AuditLog
    from persistence.checkpoint import open_checkpointer
    from persistence.runtime import Storage
    from tools.moltpe import MoltPeClient
    from wiring.services import create_services

    settings = bench_settings()
    pool = await open_counting_pool(job.url, settings, size=job.pool_size)
    moltpe = MoltPeClient.from_settings(
        settings, api_key_override=job.api_key, base_url_override=job.sandbox_url
    )
    storage = Storage(url=job.url, pool=pool, audit=AuditLog(pool))
    services = await create_services(
        settings, storage=storage, moltpe=moltpe, agent_id=job.agent_id, reconcile=False
    )
    try:
        agent = build_builder(services).compile(
            checkpointer=await open_checkpointer(pool, setup=False)
        )

        async def conversation(order: SeededOrder) -> int:
            config: Any = {"configurable": {"thread_id": f"scale-{order.order_id}"}}
            identity = IDENTITY_TEXT.format(email=order.email, order_id=order.order_id)
            for text in (ASK_TEXT, identity):
                message: Any = {"messages": [{"role": "user", "content": text}]}
                out = await agent.ainvoke(message, config, context=Context(), durability="exit")
            if out["outcome"].get("kind") != "refunded":
                raise RuntimeError(f"refund turn ended with {out['outcome']}")
            return 2

        for order in job.warmup:
            await conversation(order)
        queue = list(job.orders)
        turns = 0

        async def client() -> None:
            nonlocal turns
            while queue:
                done = await conversation(queue.pop())
                turns += done  # (not "turns += await ...": that reads turns before awaiting)

        ready.set()
        await asyncio.to_thread(go.wait)
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(client() for _ in range(job.concurrency)))
        return Done(turns, time.perf_counter() - start, time.process_time() - cpu)
    finally:
        await services.aclose()
        await moltpe.aclose()
        await storage.audit.aclose()
        await pool.close()


def _leg(jobs: list[Job]) -> dict[str, Any]:
    """Start one process per job, start them together, and collect what they did."""
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    out: Any = context.Queue()
    started = []
    for job in jobs:
        ready = context.Event()
        process = context.Process(target=_process, args=(job, ready, go, out), daemon=True)
        process.start()
        started.append((process, ready))
    for _, ready in started:
        ready.wait(timeout=300)
    go.set()
    reports = [out.get(timeout=900) for _ in started]
    for process, _ in started:
        process.join(timeout=60)
    failed = [r for r in reports if not isinstance(r, Done)]
    if failed:
        raise RuntimeError(f"an agent process failed: {failed[0]}")
    done = [r for r in reports if isinstance(r, Done)]
    turns = sum(d.turns for d in done)
    wall = max(d.wall for d in done)
    return {
        "processes": len(jobs),
        "turns": turns,
        "wall_s": round(wall, 3),
        "turns_per_s": round(turns / wall, 2),
        "agent_cpu_per_turn_ms": round(sum(d.cpu for d in done) / turns * 1000, 2),
    }


async def run(options: Options, *, admin: str | None = None) -> dict[str, Any]:
    """Measure; return the figures."""
    legs = 2 * options.rounds
    per_leg = options.conversations + 2 * WARMUP
    async with bench_env(orders=legs * per_leg, admin=admin, pool_size=4) as env:
        info = await machine_info(env.pool)
        await open_checkpointer(env.pool)  # the tables, once, before the processes start

        def jobs(processes: int) -> list[Job]:
            orders = [env.take_order() for _ in range(per_leg)]
            warm, rest = orders[: WARMUP * processes], orders[WARMUP * processes :]
            rest = rest[: options.conversations]
            return [
                Job(
                    url=env.url,
                    sandbox_url=env.sandbox.url,
                    api_key=env.sandbox.api_key,
                    agent_id=env.services.agent_id,
                    pool_size=options.pool_size,
                    concurrency=max(1, options.concurrency // processes),
                    warmup=tuple(warm[p * WARMUP : (p + 1) * WARMUP]),
                    orders=tuple(rest[p::processes]),
                )
                for p in range(processes)
            ]

        results: list[dict[str, Any]] = []
        for r in range(options.rounds):
            for processes in (1, 2) if r % 2 == 0 else (2, 1):
                progress(f"round {r + 1}/{options.rounds}: {processes} process(es)")
                leg = await asyncio.to_thread(_leg, jobs(processes))
                results.append({"round": r + 1, **leg})
    return figures(results, info, options)


def figures(
    results: list[dict[str, Any]], info: dict[str, Any], options: Options
) -> dict[str, Any]:
    """Per-leg figures and the two/one ratio per round and as the median."""
    ratios = []
    for r in range(1, options.rounds + 1):
        by = {x["processes"]: x["turns_per_s"] for x in results if x["round"] == r}
        ratios.append(round(by[2] / by[1], 2))
    return {
        "benchmark": "scale_out",
        "machine": info,
        "options": {
            "rounds": options.rounds,
            "concurrency": options.concurrency,
            "conversations": options.conversations,
            "pool_size": options.pool_size,
        },
        "legs": results,
        "two_over_one": ratios,
        "two_over_one_median": statistics.median(ratios),
    }


def report(result: dict[str, Any]) -> None:
    """Print the figures."""
    emit(machine_line(result["machine"]))
    o = result["options"]
    emit(
        f"{o['conversations']} two-turn refund conversations per leg, {o['concurrency']} at a "
        f"time, pool of {o['pool_size']} per process:"
    )
    rows = [
        [
            x["round"],
            x["processes"],
            x["turns"],
            x["wall_s"],
            x["turns_per_s"],
            x["agent_cpu_per_turn_ms"],
        ]
        for x in result["legs"]
    ]
    emit(
        table(
            ["round", "processes", "turns", "wall s", "turns/s", "agent CPU ms/turn"],
            rows,
        )
    )
    emit(
        f"two processes / one: {', '.join(str(r) for r in result['two_over_one'])} "
        f"(median {result['two_over_one_median']})"
    )


def parse_args(argv: list[str] | None = None) -> tuple[Options, str | None]:
    """The options and ``--json`` file from the command line."""
    return parse_options(Options, "benchmarks.scale_out", __doc__, FLAGS, argv)


def main(argv: list[str] | None = None) -> None:
    """Run from the command line."""
    options, json_file = parse_args(argv)
    run_and_report(options, json_file, run, report)


if __name__ == "__main__":
    main()
