"""Serve an ASGI app with uvicorn in a background thread (tests, the demo, the sandbox).

The socket is bound first, so ``port=0`` picks a free port and the URL is known at
once; uvicorn then runs in a daemon thread with its own event loop, and :meth:`start`
returns when the app accepts connections (its start-up has finished).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Final, Self

import uvicorn

STARTUP_TIMEOUT: Final = 60.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn (``port=0`` picks a free port).

    The protocol is given explicitly: asyncio sets ``TCP_NODELAY`` on accepted
    connections only when the listening socket says ``IPPROTO_TCP``; without it
    every answer stalls ~40 ms on Nagle's algorithm and delayed ACKs.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def base_url(host: str, port: int) -> str:
    """``http://host:port`` (IPv6 hosts bracketed)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class ServerThread:
    """An ASGI app served by uvicorn in a background thread with its own event loop."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: str = "on",
        name: str = "http",
        graceful_seconds: int = 2,
    ) -> None:
        self._sock = bind_socket(host, port)
        self.url = base_url(host, self._sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan=lifespan,  # type: ignore[arg-type]
            loop="asyncio",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=graceful_seconds,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name=name, daemon=True
        )

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread.is_alive()

    def start(self, timeout: float = STARTUP_TIMEOUT) -> Self:
        """Start serving; return once the app accepts connections.

        Raises:
            RuntimeError: The app did not start in time (its start-up failed).
        """
        self._thread.start()
        give_up = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > give_up:
                self.stop()
                raise RuntimeError(f"the server at {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop serving (the app's shutdown runs) and wait for the thread; idempotent."""
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
