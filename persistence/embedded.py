"""An embedded PostgreSQL for machines with no ``DATABASE_URL``.

Uses the ``pgserver`` package (PostgreSQL binaries shipped on PyPI). The data folder
lives under ``REFUND_AGENT_HOME`` and is reused across runs; the server keeps running
after the process exits so the next command starts instantly.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started."""


def embedded_data_dir(home: Path) -> Path:
    """Where the embedded server keeps its data under ``home``."""
    return home / "pgdata"


def start_embedded(data_dir: Path) -> str:
    """Start (or attach to) the embedded server in ``data_dir`` and return its URL.

    Blocking: call it from a thread when an event loop is running.

    Raises:
        EmbeddedPostgresError: with the reason and the data folder.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
            warnings.simplefilter("ignore")
            from pgserver import get_server  # type: ignore[attr-defined]

            server = get_server(data_dir, cleanup_mode=None)
            uri = server.get_uri()
    except Exception as exc:  # pgserver raises bare exceptions with the server's log
        raise EmbeddedPostgresError(
            f"could not start the embedded PostgreSQL in {data_dir}: {exc}. "
            "Set DATABASE_URL to use your own server instead."
        ) from exc
    logger.info("embedded PostgreSQL running with data in %s", data_dir)
    return str(uri)


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded server of ``data_dir`` if it runs; True when one was stopped.

    Blocking. The data stays; the next start reuses it.
    """
    if not (data_dir / "postmaster.pid").exists():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver import get_server  # type: ignore[attr-defined]

            server = get_server(data_dir, cleanup_mode="stop")
            server.cleanup()
    except Exception as exc:  # pgserver raises bare exceptions with the server's log
        raise EmbeddedPostgresError(
            f"could not stop the embedded PostgreSQL in {data_dir}: {exc}"
        ) from exc
    return True
