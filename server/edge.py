"""The HTTP edge as a plain ASGI middleware: bodies limited while read, an access log.

* Every request body is counted as it arrives, whatever its framing: a declared
  ``Content-Length`` over the limit is refused before anything is read, and a chunked body
  is cut off as soon as its running total passes the limit (413). A body that does not
  arrive within ``body_read_seconds`` is refused (408). Nothing is ever buffered past the
  limit, so one client cannot make the process hold gigabytes.
* One access log line per request (``server.access``) with the method, the path with
  conversation ids replaced by ``{thread}`` (an id is a read capability), the status and
  the time taken; never the query string.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("server.access")

_THREAD_PATH: Final = re.compile(r"(/v1/conversations/)[^/]+")


def redacted(path: str) -> str:
    """``/v1/conversations/3f2a.../messages`` -> ``/v1/conversations/{thread}/messages``."""
    return _THREAD_PATH.sub(r"\1{thread}", path)


class BodyRefused(HTTPException):
    """The body is too large (413) or too slow (408).

    An HTTP exception, so that the framework's body parsing passes it on as it is (it
    turns any other error while reading into a 400); the app's handler answers it.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status_code=status, detail=message)
        self.status, self.code, self.message = status, code, message


class Edge:
    """Body limits and the access log around the app."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_read_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_read_seconds = body_read_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request with its body counted and its access line logged."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def send_tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
                status["sent"] = True
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                raise BodyRefused(413, "payload_too_large", self._too_large())
            await self.app(scope, self._counting(receive), send_tracked)
        except BodyRefused as refused:
            if status["sent"]:
                raise
            await _error(send_tracked, refused)
        finally:
            access_log.info(
                "%s %s %s %.1fms",
                scope.get("method", "-"),
                redacted(scope.get("path", "")),
                status["code"],
                (time.perf_counter() - started) * 1000,
            )

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body_bytes} bytes"

    def _counting(self, receive: Receive) -> Receive:
        received = 0
        complete = False
        deadline = time.monotonic() + self.body_read_seconds

        async def counted() -> Message:
            nonlocal received, complete
            if complete:  # the body is in: later calls wait for a disconnect, unhurried
                return await receive()
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    message = await receive()
            except TimeoutError:
                raise BodyRefused(
                    408, "body_timeout", "the request body did not arrive in time"
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyRefused(413, "payload_too_large", self._too_large())
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        return counted


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _error(send: Send, refused: BodyRefused) -> None:
    body = json.dumps({"error": {"code": refused.code, "message": refused.message}}).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Headers every response carries, and the page policy on HTML (plain ASGI).

    ``nosniff`` and ``no-referrer`` everywhere; ``Content-Security-Policy`` and
    ``X-Frame-Options: DENY`` on HTML pages. Headers the app already set are kept.
    """

    def __init__(self, app: ASGIApp, *, page_policy: str) -> None:
        self.app = app
        self.page_policy = page_policy.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                html = any(
                    name.lower() == b"content-type" and value.startswith(b"text/html")
                    for name, value in headers
                )
                if html:
                    wanted += [
                        (b"content-security-policy", self.page_policy),
                        (b"x-frame-options", b"DENY"),
                    ]
                headers += [(name, value) for name, value in wanted if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
