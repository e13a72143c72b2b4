"""What the HTTP service adds to a turn: ``POST .../messages`` vs calling the graph.

Question: how many milliseconds does the service's own layer (the ASGI edge, the
conversation read, the per-address and per-conversation rate limits, the turn's lease
and its release, the stored answer under an ``Idempotency-Key``, the JSON answer) add to
a turn? The goal is at most 5 ms.

The same two-turn refund conversation (ask, then identity -> lookup -> decide -> refund ->
reply) runs, interleaved, as direct ``ainvoke`` calls on the compiled graph and as HTTP
requests to the app :func:`server.app.create_app` builds, on one database, one pool and
one set of services, in one process. The requests go through ``httpx.ASGITransport``:
the HTTP parsing of a server in front (uvicorn) is not counted, only what the project's
code does. Reported: p50/p99 per turn and path, and the difference of the p50s.

    uv run python -m benchmarks.http_overhead [--conversations 60] [--json FILE]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

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
    percentile,
    progress,
    run_and_report,
    summary_ms,
    table,
)
from graph.context import Context
from graph.graph import build_builder

GOAL_MS: Final = 5.0
TURNS: Final = ("ask", "refund")


@dataclass(frozen=True, slots=True)
class Options:
    """Size of the run."""

    conversations: int = 60
    """Measured conversations per path (after one warm-up conversation each)."""


FLAGS: Final = (Flag("--conversations", "measured conversations per path (default %(default)s)"),)


async def run(options: Options, *, admin: str | None = None) -> dict[str, Any]:
    """Measure; return the figures."""
    import httpx

    from server.app import create_app

    n = max(1, options.conversations)
    samples: dict[str, dict[str, list[float]]] = {
        path: {turn: [] for turn in TURNS} for path in ("graph", "http")
    }
    async with bench_env(orders=2 * (n + 1) + 2, admin=admin, pool_size=10) as env:
        info = await machine_info(env.pool)
        agent = build_builder(env.services).compile(checkpointer=await env.saver())
        app = create_app(settings=env.settings, services=env.services)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
        ):

            async def through_graph(measure: bool, c: int) -> None:
                order = env.take_order()
                texts = (ASK_TEXT, IDENTITY_TEXT.format(email=order.email, order_id=order.order_id))
                config: Any = {"configurable": {"thread_id": f"direct-{c}"}}
                for turn, text in zip(TURNS, texts, strict=True):
                    message: Any = {"messages": [{"role": "user", "content": text}]}
                    start = time.perf_counter()
                    out = await agent.ainvoke(
                        message,
                        config,
                        context=Context(),
                        durability="exit",
                    )
                    took = time.perf_counter() - start
                    if turn == "refund" and out["outcome"].get("kind") != "refunded":
                        raise RuntimeError(f"no refund through the graph: {out['outcome']}")
                    if measure:
                        samples["graph"][turn].append(took)

            async def through_http(measure: bool, c: int) -> None:
                order = env.take_order()
                texts = (ASK_TEXT, IDENTITY_TEXT.format(email=order.email, order_id=order.order_id))
                created = await http.post("/v1/conversations")
                created.raise_for_status()
                url = f"/v1/conversations/{created.json()['thread_id']}/messages"
                for turn, text in zip(TURNS, texts, strict=True):
                    start = time.perf_counter()
                    answer = await http.post(
                        url, json={"text": text}, headers={"Idempotency-Key": f"http-{c}-{turn}"}
                    )
                    took = time.perf_counter() - start
                    answer.raise_for_status()
                    if turn == "refund" and answer.json()["outcome"].get("kind") != "refunded":
                        raise RuntimeError(f"no refund through HTTP: {answer.json()['outcome']}")
                    if measure:
                        samples["http"][turn].append(took)

            await through_graph(False, -1)  # warm-up, not measured
            await through_http(False, -1)
            step = every(n)
            for c in range(n):
                if c % step == 0:
                    progress(f"conversation {c + 1}/{n} of each path")
                first, second = (
                    (through_graph, through_http) if c % 2 else (through_http, through_graph)
                )
                await first(True, c)
                await second(True, c)
    return figures(samples, info, n)


def figures(
    samples: dict[str, dict[str, list[float]]], info: dict[str, Any], n: int
) -> dict[str, Any]:
    """Per-turn summaries per path and the HTTP layer's cost (difference of the p50s)."""
    added = {
        turn: round(
            (percentile(samples["http"][turn], 0.5) - percentile(samples["graph"][turn], 0.5))
            * 1000,
            2,
        )
        for turn in TURNS
    }
    return {
        "benchmark": "http_overhead",
        "machine": info,
        "conversations": n,
        "turns": {
            path: {turn: summary_ms(values) for turn, values in per.items()}
            for path, per in samples.items()
        },
        "http_added_p50_ms": added,
        "goal_ms": GOAL_MS,
    }


def report(result: dict[str, Any]) -> None:
    """Print the figures."""
    emit(machine_line(result["machine"]))
    rows = [
        [
            turn,
            result["turns"]["graph"][turn]["p50_ms"],
            result["turns"]["graph"][turn]["p99_ms"],
            result["turns"]["http"][turn]["p50_ms"],
            result["turns"]["http"][turn]["p99_ms"],
            result["http_added_p50_ms"][turn],
        ]
        for turn in TURNS
    ]
    emit(f"{result['conversations']} conversations per path, interleaved:")
    emit(
        table(
            [
                "turn",
                "graph p50 ms",
                "graph p99 ms",
                "http p50 ms",
                "http p99 ms",
                "added by HTTP (p50) ms",
            ],
            rows,
        )
    )
    worst = max(result["http_added_p50_ms"].values())
    verdict = "within" if worst <= GOAL_MS else "above"
    emit(f"HTTP layer: at most {worst} ms a turn ({verdict} the goal of {GOAL_MS} ms)")


def parse_args(argv: list[str] | None = None) -> tuple[Options, str | None]:
    """The options and ``--json`` file from the command line."""
    return parse_options(Options, "benchmarks.http_overhead", __doc__, FLAGS, argv)


def main(argv: list[str] | None = None) -> None:
    """Run from the command line."""
    options, json_file = parse_args(argv)
    run_and_report(options, json_file, run, report)


if __name__ == "__main__":
    main()
