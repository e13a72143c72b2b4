"""Fault matrix: refund turns through MoltPe faults, killed processes and a restarted database.

Each trial is one customer asking for a refund over HTTP with an ``Idempotency-Key``,
while one fault from the matrix strikes (in turn):

* ``none``: nothing goes wrong (the control);
* ``moltpe_5xx``: MoltPe answers 500 to the first call;
* ``answer_lost``: MoltPe pays and the answer is lost on the way back;
* ``serve_killed``: ``serve`` is SIGKILLed while MoltPe holds the refund, then restarted;
* ``serve_killed_anywhere``: ``serve`` is SIGKILLed at a random moment of the turn (up to
  a second after the message is sent, MoltPe answering in 200 ms), then restarted;
* ``postgres_restart``: the database (an embedded one of its own) is stopped and started
  again while MoltPe holds the refund;
* ``connections_cut``: every connection of ``serve`` is terminated while MoltPe holds it.

The client retries with the same key until it gets an answer, as a client should. Then
the reconciler (built into ``serve``) is given time to settle what is left, and the run
counts what must be zero: refunds paid twice, payments the database does not record as
confirmed, turns lost (no answer, or the customer's message missing from the
transcript), refunds still unsettled, customers of a late settlement not told, days whose
budget counter differs from their counted refunds, and an audit chain that does not
verify or still has events waiting to be chained. Exit 1 when any of them is not zero.

    uv run python -m benchmarks.fault_matrix [--trials 14] [--seed 0] [--json FILE]

It starts its own PostgreSQL (in a temporary folder), its own sandbox and ``serve``, and
stops all of them at the end, whatever happens; the shared server is never touched.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import httpx
import psycopg
from psycopg.rows import dict_row

from benchmarks._common import benchmark_parser, emit, progress, seed_file, table, write_json
from core.settings import Settings
from moltpe_sandbox import SandboxServer, start_sandbox
from persistence.audit import verify_chain
from persistence.embedded import stop_embedded
from persistence.models import COUNTED_REFUND_STATUSES
from persistence.runtime import open_storage
from persistence.seed import apply_seed

START_POSTGRES: Final = """
import sys
from pathlib import Path
from persistence.embedded import start_embedded
print(start_embedded(Path(sys.argv[1])))
"""
FAULTS: Final = (
    "none",
    "moltpe_5xx",
    "answer_lost",
    "serve_killed",
    "serve_killed_anywhere",
    "postgres_restart",
    "connections_cut",
)
ROOT: Final = Path(__file__).resolve().parents[1]
WAIT: Final = 90.0  # seconds any one wait may take
HOLD_MS: Final = 2500  # how long MoltPe holds a refund while a process or the database dies
AMOUNT: Final = "5"


class Deployment:
    """An embedded PostgreSQL, the sandbox and one ``serve``, all of this run's own."""

    def __init__(self, folder: Path, sandbox: SandboxServer, agent_id: str) -> None:
        self.data_dir = folder / "pgdata"
        self.url = self.start_postgres()
        self.sandbox = sandbox
        self.agent_id = agent_id
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """``serve``'s environment: this run's database and sandbox, short leases."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "TEST_DATABASE", "MOLTPE_", "OPENAI_", "AUDIT_"))
        }
        env.update(
            DATABASE_URL=self.url,
            MOLTPE_BASE_URL=self.sandbox.url,
            MOLTPE_API_KEY=self.sandbox.api_key,
            MOLTPE_AGENT_ID=self.agent_id,
            REVIEWER_TOKENS="",
            DB_POOL_MAX_SIZE="4",
            TURN_LEASE_SECONDS="2",
            RECONCILE_INTERVAL_SECONDS="0.2",
            RECONCILE_AFTER_SECONDS="1",
            RATE_LIMIT_PER_IP="100000",
            RATE_LIMIT_PER_CONVERSATION="100000",
        )
        return env

    def start_serve(self) -> None:
        """Start ``serve`` and wait until it is healthy."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        give_up = time.monotonic() + WAIT
        while time.monotonic() < give_up:
            if self.process.poll() is not None:
                raise RuntimeError("serve exited while starting")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("serve did not become healthy")

    def kill_serve(self) -> None:
        """SIGKILL ``serve`` (nothing of it runs its shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def ensure_serving(self) -> None:
        """Start ``serve`` again if it is not running (as a supervisor would)."""
        if self.process is None or self.process.poll() is not None:
            self.start_serve()

    def start_postgres(self) -> str:
        """Start the embedded server in a process of its own; its URL.

        Not in this process: pgserver keeps one handle per folder per process, and would
        hand back the stopped server after a restart.
        """
        done = subprocess.run(
            [sys.executable, "-c", START_POSTGRES, str(self.data_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=True,
        )
        return done.stdout.strip().splitlines()[-1]

    def restart_postgres(self) -> None:
        """Stop the database while a turn uses it, and start it again."""
        stop_embedded(self.data_dir)
        self.start_postgres()

    def cut_connections(self) -> None:
        """Terminate every client connection to the database but this one."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )

    def close(self) -> None:
        """Stop ``serve`` and the database."""
        self.kill_serve()
        stop_embedded(self.data_dir)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(url: str, count: int) -> list[tuple[str, str]]:
    seed, orders = seed_file(count)

    async def work() -> None:
        storage = await open_storage(Settings(_env_file=None), url=url)
        try:
            async with storage.pool.connection() as conn:
                await apply_seed(conn, seed)
        finally:
            await storage.close()

    asyncio.run(work())
    return [(o.order_id, o.email) for o in orders] if orders else []


def _post(base: str, path: str, **kwargs: Any) -> httpx.Response | None:
    try:
        return httpx.post(f"{base}{path}", timeout=60, **kwargs)
    except httpx.TransportError:
        return None


def run_trial(
    dep: Deployment, fault: str, order_id: str, email: str, rng: random.Random
) -> dict[str, Any]:
    """One customer's refund through ``fault``; what the client finally got."""
    dep.ensure_serving()
    thread_id = None
    give_up = time.monotonic() + WAIT
    while thread_id is None:
        created = _post(dep.base, "/v1/conversations")
        if created is not None and created.status_code == 201:
            thread_id = created.json()["thread_id"]
        elif time.monotonic() > give_up:
            return {"fault": fault, "answered": False, "thread_id": None}
        else:
            time.sleep(0.2)
    text = f"{email} {order_id} refund {AMOUNT} USDC please"
    path = f"/v1/conversations/{thread_id}/messages"
    headers = {"Idempotency-Key": f"fault-{uuid.uuid4().hex}"}
    strike: Callable[[], None] | None = None
    dep.sandbox.clear_requests()
    if fault == "moltpe_5xx":
        dep.sandbox.set_faults(fail_next=1)
    elif fault == "answer_lost":
        dep.sandbox.set_faults(drop_next=1)
    elif fault == "serve_killed_anywhere":
        dep.sandbox.set_faults(latency_ms=200)
    elif fault in ("serve_killed", "postgres_restart", "connections_cut"):
        dep.sandbox.set_faults(latency_ms=HOLD_MS)
        strike = {
            "serve_killed": dep.kill_serve,
            "postgres_restart": dep.restart_postgres,
            "connections_cut": dep.cut_connections,
        }[fault]
    first: list[httpx.Response | None] = []
    sender = threading.Thread(
        target=lambda: first.append(_post(dep.base, path, json={"text": text}, headers=headers))
    )
    sender.start()
    if fault == "serve_killed_anywhere":
        time.sleep(rng.uniform(0.0, 1.0))  # a random point of the turn
        dep.kill_serve()
    elif strike is not None:
        seen_by = time.monotonic() + WAIT
        while not any(r["path"].endswith("/refund") for r in dep.sandbox.requests()):
            if time.monotonic() > seen_by or not sender.is_alive():
                break
            time.sleep(0.05)
        else:
            strike()
    sender.join(timeout=WAIT)
    dep.sandbox.set_faults()
    answer = first[0] if first else None
    give_up = time.monotonic() + WAIT
    while answer is None or answer.status_code != 200:
        if time.monotonic() > give_up:
            break
        dep.ensure_serving()
        time.sleep(0.2)
        answer = _post(dep.base, path, json={"text": text}, headers=headers)
    ok = answer is not None and answer.status_code == 200
    return {
        "fault": fault,
        "answered": ok,
        "thread_id": thread_id,
        "order_id": order_id,
        "outcome": answer.json()["outcome"]["kind"] if ok and answer is not None else None,
    }


def settle_and_count(dep: Deployment, trials: list[dict[str, Any]]) -> dict[str, int]:
    """Wait for the reconciler, then count what must be zero."""
    dep.ensure_serving()
    give_up = time.monotonic() + WAIT
    with psycopg.connect(dep.url, autocommit=True) as conn:
        while time.monotonic() < give_up:
            row = conn.execute(
                "SELECT count(*) FROM refunds WHERE status IN ('intent', 'unknown')"
            ).fetchone()
            if row is not None and row[0] == 0:
                break
            time.sleep(0.5)
        confirmed = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT order_id, count(*) FROM refunds WHERE status = 'confirmed' GROUP BY 1"
            ).fetchall()
        }
        unsettled = conn.execute(
            "SELECT count(*) FROM refunds WHERE status IN ('intent', 'unknown')"
        ).fetchone()
        # Every serve tells customers of late settlements and chains pending audit
        # events within a few seconds: wait for both, then count what is left.
        while time.monotonic() < give_up:
            waiting = conn.execute(
                "SELECT (SELECT count(*) FROM refunds WHERE notice_due"
                " AND customer_told_at IS NULL) + (SELECT count(*) FROM audit_pending)"
            ).fetchone()
            if waiting is not None and waiting[0] == 0:
                break
            time.sleep(0.5)
        untold = conn.execute(
            "SELECT count(*) FROM refunds WHERE notice_due AND customer_told_at IS NULL"
        ).fetchone()
        # The day's budget counter holds exactly what the day's counted refunds add up to.
        budget_off = conn.execute(
            "SELECT count(*) FROM refund_budget_days d WHERE d.spent <> ("
            " SELECT coalesce(sum(r.amount_usdc), 0) FROM refunds r"
            " WHERE (r.created_at AT TIME ZONE 'UTC')::date = d.day AND r.status = ANY(%s))",
            (list(COUNTED_REFUND_STATUSES),),
        ).fetchone()
    audit = asyncio.run(_verify_audit(dep.url))
    ledger = dep.sandbox.ledger(agent_id=dep.agent_id)
    by_payment = Counter(entry["payment_id"] for entry in ledger)
    order_of = {
        f"pay_bench_{t['order_id'].split('-')[1]}": t["order_id"]
        for t in trials
        if t.get("order_id")
    }
    paid_twice = sum(n - 1 for n in by_payment.values() if n > 1)
    unrecorded = sum(
        max(0, n - confirmed.get(order_of.get(payment, ""), 0)) for payment, n in by_payment.items()
    )
    lost = 0
    for trial in trials:
        if not trial["answered"]:
            lost += 1
            continue
        view = httpx.get(f"{dep.base}/v1/conversations/{trial['thread_id']}", timeout=30)
        said = [m for m in view.json()["messages"] if m["role"] == "customer"]
        if not said:
            lost += 1
    return {
        "refunds_paid": len(ledger),
        "paid_twice": paid_twice,
        "paid_unrecorded": unrecorded,
        "lost_turns": lost,
        "unsettled": int(unsettled[0]) if unsettled else 0,
        "customers_not_told": int(untold[0]) if untold else 0,
        "budget_days_off": int(budget_off[0]) if budget_off else 0,
        "audit_problems": audit,
    }


async def _verify_audit(url: str) -> int:
    """1 when the audit chain does not verify or events are still waiting to be chained."""
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row
    ) as conn:
        result = await verify_chain(conn)
    return int(not result.ok or result.pending > 0)


def run(trials: int, seed: int = 0) -> dict[str, Any]:
    """Start everything, run ``trials`` refunds through the faults, count, stop everything."""
    folder = Path(tempfile.mkdtemp(prefix="refund-agent-faults-"))
    folder.chmod(0o755)  # the embedded server runs as its own user when started as root
    sandbox = start_sandbox()
    dep: Deployment | None = None
    try:
        agent_id = sandbox.create_agent(per_tx_cap=Decimal("50"), daily_cap=Decimal("100000"))
        dep = Deployment(folder, sandbox, agent_id)
        orders = _seed(dep.url, trials)
        orders_file, _ = seed_file(trials)
        for order in orders_file.orders:
            sandbox.register_payment(order.payment_id, order.payer_address, order.amount_usdc)
        dep.start_serve()
        rng = random.Random(seed)
        results = []
        for n, (fault, (order_id, email)) in enumerate(
            zip(itertools.cycle(FAULTS), orders, strict=False), start=1
        ):
            progress(f"trial {n}/{trials}: {fault}")
            results.append(run_trial(dep, fault, order_id, email, rng))
        counts = settle_and_count(dep, results)
    finally:
        if dep is not None:
            dep.close()
        sandbox.stop()
        shutil.rmtree(folder, ignore_errors=True)
    outcomes = Counter((r["fault"], r["outcome"] or "no answer") for r in results)
    return {
        "trials": trials,
        "counts": counts,
        "outcomes": {f"{f}: {o}": n for (f, o), n in outcomes.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the matrix and print it; 1 when anything that must be zero is not."""
    # The sandbox runs in this process: a client cut off on purpose is not news.
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    parser = benchmark_parser("benchmarks.fault_matrix", __doc__)
    parser.add_argument("--trials", type=int, default=14, help="refund turns (faults in turn)")
    parser.add_argument("--seed", type=int, default=0, help="where the random kills strike")
    options = parser.parse_args(argv)
    result = run(max(1, options.trials), options.seed)
    emit(table(["fault: outcome", "trials"], sorted(result["outcomes"].items())))
    emit(
        table(
            ["must be zero", "count"],
            [(k, v) for k, v in result["counts"].items() if k != "refunds_paid"],
        )
    )
    emit(f"refunds paid: {result['counts']['refunds_paid']} of {result['trials']} trials")
    write_json(options.json, result)
    bad = sum(v for k, v in result["counts"].items() if k != "refunds_paid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
