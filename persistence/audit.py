"""The append-only, hash-chained audit log.

Each chained row stores ``prev_hash`` and ``hash = sha256(prev_hash || canonical_json(content))``
where the content is the row's seq, timestamp, type, actor, thread, order, customer and
payload. The chain starts at :data:`GENESIS_HASH`. The database computes both (a trigger
on every insert: :func:`canonical_content` and :func:`chain_hash` are its twins in
Python, used by :func:`verify_chain`), so no caller can supply a wrong hash. Only roles
granted ``EXECUTE`` on ``audit_append``/``audit_append_many`` may append. The database
refuses UPDATE, DELETE and TRUNCATE; the chain is what makes tampering visible when a
superuser bypasses the triggers.

Writers never wait for the chain (migration 13): a transaction's events go to
``audit_pending`` in one statement, each row sealed by the database with the hash of its
own content (:func:`pending_seal`), and commit with the business writes, so an event is
durable before the reply that depends on it. A chainer (:meth:`AuditLog.chain`, run in
the background by every process that writes, woken after each commit) then moves
committed pending rows into ``audit_events`` in batches under the chain head's lock,
keeping each row's time and seal; the head is locked by the chainer alone, never across
a writer's other statements. Several processes may chain: one holds the head at a time
and the others skip. ``audit_log`` shows every event, chained or still pending;
:func:`verify_chain` reports the pending backlog and checks every seal, so a pending row
edited before it was chained is found after too.

When ``AUDIT_LOG_FILE`` is set, the committed chain is copied to that file, one JSON line
per row in sequence order (:meth:`AuditLog.mirror`): the file is an outbox's reader,
resuming from its own last line, so an event committed by any process (or before a
crash) is in it once a later chaining or the serving loop catches up. Several processes
may share the file (an exclusive file lock); files on different hosts each hold the
whole chain, and ``audit verify --against`` reads any number of them as one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from psycopg_pool import PoolClosed

from core.tasks import raise_if_cancelled
from persistence.db import Conn, Pool, pipelined_transaction
from persistence.migrations import GENESIS_HASH

MAX_TEXT: Final = 4000  # longest string kept in a payload (longer ones are cut, noted)


class EventType(StrEnum):
    """Every kind of event the project writes."""

    NODE = "node"
    LOOKUP = "lookup"
    DECISION = "decision"
    REFUND_REQUESTED = "refund_requested"
    REFUND_CONFIRMED = "refund_confirmed"
    REFUND_FAILED = "refund_failed"
    REFUND_POLICY_VIOLATION = "refund_policy_violation"
    REFUND_OUTCOME_UNKNOWN = "refund_outcome_unknown"
    REFUND_RECONCILED = "refund_reconciled"
    CUSTOMER_TOLD = "customer_told"
    ESCALATION = "escalation"
    ESCALATION_ATTACHED = "escalation_attached"
    TICKET_RESOLVED = "ticket_resolved"
    TICKET_CLAIMED = "ticket_claimed"
    TICKET_RELEASED = "ticket_released"
    INJECTION_SUSPECTED = "injection_suspected"
    LLM_FALLBACK = "llm_fallback"
    SEED = "seed"
    ORDERS_IMPORTED = "orders_imported"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One event to append. ``payload`` holds JSON-able facts (Decimals become strings)."""

    event_type: str
    actor: str = "agent"
    thread_id: str | None = None
    order_id: str | None = None
    customer_email: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A stored event with its place in the chain."""

    seq: int
    ts: dt.datetime
    event_type: str
    actor: str
    thread_id: str | None
    order_id: str | None
    customer_email: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-able dict (one line of the mirror file)."""
        return {
            "seq": self.seq,
            "ts": self.ts.isoformat(),
            "event_type": self.event_type,
            "actor": self.actor,
            "thread_id": self.thread_id,
            "order_id": self.order_id,
            "customer_email": self.customer_email,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def jsonable(value: Any) -> Any:
    """Convert ``value`` into plain JSON types that survive a jsonb round trip exactly.

    Decimals, UUIDs, dates and enums become strings; floats become strings too (jsonb
    would not keep their exact text); NUL characters are dropped (jsonb refuses them);
    very long strings are cut.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        text = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "...[cut]"
    if isinstance(value, Decimal | float | uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {jsonable(str(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump(mode="json"))
    return jsonable(str(value))


def canonical_content(
    *,
    seq: int,
    ts: dt.datetime,
    event_type: str,
    actor: str,
    thread_id: str | None,
    order_id: str | None,
    customer_email: str | None,
    payload: Mapping[str, Any],
) -> str:
    """The exact text the hash covers: sorted-key compact JSON, UTC timestamp."""
    content = {
        "seq": seq,
        "ts": ts.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "event_type": event_type,
        "actor": actor,
        "thread_id": thread_id,
        "order_id": order_id,
        "customer_email": customer_email,
        "payload": payload,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, content: str) -> str:
    """``sha256(prev_hash || content)`` as lowercase hex."""
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def _content_of(row: Mapping[str, Any], *, seq: int, ts: dt.datetime) -> str:
    """The canonical content of a stored row, with the seq and time given."""
    return canonical_content(
        seq=seq,
        ts=ts,
        event_type=row["event_type"],
        actor=row["actor"],
        thread_id=row["thread_id"],
        order_id=row["order_id"],
        customer_email=row["customer_email"],
        payload=row["payload"],
    )


def row_hash(row: Mapping[str, Any]) -> str:
    """Recompute the hash of a stored row."""
    return chain_hash(row["prev_hash"], _content_of(row, seq=row["seq"], ts=row["ts"]))


def pending_seal(row: Mapping[str, Any]) -> str:
    """The seal of a pending row: ``sha256(canonical content)`` with its id as the seq.

    ``row`` is a pending row, or a chained one (its ``pending_id`` and ``written_at``).
    """
    if "id" in row:
        return chain_hash("", _content_of(row, seq=row["id"], ts=row["ts"]))
    return chain_hash("", _content_of(row, seq=row["pending_id"], ts=row["written_at"]))


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """An appended event waiting for the chainer: its pending id and the database's time."""

    id: int
    ts: dt.datetime
    event_type: str


APPEND: Final = "SELECT id, ts, event_type FROM audit_append_many(%s::jsonb)"
"""The database gives each row its id, time and seal; the chainer gives it its place."""


async def append_events(
    conn: Conn, events: Sequence[AuditEvent], *, fetch: bool = True, in_transaction: bool = False
) -> list[PendingRecord]:
    """Append ``events`` inside the caller's open transaction, in one statement.

    They commit (or roll back) with the transaction. No shared row is locked: the chain
    is extended later by :meth:`AuditLog.chain` (which :meth:`AuditLog.transaction`
    wakes after its commit), so the events may be appended at any point of the
    transaction.

    ``fetch=False`` (in pipeline mode): send the statement without waiting for its answer,
    so it travels with the next statement whose result is read, or with the COMMIT; an
    error still aborts the transaction. Returns no records then. ``in_transaction``: the
    caller opened the transaction (in pipeline mode its BEGIN may not be answered yet).
    """
    if not events:
        return []
    if not conn.info.transaction_status and not in_transaction:  # IDLE: no transaction
        raise RuntimeError("append_events must run inside a transaction")
    batch = [
        {
            "event_type": str(event.event_type),
            "actor": event.actor,
            "thread_id": event.thread_id,
            "order_id": event.order_id,
            "customer_email": event.customer_email.lower() if event.customer_email else None,
            "payload": jsonable(dict(event.payload)),
        }
        for event in events
    ]
    cur = await conn.execute(APPEND, (json.dumps(batch, ensure_ascii=False),))
    if not fetch:
        return []
    rows = await cur.fetchall()
    if len(rows) != len(events):
        raise RuntimeError(f"audit_append_many stored {len(rows)} of {len(events)} events")
    return [PendingRecord(int(r["id"]), r["ts"], str(r["event_type"])) for r in rows]


def record_of(row: Mapping[str, Any]) -> AuditRecord:
    """A stored row as an :class:`AuditRecord`."""
    return AuditRecord(
        seq=int(row["seq"]),
        ts=row["ts"],
        event_type=str(row["event_type"]),
        actor=str(row["actor"]),
        thread_id=row["thread_id"],
        order_id=row["order_id"],
        customer_email=row["customer_email"],
        payload=dict(row["payload"]),
        prev_hash=str(row["prev_hash"]),
        hash=str(row["hash"]),
    )


MIRROR_BATCH: Final = 1000
"""Most rows copied to the mirror per read of the chain."""
CHAIN_BATCH: Final = 1000
"""Most pending rows linked into the chain per chaining transaction."""
CHAIN_RETRY_SECONDS: Final = 0.02
"""How long the chainer waits when another process holds the chain head."""
CHAIN_GATHER_SECONDS: Final = 0.01
"""After a wake-up the chainer waits this long, so the commits of a busy moment are chained
in one transaction instead of one each (the chain lags by as much; no writer waits)."""
CHAINER_IDLE_SECONDS: Final = 5.0
"""A process's chainer stops after this long without a commit (the next one restarts it)."""

logger = logging.getLogger(__name__)


class AuditTransaction:
    """Events appended inside one business transaction (see :meth:`AuditLog.transaction`)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.records: list[PendingRecord] = []
        self.appended = 0

    async def append(self, *events: AuditEvent, fetch: bool = True) -> list[PendingRecord]:
        """Append ``events`` in this transaction (one statement); committed with it.

        ``fetch=False``: do not wait for the database's answer (pipeline mode: the
        statement goes with the next round trip; see :func:`append_events`).
        """
        records = await append_events(self.conn, events, fetch=fetch, in_transaction=True)
        self.records.extend(records)
        self.appended += len(events)
        return records


class AuditLog:
    """Writes events through the shared pool, chains them, and mirrors the chain if configured."""

    def __init__(
        self, pool: Pool, mirror_file: Path | None = None, *, chain_after_commit: bool = True
    ) -> None:
        self._pool = pool
        self.chain_after_commit = chain_after_commit
        """Wake the chainer after each commit; when false, the owner calls :meth:`chain`
        or :meth:`flush` itself (a benchmark separating a turn's work from the chain's)."""
        self._mirror_file = mirror_file
        self._mirror_lock = asyncio.Lock()
        self._mirrored: int | None = None  # last seq known to be in the file
        self._chainer: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._closed = False
        self._wrote = False  # whether this process committed events (flushed at close)

    @property
    def pool(self) -> Pool:
        """The pool the log writes through."""
        return self._pool

    @contextlib.asynccontextmanager
    async def transaction(
        self, conn: Conn | None = None, *, force_rollback: bool = False, pipeline: bool = False
    ) -> AsyncIterator[AuditTransaction]:
        """A transaction whose events are chained (and mirrored) once it has committed.

        ``async with audit.transaction() as tx: ...; await tx.append(event)``: the
        business writes on ``tx.conn`` and their events commit together or not at all.
        After the commit the process's chainer is woken (never for an event that was
        rolled back, nothing for ``force_rollback``, a dry run); it links the events
        into the chain and copies them to the mirror file off this caller's path.

        ``conn``: run the transaction on this connection (the caller's) instead.
        ``pipeline``: send its statements together (:func:`persistence.db.pipelined_transaction`):
        a statement whose result is read waits for everything before it, the rest go with
        the COMMIT; append with ``fetch=False`` then.
        """
        async with contextlib.AsyncExitStack() as stack:
            if conn is None:
                conn = await stack.enter_async_context(self._pool.connection())
            tx = AuditTransaction(conn)
            if pipeline:
                await stack.enter_async_context(
                    pipelined_transaction(conn, force_rollback=force_rollback)
                )
            else:
                await stack.enter_async_context(conn.transaction(force_rollback=force_rollback))
            yield tx
        if tx.appended and not force_rollback:
            self._wrote = True
            if self.chain_after_commit:
                self.wake()

    async def record(self, *events: AuditEvent) -> None:
        """Append ``events`` in their own transaction (then wake the chainer).

        One round trip: BEGIN, the append and COMMIT go together (a pipeline).
        """
        async with self.transaction(pipeline=True) as tx:
            await tx.append(*events, fetch=False)

    def wake(self) -> None:
        """Have this process's chainer chain what is pending (started if not running)."""
        if self._closed:
            return
        self._wrote = True
        loop = asyncio.get_running_loop()
        task = self._chainer
        if task is None or task.done() or task.get_loop() is not loop or self._wake is None:
            self._wake = asyncio.Event()
            self._chainer = loop.create_task(self._keep_chaining(self._wake), name="audit chainer")
        self._wake.set()

    async def _keep_chaining(self, wake: asyncio.Event) -> None:
        """Chain and mirror after every wake-up; stop once idle.

        No await lies between the last look at ``wake`` and the return, so a wake-up is
        never lost: :meth:`wake` starts a new loop once this one is done.
        """
        while True:
            raise_if_cancelled()
            await asyncio.sleep(CHAIN_GATHER_SECONDS)
            wake.clear()
            try:
                chained = await self.chain()
                if self._mirror_file is not None:
                    while await self.mirror() >= MIRROR_BATCH:
                        pass
            except asyncio.CancelledError:
                raise
            except PoolClosed:
                return  # the process is shutting down; the next one chains what is left
            except Exception:
                logger.warning("could not chain the pending audit events; retrying", exc_info=True)
                await asyncio.sleep(CHAIN_RETRY_SECONDS * 50)
                continue
            if chained < 0:  # another process holds the head: it may not see our rows
                await asyncio.sleep(CHAIN_RETRY_SECONDS)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), CHAINER_IDLE_SECONDS)
            if not wake.is_set():
                return

    async def chain(self, *, wait: bool = False) -> int:
        """Link every committed pending event into the chain; return how many.

        Returns -1 when another process holds the chain head and ``wait`` is false (it
        may have started before this process's last commit, so try again shortly).
        """
        total = 0
        async with self._pool.connection() as conn:
            while True:
                cur = await conn.execute(
                    "SELECT audit_chain_pending(%s, %s) AS n", (CHAIN_BATCH, wait)
                )
                row = await cur.fetchone()
                moved = int(row["n"]) if row else 0
                if moved < 0:
                    return -1 if total == 0 else total
                total += moved
                if moved < CHAIN_BATCH:
                    return total

    async def flush(self) -> int:
        """Chain everything committed so far (waiting for another chainer) and mirror it.

        For commands that exit after writing, and for readers of ``audit_events`` that
        need the chain up to date; returns the number of events chained.
        """
        chained = await self.chain(wait=True)
        if self._mirror_file is not None:
            while await self.mirror() >= MIRROR_BATCH:
                pass
        return chained

    async def aclose(self) -> None:
        """Stop this process's chainer and chain what it left (best effort).

        Only a log that wrote chains at close: a reader (``audit verify``) changes nothing.
        """
        self._closed = True
        task, self._chainer = self._chainer, None
        if task is not None and not task.done():
            if task.get_loop() is asyncio.get_running_loop():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not self._wrote:
            return
        try:
            await self.flush()
        except Exception:
            logger.warning(
                "could not chain the pending audit events at close; the next "
                "process that writes, or any running serve, will",
                exc_info=True,
            )

    async def mirror(self) -> int:
        """Bring the mirror file up to the committed chain (no-op if unset).

        The rows after the file's last line are read from the database, at most
        :data:`MIRROR_BATCH` per call (a new mirror of a long chain fills over several
        calls). Returns the number of lines written.
        """
        if self._mirror_file is None:
            return 0
        path = self._mirror_file
        async with self._mirror_lock:
            if self._mirrored is None:
                self._mirrored = await asyncio.to_thread(_last_mirrored_seq, path)
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT * FROM audit_events WHERE seq > %s ORDER BY seq LIMIT %s",
                    (self._mirrored, MIRROR_BATCH),
                )
                rows = [record_of(row) for row in await cur.fetchall()]
            if not rows:
                return 0
            written, self._mirrored = await asyncio.to_thread(_append_rows, path, rows)
            return written


def _last_mirrored_seq(path: Path) -> int:
    """The seq of the file's last complete line (0 for a missing or empty file)."""
    try:
        with path.open("rb") as fh:
            return _tail_seq(fh)
    except FileNotFoundError:
        return 0


def _tail_seq(fh: Any) -> int:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - 65536))
    tail = fh.read()
    for line in reversed(tail.split(b"\n")):
        if line.strip():
            try:
                return int(json.loads(line)["seq"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a crash: the one before it counts
    return 0


def _append_rows(path: Path, rows: Sequence[AuditRecord]) -> tuple[int, int]:
    """Append the rows after the file's last line, under an exclusive lock.

    Another process sharing the file may have written some of them meanwhile: those
    are skipped. A last line cut short by a crash is ended first, so it stays one bad
    line (reported by verify) instead of swallowing the next row. Returns the lines
    written and the file's last seq.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            last = _tail_seq(fh)
            fresh = [r for r in rows if r.seq > last]
            if not fresh or fresh[0].seq != last + 1:
                return 0, last  # not contiguous with the file: read again next time
            fh.seek(0, os.SEEK_END)
            if fh.tell():
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")
            text = "".join(
                json.dumps(r.to_json(), ensure_ascii=False, sort_keys=True) + "\n" for r in fresh
            )
            fh.write(text.encode("utf-8"))
            fh.flush()
            return len(fresh), fresh[-1].seq
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What :func:`verify_chain` found."""

    ok: bool
    checked: int
    head_seq: int
    broken_seq: int | None = None
    problem: str | None = None
    problems: tuple[str, ...] = ()
    """Every problem found, when the check reports them all (the mirror comparison)."""
    not_mirrored: int = 0
    """Rows newer than the mirror's last line (written after it was read, not judged)."""
    pending: int = 0
    """Committed events not yet linked into the chain (the chainer's backlog)."""
    oldest_pending: dt.datetime | None = None
    """When the oldest of them was written."""


async def verify_chain(conn: Conn, batch: int = 1000) -> VerifyResult:
    """Walk the chain from genesis; report the first edited, deleted or inserted row.

    Also checks the seals and counts the events still waiting to be chained. Runs in one
    snapshot (a read-only repeatable-read transaction, unless the caller has one open),
    so rows chained meanwhile by another process are neither seen nor missed.
    """
    if conn.info.transaction_status:  # the caller's transaction: its snapshot
        return await _verify_chain(conn, batch)
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return await _verify_chain(conn, batch)


async def _verify_chain(conn: Conn, batch: int) -> VerifyResult:
    cur = await conn.execute("SELECT seq, hash FROM audit_chain_head WHERE id")
    head = await cur.fetchone()
    if head is None:
        return VerifyResult(False, 0, 0, None, "the chain head row is missing")
    head_seq, head_hash = int(head["seq"]), str(head["hash"])
    expected_seq, prev = 1, GENESIS_HASH
    checked = 0
    async for row in _rows(conn, batch):
        seq = int(row["seq"])
        if seq > head_seq:
            return VerifyResult(
                False,
                checked,
                head_seq,
                seq,
                f"row {seq} lies beyond the chain head ({head_seq}): inserted",
            )
        if seq != expected_seq:
            return VerifyResult(
                False,
                checked,
                head_seq,
                expected_seq,
                f"row {expected_seq} is missing (next row is {seq}): deleted",
            )
        if row["prev_hash"] != prev:
            return VerifyResult(
                False,
                checked,
                head_seq,
                seq,
                f"row {seq} does not link to row {seq - 1}: edited, deleted or inserted",
            )
        if row_hash(row) != row["hash"]:
            return VerifyResult(
                False, checked, head_seq, seq, f"row {seq} content does not match its hash: edited"
            )
        if row.get("pending_seal") is not None and pending_seal(row) != row["pending_seal"]:
            return VerifyResult(
                False,
                checked,
                head_seq,
                seq,
                f"row {seq} differs from the event as it was written: edited before chaining",
            )
        prev = str(row["hash"])
        expected_seq += 1
        checked += 1
    if checked != head_seq:
        return VerifyResult(
            False,
            checked,
            head_seq,
            expected_seq,
            f"the chain head says {head_seq} rows but the log ends at {checked}: deleted",
        )
    if prev != head_hash:
        return VerifyResult(
            False,
            checked,
            head_seq,
            head_seq,
            "the last row's hash differs from the chain head: edited",
        )
    pending = oldest = None
    count = 0
    async for row in _pending_rows(conn, batch):
        count += 1
        oldest = row["ts"] if oldest is None else min(oldest, row["ts"])
        if pending is None and pending_seal(row) != row["seal"]:
            pending = int(row["id"])
    if pending is not None:
        return VerifyResult(
            False,
            checked,
            head_seq,
            None,
            f"pending event {pending} does not match its seal: edited",
            pending=count,
            oldest_pending=oldest,
        )
    return VerifyResult(True, checked, head_seq, pending=count, oldest_pending=oldest)


PAGES: Final = {
    "audit_events": "SELECT * FROM audit_events WHERE seq > %s ORDER BY seq LIMIT %s",
    "audit_pending": "SELECT * FROM audit_pending WHERE id > %s ORDER BY id LIMIT %s",
}
"""One page of a table in key order, after a key (keyset pagination)."""


async def _paged(conn: Conn, table: str, key: str, batch: int) -> AsyncIterator[dict[str, Any]]:
    last = 0
    while True:
        cur = await conn.execute(PAGES[table], (last, batch))
        rows = await cur.fetchall()
        if not rows:
            return
        for row in rows:
            yield row
        last = int(rows[-1][key])


def _pending_rows(conn: Conn, batch: int) -> AsyncIterator[dict[str, Any]]:
    return _paged(conn, "audit_pending", "id", batch)


def _rows(conn: Conn, batch: int) -> AsyncIterator[dict[str, Any]]:
    return _paged(conn, "audit_events", "seq", batch)


async def tail(
    conn: Conn, *, thread_id: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The latest ``limit`` events (optionally of one conversation), oldest first.

    Pending events (not chained yet: ``seq`` is None) count as the newest.
    """
    if thread_id is None:
        cur = await conn.execute(
            "SELECT * FROM audit_log ORDER BY seq DESC NULLS FIRST, pending_id DESC LIMIT %s",
            (limit,),
        )
    else:
        cur = await conn.execute(
            "SELECT * FROM audit_log WHERE thread_id = %s"
            " ORDER BY seq DESC NULLS FIRST, pending_id DESC LIMIT %s",
            (thread_id, limit),
        )
    rows = await cur.fetchall()
    return list(reversed(rows))


TICKET_TRAIL: Final = """
SELECT * FROM audit_log
 WHERE thread_id = %(thread_id)s
    OR (order_id = %(order_id)s AND thread_id IS DISTINCT FROM %(thread_id)s
        AND event_type <> 'node')
 ORDER BY seq DESC NULLS FIRST, pending_id DESC  -- pending events are the newest
 LIMIT %(limit)s
"""


async def trail_of(
    conn: Conn, *, thread_id: str | None, order_id: str | None, limit: int = 500
) -> list[dict[str, Any]]:
    """The latest ``limit`` events of a conversation and of an order, oldest first.

    Every event of the conversation, and what happened to the order elsewhere (lookups,
    decisions, refunds, tickets of other conversations; not their graph steps).
    """
    if thread_id is None and order_id is None:
        return []
    cur = await conn.execute(
        TICKET_TRAIL, {"thread_id": thread_id, "order_id": order_id, "limit": limit}
    )
    rows = await cur.fetchall()
    return list(reversed(rows))


async def verify_against_mirror(
    conn: Conn, mirror: Path | Sequence[Path], batch: int = 1000
) -> VerifyResult:
    """Compare the database's chain with an outside copy (the ``AUDIT_LOG_FILE`` mirror).

    ``mirror`` may be several files, read as one (identical lines in several files are
    one row): each is a copy of the chain, and older deployments wrote one per process.

    The in-database chain cannot reveal a rewrite by someone able to recompute every hash
    and the head (the tables' owner, a superuser); a mirror kept out of their reach can.
    Reports every difference, not just the first: a row of the chain missing from the
    mirror (a gap: up to the mirror's last row, every row must be in it), a mirror row
    missing from the chain, a row whose hash differs, and a mirror line whose content
    does not match its own hash. Rows newer than the mirror's last line are counted in
    ``not_mirrored``, not judged (``verify_chain`` covers their linkage).

    Raises:
        OSError: the mirror cannot be read.
    """
    files = [mirror] if isinstance(mirror, Path) else list(mirror)
    texts = [await asyncio.to_thread(f.read_text, encoding="utf-8") for f in files]
    found: list[tuple[int, str]] = []  # (seq, problem)
    entries: dict[int, dict[str, Any]] = {}
    lines = (
        (path, number, line)
        for path, text in zip(files, texts, strict=True)
        for number, line in enumerate(text.splitlines(), start=1)
    )
    for path, number, line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            seq = int(entry["seq"])
            own_hash = _mirror_line_hash(entry)
        except (ValueError, KeyError, TypeError, AttributeError):
            found.append((0, f"{path}:{number} is not an audit mirror line"))
            continue
        if own_hash != entry["hash"]:
            found.append((seq, f"the mirror's row {seq} does not match its own hash: edited"))
        previous = entries.get(seq)
        if previous is not None and previous != entry:
            found.append((seq, f"row {seq} appears twice in the mirror, differently"))
        entries[seq] = entry
    last_mirrored = max(entries, default=0)
    missing: list[int] = []
    checked = not_mirrored = head_seq = 0
    async for row in _rows(conn, batch):
        seq = int(row["seq"])
        head_seq = seq
        entry = entries.pop(seq, None)
        if entry is None:
            if seq <= last_mirrored:
                missing.append(seq)
            else:
                not_mirrored += 1
            continue
        if entry["hash"] != row["hash"] or entry.get("prev_hash") != row["prev_hash"]:
            found.append((seq, f"row {seq} differs from the mirror: rewritten"))
        checked += 1
    if missing:
        found.append((missing[0], f"{_rows_text(missing)} of the chain not in the mirror: a gap"))
    if entries:
        extra = sorted(entries)
        found.append(
            (extra[0], f"{_rows_text(extra)} in the mirror but not in the database: deleted")
        )
    if not found:
        return VerifyResult(True, checked, head_seq, not_mirrored=not_mirrored)
    found.sort(key=lambda item: item[0])
    return VerifyResult(
        False,
        checked,
        head_seq,
        broken_seq=found[0][0] or None,
        problem=found[0][1],
        problems=tuple(problem for _, problem in found),
        not_mirrored=not_mirrored,
    )


def _mirror_line_hash(entry: Mapping[str, Any]) -> str:
    """The hash a mirror line's own content gives (as :func:`row_hash` of a stored row)."""
    fields = dict(entry)
    fields["ts"] = dt.datetime.fromisoformat(str(entry["ts"]))
    return row_hash(fields)


def _rows_text(seqs: Sequence[int], most: int = 10) -> str:
    """``row 11`` or ``rows 3-5, 11`` (sorted seqs as ranges, the first ``most`` of them)."""
    ranges: list[tuple[int, int]] = []
    for seq in seqs:
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in ranges[:most]]
    more = f" and {len(ranges) - most} more ranges" if len(ranges) > most else ""
    noun = "row" if len(seqs) == 1 else "rows"
    return f"{noun} {', '.join(parts)}{more}"
