"""The embedded PostgreSQL is found by its data folder and stopped for real.

A process holding the server is killed (SIGTERM, then SIGKILL), which leaves stale
entries in pgserver's list of holders; ``db stop`` must still stop it, and no postgres
process of that folder may remain. A test run that starts the embedded test server
stops it at the end.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from persistence.embedded import embedded_status, postgres_processes, stop_embedded
from persistence.migrations import MIGRATIONS
from tests.helpers.processes import clean_env, free_port

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import asyncio
from core.settings import Settings
from persistence.runtime import open_storage

async def main() -> None:
    storage = await open_storage(Settings(_env_file=None))
    async with storage.pool.connection() as conn:
        await conn.execute("SELECT 1")
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""

pytestmark = pytest.mark.slow


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A folder the embedded server's own user can reach, removed afterwards.

    Not pytest's ``tmp_path``: pytest makes its base folder private (0700) whenever a
    run starts, which would lock a server started as root (run as an unprivileged
    user) out of its data folder while it runs.
    """
    folder = Path(tempfile.mkdtemp(prefix="refund-agent-embedded-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def home(scratch: Path) -> Iterator[Path]:
    """A fresh REFUND_AGENT_HOME; whatever server runs in it is stopped afterwards."""
    folder = scratch / "home"
    yield folder
    stop_embedded(folder / "pgdata")


def refund_agent(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=home.parent,
        env=clean_env(REFUND_AGENT_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_db_stop_stops_a_server_whose_holder_was_killed(home: Path, signum: int) -> None:
    data_dir = home / "pgdata"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        cwd=ROOT,
        env=clean_env(REFUND_AGENT_HOME=str(home)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready", holder.stderr
        before = refund_agent(home, "db", "status", "--json")
        assert before.returncode == 0, before.stderr
        status = json.loads(before.stdout)
        assert status["running"] and status["pid"] and "url" not in status
        assert status["data_dir"] == str(data_dir.resolve())
        holder.send_signal(signum)
        holder.wait(30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        for stream in (holder.stdout, holder.stderr):
            if stream is not None:
                stream.close()
    # The holder is gone, the server is not (it outlives the processes that use it).
    assert embedded_status(data_dir).running
    assert postgres_processes(data_dir)

    stopped = refund_agent(home, "db", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped the embedded PostgreSQL" in stopped.stdout
    assert postgres_processes(data_dir) == []
    assert not embedded_status(data_dir).running

    after = refund_agent(home, "db", "status")
    assert after.returncode == 3
    assert "not running" in after.stdout
    again = refund_agent(home, "db", "stop")
    assert again.returncode == 0 and "is not running" in again.stdout


def test_a_fresh_home_and_the_url_only_when_asked(home: Path) -> None:
    """No DATABASE_URL: the embedded server starts, migrates, seeds, verifies, stops."""
    done = refund_agent(home, "db", "migrate")
    assert done.returncode == 0, done.stderr
    every = ", ".join(str(n) for n in range(1, len(MIGRATIONS) + 1))
    assert f"applied {len(MIGRATIONS)} migrations ({every})" in " ".join(done.stdout.split())
    assert "postgresql://" not in done.stdout + done.stderr
    verbose = refund_agent(home, "--verbose", "db", "migrate")
    assert "embedded PostgreSQL: postgresql://" in verbose.stderr
    assert "schema up to date" in verbose.stdout
    for args in (("db", "seed"), ("audit", "verify")):
        done = refund_agent(home, *args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "postgresql://" not in done.stdout + done.stderr
    assert (home / "pgdata" / "PG_VERSION").exists()
    shown = refund_agent(home, "db", "status", "--show-url")
    assert shown.returncode == 0
    assert "url: postgresql://postgres:@/postgres?host=" in shown.stdout
    hidden = refund_agent(home, "db", "status")
    assert "postgresql://" not in hidden.stdout


def test_a_test_run_stops_the_embedded_server_it_started(scratch: Path) -> None:
    cache = scratch / "cache"
    data_dir = cache / "support-refund-agent" / "test-pgdata"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/integration/test_persistence.py::test_seed_is_idempotent",
        ],
        cwd=ROOT,
        env=clean_env(XDG_CACHE_HOME=str(cache)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        assert (data_dir / "PG_VERSION").exists()
        assert "stopped the embedded test PostgreSQL this run started" in done.stdout
        assert postgres_processes(data_dir) == []
        assert not embedded_status(data_dir).running
    finally:
        stop_embedded(data_dir)


def test_serve_logs_json_and_db_stop_after_serve_was_killed(home: Path) -> None:
    """``serve`` on the embedded server, LOG_FORMAT=json; killed; ``db stop`` stops it all."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        cwd=home.parent,
        env=clean_env(REFUND_AGENT_HOME=str(home), LOG_FORMAT="json", REVIEWER_TOKENS=""),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        health = None
        while serve.poll() is None and time.monotonic() < deadline:
            try:
                health = httpx.get(f"{base}/healthz", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)  # polling for the port to open, not asserting on time
        assert health is not None, serve.stderr.read() if serve.stderr else ""
        assert health.json()["database"] == "ok" and health.json()["llm"] == "off"
        thread = httpx.post(f"{base}/v1/conversations", timeout=30).json()["thread_id"]
        assert httpx.get(f"{base}/v1/conversations/{thread}", timeout=30).status_code == 200
        assert httpx.head(f"{base}/", timeout=30).status_code == 200
        # A file of embedded data and a live server: killing serve leaves postgres behind.
        assert postgres_processes(home / "pgdata")
    finally:
        serve.kill()
        out, err = serve.communicate(timeout=60)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "message"} <= set(doc) for doc in lines)
    [start] = [doc for doc in lines if "urls" in doc]
    assert start["urls"] == {
        "chat": f"{base}/",
        "review": f"{base}/review",
        "docs": f"{base}/docs",
    }
    assert any("REVIEWER_TOKENS is not set" in doc["message"] for doc in lines)
    access = [doc["message"] for doc in lines if doc["logger"] == "server.access"]
    assert any(m.startswith("POST /v1/conversations 201") for m in access), access
    assert any(m.startswith("GET /v1/conversations/") for m in access), access
    assert not any(thread in m for m in access)
    assert thread not in err and "postgresql://" not in out + err

    assert postgres_processes(home / "pgdata")
    stopped = refund_agent(home, "db", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert postgres_processes(home / "pgdata") == []
