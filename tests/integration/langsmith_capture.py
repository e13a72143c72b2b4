"""A stand-in LangSmith API on 127.0.0.1 that records what the langsmith client sends.

It answers ``GET /info`` like a current LangSmith (multipart ingestion, optionally zstd
compression), accepts ``POST /runs/multipart`` (zstd or gzip encoded, or plain),
``POST /runs/batch``, ``POST /runs`` and ``PATCH /runs/{id}``, and answers anything else
with an empty JSON object. Every request is kept with its decoded body, and the runs are
reassembled from the posts and patches so tests can read names, metadata, inputs and
outputs.
"""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import zstandard


@dataclass(frozen=True)
class Captured:
    """One request as the server received it, body decompressed."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def info_document(*, zstd: bool) -> dict[str, Any]:
    """What ``GET /info`` answers."""
    return {
        "version": "0.10.0",
        "license_expiration_time": None,
        "batch_ingest_config": {
            "use_multipart_endpoint": True,
            "scale_up_qsize_trigger": 1000,
            "scale_up_nthreads_limit": 16,
            "scale_down_nempty_trigger": 4,
            "size_limit": 100,
            "size_limit_bytes": 20_971_520,
        },
        "instance_flags": {"zstd_compression_enabled": zstd},
    }


def decode_body(headers: dict[str, str], raw: bytes) -> bytes:
    """The body with its ``Content-Encoding`` undone."""
    encoding = headers.get("content-encoding", "").lower()
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    if encoding == "gzip":
        return gzip.decompress(raw)
    return raw


def multipart_parts(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """``(name, payload)`` of every part of a ``multipart/form-data`` body."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    parts: list[tuple[str, bytes]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        parts.append((str(name), payload if isinstance(payload, bytes) else b""))
    return parts


class CaptureServer:
    """Records every request; ``runs()`` rebuilds the runs they describe."""

    def __init__(self, *, zstd: bool = True) -> None:
        self.zstd = zstd
        self._lock = threading.Lock()
        self._requests: list[Captured] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="langsmith-capture", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what arrived ---------------------------------------------------------------

    def requests(self) -> list[Captured]:
        with self._lock:
            return list(self._requests)

    def ingest_requests(self) -> list[Captured]:
        """The requests that carried runs."""
        return [r for r in self.requests() if r.path.startswith("/runs")]

    def run_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Every posted or patched run fragment as ``(operation, fields)``, in order."""
        events: list[tuple[str, dict[str, Any]]] = []
        for req in self.ingest_requests():
            if req.path == "/runs/multipart":
                events.extend(_multipart_events(req))
            elif req.path == "/runs/batch":
                doc = json.loads(req.body)
                events.extend(("post", run) for run in doc.get("post") or [])
                events.extend(("patch", run) for run in doc.get("patch") or [])
            elif req.method == "POST" and req.path == "/runs":
                events.append(("post", json.loads(req.body)))
            elif req.method == "PATCH" and req.path.startswith("/runs/"):
                run = json.loads(req.body)
                run.setdefault("id", req.path.rsplit("/", 1)[-1])
                events.append(("patch", run))
        return events

    def runs(self) -> dict[str, dict[str, Any]]:
        """Runs by id, each post merged with its patches."""
        runs: dict[str, dict[str, Any]] = {}
        for _op, fields in self.run_events():
            run = runs.setdefault(str(fields["id"]), {})
            for key, value in fields.items():
                if value is not None:
                    run[key] = value
        return runs

    # --- the HTTP side ----------------------------------------------------------------

    def _record(self, captured: Captured) -> None:
        with self._lock:
            self._requests.append(captured)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                path = self.path.split("?", 1)[0]
                server._record(Captured(self.command, path, headers, decode_body(headers, raw)))
                if self.command == "GET" and path == "/info":
                    answer: Any = info_document(zstd=server.zstd)
                else:
                    answer = {}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _multipart_events(req: Captured) -> list[tuple[str, dict[str, Any]]]:
    """Run fragments of one ``/runs/multipart`` request."""
    events: dict[tuple[str, str], dict[str, Any]] = {}
    order: list[tuple[str, str]] = []
    for name, payload in multipart_parts(req.headers["content-type"], req.body):
        pieces = name.split(".")
        if pieces[0] not in ("post", "patch"):
            continue
        key = (pieces[0], pieces[1])
        if key not in events:
            events[key] = {"id": str(uuid.UUID(pieces[1]))}
            order.append(key)
        value = json.loads(payload)
        if len(pieces) == 2:
            events[key].update(value)
        else:
            events[key][pieces[2]] = value
    return [(op, events[(op, run_id)]) for op, run_id in order]
