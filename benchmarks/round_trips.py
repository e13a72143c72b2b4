"""Database round trips per turn, counted on the wire (BEGIN and COMMIT included).

Question: how many times does one customer turn wait for Postgres? The services' pool
connects through a small TCP proxy on loopback that counts, per connection, every
time the client starts sending after the server has answered: one round trip. A
pipelined batch of statements is one round trip; a ``BEGIN``, each statement and the
``COMMIT`` of an ordinary transaction are one each. Statements and transactions are
counted beside it (:data:`benchmarks._common.COUNTER`).

Two turns of each conversation are measured through the compiled graph with the
project's saver (``durability="exit"``): the ``ask`` turn (a refund asked for, no
identity yet) and the ``refund`` turn (identity given: lookup, decision, exactly-once
refund through the sandbox, reply); then the same two turns as HTTP requests to the
ASGI app (``http ask``, ``http refund``, each with an ``Idempotency-Key``), which add the
conversation read, the rate limits, the lease and its release. The goal for the refund
turn is at most 25.

The turn's audit events are chained off its path (a background chainer in the product):
here the chainer is not woken by commits; after each turn the events are chained by hand
and those round trips are counted in a column of their own (statements count the turn's
only while it runs).

    uv run python -m benchmarks.round_trips [--conversations 20] [--json FILE]
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field
from typing import Any, Final

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from benchmarks._common import (
    ASK_TEXT,
    COUNTER,
    IDENTITY_TEXT,
    BenchEnv,
    bench_env,
    benchmark_parser,
    emit,
    machine_info,
    machine_line,
    progress,
    run_and_report,
    table,
)
from graph.context import Context
from graph.graph import build_builder

GOAL_REFUND_TURN: Final = 25
CHUNK: Final = 65536


@dataclass(slots=True)
class WireCounter:
    """A loopback TCP proxy to Postgres that counts round trips of every connection."""

    host: str
    port: int
    round_trips: int = 0
    bytes_sent: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> int:
        """Listen on a free loopback port; return it."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def route(self, url: str) -> str:
        """``url`` pointing at this proxy instead of the server."""
        assert self._server is not None
        params = conninfo_to_dict(url)
        params["host"] = "127.0.0.1"
        params["port"] = str(self._server.sockets[0].getsockname()[1])
        params.pop("hostaddr", None)
        return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        answered = [True]  # the server spoke last (or nobody yet): the next send is a trip

        async def client_to_server() -> None:
            while data := await reader.read(CHUNK):
                if answered[0]:
                    self.round_trips += 1
                    answered[0] = False
                self.bytes_sent += len(data)
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def server_to_client() -> None:
            while data := await up_reader.read(CHUNK):
                answered[0] = True
                writer.write(data)
                await writer.drain()
            writer.close()

        try:
            await asyncio.gather(client_to_server(), server_to_client())
        except (ConnectionError, OSError):
            pass

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()


async def run(conversations: int) -> dict[str, Any]:
    """Measure; return the figures."""
    from benchmarks._common import admin_url

    admin = await admin_url()
    params = conninfo_to_dict(admin)
    host = str(params.get("host") or "127.0.0.1")
    if host.startswith("/"):
        raise SystemExit("round trips are counted over TCP: point BENCH_DATABASE_URL at host:port")
    counter = WireCounter(host, int(params.get("port") or 5432))
    await counter.start()
    samples: dict[str, dict[str, list[int]]] = {
        turn: {"round_trips": [], "statements": [], "transactions": [], "chaining": []}
        for turn in ("ask", "refund", "http ask", "http refund")
    }
    try:
        async with bench_env(
            orders=2 * (conversations + 1), admin=admin, route=counter.route, pool_size=4
        ) as env:
            info = await machine_info(env.pool)
            # The turn's own round trips; the chain's (off the turn's path) beside them.
            env.storage.audit.chain_after_commit = False
            saver = await env.saver()
            agent = build_builder(env.services).compile(checkpointer=saver)
            for c in range(conversations + 1):  # the first conversation warms up
                order = env.take_order()
                thread = f"rt-{c}"
                texts = {
                    "ask": ASK_TEXT,
                    "refund": IDENTITY_TEXT.format(email=order.email, order_id=order.order_id),
                }
                for turn, text in texts.items():
                    trips, (statements, transactions) = counter.round_trips, COUNTER.snapshot()
                    message: Any = {"messages": [{"role": "user", "content": text}]}
                    out = await agent.ainvoke(
                        message,
                        {"configurable": {"thread_id": thread}},
                        context=Context(),
                        durability="exit",
                    )
                    after, (stmts, txs) = counter.round_trips, COUNTER.snapshot()
                    await env.storage.audit.flush()
                    if c == 0:
                        continue
                    samples[turn]["round_trips"].append(after - trips)
                    samples[turn]["statements"].append(stmts - statements)
                    samples[turn]["transactions"].append(txs - transactions)
                    samples[turn]["chaining"].append(counter.round_trips - after)
                    if turn == "refund" and out["outcome"].get("kind") != "refunded":
                        raise RuntimeError(f"{thread}: no refund: {out['outcome']}")
                if c % max(1, conversations // 5) == 0:
                    progress(f"conversation {c}/{conversations}")
            await through_http(env, counter, conversations, samples)
    finally:
        await counter.stop()
    return {
        "benchmark": "round_trips",
        "machine": info,
        "conversations": conversations,
        "turns": {
            turn: {name: statistics.median(values) for name, values in figures.items()}
            for turn, figures in samples.items()
        },
        "goal_refund_turn_round_trips": GOAL_REFUND_TURN,
    }


async def through_http(
    env: BenchEnv, counter: WireCounter, conversations: int, samples: dict[str, Any]
) -> None:
    """The same two turns as ``POST /v1/conversations/{id}/messages`` to the ASGI app."""
    import httpx

    from server.app import create_app

    app = create_app(settings=env.settings, services=env.services)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
    ):
        for c in range(conversations + 1):
            order = env.take_order()
            created = await http.post("/v1/conversations")
            created.raise_for_status()
            url = f"/v1/conversations/{created.json()['thread_id']}/messages"
            texts = {
                "http ask": ASK_TEXT,
                "http refund": IDENTITY_TEXT.format(email=order.email, order_id=order.order_id),
            }
            for turn, text in texts.items():
                trips, (statements, transactions) = counter.round_trips, COUNTER.snapshot()
                answer = await http.post(
                    url, json={"text": text}, headers={"Idempotency-Key": f"{turn}-{c}"}
                )
                answer.raise_for_status()
                after, (stmts, txs) = counter.round_trips, COUNTER.snapshot()
                await env.storage.audit.flush()
                if c == 0:
                    continue
                samples[turn]["round_trips"].append(after - trips)
                samples[turn]["statements"].append(stmts - statements)
                samples[turn]["transactions"].append(txs - transactions)
                samples[turn]["chaining"].append(counter.round_trips - after)
                if turn == "http refund" and answer.json()["outcome"].get("kind") != "refunded":
                    raise RuntimeError(f"no refund through HTTP: {answer.json()['outcome']}")


def report(result: dict[str, Any]) -> None:
    """Print the figures."""
    emit(machine_line(result["machine"]))
    rows = [
        [turn, f["round_trips"], f["statements"], f["transactions"], f["chaining"]]
        for turn, f in result["turns"].items()
    ]
    emit(f"median per turn over {result['conversations']} conversations:")
    emit(
        table(
            [
                "turn",
                "round trips (wire)",
                "statements",
                "transactions",
                "chaining its events (off the turn's path)",
            ],
            rows,
        )
    )
    refund = result["turns"]["refund"]["round_trips"]
    verdict = "within" if refund <= GOAL_REFUND_TURN else "above"
    emit(f"refund turn: {refund} round trips ({verdict} the goal of {GOAL_REFUND_TURN})")


def main(argv: list[str] | None = None) -> None:
    """Run from the command line."""
    parser = benchmark_parser("benchmarks.round_trips", __doc__)
    parser.add_argument("--conversations", type=int, default=20, help="measured conversations")
    args = parser.parse_args(argv)
    run_and_report(max(1, args.conversations), args.json, run, report)


if __name__ == "__main__":
    main()
