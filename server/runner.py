"""Run the app with uvicorn: in the foreground (the CLI) or in a thread (tests)."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from core.serving import ServerThread

__all__ = ["ServerThread", "serve"]


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve in the foreground until interrupted."""
    # The app logs each request itself (server.access), with conversation ids redacted:
    # uvicorn's own access log would print them, and they are read capabilities.
    logging.getLogger("server.access").setLevel(logging.INFO)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=None,  # uvicorn's lines go through the root logger's format (LOG_FORMAT)
        proxy_headers=True,
        access_log=False,
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
    )
