"""Run the app with uvicorn: in the foreground (the CLI) or in a thread (tests)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from core.serving import ServerThread

__all__ = ["ServerThread", "serve"]


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve in the foreground until interrupted."""
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)
