"""The HTTP edge, attacked over a real socket: bodies, slow clients, logs, redirects, leases.

Each attack that once got through is replayed: a 300 MB body on POST /v1/conversations
was parsed whole before any size check; a chunked body on /messages skipped the check;
nothing bounded how long a body could take; thread ids (read capabilities) reached the
access log; the trailing-slash redirect was built from the Host header; a crashed turn
kept its conversation locked for up to 120 s; HEAD / answered 405.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from moltpe_sandbox import SandboxServer
from persistence import repo
from persistence.db import Pool
from server.edge import redacted
from server.leases import Leases
from tests.e2e.server_fixtures import LiveServer, start_live_server
from tests.helpers.waiting import wait_until


@pytest.fixture
async def http(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        yield client


def address(live_server: LiveServer) -> tuple[str, int]:
    parts = urlsplit(live_server.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


async def new_thread(http: httpx.AsyncClient) -> str:
    created = await http.post("/v1/conversations")
    assert created.status_code == 201, created.text
    return str(created.json()["thread_id"])


def _chunked_upload(host: str, port: int, path: str, chunks: int) -> str:
    """Send ``chunks`` x 64 KiB of a chunked body that never ends; the answer, if any.

    The body is never finished: a server that reads it whole before checking its size
    never answers (the read times out, the test fails); one that counts while reading
    answers 413 as soon as the limit is passed.
    """
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        try:
            for _ in range(chunks):
                sock.sendall(b"10000\r\n" + b"x" * 65536 + b"\r\n")
        except OSError:
            pass  # the server stopped reading and closed: what a refusal looks like
        return _read_all(sock)


def _read_all(sock: socket.socket) -> str:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except OSError:
        pass
    return data.decode(errors="replace")


@pytest.mark.parametrize("path", ["/v1/conversations", "/v1/conversations/{thread}/messages"])
async def test_a_chunked_body_is_cut_off_at_the_limit_not_read_whole(
    live_server: LiveServer, http: httpx.AsyncClient, path: str
) -> None:
    thread = await new_thread(http)
    host, port = address(live_server)
    url = path.replace("{thread}", thread)
    answer = await asyncio.to_thread(_chunked_upload, host, port, url, 8)  # 512 KiB
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "payload_too_large" in answer


async def test_a_declared_oversized_body_is_refused_before_it_is_read(
    live_server: LiveServer,
) -> None:
    host, port = address(live_server)
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/conversations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 300000000\r\n\r\n{"
        )
        head = sock.recv(4096).decode()
    assert head.startswith("HTTP/1.1 413"), head


def _slow_body(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=20) as sock:
        sock.sendall(
            b"POST /v1/conversations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        sock.settimeout(20)
        return _read_all(sock)


async def test_a_body_that_drips_in_is_refused_after_the_deadline(
    live_server: LiveServer,
) -> None:
    host, port = address(live_server)
    head = await asyncio.to_thread(_slow_body, host, port)
    assert head.startswith("HTTP/1.1 408"), head
    assert "body_timeout" in head


def test_conversation_ids_are_redacted_from_access_log_paths() -> None:
    path = "/v1/conversations/3f2a9c0d9e8b4c7f/messages"
    assert redacted(path) == "/v1/conversations/{thread}/messages"
    assert "3f2a9c0d9e8b4c7f" not in redacted("/v1/conversations/3f2a9c0d9e8b4c7f")


async def test_the_access_log_names_no_conversation(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.access")
    thread = await new_thread(http)
    await http.get(f"/v1/conversations/{thread}")

    def access_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "server.access"]

    # The line is written once the response has gone out.
    await wait_until(
        lambda: any(
            line.startswith("GET /v1/conversations/{thread} 200") for line in access_lines()
        ),
        what="the access log line",
    )
    lines = access_lines()
    assert not any(thread in line for line in lines)


async def test_no_redirect_is_built_from_a_forged_host(http: httpx.AsyncClient) -> None:
    answer = await http.post("/v1/conversations/", headers={"Host": "evil.example"})
    assert answer.status_code in (404, 405)
    assert "evil.example" not in answer.headers.get("location", "")


async def test_head_of_the_chat_page(http: httpx.AsyncClient) -> None:
    answer = await http.head("/")
    assert answer.status_code == 200


async def _leases(db_url: str, seconds: float) -> tuple[Leases, Pool]:
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    pg: Pool = AsyncConnectionPool(
        db_url,
        min_size=1,
        max_size=4,
        kwargs={"autocommit": True, "row_factory": dict_row},
        open=False,
    )
    await pg.open()
    return Leases(pg, seconds), pg


async def _busy_until(pg: Pool, thread: str) -> object:
    async with pg.connection() as conn:
        cur = await conn.execute(
            "SELECT busy_until FROM conversations WHERE thread_id = %s", (thread,)
        )
        row = await cur.fetchone()
        assert row is not None
        return row["busy_until"]


async def test_a_crashed_turn_frees_its_conversation_when_its_short_lease_ends(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    thread = await new_thread(http)
    async with asyncio.timeout(30):
        leases, pg = await _leases(live_server.db_url, 0.5)
        try:
            async with pg.connection() as conn:  # a holder that dies: taken, never renewed
                dead = await repo.take_conversation(conn, thread, 0.5)
            assert dead is not None
            assert await leases.take(thread) is None  # still held
            # Free once the dead holder's lease runs out.
            token = await wait_until(lambda: leases.take(thread), what="the lease to expire")
            await leases.release(thread, token)
        finally:
            await leases.aclose()
            await pg.close()


async def test_a_running_turn_keeps_renewing_its_lease(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    thread = await new_thread(http)
    async with asyncio.timeout(30):
        leases, pg = await _leases(live_server.db_url, 0.6)
        try:
            token = await leases.take(thread)
            assert token is not None
            first = await _busy_until(pg, thread)

            async def moved() -> bool:  # the heartbeat moves the end forward
                return await _busy_until(pg, thread) != first

            await wait_until(moved, what="the heartbeat to renew the lease")
            assert await leases.take(thread) is None  # still this turn's
            await leases.release(thread, token)
            assert await _busy_until(pg, thread) is None
        finally:
            await leases.aclose()
            await pg.close()


def test_x_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_ip_limit(
    db_url: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the proxies in FORWARDED_ALLOW_IPS are believed; here none is this client."""
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.9.9.9")
    thread, live = start_live_server(db_url, sandbox, rate_limit_per_ip=3)
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            codes = [
                client.post(
                    "/v1/conversations", headers={"X-Forwarded-For": f"203.0.113.{n}"}
                ).status_code
                for n in range(5)
            ]
    finally:
        thread.stop()
    assert codes[:3] == [201, 201, 201]
    assert codes[3:] == [429, 429]  # every forged address counted as this one client
