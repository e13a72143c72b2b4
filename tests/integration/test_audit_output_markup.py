"""``audit tail`` and ``audit verify`` print customer text and paths as text, never markup.

Customer words reach the audit log (reasons, excerpts, model errors); a closing tag like
``[/x]`` in them made rich raise ``MarkupError`` and the command crash.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

from cli.audit_cmd import print_events
from cli.main import app
from persistence.audit import record_of

HOSTILE = "[/x] refund [bold]now[/bold] [/] [link=http://evil]x[/link] \\[/y]"

PAYLOADS: list[tuple[str, dict[str, Any]]] = [
    ("node", {"node": HOSTILE, "turn": 1, "outcome": {"outcome": HOSTILE}}),
    ("lookup", {"result": HOSTILE, "owner_mismatch": True}),
    ("decision", {"action": HOSTILE, "amount": "5.00", "reasons": [HOSTILE]}),
    ("refund_failed", {"amount_usdc": "5.00", "code": HOSTILE, "reason": HOSTILE}),
    ("escalation", {"ticket": "RT-000001", "reason": HOSTILE}),
    ("escalation_attached", {"ticket": "RT-000001", "reason": HOSTILE}),
    ("ticket_resolved", {"ticket": "RT-000001", "decision": HOSTILE, "amount": "1"}),
    ("injection_suspected", {"signals": [HOSTILE], "excerpt": HOSTILE}),
    ("llm_fallback", {"error": HOSTILE}),
    ("orders_imported", {"source": HOSTILE, "inserted": [HOSTILE], "updated": {}}),
    ("seed", {"added": {HOSTILE: 1}}),
    (HOSTILE, {HOSTILE: HOSTILE}),
]


@pytest.mark.parametrize(("event_type", "payload"), PAYLOADS, ids=[p[0][:20] for p in PAYLOADS])
def test_every_summary_prints_markup_as_text(
    event_type: str, payload: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    row = {
        "ts": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "event_type": event_type,
        "actor": "[/x]",
        "order_id": "ORD-[/x]",
        "payload": payload,
    }
    print_events([row])  # raised rich.errors.MarkupError when values were markup
    printed = capsys.readouterr().out
    assert "[/x]" in printed


def test_verify_prints_a_mirror_path_with_markup_as_text(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.settings import get_settings

    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        for _ in range(3):
            conn.execute(
                "SELECT * FROM audit_append('escalation', 'agent', NULL, NULL, NULL, %s)",
                (json.dumps({"reason": HOSTILE}),),
            )
        conn.execute("SELECT audit_chain_pending(1000, true)")
        rows = conn.execute("SELECT * FROM audit_events ORDER BY seq").fetchall()
    (tmp_path / "logs[").mkdir()
    mirror = tmp_path / "logs[" / "x]audit.jsonl"  # the path holds the closing tag [/x]
    mirror.write_text(
        "".join(json.dumps(record_of(r).to_json()) + "\n" for r in rows if r["seq"] != 2)
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    result = CliRunner().invoke(
        app, ["audit", "verify", "--against", str(mirror)], env={"COLUMNS": "500"}
    )
    assert result.exit_code == 1, result.output
    assert "logs[/x]audit.jsonl" in result.output
    assert "row 2 of the chain not in the mirror: a gap" in result.output
    result = CliRunner().invoke(app, ["audit", "tail"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert result.output.count("[/x] refund [bold]now[/bold]") == 3
