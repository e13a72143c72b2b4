"""Malformed input (NUL characters in an email, a thread id or a message) gets clear answers."""

from __future__ import annotations

import httpx

from tests.e2e.server_fixtures import LiveServer
from tests.helpers.api import converse


async def test_nul_characters_get_clear_answers(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        bad_email = await http.post("/v1/conversations", json={"customer_email": "a\u0000b@x.com"})
        assert bad_email.status_code == 422
        assert bad_email.json()["error"]["code"] == "invalid_request"
        bad_thread = await http.post("/v1/conversations/ab%00c/messages", json={"text": "hi"})
        assert bad_thread.status_code == 404
        _, body = await converse(http, "alice@example.com\u0000 ORD-1001 refund 20 USDC\u0000")
        assert body["outcome"]["kind"] == "refunded"
