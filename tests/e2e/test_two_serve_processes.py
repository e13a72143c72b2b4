"""Two ``serve`` processes on one database: one is killed mid-refund, the other carries on.

The customer's client retries the message with the same Idempotency-Key on the other
process (what a load balancer does when a replica dies): the conversation is free once the
dead process's lease ends, the retry re-runs the same request, and MoltPe pays once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from moltpe_sandbox import SandboxServer
from persistence.seed import load_seed_file
from tests.e2e.server_fixtures import live_settings, seed_database
from tests.helpers.processes import clean_env, free_port

# Two servers with their pools: kept off the workers running the other many-connection tests.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("many_connections")]

ROOT = Path(__file__).resolve().parents[2]
REFUND = {"text": "alice@example.com ORD-1001 refund 20 USDC please"}
KEY = {"Idempotency-Key": "two-processes-1"}
DEADLINE = 90.0  # seconds any one wait may take before the test fails
START_DEADLINE = 240.0  # a loaded CI machine starts a serve process slowly


def serve_env(db_url: str, sandbox: SandboxServer, agent_id: str) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=db_url,
        MOLTPE_BASE_URL=sandbox.url,
        MOLTPE_API_KEY=sandbox.api_key,
        MOLTPE_AGENT_ID=agent_id,
        REVIEWER_TOKENS="",
        DB_POOL_MAX_SIZE="4",
        TURN_LEASE_SECONDS="2",
        RECONCILE_INTERVAL_SECONDS="0.2",
        RECONCILE_AFTER_SECONDS="1",
    )


def wait_healthy(base: str, process: subprocess.Popen[str], log: Path) -> None:
    give_up = time.monotonic() + START_DEADLINE
    last = "no answer"
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {log.read_text()[-2000:]}")
        try:
            health = httpx.get(f"{base}/healthz", timeout=10)
            if health.status_code == 200:
                return
            last = f"{health.status_code} {health.text[:300]}"
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(0.2)  # polling for the port to open, not asserting on time
    raise AssertionError(
        f"{base} did not become healthy (last: {last}); its log: {log.read_text()[-2000:]}"
    )


@pytest.fixture
def two_processes(
    db_url: str, sandbox: SandboxServer, tmp_path: Path
) -> Iterator[tuple[list[str], list[subprocess.Popen[str]], str]]:
    agent_id = sandbox.create_agent(per_tx_cap=Decimal("50"), daily_cap=Decimal("100"))
    for order in load_seed_file().orders:
        sandbox.register_payment(order.payment_id, order.payer_address, order.amount_usdc)
    seed_database(db_url, live_settings(db_url, sandbox, agent_id))
    env = serve_env(db_url, sandbox, agent_id)
    processes: list[subprocess.Popen[str]] = []
    bases: list[str] = []
    try:
        for _ in range(2):  # one after the other: two start-ups at once only slow both
            port = free_port()
            while f"http://127.0.0.1:{port}" in bases:
                port = free_port()
            bases.append(f"http://127.0.0.1:{port}")
            # A file, not a pipe nobody reads: a full pipe would stall the server's logging.
            log = tmp_path / f"serve-{len(bases)}.log"
            with log.open("w") as sink:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
                        cwd=ROOT,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=sink,
                        text=True,
                    )
                )
            wait_healthy(bases[-1], processes[-1], log)
        yield bases, processes, agent_id
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=60)


def test_a_process_killed_mid_refund_leaves_the_retry_to_the_other_paying_once(
    two_processes: tuple[list[str], list[subprocess.Popen[str]], str], sandbox: SandboxServer
) -> None:
    (first, second), (doomed, _), agent_id = two_processes
    thread = httpx.post(f"{first}/v1/conversations", timeout=30).json()["thread_id"]
    url = f"/v1/conversations/{thread}/messages"
    # MoltPe takes its time: the first process is killed while it waits for the answer.
    sandbox.clear_requests()
    sandbox.set_faults(latency_ms=3000)
    client = subprocess.Popen(  # the customer's request, on its own so the test can kill
        [
            sys.executable,
            "-c",
            "import httpx, sys; httpx.post(sys.argv[1], json={'text': sys.argv[2]}, "
            "headers={'Idempotency-Key': sys.argv[3]}, timeout=60)",
            f"{first}{url}",
            REFUND["text"],
            KEY["Idempotency-Key"],
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        give_up = time.monotonic() + DEADLINE
        while not any(r["path"].endswith("/refund") for r in sandbox.requests()):
            assert time.monotonic() < give_up, "the refund never reached MoltPe"
            time.sleep(0.05)  # polling for the request, not asserting on time
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
    finally:
        client.kill()
        client.wait(timeout=30)
    sandbox.set_faults()

    # The client retries on the other process until the dead one's lease has ended.
    give_up = time.monotonic() + DEADLINE
    while True:
        retry = httpx.post(f"{second}{url}", json=REFUND, headers=KEY, timeout=60)
        if retry.status_code != 409:
            break
        assert time.monotonic() < give_up, retry.text
        time.sleep(0.2)  # the conversation is still leased: retry, as a client would
    assert retry.status_code == 200, retry.text
    outcome = retry.json()["outcome"]
    assert outcome["kind"] == "refunded" and outcome["amount"] == "20.00", outcome
    ledger = sandbox.ledger(agent_id=agent_id)
    assert [entry["tx_hash"] for entry in ledger] == [outcome["tx_hash"]]  # paid once
    # The same key again, on either process, is the same answer.
    again = httpx.post(f"{second}{url}", json=REFUND, headers=KEY, timeout=60)
    assert again.json()["outcome"] == outcome
    assert len(sandbox.ledger(agent_id=agent_id)) == 1
