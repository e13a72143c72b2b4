"""Per-turn overhead of the agent, without an LLM, against two baselines.

Question: what does one customer turn cost in the agent (rules mode, Postgres
checkpointing with ``durability="exit"``, the MoltPe sandbox on loopback), and how much of
it is LangGraph, how much our own domain work, and how much the unavoidable SQL and HTTP?

Every conversation has two turns: an *ask* turn ("can I get 20 USDC back?": understand ->
respond, the agent asks for email and order id) and a *refund* turn (the identity:
understand -> lookup -> decide -> refund -> respond, 20 USDC refunded through the
sandbox). Three subjects run the same conversations, interleaved, on one database, one
pool and one saver:

* ``agent``: the compiled agent graph with ``AsyncPostgresSaver`` on the shared pool.
* ``bare``: a five-node ``StateGraph`` on the same saver and durability doing no domain
  work; like the agent it routes its first turn through two nodes, its second through
  all five.
* ``raw``: the SQL statements the agent issues for the turn written by hand (state
  read; order lookup; the gate's fact queries; the intent transaction; the confirm
  transaction; every audit append, node events included; one state row written) plus
  one HTTP refund call to the sandbox, with no framework and no domain objects.

Statements and transactions per turn are counted by the pool's connections.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

import httpx
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph, add_messages
from langgraph.graph.state import CompiledStateGraph

from benchmarks._common import (
    ASK_TEXT,
    COUNTER,
    IDENTITY_TEXT,
    BenchEnv,
    Flag,
    SeededOrder,
    bench_env,
    emit,
    every,
    machine_info,
    machine_line,
    parse_options,
    progress,
    ratio,
    run_and_report,
    stopwatch,
    summary_ms,
    table,
)
from graph.context import Context
from graph.graph import build_builder
from persistence import repo
from persistence.audit import AuditEvent, EventType, append_events
from persistence.db import Pool
from persistence.models import COUNTED_REFUND_STATUSES, OPEN_REFUND_STATUSES
from tools.refunds import idempotency_key_for

Subject = Literal["agent", "bare", "raw"]
SUBJECTS: Final[tuple[Subject, ...]] = ("agent", "bare", "raw")
TURNS: Final = ("ask", "refund")
REFUND_AMOUNT: Final = Decimal("20")


@dataclass(frozen=True, slots=True)
class Options:
    """Size of the run."""

    conversations: int = 500
    """Measured conversations per subject (two turns each)."""

    warmup: int = 20
    """Conversations per subject run first and discarded."""


# --- the bare graph -------------------------------------------------------------------


@dataclass(kw_only=True)
class BareState:
    """Messages like the agent's, plus two small fields."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    turn: int = 0
    step: str = ""


def build_bare() -> StateGraph[BareState, None, BareState, BareState]:
    """Five nodes, no work: ``a`` routes the first turn to ``e``, later ones via b-c-d."""
    builder: StateGraph[BareState, None, BareState, BareState] = StateGraph(BareState)

    async def a(state: BareState) -> dict[str, Any]:
        return {"turn": state.turn + 1, "step": "a"}

    async def b(state: BareState) -> dict[str, Any]:
        return {"step": "b"}

    async def c(state: BareState) -> dict[str, Any]:
        return {"step": "c"}

    async def d(state: BareState) -> dict[str, Any]:
        return {"step": "d"}

    async def e(state: BareState) -> dict[str, Any]:
        return {"step": "e", "messages": [AIMessage("ok")]}

    def route(state: BareState) -> Literal["b", "e"]:
        return "b" if state.turn >= 2 else "e"

    for name, node in (("a", a), ("b", b), ("c", c), ("d", d), ("e", e)):
        builder.add_node(name, node)
    builder.add_edge(START, "a")
    builder.add_conditional_edges("a", route)
    builder.add_edge("b", "c")
    builder.add_edge("c", "d")
    builder.add_edge("d", "e")
    builder.add_edge("e", END)
    return builder


# --- the raw floor ----------------------------------------------------------------------

RAW_STATE_TABLE: Final = """
CREATE TABLE IF NOT EXISTS bench_raw_state (
    thread_id text PRIMARY KEY,
    turn      integer NOT NULL,
    state     jsonb NOT NULL
)
"""
RAW_READ: Final = "SELECT turn, state FROM bench_raw_state WHERE thread_id = %s"
RAW_WRITE: Final = """
INSERT INTO bench_raw_state (thread_id, turn, state) VALUES (%s, %s, %s::jsonb)
ON CONFLICT (thread_id) DO UPDATE SET turn = excluded.turn, state = excluded.state
"""


class RawFloor:
    """The agent's statements for a turn, by hand: psycopg, httpx, the audit append."""

    def __init__(self, pool: Pool, http: httpx.AsyncClient, agent_id: str) -> None:
        self._pool = pool
        self._http = http
        self._agent_id = agent_id
        self.http_seconds: list[float] = []
        """Duration of each refund call to the sandbox."""
        self._trail: list[AuditEvent] = []

    async def setup(self) -> None:
        """Create the one table the floor keeps conversation state in."""
        async with self._pool.connection() as conn:
            await conn.execute(RAW_STATE_TABLE)

    async def _audit(self, event_type: str, thread: str, **fields: Any) -> None:
        payload = fields.pop("payload", {})
        async with self._pool.connection() as conn, conn.transaction():
            await append_events(
                conn, [AuditEvent(event_type, thread_id=thread, payload=payload, **fields)]
            )

    async def _node(self, thread: str, node: str, turn: int) -> None:
        """Note a node transition; the last node writes the turn's trail in one go."""
        self._trail.append(
            AuditEvent(EventType.NODE, thread_id=thread, payload={"node": node, "turn": turn})
        )
        if node == "respond":
            trail, self._trail = self._trail, []
            async with self._pool.connection() as conn, conn.transaction():
                await append_events(conn, trail)

    async def _read(self, thread: str) -> tuple[int, list[dict[str, str]]]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(RAW_READ, (thread,))
            row = await cur.fetchone()
        if row is None:
            return 0, []
        return int(row["turn"]), list(row["state"]["messages"])

    async def _write(self, thread: str, turn: int, messages: list[dict[str, str]]) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(RAW_WRITE, (thread, turn, json.dumps({"messages": messages})))

    async def ask_turn(self, thread: str, text: str) -> None:
        """Read state, audit two node transitions (in one transaction), write state."""
        turn, messages = await self._read(thread)
        turn += 1
        messages.append({"role": "user", "content": text})
        await self._node(thread, "understand", turn)
        messages.append({"role": "assistant", "content": "Please tell me your email and order."})
        await self._node(thread, "respond", turn)
        await self._write(thread, turn, messages)

    async def refund_turn(self, thread: str, text: str, order: SeededOrder) -> str:
        """The refund turn's statements and HTTP call; returns the tx hash."""
        turn, messages = await self._read(thread)
        turn += 1
        messages.append({"role": "user", "content": text})
        order_id, email = order.order_id, order.email
        await self._node(thread, "understand", turn)
        # lookup
        async with self._pool.connection() as conn:
            cur = await conn.execute(repo.SELECT_ORDER, (order_id,))
            row = await cur.fetchone()
        if row is None or row["customer_email"] != email:
            raise RuntimeError(f"raw floor: {order_id} not found for {email}")
        await self._audit(
            EventType.LOOKUP,
            thread,
            order_id=order_id,
            customer_email=email,
            payload={"result": "found", "amount_usdc": row["amount_usdc"]},
        )
        await self._node(thread, "lookup", turn)
        # decide: the gate's facts
        key = f"{thread}:{turn}:{order_id}"
        now = dt.datetime.now(dt.UTC)
        counted = list(COUNTED_REFUND_STATUSES)
        async with self._pool.connection() as conn:
            await conn.execute(repo.SELECT_REFUND_BY_REQUEST, (key,))
            await conn.execute(repo.SELECT_ORDER, (order_id,))
            await conn.execute(
                repo.SELECT_OPEN_REFUND_FOR_ORDER, (order_id, list(OPEN_REFUND_STATUSES))
            )
            await conn.execute(
                repo.CUSTOMER_REFUNDS_SINCE, (email, now - dt.timedelta(days=30), counted)
            )
            await conn.execute(repo.SPENT_SINCE, (repo.utc_day_start(now), counted))
        await self._audit(
            EventType.DECISION,
            thread,
            order_id=order_id,
            customer_email=email,
            payload={"action": "refund", "amount": "20.00", "request_key": key},
        )
        await self._node(thread, "decide", turn)
        # refund: the exactly-once path
        async with self._pool.connection() as conn:
            await conn.execute(repo.SELECT_REFUND_BY_REQUEST, (key,))
            await conn.execute(
                repo.SELECT_OPEN_REFUND_FOR_ORDER, (order_id, list(OPEN_REFUND_STATUSES))
            )
        idempotency_key = idempotency_key_for(key)
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(repo.SELECT_ORDER_FOR_UPDATE, (order_id,))
            locked = await cur.fetchone()
            assert locked is not None
            await conn.execute(
                repo.SELECT_OPEN_REFUND_FOR_ORDER, (order_id, list(OPEN_REFUND_STATUSES))
            )
            cur = await conn.execute(repo.NEXT_ATTEMPT, (order_id,))
            attempt = await cur.fetchone()
            cur = await conn.execute(
                repo.INSERT_REFUND,
                {
                    "id": uuid.uuid4(),
                    "order_id": order_id,
                    "attempt": attempt["n"] if attempt else 1,
                    "request_key": key,
                    "idempotency_key": idempotency_key,
                    "customer_email": email,
                    "payment_id": locked["payment_id"],
                    "amount": REFUND_AMOUNT,
                    "reason": "damaged",
                    "approved_by": "policy_gate",
                    "policy_version": "bench",
                    "thread_id": thread,
                },
            )
            intent = await cur.fetchone()
            assert intent is not None
            await append_events(
                conn,
                [
                    AuditEvent(
                        EventType.REFUND_REQUESTED,
                        thread_id=thread,
                        order_id=order_id,
                        payload={"refund_id": intent["id"], "amount_usdc": REFUND_AMOUNT},
                    )
                ],
            )
            await conn.execute(
                repo.RESERVE_BUDGET, {"tz": "UTC", "amount": REFUND_AMOUNT, "cap": None}
            )
        start = time.perf_counter()
        response = await self._http.post(
            "/v1/payments/refund",
            json={
                "agent_id": self._agent_id,
                "payment_id": locked["payment_id"],
                "amount": "20.000000",
                "reason": "damaged",
            },
            headers={"Idempotency-Key": idempotency_key},
        )
        response.raise_for_status()
        receipt = response.json()
        self.http_seconds.append(time.perf_counter() - start)
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(repo.SELECT_REFUND_FOR_UPDATE, (intent["id"],))
            await conn.execute(
                repo.UPDATE_REFUND,
                {
                    "id": intent["id"],
                    "status": "confirmed",
                    "moltpe_refund_id": receipt["refund_id"],
                    "tx_hash": receipt["tx_hash"],
                    "error_code": None,
                    "error_reason": None,
                    "error_message": None,
                    "notice_due": False,
                },
            )
            await conn.execute(repo.ADD_REFUNDED, {"amount": REFUND_AMOUNT, "order_id": order_id})
            await append_events(
                conn,
                [
                    AuditEvent(
                        EventType.REFUND_CONFIRMED,
                        thread_id=thread,
                        order_id=order_id,
                        payload={"refund_id": intent["id"], "tx_hash": receipt["tx_hash"]},
                    )
                ],
            )
        async with self._pool.connection() as conn:
            await conn.execute(repo.SELECT_ORDER, (order_id,))
        await self._node(thread, "refund", turn)
        tx_hash = str(receipt["tx_hash"])
        messages.append({"role": "assistant", "content": f"Refunded 20.00 USDC: {tx_hash}"})
        await self._node(thread, "respond", turn)
        await self._write(thread, turn, messages)
        return tx_hash


# --- the run ------------------------------------------------------------------------------


@dataclass
class Samples:
    """Durations (seconds) and statement/transaction counts per subject and turn."""

    seconds: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    statements: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    transactions: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, subject: str, turn: str, seconds: float, stmts: int, txs: int) -> None:
        """Record one turn."""
        self.seconds.setdefault((subject, turn), []).append(seconds)
        self.statements.setdefault((subject, turn), []).append(stmts)
        self.transactions.setdefault((subject, turn), []).append(txs)


class Runner:
    """Runs one two-turn conversation through a subject and records what it cost."""

    def __init__(
        self,
        env: BenchEnv,
        agent: CompiledStateGraph[Any, Any, Any, Any],
        bare: CompiledStateGraph[Any, Any, Any, Any],
        raw: RawFloor,
    ) -> None:
        self.env = env
        self.agent = agent
        self.bare = bare
        self.raw = raw
        self.count = 0

    async def conversation(self, subject: Subject, samples: Samples | None) -> None:
        """Both turns of a fresh conversation on a fresh order."""
        self.count += 1
        thread = f"{subject}-{self.count}"
        order = self.env.take_order()
        identity = IDENTITY_TEXT.format(email=order.email, order_id=order.order_id)
        for turn, text in zip(TURNS, (ASK_TEXT, identity), strict=True):
            before = COUNTER.snapshot()
            with stopwatch() as took:
                await self._turn(subject, turn, thread, text, order)
            after = COUNTER.snapshot()
            if samples is not None:
                samples.add(subject, turn, took[0], after[0] - before[0], after[1] - before[1])

    async def _turn(
        self, subject: Subject, turn: str, thread: str, text: str, order: SeededOrder
    ) -> None:
        config: Any = {"configurable": {"thread_id": thread}}
        message: Any = {"messages": [{"role": "user", "content": text}]}
        if subject == "agent":
            result = await self.agent.ainvoke(message, config, context=Context(), durability="exit")
            expected = "asked" if turn == "ask" else "refunded"
            if result["outcome"].get("kind") != expected:
                raise RuntimeError(f"agent {turn} turn ended with {result['outcome']}")
        elif subject == "bare":
            await self.bare.ainvoke(message, config, durability="exit")
        elif turn == "ask":
            await self.raw.ask_turn(thread, text)
        else:
            await self.raw.refund_turn(thread, text, order)


async def run(options: Options, *, admin: str | None = None) -> dict[str, Any]:
    """Measure; return the figures."""
    orders = len(SUBJECTS) * (options.conversations + options.warmup)
    async with bench_env(orders=orders, admin=admin) as env:
        info = await machine_info(env.pool)
        saver: AsyncPostgresSaver = await env.saver()
        services = env.services

        agent = build_builder(services).compile(checkpointer=saver)
        bare = build_bare().compile(checkpointer=saver)
        async with httpx.AsyncClient(
            base_url=env.sandbox.url,
            headers={"Authorization": f"Bearer {env.sandbox.api_key}"},
            timeout=10,
        ) as http:
            raw = RawFloor(env.pool, http, services.agent_id)
            await raw.setup()
            runner = Runner(env, agent, bare, raw)
            for w in range(options.warmup):
                progress(f"warm-up conversation {w + 1}/{options.warmup}")
                for subject in SUBJECTS:
                    await runner.conversation(subject, None)
            samples = Samples()
            raw.http_seconds.clear()
            step = every(options.conversations)
            for i in range(options.conversations):
                if i % step == 0:
                    progress(f"conversation {i + 1}/{options.conversations} of each subject")
                # Rotate the order so that no subject always runs right after another.
                for k in range(len(SUBJECTS)):
                    await runner.conversation(SUBJECTS[(i + k) % len(SUBJECTS)], samples)
    return figures(samples, raw.http_seconds, info, options)


def figures(
    samples: Samples, http: list[float], info: dict[str, Any], options: Options
) -> dict[str, Any]:
    """Summaries, counts and ratios from the samples."""
    turns: dict[str, Any] = {}
    for turn in TURNS:
        per: dict[str, Any] = {}
        for subject in SUBJECTS:
            stats: dict[str, Any] = summary_ms(samples.seconds[(subject, turn)])
            stmts = samples.statements[(subject, turn)]
            txs = samples.transactions[(subject, turn)]
            stats["statements"] = round(sum(stmts) / len(stmts), 1)
            stats["transactions"] = round(sum(txs) / len(txs), 1)
            per[subject] = stats
        agent, bare, raw = per["agent"], per["bare"], per["raw"]
        per["ratios"] = {
            "agent/bare p50": ratio(agent["p50_ms"], bare["p50_ms"]),
            "agent/bare p99": ratio(agent["p99_ms"], bare["p99_ms"]),
            "agent/raw p50": ratio(agent["p50_ms"], raw["p50_ms"]),
            "agent/raw p99": ratio(agent["p99_ms"], raw["p99_ms"]),
            "statements agent/bare": ratio(agent["statements"], bare["statements"]),
            "statements agent/raw": ratio(agent["statements"], raw["statements"]),
        }
        turns[turn] = per
    return {
        "benchmark": "turn_overhead",
        "options": asdict(options),
        "machine": info,
        "turns": turns,
        "raw_refund_http_call": summary_ms(http),
    }


def report(result: dict[str, Any]) -> None:
    """Print the figures as tables."""
    emit(machine_line(result["machine"]))
    emit(f"options: {result['options']}")
    for turn in TURNS:
        per = result["turns"][turn]
        rows = [
            [
                s,
                per[s]["p50_ms"],
                per[s]["p99_ms"],
                per[s]["mean_ms"],
                per[s]["statements"],
                per[s]["transactions"],
            ]
            for s in SUBJECTS
        ]
        emit("", f"{turn} turn (ms per turn, statements and transactions per turn):")
        emit(table(["subject", "p50 ms", "p99 ms", "mean ms", "statements", "transactions"], rows))
        emit("ratios: " + ", ".join(f"{k} {v}" for k, v in per["ratios"].items()))
    http = result["raw_refund_http_call"]
    emit(
        "",
        f"of the raw refund turn, the HTTP refund call alone: p50 {http['p50_ms']} ms, "
        f"p99 {http['p99_ms']} ms",
    )


FLAGS: Final = (
    Flag("--conversations", "measured conversations per subject (default %(default)s)"),
    Flag("--warmup", "discarded conversations per subject first (default %(default)s)"),
)


def parse_args(argv: list[str] | None = None) -> tuple[Options, str | None]:
    """Options from the command line."""
    return parse_options(Options, "benchmarks.turn_overhead", __doc__, FLAGS, argv)


def main(argv: list[str] | None = None) -> None:
    """Run from the command line."""
    run_and_report(*parse_args(argv), run, report)


if __name__ == "__main__":
    main()
