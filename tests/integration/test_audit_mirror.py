"""``audit verify --against MIRROR`` names every gap, extra row and difference."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

from cli.main import app
from persistence.audit import (
    AuditEvent,
    AuditLog,
    EventType,
    append_events,
    record_of,
    verify_against_mirror,
)
from persistence.db import Pool
from tests.helpers.waiting import wait_until


async def _mirrored(pool: Pool, mirror: Path, n: int) -> list[dict[str, Any]]:
    audit = AuditLog(pool, mirror)
    for i in range(n):
        await audit.record(AuditEvent(EventType.NODE, payload={"i": i, "text": "[/x] é"}))
    await audit.aclose()  # chained and mirrored; its chainer stops (it copies no later rows)
    return _read(mirror)


async def _committed(pool: Pool, n: int) -> None:
    """``n`` events chained by a process with no mirror file."""
    audit = AuditLog(pool)
    await audit.record(*(AuditEvent(EventType.NODE) for _ in range(n)))
    await audit.flush()


def _read(mirror: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in mirror.read_text().splitlines()]


def _write(mirror: Path, lines: list[dict[str, Any]]) -> None:
    mirror.write_text("".join(json.dumps(line) + "\n" for line in lines))


async def _check(pool: Pool, mirror: Path) -> Any:
    async with pool.connection() as conn:
        return await verify_against_mirror(conn, mirror, batch=4)


async def test_an_intact_mirror_matches(pool: Pool, tmp_path: Path) -> None:
    mirror = tmp_path / "audit.jsonl"
    await _mirrored(pool, mirror, 15)
    result = await _check(pool, mirror)
    assert result.ok and result.checked == 15 and result.not_mirrored == 0


async def test_a_row_missing_from_the_mirror_is_a_gap(pool: Pool, tmp_path: Path) -> None:
    mirror = tmp_path / "audit.jsonl"
    lines = await _mirrored(pool, mirror, 15)
    _write(mirror, [line for line in lines if line["seq"] != 11])
    result = await _check(pool, mirror)
    assert not result.ok and result.broken_seq == 11
    assert result.problems == ("row 11 of the chain not in the mirror: a gap",)


async def test_gaps_extras_and_edits_are_all_reported(pool: Pool, tmp_path: Path) -> None:
    mirror = tmp_path / "audit.jsonl"
    lines = await _mirrored(pool, mirror, 15)
    kept = [line for line in lines if line["seq"] not in (1, 4, 5, 6, 11)]
    kept[2]["payload"] = {"i": 1000}  # row 7, its hash left as it was
    forged = dict(lines[-1], seq=16, prev_hash=lines[-1]["hash"])
    _write(mirror, [*kept, forged])
    result = await _check(pool, mirror)
    assert not result.ok and result.broken_seq == 1
    assert result.problems == (
        "rows 1, 4-6, 11 of the chain not in the mirror: a gap",
        "the mirror's row 7 does not match its own hash: edited",
        "the mirror's row 16 does not match its own hash: edited",
        "row 16 in the mirror but not in the database: deleted",
    )


async def test_rows_newer_than_the_mirror_are_counted_not_judged(
    pool: Pool, tmp_path: Path
) -> None:
    mirror = tmp_path / "audit.jsonl"
    await _mirrored(pool, mirror, 5)
    await _committed(pool, 2)
    result = await _check(pool, mirror)
    assert result.ok and result.checked == 5 and result.not_mirrored == 2


async def test_a_line_that_is_not_an_event_is_named(pool: Pool, tmp_path: Path) -> None:
    mirror = tmp_path / "audit.jsonl"
    await _mirrored(pool, mirror, 2)
    with mirror.open("a") as fh:
        fh.write('{"seq": "x"}\n')
    result = await _check(pool, mirror)
    assert not result.ok and result.problems == (f"{mirror}:3 is not an audit mirror line",)


def test_the_command_lists_every_problem(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.settings import get_settings

    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        for _ in range(15):
            conn.execute("SELECT * FROM audit_append('node', 'agent', NULL, NULL, NULL, '{}')")
        conn.execute("SELECT audit_chain_pending(1000, true)")
        rows = conn.execute("SELECT * FROM audit_events ORDER BY seq").fetchall()
    mirror = tmp_path / "audit.jsonl"
    _write(mirror, [record_of(row).to_json() for row in rows if row["seq"] not in (3, 11)])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["audit", "verify", "--against", str(mirror)])
    assert result.exit_code == 1, result.output
    assert "differs from the mirror" in result.output
    assert "rows 3, 11 of the chain not in the mirror: a gap" in result.output
    rest = tmp_path / "rest.jsonl"
    _write(rest, [record_of(row).to_json() for row in rows if row["seq"] in (3, 11)])
    result = CliRunner().invoke(
        app, ["audit", "verify", "--against", str(mirror), "--against", str(rest)]
    )
    assert result.exit_code == 0, result.output
    assert "matches the mirror: 15 events" in result.output


async def test_the_files_of_several_processes_are_read_as_one(pool: Pool, tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    first, second = AuditLog(pool, one), AuditLog(pool, two)
    for n in range(6):  # two processes, each with its own file, writing in turn
        log = first if n % 2 else second
        await log.record(AuditEvent(EventType.NODE))
        await log.flush()
    async with pool.connection() as conn:
        alone = await verify_against_mirror(conn, one)
        both = await verify_against_mirror(conn, [one, two])
    # Each file copies the committed chain, not only its own process's events.
    assert [line["seq"] for line in _read(one)] == [1, 2, 3, 4, 5, 6]
    assert alone.ok and alone.checked == 6 and alone.not_mirrored == 0
    assert both.ok and both.checked == 6


async def test_events_committed_before_a_crash_reach_the_mirror(pool: Pool, tmp_path: Path) -> None:
    """A process that committed events and died before copying them leaves no gap."""
    mirror = tmp_path / "audit.jsonl"
    await _mirrored(pool, mirror, 3)
    # the "crashed" process: committed its events, died before chaining or copying them
    async with pool.connection() as conn, conn.transaction():
        await append_events(conn, [AuditEvent(EventType.NODE) for _ in range(4)])
    survivor = AuditLog(pool, mirror)  # a new process on the same file
    await survivor.record(AuditEvent(EventType.NODE))
    await survivor.flush()
    assert [line["seq"] for line in _read(mirror)] == list(range(1, 9))
    result = await _check(pool, mirror)
    assert result.ok and result.checked == 8 and result.not_mirrored == 0


async def test_an_idle_process_catches_up_without_writing(pool: Pool, tmp_path: Path) -> None:
    mirror = tmp_path / "audit.jsonl"
    await _committed(pool, 5)
    assert await AuditLog(pool, mirror).mirror() == 5
    assert await AuditLog(pool, mirror).mirror() == 0
    assert [line["seq"] for line in _read(mirror)] == [1, 2, 3, 4, 5]


async def test_two_logs_sharing_one_file_write_each_row_once(pool: Pool, tmp_path: Path) -> None:
    mirror = tmp_path / "audit.jsonl"
    logs = [AuditLog(pool, mirror) for _ in range(3)]
    await asyncio.gather(
        *(logs[n % 3].record(AuditEvent(EventType.NODE, payload={"n": n})) for n in range(12))
    )
    for log in logs:
        await log.flush()
    assert [line["seq"] for line in _read(mirror)] == list(range(1, 13))


async def test_a_line_cut_by_a_crash_stays_one_bad_line(pool: Pool, tmp_path: Path) -> None:
    mirror = tmp_path / "audit.jsonl"
    await _mirrored(pool, mirror, 2)
    with mirror.open("a") as fh:
        fh.write('{"seq": 3, "ts": "20')  # the process died mid-line
    survivor = AuditLog(pool, mirror)
    await survivor.record(AuditEvent(EventType.NODE))
    await survivor.flush()
    lines = mirror.read_text().splitlines()
    assert lines[2] == '{"seq": 3, "ts": "20' and json.loads(lines[3])["seq"] == 3
    result = await _check(pool, mirror)
    assert not result.ok and result.problems == (f"{mirror}:3 is not an audit mirror line",)


async def test_the_serving_loop_chains_and_copies_events_nobody_chained(
    pool: Pool, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from server.app import keep_chaining

    mirror = tmp_path / "audit.jsonl"
    services: Any = SimpleNamespace(storage=SimpleNamespace(audit=AuditLog(pool, mirror)))
    loop = asyncio.create_task(keep_chaining(services, interval=0.05))
    try:
        # committed by a process that died before chaining them
        async with pool.connection() as conn, conn.transaction():
            await append_events(conn, [AuditEvent(EventType.NODE) for _ in range(3)])
        await wait_until(
            lambda: mirror.exists() and len(mirror.read_text().splitlines()) == 3,
            what="three mirrored lines",
        )
        assert [line["seq"] for line in _read(mirror)] == [1, 2, 3]
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
