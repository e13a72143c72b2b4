"""How the service logs: plain lines by default, one JSON object per line on request.

``LOG_FORMAT=json`` (``Settings.log_format``) makes every record of every logger (the
service's, the access log ``server.access``, uvicorn's) one JSON object on stderr, with
``ts``, ``level``, ``logger`` and ``message``, plus ``exc`` for a traceback and any
``extra`` fields the call passed (``urls`` on the start-up line). Plain is the default.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Final, Literal

LogFormat = Literal["plain", "json"]
PLAIN_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What every LogRecord has: anything else on a record came in through ``extra``.
_STANDARD: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        doc: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


def configure(fmt: LogFormat) -> None:
    """Give the root logger's handlers the chosen format (adding one if there is none)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    formatter: logging.Formatter = (
        JsonFormatter() if fmt == "json" else logging.Formatter(PLAIN_FORMAT)
    )
    for handler in root.handlers:
        handler.setFormatter(formatter)
