"""The ``refund-agent`` command against a real database and sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from typer.testing import CliRunner

from cli.main import app
from moltpe_sandbox import SandboxAdminError, SandboxServer
from persistence.seed import load_seed_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key in list(os.environ):
        if key.startswith(("MOLTPE_", "OPENAI_", "REFUND_", "AUDIT_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    env = {"DATABASE_URL": db_url, "AUDIT_LOG_FILE": str(tmp_path / "audit.jsonl")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def invoke(*args: str) -> tuple[int, str]:
    from core.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_migrate_seed_verify_and_tamper(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert invoke("db", "migrate")[0] == 0
    code, out = invoke("db", "seed")
    assert code == 0 and "seeded: 7 customers, 11 orders, 4 refunds" in out
    code, out = invoke("db", "seed")
    assert code == 0 and "nothing new to seed" in out
    code, out = invoke("audit", "verify")
    assert code == 0 and "audit chain intact" in out
    mirrored = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [m["event_type"] for m in mirrored] == ["seed"]

    code, out = invoke("audit", "tail", "--json")
    assert code == 0
    [event] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert event["event_type"] == "seed"

    with psycopg.connect(cli_env["DATABASE_URL"], autocommit=True) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1")
    code, out = invoke("audit", "verify")
    assert code == 1
    assert "broken at row 1" in out and "edited" in out


def test_seed_file_errors_exit_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, out = invoke("db", "seed", "--file", str(bad))
    assert code == 2 and "not valid seed JSON" in out


def test_config_masks_secrets(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2@db.internal/refunds")
    monkeypatch.setenv("MOLTPE_API_KEY", "sk_live_0123456789abcdef")
    code, out = invoke("config", "--json")
    assert code == 0
    values = json.loads(out)
    assert values["DATABASE_URL"] == "postgresql://app:****@db.internal/refunds"
    assert values["MOLTPE_API_KEY"] == "****cdef"
    assert "hunter2" not in out and "0123456789" not in out


def test_refunds_list_and_reconcile(cli_env: dict[str, str]) -> None:
    invoke("db", "seed")
    code, out = invoke("refunds", "list", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert {r["order_id"] for r in rows} == {"ORD-4001", "ORD-5001", "ORD-5002", "ORD-5003"}
    assert all(r["status"] == "confirmed" for r in rows)
    code, out = invoke("refunds", "list", "--status", "bogus")
    assert code == 2


def test_wallet_commands_against_the_sandbox(
    cli_env: dict[str, str], sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = invoke("wallet", "create")
    assert code == 2 and "MOLTPE_API_KEY is not set" in out
    monkeypatch.setenv("MOLTPE_BASE_URL", sandbox.url)
    monkeypatch.setenv("MOLTPE_API_KEY", sandbox.api_key)
    code, out = invoke("wallet", "create", "--name", "support-refund-agent", "--network", "polygon")
    assert code == 0, out
    agent_id = next(line.split()[-1] for line in out.splitlines() if line.startswith("agent_id"))
    assert agent_id.startswith("ag_")
    monkeypatch.setenv("MOLTPE_AGENT_ID", agent_id)
    code, out = invoke("wallet", "policy", "--daily-cap", "100", "--per-tx-cap", "50")
    assert code == 0, out
    assert "daily_cap 100.00 USDC, per_tx_cap 50.00 USDC, refund_only True" in " ".join(out.split())
    wallet = sandbox.wallet(agent_id)
    assert wallet["policy"]["per_tx_cap"] in ("50.00", "50", "50.000000")
    code, out = invoke("wallet", "policy", "--per-tx-cap", "abc")
    assert code == 2 and "not an amount" in out
    # Seeding registers the orders' payments with a configured sandbox, given its admin key.
    code, out = invoke("db", "seed")
    assert code == 0 and "MOLTPE_SANDBOX_ADMIN_KEY is not set" in " ".join(out.split())
    with pytest.raises(SandboxAdminError):
        sandbox.payment(load_seed_file().orders[0].payment_id)
    monkeypatch.setenv("MOLTPE_SANDBOX_ADMIN_KEY", sandbox.admin_key)
    code, out = invoke("db", "seed")
    assert code == 0 and "registered 11 payments with the MoltPe sandbox" in " ".join(out.split())
    payment = next(o.payment_id for o in load_seed_file().orders if o.id == "ORD-1001")
    assert sandbox.payment(payment)["amount"] in ("45.00", "45", "45.000000")


def test_embedded_postgres_with_no_database_url(tmp_path: Path) -> None:
    """A fresh home folder: the embedded server starts, migrates, seeds, verifies, stops."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "MOLTPE_", "OPENAI_", "AUDIT_"))
    }
    env["REFUND_AGENT_HOME"] = str(tmp_path / "home")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    try:
        for args in (("db", "migrate"), ("db", "seed"), ("audit", "verify")):
            done = run(*args)
            assert done.returncode == 0, done.stdout + done.stderr
        assert "embedded PostgreSQL" in done.stderr
        assert (tmp_path / "home" / "pgdata" / "PG_VERSION").exists()
    finally:
        stopped = run("db", "stop")
        assert stopped.returncode == 0, stopped.stderr


def test_a_full_rewrite_is_caught_only_by_the_mirror(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The tables' owner can disable triggers and recompute every hash; the mirror cannot lie."""
    from persistence.audit import row_hash

    invoke("db", "seed")  # the seed event is row 1, mirrored to AUDIT_LOG_FILE
    mirror = tmp_path / "audit.jsonl"
    code, out = invoke("audit", "verify", "--against", str(mirror))
    assert code == 0 and "matches the mirror" in out
    with psycopg.connect(cli_env["DATABASE_URL"], autocommit=True, row_factory=dict_row) as conn:
        with conn.transaction():
            conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
            row = conn.execute("SELECT * FROM audit_events WHERE seq = 1").fetchone()
            assert row is not None
            row["payload"] = {"added": {"orders": 0}}
            forged = row_hash(row)
            conn.execute(
                "UPDATE audit_events SET payload = %s, hash = %s WHERE seq = 1",
                (Jsonb(row["payload"]), forged),
            )
            conn.execute("UPDATE audit_chain_head SET hash = %s", (forged,))
            conn.execute("ALTER TABLE audit_events ENABLE TRIGGER USER")
    code, out = invoke("audit", "verify")
    assert code == 0  # the rewritten chain is self-consistent...
    code, out = invoke("audit", "verify", "--against", str(mirror))
    assert code == 1 and "differs from the mirror: rewritten" in out  # ...but not the mirror
