"""The ``refund-agent`` command against a real database and sandbox."""

from __future__ import annotations

import json
import os
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


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://app:hunter2@db.internal/refunds",
            "postgresql://app:****@db.internal/refunds",
        ),
        (
            "postgresql://app@db.internal/refunds?sslmode=require&password=hunter2",
            "postgresql://app@db.internal/refunds?sslmode=require&password=****",
        ),
        (
            "host=db.internal user=app password=hunter2 dbname=refunds",
            "host=db.internal user=app password=**** dbname=refunds",
        ),
        (
            "host=db.internal password = 'hun ter2' dbname=refunds",
            "host=db.internal password = **** dbname=refunds",
        ),
        (
            "postgresql://app:hunter2/with@slash@db.internal:5432/refunds",
            "postgresql://app:****@db.internal:5432/refunds",
        ),
    ],
)
def test_config_masks_every_password_form(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, url: str, shown: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    code, out = invoke("config", "--json")
    assert code == 0
    assert json.loads(out)["DATABASE_URL"] == shown
    assert "hunter2" not in out and "ter2" not in out
    code, out = invoke("config")  # the table too
    assert code == 0 and "hunter2" not in out and "ter2" not in out


def test_config_masks_keys_and_tokens(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOLTPE_API_KEY", "sk_live_0123456789abcdef")
    monkeypatch.setenv("MOLTPE_SANDBOX_ADMIN_KEY", "sk_sandbox_admin_zyxwvutsrq")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-aaaaaaaaaaaa1234")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gw:gwsecret99@llm.internal/v1?api-key=k3y9")
    monkeypatch.setenv("REVIEWER_TOKENS", "dana:dana-token-abcdefgh,li:li-token-ijklmnop")
    monkeypatch.setenv("SERVICE_TOKENS", "svc-token-qrstuvwx,svc-token-yzabcdef")
    code, out = invoke("config", "--json")
    assert code == 0
    values = json.loads(out)
    assert values["MOLTPE_API_KEY"] == "****cdef"
    assert values["REVIEWER_TOKENS"] == "dana:****, li:****"
    assert values["SERVICE_TOKENS"] == "(2 tokens, hidden)"
    assert values["OPENAI_BASE_URL"] == "https://gw:****@llm.internal/v1?api-key=****"
    for secret in ("0123456789", "abcdefgh", "ijklmnop", "qrstuvwx", "yzabcdef", "gwsecret"):
        assert secret not in out, secret
    assert "k3y9" not in out and "zyxwvuts" not in out and "aaaaaaaa" not in out


def test_config_check(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 0 when what is configured works, 1 naming what does not (an LLM that is down)."""
    from tests.openai_stub import start_openai_stub

    with start_openai_stub(api_key="sk-good-0123456789") as stub:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-good-0123456789")
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        code, out = invoke("config", "--check", "--json")
        assert code == 0, out
        doc = json.loads(out)
        assert doc["ok"] and doc["checks"]["llm"]["state"] == "ok"
        assert doc["checks"]["database"]["state"] == "ok"
        assert doc["checks"]["moltpe"]["state"] == "ok"
        monkeypatch.setenv("OPENAI_API_KEY", "sk-bad-0000000000")
        code, out = invoke("config", "--check")
        assert code == 1
        assert "unauthorized" in out and "does not work" in out
        assert "sk-bad-0000000000" not in out
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.delenv("OPENAI_API_KEY")
    code, out = invoke("config", "--check", "--json")
    assert code == 1
    assert json.loads(out)["checks"]["database"]["state"] == "failed"


def test_chat_warns_about_a_broken_llm_and_shows_outcomes_in_words(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    assert invoke("db", "seed")[0] == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("COLUMNS", "200")
    from core.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(
        app,
        ["chat"],
        input="refund 20 USDC on ORD-1001, alice@example.com\n"
        "refund 100 USDC on ORD-2001, bob@example.com\n/quit\n",
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "warning: the LLM does not work (unreachable" in out
    assert "continuing with the offline rules" in out
    assert "understanding: offline rules" in out
    assert "refunded 20.00 USDC on ORD-1001, tx 0x" in out
    assert "ticket RT-000001 opened (over the per-refund cap" in out
    assert "{'kind'" not in out  # no raw dict


def test_seed_list_shows_who_can_ask_for_what(cli_env: dict[str, str]) -> None:
    from core.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["db", "seed", "--list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = [line.split("│") for line in result.output.splitlines() if "│ ORD-" in line]
    lines = {cells[2].strip(): "│".join(cells) for cells in rows}
    assert "alice@example.com" in lines["ORD-1001"]
    assert "up to 45.00 refunded automatically" in lines["ORD-1001"]
    assert "up to 50.00 refunded; more is escalated" in lines["ORD-2001"]
    assert "older than 30 days: escalated" in lines["ORD-3001"]
    assert "already refunded: denied" in lines["ORD-4001"]
    assert "velocity" in lines["ORD-5004"]
    with psycopg.connect(cli_env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)


def test_audit_tail_escapes_data_and_fits_80_columns(cli_env: dict[str, str]) -> None:
    import asyncio

    from persistence.audit import AuditEvent, EventType, append_events
    from persistence.db import connect

    invoke("db", "seed")
    hostile = "I want [bold]my money[/bold] [/x] back [link=http://evil]now[/link] \\[/y]"

    async def add() -> None:
        async with await connect(cli_env["DATABASE_URL"]) as conn:
            async with conn.transaction():
                await append_events(
                    conn,
                    [
                        AuditEvent(
                            EventType.INJECTION_SUSPECTED,
                            thread_id="thread-[/x]",
                            order_id="ORD-[/x]",
                            customer_email="mallory@example.com",
                            payload={"signals": ["[/x]"], "excerpt": hostile, "turn": 1},
                        ),
                        AuditEvent("custom_[/x]", actor="[red]x[/red]", payload={"k": "[/x]"}),
                    ],
                )

    asyncio.run(add())
    from core.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["audit", "tail"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    assert "[/x]" in result.output and "[red]x" in result.output
    assert lines[0].split() == ["time", "(UTC)", "event", "actor", "order", "summary"]
    seed_line = next(line for line in lines if " seed " in f" {line} ")
    assert "11 orders" in seed_line

    result = CliRunner().invoke(app, ["audit", "tail", "--json"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert events[-2]["payload"]["excerpt"] == hostile
    assert events[-1]["event_type"] == "custom_[/x]"


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


def test_a_full_rewrite_is_caught_only_by_the_mirror(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The tables' owner can disable triggers and recompute every hash and seal; the
    mirror cannot lie."""
    from persistence.audit import pending_seal, row_hash

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
                "UPDATE audit_events SET payload = %s, hash = %s, pending_seal = %s WHERE seq = 1",
                (Jsonb(row["payload"]), forged, pending_seal(row)),
            )
            conn.execute("UPDATE audit_chain_head SET hash = %s", (forged,))
            conn.execute("ALTER TABLE audit_events ENABLE TRIGGER USER")
    code, out = invoke("audit", "verify")
    assert code == 0  # the rewritten chain is self-consistent...
    code, out = invoke("audit", "verify", "--against", str(mirror))
    assert code == 1 and "differs from the mirror: rewritten" in out  # ...but not the mirror
