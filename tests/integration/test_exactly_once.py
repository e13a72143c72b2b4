"""Invariant 3, exactly once, against the real Postgres and the sandbox over sockets.

One customer request moves money at most once whatever happens: answers lost after
MoltPe committed, 5xx and refused connections, many agent processes racing on one
order or on one day's budget, a process SIGKILLed between MoltPe's answer and the
database, and LangGraph re-running a node or a whole turn.

"Exactly once" is checked on both books every time: the sandbox's ledger holds one
entry for the request's idempotency key, the refunds row is ``confirmed`` with that
entry's tx_hash, the order's refunded amount equals both the confirmed rows and the
ledger (so it counts the refund once), there is one ``refund_confirmed`` audit event
for it, and the audit chain verifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.limits import Limits
from core.settings import Settings
from graph.context import Context
from graph.services import Services
from moltpe_sandbox import SandboxServer
from persistence import repo
from persistence.audit import AuditLog
from persistence.db import Pool, open_pool
from persistence.runtime import Storage
from tests.harness import Chat
from tests.helpers.refunds import (
    ALICE,
    CAPS,
    FAST,
    ORDER,
    ask,
    assert_books_balance,
    assert_paid_once,
    audit_events,
    closed_port_url,
    ledger_for_key,
    order_refunds,
    order_row,
    refund_calls,
    refund_row,
    refund_service,
)
from tests.integration.moltpe_fixtures import PAYER
from tools.moltpe import MoltPeClient
from tools.refunds import RefundOutcome, RefundRefused, RefundService

# Races dozens of connections on one database: one worker runs these one at a time.
pytestmark = pytest.mark.xdist_group("many_connections")


ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("crash_worker.py")

# --- helpers ----------------------------------------------------------------------------


@dataclasses.dataclass
class AgentProcess:
    """What one agent process holds: its own pool (one connection) and MoltPe client."""

    pool: Pool
    moltpe: MoltPeClient
    refunds: RefundService


@asynccontextmanager
async def agent_processes(
    n: int, db_url: str, sandbox: SandboxServer, agent_id: str, caps: Limits = CAPS
) -> AsyncIterator[list[AgentProcess]]:
    """``n`` independent RefundServices, as if in ``n`` processes: no shared pool or client."""
    settings = Settings(_env_file=None, db_pool_min_size=1, db_pool_max_size=1)
    opened = await asyncio.gather(
        *(open_pool(db_url, settings) for _ in range(n)), return_exceptions=True
    )
    pools = [p for p in opened if not isinstance(p, BaseException)]
    processes: list[AgentProcess] = []
    try:
        for failure in opened:
            if isinstance(failure, BaseException):
                raise failure
        for pool in pools:
            moltpe = MoltPeClient(sandbox.url, sandbox.api_key, **FAST)
            refunds = RefundService(
                audit=AuditLog(pool), moltpe=moltpe, agent_id=agent_id, limits=caps
            )
            processes.append(AgentProcess(pool, moltpe, refunds))
        yield processes
    finally:
        for process in processes:
            await process.moltpe.aclose()
        await asyncio.gather(*(pool.close() for pool in pools))


# --- 1. the answer is lost after MoltPe committed ----------------------------------------


@pytest.mark.parametrize("mode", ["abort", "500"])
async def test_lost_answer_is_healed_by_the_clients_retry(
    services: Services, sandbox: SandboxServer, mode: str
) -> None:
    sandbox.set_faults(drop_next=1, drop_mode=mode)
    pool = services.storage.pool
    async with refund_service(services.storage, sandbox, services.agent_id) as refunds:
        outcome = await ask(refunds, "drop-retry", "20")
    assert outcome.status == "confirmed" and not outcome.replayed
    assert refund_calls(sandbox, "drop-retry") == 2  # the retry carried the same key
    row = await assert_paid_once(pool, sandbox, "drop-retry")
    assert outcome.refund.tx_hash == row.tx_hash
    assert (await order_row(pool)).refunded_usdc == Decimal("20")


@pytest.mark.parametrize("mode", ["abort", "500"])
async def test_lost_answer_without_retries_is_unknown_then_reconciled(
    services: Services, sandbox: SandboxServer, mode: str
) -> None:
    sandbox.set_faults(drop_next=1, drop_mode=mode)
    pool = services.storage.pool
    async with refund_service(
        services.storage, sandbox, services.agent_id, max_retries=0
    ) as refunds:
        outcome = await ask(refunds, "drop-unknown", "20")
        assert outcome.status == "unknown"
        assert outcome.refund.status == "unknown" and outcome.refund.error_code == "OutcomeUnknown"
        # The money moved, the order does not count it yet, but the budget does.
        assert len(ledger_for_key(sandbox, "drop-unknown")) == 1
        assert (await order_row(pool)).refunded_usdc == 0
        async with pool.connection() as conn:
            assert await repo.spent_since(conn, repo.utc_day_start()) == Decimal("20")
        assert len(await audit_events(pool, "refund_outcome_unknown", outcome.refund.id)) == 1

        [settled] = await refunds.reconcile_all()
        assert settled.status == "confirmed"
        assert await refunds.reconcile_all() == []  # nothing left to settle
        again = await ask(refunds, "drop-unknown", "20")  # the request re-run
    assert again.replayed and again.refund.tx_hash == settled.refund.tx_hash
    assert refund_calls(sandbox, "drop-unknown") == 2  # first try + reconciliation only
    row = await assert_paid_once(pool, sandbox, "drop-unknown")
    assert (await order_row(pool)).refunded_usdc == Decimal("20")
    assert len(await audit_events(pool, "refund_reconciled", row.id)) == 1


# --- 2. concurrent requests from many processes ----------------------------------------


async def test_fifty_processes_racing_on_one_order_pay_once(
    services: Services, sandbox: SandboxServer, db_url: str
) -> None:
    # Every amount is over half the order (23..45 of 45): at most one can ever fit.
    amounts = [str(23 + i % 23) for i in range(50)]
    async with agent_processes(50, db_url, sandbox, services.agent_id) as processes:
        async with asyncio.timeout(30):  # a deadlock would hang here
            results = await asyncio.gather(
                *(
                    ask(p.refunds, f"race-{i}", amount)
                    for i, (p, amount) in enumerate(zip(processes, amounts, strict=True))
                ),
                return_exceptions=True,
            )
    won = [r for r in results if isinstance(r, RefundOutcome)]
    refused = [r for r in results if isinstance(r, RefundRefused)]
    assert len(won) + len(refused) == 50, [r for r in results if isinstance(r, Exception)]
    [winner] = won
    assert winner.status == "confirmed"
    codes = {r.code for r in refused}
    assert codes <= {"refund_in_progress", "exceeds_order", "already_refunded"}, codes

    pool = services.storage.pool
    [row] = await order_refunds(pool)  # the losers never recorded an intent
    assert row.id == winner.refund.id
    await assert_paid_once(pool, sandbox, row.request_key)
    assert len(sandbox.ledger()) == 1
    assert (await order_row(pool)).refunded_usdc == winner.refund.amount_usdc


async def test_fifty_processes_partial_refunds_stop_at_the_order_amount(
    services: Services, sandbox: SandboxServer, db_url: str
) -> None:
    """Fifty 10 USDC requests on a 45 USDC order, each retried while another is in flight:
    exactly four are paid (40), the rest are told the order has too little left."""

    async def persist(refunds: RefundService, key: str) -> RefundOutcome | RefundRefused:
        while True:
            try:
                return await ask(refunds, key, "10")
            except RefundRefused as refused:
                if refused.code != "refund_in_progress":
                    return refused
            await asyncio.sleep(random.uniform(0.005, 0.02))

    async with agent_processes(50, db_url, sandbox, services.agent_id) as processes:
        async with asyncio.timeout(30):
            results = await asyncio.gather(
                *(persist(p.refunds, f"part-{i}") for i, p in enumerate(processes))
            )
    paid = [r for r in results if isinstance(r, RefundOutcome)]
    refused = [r for r in results if isinstance(r, RefundRefused)]
    assert [r.status for r in paid] == ["confirmed"] * 4
    assert {r.code for r in refused} == {"exceeds_order"} and len(refused) == 46

    pool = services.storage.pool
    rows = await order_refunds(pool)
    assert [r.status for r in rows] == ["confirmed"] * 4
    for row in rows:
        await assert_paid_once(pool, sandbox, row.request_key)
    order = await assert_books_balance(pool, sandbox)
    assert order.refunded_usdc == Decimal("40") and len(sandbox.ledger()) == 4


async def test_concurrent_copies_of_one_request_pay_once_and_agree(
    services: Services, sandbox: SandboxServer, db_url: str
) -> None:
    """The same request (one key) run by ten processes at once: one payment, one answer."""
    async with agent_processes(10, db_url, sandbox, services.agent_id) as processes:
        async with asyncio.timeout(30):
            results = await asyncio.gather(
                *(ask(p.refunds, "copied", "20") for p in processes), return_exceptions=True
            )
    pool = services.storage.pool
    row = await assert_paid_once(pool, sandbox, "copied")
    assert all(isinstance(r, RefundOutcome) for r in results), results
    assert {r.refund.tx_hash for r in results if isinstance(r, RefundOutcome)} == {row.tx_hash}
    assert len(await order_refunds(pool)) == 1


CUSTOMERS = 12
ORDER_AMOUNT = Decimal("30")


async def test_daily_budget_holds_across_orders_under_concurrency(
    storage: Storage, sandbox: SandboxServer, db_url: str
) -> None:
    """Twelve customers' 30 USDC refunds at once against a 100 USDC day, 25 of it already
    possibly spent (an unknown outcome): exactly two fit. The sandbox's own caps are set
    wide open, so only the gate's budget (a lock shared by every process) stands guard."""
    agent = sandbox.create_agent(per_tx_cap=Decimal("1000"), daily_cap=Decimal("1000"))
    async with storage.pool.connection() as conn, conn.transaction():
        for n in range(CUSTOMERS + 1):
            amount = Decimal("25") if n == CUSTOMERS else ORDER_AMOUNT
            await conn.execute(
                "INSERT INTO customers (email, name) VALUES (%s, %s)", (f"c{n}@example.com", "")
            )
            await conn.execute(
                "INSERT INTO orders (id, customer_email, payment_id, payer_address, "
                "amount_usdc, created_at) VALUES (%s, %s, %s, %s, %s, now() - interval '1 day')",
                (f"ORD-B{n}", f"c{n}@example.com", f"pay_b{n}", PAYER, amount),
            )
            sandbox.register_payment(f"pay_b{n}", PAYER, amount)

    # 25 USDC whose answer was lost: it may have moved, so it counts against today.
    sandbox.set_faults(drop_next=1)
    async with refund_service(storage, sandbox, agent, max_retries=0) as refunds:
        lost = await ask(
            refunds,
            "budget-lost",
            "25",
            order_id=f"ORD-B{CUSTOMERS}",
            email=f"c{CUSTOMERS}@example.com",
        )
    assert lost.status == "unknown"

    async with agent_processes(CUSTOMERS, db_url, sandbox, agent) as processes:
        async with asyncio.timeout(30):
            results = await asyncio.gather(
                *(
                    ask(
                        p.refunds,
                        f"budget-{n}",
                        "30",
                        order_id=f"ORD-B{n}",
                        email=f"c{n}@example.com",
                    )
                    for n, p in enumerate(processes)
                ),
                return_exceptions=True,
            )
        paid = [r for r in results if isinstance(r, RefundOutcome)]
        refused = [r for r in results if isinstance(r, RefundRefused)]
        assert [r.status for r in paid] == ["confirmed"] * 2, results
        assert [r.code for r in refused] == ["over_daily_budget"] * (CUSTOMERS - 2)
        # Settling the lost one (through any process) confirms it once: 85 of 100 spent.
        [settled] = await processes[0].refunds.reconcile_all()
    assert settled.status == "confirmed"

    pool = storage.pool
    for request_key in ["budget-lost", *(r.refund.request_key for r in paid)]:
        await assert_paid_once(pool, sandbox, request_key)
    total = sum((Decimal(e["amount"]) for e in sandbox.ledger()), Decimal(0))
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT sum(refunded_usdc) AS total FROM orders")
        row = await cur.fetchone()
        assert await repo.spent_since(conn, repo.utc_day_start()) == total
    assert row is not None and row["total"] == total == Decimal("85")
    assert total <= CAPS.daily_cap


# --- 3. SIGKILL between MoltPe's answer and the database -------------------------------


def worker_env(services: Services, sandbox: SandboxServer, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LANGSMITH_"))}
    env.update(
        DATABASE_URL=db_url,
        MOLTPE_BASE_URL=sandbox.url,
        MOLTPE_API_KEY=sandbox.api_key,
        MOLTPE_AGENT_ID=services.agent_id,
    )
    return env


async def kill_after_moltpe_commits(
    services: Services, sandbox: SandboxServer, db_url: str, log: Path, request_key: str
) -> dict[str, Any]:
    """Run a refund in a worker process and SIGKILL it once the sandbox has committed.

    The sandbox drips its answer one byte at a time, so the worker is still waiting
    for it (nothing recorded after the intent) when the ledger shows the refund.
    """
    sandbox.set_faults(drip_ms_per_byte=100)
    with log.open("w") as out:
        worker = await asyncio.create_subprocess_exec(
            *(sys.executable, str(WORKER), "refund", request_key, ORDER, ALICE, "20"),
            cwd=ROOT,
            env=worker_env(services, sandbox, db_url),
            stdout=out,
            stderr=out,
        )
        try:
            give_up = time.monotonic() + 30
            while not (entries := ledger_for_key(sandbox, request_key)):
                assert worker.returncode is None, await asyncio.to_thread(log.read_text)
                assert time.monotonic() < give_up, await asyncio.to_thread(log.read_text)
                await asyncio.sleep(0.01)
            os.kill(worker.pid, signal.SIGKILL)
        finally:
            if worker.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.kill()
            await asyncio.wait_for(worker.wait(), 10)
    sandbox.set_faults()
    assert worker.returncode == -signal.SIGKILL
    output = await asyncio.to_thread(log.read_text)
    assert "calling" in output and '"status"' not in output  # it never got an answer
    [entry] = entries
    return entry


@pytest.mark.slow
@pytest.mark.parametrize("recovery", ["restart", "same_request", "new_request"])
async def test_sigkill_after_moltpe_committed_is_reconciled_once(
    services: Services, sandbox: SandboxServer, db_url: str, tmp_path: Path, recovery: str
) -> None:
    pool = services.storage.pool
    entry = await kill_after_moltpe_commits(
        services, sandbox, db_url, tmp_path / "worker.log", "crashed"
    )
    # The crash left the intent, committed before the call, and nothing after it.
    crashed = await refund_row(pool, "crashed")
    assert crashed.status == "intent" and crashed.tx_hash is None
    assert (await order_row(pool)).refunded_usdc == 0

    if recovery == "restart":
        # A new agent process starts once the refund is older than any sender may still be
        # sending it (RECONCILE_AFTER_SECONDS, here 0): start-up reconciliation settles it.
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(WORKER), "start"],
            cwd=ROOT,
            env={**worker_env(services, sandbox, db_url), "RECONCILE_AFTER_SECONDS": "0.001"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0 and "started" in done.stdout, done.stderr
        assert len(await audit_events(pool, "refund_reconciled", crashed.id)) == 1
    elif recovery == "same_request":
        # The same request re-run (the node after recovery) learns the first outcome.
        outcome = await ask(services.refunds, "crashed", "20")
        assert outcome.status == "confirmed" and outcome.refund.tx_hash == entry["tx_hash"]
    else:
        # A new request on the order reconciles the unsettled one before anything else.
        outcome = await ask(services.refunds, "after-crash", "25")
        assert outcome.status == "confirmed"
        await assert_paid_once(pool, sandbox, "after-crash")
        # Asking for more than is left now is refused: the crashed 20 is counted.
        with pytest.raises(RefundRefused) as info:
            await ask(services.refunds, "one-more", "1")
        assert info.value.code == "already_refunded"

    row = await assert_paid_once(pool, sandbox, "crashed")
    assert row.tx_hash == entry["tx_hash"]
    assert refund_calls(sandbox, "crashed") == 2  # the killed call and one reconciliation
    async with pool.connection() as conn:
        assert await repo.open_refunds(conn) == []
    expected = Decimal("45") if recovery == "new_request" else Decimal("20")
    assert (await order_row(pool)).refunded_usdc == expected


# --- 4. the same request re-run: node re-execution -------------------------------------


async def test_the_same_request_twice_pays_once(services: Services, sandbox: SandboxServer) -> None:
    first = await ask(services.refunds, "twice", "20")
    second = await ask(services.refunds, "twice", "20")
    assert first.status == second.status == "confirmed"
    assert second.replayed and second.refund.tx_hash == first.refund.tx_hash
    assert refund_calls(sandbox, "twice") == 1  # the re-run never reached MoltPe
    await assert_paid_once(services.storage.pool, sandbox, "twice")


async def test_a_turn_rerun_from_its_checkpoint_pays_once(
    services: Services, sandbox: SandboxServer
) -> None:
    chat = Chat(services)
    thread = chat.new_thread()
    config: Any = {"configurable": {"thread_id": thread}}
    await chat.say(thread, f"hi, I'm {ALICE} with order {ORDER}")
    before = await chat.graph.aget_state(config)  # the checkpoint before the refund turn
    text = "please refund 20 USDC"
    first = await chat.say(thread, text)
    assert first["outcome"]["kind"] == "refunded"

    # The whole turn again from the pre-turn checkpoint, as after a crash mid-turn.
    turn: Any = {"messages": [{"role": "user", "content": text}]}
    again = await chat.graph.ainvoke(
        turn,
        before.config,
        context=Context(),
        durability="exit",
    )
    assert again["outcome"]["kind"] == "refunded"
    assert again["outcome"]["tx_hash"] == first["outcome"]["tx_hash"]
    assert again["outcome"]["tx_hash"] in again["reply"]
    state = await chat.state(thread)
    assert state["decision"]["reasons"] == ["already_decided"]  # decide's replay path

    [row] = await order_refunds(services.storage.pool)
    await assert_paid_once(services.storage.pool, sandbox, row.request_key)
    assert refund_calls(sandbox) == 1


class ProcessDied(Exception):
    """Stands for the process dying right after the refund node paid."""


class DiesOnceAfterPaying(RefundService):
    """Pays for real, then 'dies' before the node can return (once)."""

    died = False

    async def refund(self, **request: Any) -> RefundOutcome:
        outcome = await super().refund(**request)
        if not self.died:
            self.died = True
            raise ProcessDied("killed after MoltPe answered, before the checkpoint")
        return outcome


async def test_refund_node_rerun_after_dying_mid_node_pays_once(
    services: Services, sandbox: SandboxServer
) -> None:
    dying = DiesOnceAfterPaying(
        audit=services.storage.audit,
        moltpe=services.moltpe,
        agent_id=services.agent_id,
        limits=CAPS,
    )
    chat = Chat(dataclasses.replace(services, refunds=dying, resources=AsyncExitStack()))
    config: Any = {"configurable": {"thread_id": chat.new_thread()}}
    message: Any = {"messages": [{"role": "user", "content": f"{ALICE} {ORDER} refund 20 USDC"}]}
    with pytest.raises(ProcessDied):
        await chat.graph.ainvoke(message, config, context=Context(), durability="sync")
    [paid] = sandbox.ledger()
    assert (await chat.graph.aget_state(config)).next == ("refund",)

    # Recovery resumes the thread: LangGraph runs the refund node again from its top.
    resumed = await chat.graph.ainvoke(None, config, context=Context(), durability="sync")
    assert resumed["outcome"]["kind"] == "refunded"
    assert resumed["outcome"]["tx_hash"] == paid["tx_hash"]
    [row] = await order_refunds(services.storage.pool)
    await assert_paid_once(services.storage.pool, sandbox, row.request_key)
    assert refund_calls(sandbox) == 1


# --- 5. retries, timeouts and refusals at the refund path ------------------------------


async def test_5xx_until_retries_run_out_is_unknown_never_failed(
    services: Services, sandbox: SandboxServer
) -> None:
    sandbox.set_faults(fail_next=10)
    pool = services.storage.pool
    async with refund_service(services.storage, sandbox, services.agent_id) as refunds:
        outcome = await ask(refunds, "5xx", "20")
        # A 5xx may come after a commit: the outcome is unknown, never "failed".
        assert outcome.status == "unknown" and outcome.refund.status == "unknown"
        assert outcome.refund.error_code == "OutcomeUnknown"
        assert refund_calls(sandbox, "5xx") == 4  # 1 + 3 retries, one key
        assert len(await audit_events(pool, "refund_outcome_unknown", outcome.refund.id)) == 1
        assert await audit_events(pool, "refund_failed", outcome.refund.id) == []

        # Anything new on the order first tries to settle it; still failing, it waits.
        with pytest.raises(RefundRefused) as info:
            await ask(refunds, "5xx-other", "5")
        assert info.value.code == "refund_in_progress"
        assert refund_calls(sandbox, "5xx") == 8 and refund_calls(sandbox, "5xx-other") == 0
        assert sandbox.ledger() == []

        sandbox.set_faults()  # MoltPe recovers
        [settled] = await refunds.reconcile_all()
        assert settled.status == "confirmed"
    await assert_paid_once(pool, sandbox, "5xx")
    assert (await order_row(pool)).refunded_usdc == Decimal("20")


async def test_connection_refused_fails_with_nothing_moved(
    services: Services, sandbox: SandboxServer
) -> None:
    pool = services.storage.pool
    async with refund_service(
        services.storage, sandbox, services.agent_id, base_url=closed_port_url()
    ) as unreachable:
        outcome = await ask(unreachable, "refused", "20")
    assert outcome.status == "failed" and outcome.refund.error_code == "Unavailable"
    assert len(await audit_events(pool, "refund_failed", outcome.refund.id)) == 1
    assert refund_calls(sandbox) == 0 and sandbox.ledger() == []
    async with pool.connection() as conn:
        assert await repo.spent_since(conn, repo.utc_day_start()) == 0  # not counted

    # Re-running that request reports its failure; it is never sent later on its own.
    again = await ask(services.refunds, "refused", "20")
    assert again.status == "failed" and again.replayed and refund_calls(sandbox) == 0
    # A new request on the same order works.
    new = await ask(services.refunds, "after-refused", "20")
    assert new.status == "confirmed"
    await assert_paid_once(pool, sandbox, "after-refused")
    assert (await order_row(pool)).refunded_usdc == Decimal("20")


async def narrow_moltpe_policy(services: Services) -> None:
    """MoltPe's own per-transaction cap below the gate's (10 < 50): the second wall bites."""
    await services.moltpe.set_policy(
        services.agent_id, daily_cap=Decimal("100"), per_tx_cap=Decimal("10"), refund_only=True
    )


async def test_moltpe_policy_violation_fails_with_nothing_moved(
    services: Services, sandbox: SandboxServer
) -> None:
    await narrow_moltpe_policy(services)
    pool = services.storage.pool
    outcome = await ask(services.refunds, "over-moltpe-cap", "20")
    assert outcome.status == "failed" and outcome.policy_violation
    assert (outcome.refund.error_code, outcome.refund.error_reason) == (
        "POLICY_VIOLATION",
        "per_tx_cap",
    )
    [event] = await audit_events(pool, "refund_policy_violation", outcome.refund.id)
    assert event["payload"]["error_code"] == "POLICY_VIOLATION"
    assert sandbox.ledger() == [] and (await order_row(pool)).refunded_usdc == 0
    # The refusal is final for that request: re-running it does not call MoltPe again.
    again = await ask(services.refunds, "over-moltpe-cap", "20")
    assert again.replayed and again.status == "failed"
    assert refund_calls(sandbox, "over-moltpe-cap") == 1
    await assert_books_balance(pool, sandbox)


async def test_moltpe_policy_violation_escalates_with_the_moltpe_error(
    services: Services, sandbox: SandboxServer
) -> None:
    await narrow_moltpe_policy(services)
    chat = Chat(services)
    r = await chat.say(chat.new_thread(), f"{ALICE} here, {ORDER}: refund 20 USDC please")
    assert r["outcome"]["kind"] == "escalated"
    assert r["outcome"]["reasons"] == ["refund_policy_violation"]
    assert r["outcome"]["ticket"] in r["reply"]
    assert sandbox.ledger() == []
    async with services.storage.pool.connection() as conn:
        [ticket] = await repo.list_tickets(conn, status="open")
    assert ticket.reference == r["outcome"]["ticket"] and ticket.order_id == ORDER
    assert ticket.context["moltpe_error"] == {"code": "POLICY_VIOLATION", "reason": "per_tx_cap"}
    assert ticket.context["attempted_action"]["status"] == "failed"
    [row] = await order_refunds(services.storage.pool)
    assert row.status == "failed" and row.error_code == "POLICY_VIOLATION"
    await assert_books_balance(services.storage.pool, sandbox)
