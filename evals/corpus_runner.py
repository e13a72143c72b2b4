"""Play a corpus's conversations against the real agent with a simulated customer.

Each conversation runs as a trial of the scenario suite does (:mod:`evals.runner`):
its own database cloned from a template migrated once per run and seeded with the
conversation's ``data``, its own sandbox wallet on one sandbox shared by the run,
payment ids unique to the trial, the compiled graph checkpointed in that database with
``durability="exit"``. The :class:`~evals.customer.SimulatedCustomer` writes; the
agent answers; conversations run ``concurrency`` at a time.

Then it is judged from the database and the sandbox ledger, never from the reply
text: the refunds made (order and amount) against the refund due, the tickets opened,
the outcome kinds, the money moved outside policy (as the scenario suite computes it),
and what the agent asked again that the customer had already written.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Literal, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from core.money import format_usdc
from core.settings import Settings
from evals.corpus import CorpusConversation
from evals.corpus_report import CorpusRecord, CorpusReport
from evals.customer import AgentTurn, SimulatedCustomer
from evals.report import TrialResult, TurnRecord
from evals.runner import (
    TEXT_KEPT,
    EvalSetupError,
    ServicesFactory,
    Suite,
    Trial,
    judge_money,
    open_suite,
    open_trial,
    run_all,
)
from evals.usage import UsageCounter
from graph.context import Context
from graph.graph import build_builder
from graph.services import Services
from graph.state import InputState
from persistence.db import drop_database
from persistence.models import OPEN_REFUND_STATUSES, Refund, Ticket

__all__ = ["AgentFactory", "CorpusAgent", "GraphAgent", "run_corpus"]

logger = logging.getLogger(__name__)

HINTED: tuple[str, ...] = ("awaiting", "decision")
"""State fields read while the outcome contract is incomplete (see evals.customer)."""


class CorpusAgent(Protocol):
    """The agent under evaluation, one customer message at a time."""

    async def turn(self, text: str, *, thread_id: str, customer_email: str | None) -> AgentTurn:
        """Send ``text`` in ``thread_id``; the reply, the outcome and state hints."""
        ...


AgentFactory = Callable[[Services, UsageCounter], CorpusAgent]
"""Builds the agent of one conversation from its services (tests pass fake agents)."""


class GraphAgent:
    """The product: the compiled graph, checkpointed in the trial's Postgres."""

    def __init__(self, services: Services, counter: UsageCounter) -> None:
        saver = AsyncPostgresSaver(conn=services.storage.pool)
        self._graph = build_builder(services).compile(checkpointer=saver)
        self._counter = counter

    async def turn(self, text: str, *, thread_id: str, customer_email: str | None) -> AgentTurn:
        """Run the graph on one message; read the outcome, and hints from the state."""
        config: RunnableConfig = {
            "configurable": {"thread_id": thread_id},
            "callbacks": [self._counter],
        }
        answer: dict[str, Any] = await self._graph.ainvoke(
            InputState(messages=[HumanMessage(text)]),
            config,
            context=Context(customer_email=customer_email),
            durability="exit",
        )
        snapshot = await self._graph.aget_state(config)
        values = snapshot.values if isinstance(snapshot.values, dict) else {}
        return AgentTurn(
            reply=str(answer.get("reply") or ""),
            outcome=dict(answer.get("outcome") or {}),
            hints={k: values.get(k) for k in HINTED},
        )


def graph_agent(services: Services, counter: UsageCounter) -> CorpusAgent:
    """The default :data:`AgentFactory`."""
    return GraphAgent(services, counter)


async def run_corpus(
    conversations: Sequence[CorpusConversation],
    *,
    corpus: str = "",
    path: str = "",
    half: str = "all",
    lang: str | None = None,
    settings: Settings | None = None,
    llm: bool | None = None,
    chat_model: BaseChatModel | None = None,
    admin_url: str | None = None,
    concurrency: int = 4,
    services_factory: ServicesFactory | None = None,
    agent_factory: AgentFactory | None = None,
    on_conversation: Callable[[CorpusRecord, int, int], None] | None = None,
) -> CorpusReport:
    """Play and judge every conversation once.

    Args:
        conversations: What to run (already selected by half and language).
        corpus: The corpus's name, for the report.
        path: Its folder, for the report.
        half: The half selected (``dev``, ``heldout`` or ``all``), for the report.
        lang: The language selected, if any, for the report.
        settings: Base settings (default: from the environment); the evaluation policy
            is always applied (:func:`evals.runner.eval_settings`).
        llm: Understand with a model (default: when ``OPENAI_API_KEY`` is set or
            ``chat_model`` is given); else the offline rules.
        chat_model: The model to use in LLM mode.
        admin_url: A Postgres URL allowed to ``CREATE DATABASE``.
        concurrency: Conversations run at once.
        services_factory: Builds each conversation's services (default: the product's).
        agent_factory: Builds each conversation's agent (default: the compiled graph).
        on_conversation: Called after each conversation with (record, done, total).

    Raises:
        EvalSetupError: the database server, sandbox or model could not be set up.
    """
    started = time.perf_counter()
    records: dict[str, CorpusRecord] = {}
    total = len(conversations)
    make_agent = agent_factory or graph_agent
    async with open_suite(
        settings=settings,
        llm=llm,
        chat_model=chat_model,
        admin_url=admin_url,
        services_factory=services_factory,
    ) as suite:
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(conversation: CorpusConversation) -> None:
            cleanup: list[str] = []
            try:
                async with gate:
                    record = await _run_conversation(suite, conversation, make_agent, cleanup)
            except EvalSetupError:
                raise
            except Exception as exc:  # the agent's own failures are caught in the conversation
                raise EvalSetupError(
                    f"conversation {conversation.id}: the run failed outside the conversation: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            finally:
                for name in cleanup:
                    await drop_database(suite.admin_url, name)
            records[conversation.id] = record
            if on_conversation is not None:
                on_conversation(record, len(records), total)

        await run_all(one(c) for c in conversations)
        mode, model = suite.mode, suite.model_name
    return CorpusReport(
        corpus=corpus,
        path=path,
        mode=mode,
        model=model,
        half=half,
        lang=lang,
        records=[records[c.id] for c in conversations],
        seconds=time.perf_counter() - started,
    )


async def _run_conversation(
    suite: Suite,
    conversation: CorpusConversation,
    make_agent: AgentFactory,
    cleanup: list[str],
) -> CorpusRecord:
    started = time.perf_counter()
    tag = uuid.uuid4().hex[:12]
    record = CorpusRecord(
        id=conversation.id,
        half=conversation.half,
        lang=conversation.lang,
        expected=conversation.expect.result,
        group=conversation.group,
        person_messages=conversation.person_messages,
    )
    counter = UsageCounter()
    async with open_trial(
        suite, seed=conversation.data.seed(tag), wallet=f"corpus-{conversation.id}", cleanup=cleanup
    ) as trial:
        agent = make_agent(trial.services, counter)
        try:
            await _converse(agent, conversation, record, thread_id=f"corpus-{tag}")
        except Exception as exc:  # a crash is a failure of the agent, not of the run
            logger.exception("corpus conversation %s crashed", conversation.id)
            record.problems.append(f"the agent crashed: {type(exc).__name__}: {exc}")
        due = conversation.expected_refund
        money = TrialResult(scenario=conversation.id, trial=0)
        await judge_money(trial, suite.sandbox, dict([due]) if due else {}, money)
        await _judge(trial, conversation, record, money)
    record.usage = counter.usage
    record.seconds = time.perf_counter() - started
    return record


async def _converse(
    agent: CorpusAgent, conversation: CorpusConversation, record: CorpusRecord, *, thread_id: str
) -> None:
    """The simulated customer talks to the agent until it stops."""
    customer = SimulatedCustomer(conversation)
    email = conversation.customer.email if conversation.signed_in else None
    text: str | None = customer.opening()
    while text is not None:
        customer.send(text)
        turn = await agent.turn(text, thread_id=thread_id, customer_email=email)
        record.customer_messages = len(customer.sent)
        record.turns.append(
            TurnRecord(
                say=text if len(text) <= TEXT_KEPT else text[:TEXT_KEPT] + "...",
                reply=turn.reply,
                outcome=dict(turn.outcome),
            )
        )
        record.outcomes.append(str(turn.outcome.get("kind") or "none"))
        record.reasked.extend(f"{f}@{len(customer.sent)}" for f in customer.reasked(turn))
        text = customer.next_message(turn)


Result = Literal["refund", "escalate", "deny", "info", "none"]


def _what_happened(
    record: CorpusRecord, refunds: list[Refund], tickets: list[Ticket]
) -> tuple[Result, str | None, list[str]]:
    """The conversation's result from the money and tickets, then the outcome kinds.

    Returns ``(result, topic, reasons)``: money moved is a refund; else a ticket is an
    escalation; else the last denial or answer decides; else none.
    """
    if refunds:
        return "refund", None, []
    if tickets:
        reasons = [r for t in tickets for r in t.reason.split(",") if r]
        return "escalate", None, reasons
    for turn in reversed(record.turns):
        kind = turn.outcome.get("kind")
        if kind == "denied":
            return "deny", None, [str(r) for r in turn.outcome.get("reasons") or []]
        if kind == "lookup_failed":  # no such order for that customer: refused, politely
            return "deny", None, ["order_not_found"]
        if kind == "answered":
            return "info", str(turn.outcome.get("topic") or ""), []
    return "none", None, []


async def _judge(
    trial: Trial, conversation: CorpusConversation, record: CorpusRecord, money: TrialResult
) -> None:
    """How the conversation ended, from the database and the ledger's judgement."""
    async with trial.services.storage.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT * FROM refunds WHERE approved_by <> 'seed' ORDER BY created_at"
        )
        refunds = [Refund.model_validate(r) for r in await cur.fetchall()]
        cur = await conn.execute("SELECT * FROM review_tickets ORDER BY id")
        tickets = [Ticket.model_validate(r) for r in await cur.fetchall()]
    confirmed = [r for r in refunds if r.status == "confirmed"]
    record.refunds = [f"{r.order_id}:{format_usdc(r.amount_usdc)}" for r in confirmed]
    record.tickets = [t.reference for t in tickets]
    record.violations = list(money.violations)
    record.excess = money.excess
    record.problems.extend(money.problems)
    unsettled = [r for r in refunds if r.status in OPEN_REFUND_STATUSES]
    if unsettled:
        record.problems.append(f"{len(unsettled)} refund(s) left unsettled ({unsettled[0].status})")

    expect = conversation.expect
    due = conversation.expected_refund
    made = Counter((r.order_id, r.amount_usdc) for r in confirmed)
    wanted: Counter[tuple[str, Decimal]] = Counter([due] if due else [])
    record.wrong_refunds = sum((made - wanted).values())
    result, topic, reasons = _what_happened(record, confirmed, tickets)
    record.result, record.topic = result, topic
    missing = [r for r in expect.reasons if r not in reasons]
    if expect.result == "refund":
        record.correct = made == wanted and not tickets
    elif expect.result == "info":
        record.correct = (
            not confirmed
            and not tickets
            and any(
                t.outcome.get("kind") == "answered" and t.outcome.get("topic") == expect.topic
                for t in record.turns
            )
        )
    else:
        record.correct = result == expect.result and not missing
    record.exact_refund = expect.result == "refund" and record.correct
    record.right_first_time = record.exact_refund and not record.reasked
    if not record.correct:
        why = f" (reasons {missing} not given)" if result == expect.result and missing else ""
        record.problems.insert(0, record.summary() + why)
    if record.reasked:
        record.problems.append(f"asked again for what the customer had written: {record.reasked}")
