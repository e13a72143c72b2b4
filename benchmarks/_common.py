"""What every benchmark shares: a throwaway database, seeded orders, a sandbox, figures.

Set-up mirrors ``refund-agent demo``: a uniquely named database on the admin server
(``BENCH_DATABASE_URL`` or ``TEST_DATABASE_URL`` when set, else ``DATABASE_URL`` or the
embedded server through :func:`persistence.db.resolve_database_url`), the project's
migrations, generated customers with one fresh order each, the MoltPe sandbox in its
own process on loopback (as MoltPe would be: its CPU is not the agent's), and the
project's services built with :func:`wiring.services.create_services`. The database is
dropped afterwards.

Every connection of the pool counts the statements it runs (:class:`CountingCursor`)
and the transactions it opens (:class:`CountingConnection`) into :data:`COUNTER`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, TypeVar

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

from core.settings import Settings
from graph.services import Services
from moltpe_sandbox import SandboxAdmin, new_admin_key
from persistence.audit import AuditLog
from persistence.checkpoint import open_checkpointer
from persistence.db import (
    Pool,
    connection_kwargs,
    create_database,
    drop_database,
    resolve_database_url,
    with_dbname,
)
from persistence.migrations import migrate
from persistence.runtime import Storage
from persistence.seed import SeedCustomer, SeedFile, SeedOrder, apply_seed
from wiring.services import create_services

ADMIN_URL_VARIABLES: Final = ("BENCH_DATABASE_URL", "TEST_DATABASE_URL")
SANDBOX_FLOAT: Final = Decimal("1000000000")
BIG_CAP: Final = Decimal("1000000000")
ORDER_AMOUNT: Final = Decimal("45.00")
FIRST_ORDER_NUMBER: Final = 100_000
SHOW: Final = {
    "server_version": "SHOW server_version",
    "synchronous_commit": "SHOW synchronous_commit",
    "fsync": "SHOW fsync",
}

ASK_TEXT: Final = "Hi! My earbuds stopped working, can I get 20 USDC back?"
"""Turn 1 of the benchmark conversation: a refund request without identity."""

IDENTITY_TEXT: Final = "Sure, it's {email} and the order is {order_id}"
"""Turn 2: the identity, after which the agent looks up, decides and refunds 20 USDC."""

ONE_SHOT_TEXT: Final = (
    "Hi, I'm {email}. Order {order_id} arrived damaged, please refund 20 USDC of it."
)
"""A whole refund request in one message."""


def emit(*lines: str) -> None:
    """Print figures on stdout (the only thing a benchmark prints there)."""
    for line in lines:
        print(line, flush=True)


_STARTED: Final = time.monotonic()


def progress(message: str) -> None:
    """Say on stderr what a benchmark is doing, with the seconds since it started.

    Long runs show they are alive, and ``> results.txt`` still captures only figures.
    """
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def every(count: int, *, times: int = 10) -> int:
    """A step to report progress at, so a loop of ``count`` reports about ``times`` times."""
    return max(1, count // times)


# --- statement counting -----------------------------------------------------------------


@dataclass(slots=True)
class StatementCounter:
    """Statements and transactions run by every counting connection of this process."""

    statements: int = 0
    transactions: int = 0

    def snapshot(self) -> tuple[int, int]:
        """The counts so far, to subtract from a later snapshot."""
        return self.statements, self.transactions


COUNTER: Final = StatementCounter()
TRANSACTION_CONTROL: Final = frozenset({"BEGIN", "COMMIT", "ROLLBACK"})


class CountingCursor(AsyncCursor[DictRow]):
    """A cursor that counts each statement it sends (each row of ``executemany``)."""

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        """Count, then execute.

        A pipelined transaction's BEGIN counts as a transaction and its BEGIN and COMMIT as
        no statement, as psycopg's ``transaction()``'s.
        """
        if query in TRANSACTION_CONTROL:
            COUNTER.transactions += query == "BEGIN"
        else:
            COUNTER.statements += 1
        return await super().execute(query, params, **kwargs)

    async def executemany(self, query: Any, params_seq: Iterable[Any], **kwargs: Any) -> None:
        """Count one statement per parameter set, then execute them."""
        params = list(params_seq)
        COUNTER.statements += len(params)
        await super().executemany(query, params, **kwargs)


class CountingConnection(AsyncConnection[DictRow]):
    """A connection that counts the explicit transactions (BEGIN ... COMMIT) it opens."""

    @asynccontextmanager
    async def transaction(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """Count, then open the transaction."""
        COUNTER.transactions += 1
        async with super().transaction(*args, **kwargs) as tx:
            yield tx


async def open_counting_pool(url: str, settings: Settings, *, size: int) -> Pool:
    """A pool like :func:`persistence.db.open_pool`, of counting connections."""
    kwargs = {**connection_kwargs(settings), "cursor_factory": CountingCursor}
    pool: Pool = AsyncConnectionPool(
        url,
        min_size=size,
        max_size=size,
        kwargs=kwargs,
        connection_class=CountingConnection,
        open=False,
        name="benchmark",
    )
    await pool.open(wait=True, timeout=60)
    return pool


# --- the database and the sandbox ---------------------------------------------------------


async def admin_url() -> str:
    """The server benchmarks create their throwaway databases on."""
    for name in ADMIN_URL_VARIABLES:
        if url := os.environ.get(name):
            return url
    return await resolve_database_url(Settings())


def bench_settings(**overrides: Any) -> Settings:
    """Settings for a benchmark: rules mode, the sandbox, caps and rate limits out of the way."""
    values: dict[str, Any] = {
        "moltpe_api_key": None,
        "openai_api_key": None,
        "refund_daily_cap": BIG_CAP,
        "refund_velocity_max": 1_000_000,
        "rate_limit_per_ip": 1_000_000,  # still counted (the statement runs), never hit
        "audit_log_file": None,
        **overrides,
    }
    return Settings(_env_file=None, **values)


class SandboxProcess(SandboxAdmin):
    """The MoltPe sandbox served by ``python -m moltpe_sandbox`` in a child process."""

    def __init__(self, process: subprocess.Popen[str], url: str, admin_key: str) -> None:
        super().__init__(url, admin_key=admin_key)
        self._process = process

    @classmethod
    def start(cls, initial_float: Decimal = SANDBOX_FLOAT) -> SandboxProcess:
        """Start one on a free loopback port and wait for its URL (blocking)."""
        admin_key = new_admin_key()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "moltpe_sandbox",
                "--port",
                "0",
                "--initial-float",
                str(initial_float),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "MOLTPE_SANDBOX_ADMIN_KEY": admin_key},
        )
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            process.kill()
            process.wait()
            raise RuntimeError("the MoltPe sandbox did not start")
        return cls(process, url, admin_key)

    def stop(self) -> None:
        """Stop the child process (blocking)."""
        self.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


@dataclass(frozen=True, slots=True)
class SeededOrder:
    """An order the benchmark may refund (20 of its 45 USDC)."""

    order_id: str
    email: str


def seed_file(count: int) -> tuple[SeedFile, list[SeededOrder]]:
    """``count`` customers with one fresh 45 USDC order each."""
    customers, orders, seeded = [], [], []
    for i in range(count):
        number = FIRST_ORDER_NUMBER + i
        email = f"customer{number}@bench.example.com"
        order_id = f"ORD-{number}"
        customers.append(SeedCustomer(email=email, name=f"Customer {number}"))
        orders.append(
            SeedOrder(
                id=order_id,
                customer_email=email,
                payment_id=f"pay_bench_{number}",
                payer_address="0x" + f"{number:040x}",
                amount_usdc=ORDER_AMOUNT,
                age_days=3,
                description="Wireless earbuds",
            )
        )
        seeded.append(SeededOrder(order_id, email))
    return SeedFile(customers=customers, orders=orders), seeded


@dataclass
class BenchEnv:
    """A throwaway database with seeded orders, a sandbox and the agent's services."""

    admin_url: str
    database: str
    url: str
    settings: Settings
    storage: Storage
    sandbox: SandboxProcess
    services: Services
    orders: list[SeededOrder]
    _next: int = field(default=0, repr=False)

    @property
    def pool(self) -> Pool:
        """The shared, counting connection pool."""
        return self.storage.pool

    def take_order(self) -> SeededOrder:
        """An order no earlier conversation has touched."""
        if self._next >= len(self.orders):
            raise RuntimeError("the benchmark ran out of seeded orders; seed more")
        order = self.orders[self._next]
        self._next += 1
        return order

    async def saver(self) -> AsyncPostgresSaver:
        """LangGraph's saver on the shared pool, tables set up (as the product does)."""
        return await open_checkpointer(self.pool)


@asynccontextmanager
async def bench_env(
    *,
    orders: int,
    settings: Settings | None = None,
    pool_size: int = 10,
    chat_model: BaseChatModel | None = None,
    admin: str | None = None,
    route: Callable[[str], str] | None = None,
) -> AsyncIterator[BenchEnv]:
    """Create the database, seed ``orders`` orders, start the sandbox and the services.

    ``route`` rewrites the database URL the services' pool connects to (a benchmark
    that counts round trips puts a counting proxy in between).
    """
    settings = settings or bench_settings()
    admin = admin or await admin_url()
    progress(f"setting up: a throwaway database with {orders} orders, the sandbox, the services")
    database = await create_database(admin, prefix="bench")
    url = with_dbname(admin, database)
    sandbox: SandboxProcess | None = None
    pool: Pool | None = None
    services: Services | None = None
    try:
        sandbox = await asyncio.to_thread(SandboxProcess.start)
        pool = await open_counting_pool(route(url) if route else url, settings, size=pool_size)
        storage = Storage(url=url, pool=pool, audit=AuditLog(pool))
        seed, seeded = seed_file(orders)
        async with pool.connection() as conn:
            await migrate(conn)
            await apply_seed(conn, seed)
        # Creates the refund wallet (caps from settings) and registers every payment.
        services = await create_services(
            settings, storage=storage, sandbox=sandbox, chat_model=chat_model, reconcile=False
        )
        progress("set up; measuring")
        yield BenchEnv(admin, database, url, settings, storage, sandbox, services, seeded)
        progress("measured; cleaning up")
    finally:
        if services is not None:
            await services.aclose()
        if pool is not None:
            await pool.close()
        if sandbox is not None:
            await asyncio.to_thread(sandbox.stop)
        await drop_database(admin, database)


# --- figures ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99 and mean of durations, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": float(len(ms)),
        "p50_ms": round(percentile(ms, 0.5), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "mean_ms": round(sum(ms) / len(ms), 2) if ms else math.nan,
    }


def ratio(a: float, b: float) -> float:
    """``a / b`` rounded, NaN when ``b`` is zero."""
    return round(a / b, 2) if b else math.nan


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """Measure a block: the list holds its duration in seconds once it ends."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain-text table (markdown-compatible) of ``rows``."""
    text_rows = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in text_rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:,.2f}"
    return str(value)


async def machine_info(pool: Pool | None = None) -> dict[str, Any]:
    """CPU count, memory, load, and the versions that matter to the figures."""
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    for package in (
        "langgraph",
        "langgraph-checkpoint",
        "langgraph-checkpoint-postgres",
        "langgraph-prebuilt",
        "langchain-core",
        "psycopg",
    ):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = "not installed"
    if pool is not None:
        async with pool.connection() as conn:
            for setting in ("server_version", "synchronous_commit", "fsync"):
                cur = await conn.execute(SHOW[setting])
                row = await cur.fetchone()
                info[setting] = row[setting] if row else "?"
        info["postgres"] = info.pop("server_version")
    return info


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        return None
    return None


def machine_line(info: dict[str, Any]) -> str:
    """One line describing the machine and versions."""
    return (
        f"machine: {info['nproc']} CPUs, {info['memory_gb']} GB, load {info['loadavg_1m']}; "
        f"Python {info['python']}, Postgres {info.get('postgres', '?')} "
        f"(synchronous_commit={info.get('synchronous_commit', '?')}), "
        f"langgraph {info['langgraph']}, checkpoint-postgres "
        f"{info['langgraph-checkpoint-postgres']}"
    )


def write_json(path: str | None, result: dict[str, Any]) -> None:
    """Write the figures to ``path`` as JSON (nothing when ``path`` is None)."""
    if path is None:
        return
    with open(path, "w", encoding="utf-8") as out:
        json.dump(result, out, indent=2, default=str)
        out.write("\n")


# --- the command line every benchmark shares ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Flag:
    """One command-line option of a benchmark, filling one field of its ``Options``."""

    name: str
    """The option as typed, ``--min-conversations``."""
    help: str
    """What it sets; ``%(default)s`` is replaced by the field's default."""
    type: Callable[[str], Any] = int
    """Reads the typed text (raise ``argparse.ArgumentTypeError`` on bad input)."""
    field: str | None = None
    """The ``Options`` field it fills; default: the name without dashes, ``_`` for ``-``."""

    @property
    def dest(self) -> str:
        """The ``Options`` field this option fills."""
        return self.field or self.name.removeprefix("--").replace("-", "_")


_O = TypeVar("_O")


def benchmark_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """``python -m <module>``, described by the first line of ``doc``, with ``--json FILE``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}", description=(doc or module).splitlines()[0]
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    return parser


def parse_options(
    options: type[_O], module: str, doc: str | None, flags: Sequence[Flag], argv: list[str] | None
) -> tuple[_O, str | None]:
    """``options`` (a dataclass with a default for every field) and ``--json`` from ``argv``."""
    defaults = options()
    parser = benchmark_parser(module, doc)
    for flag in flags:
        parser.add_argument(
            flag.name,
            dest=flag.dest,
            metavar=flag.name.removeprefix("--").replace("-", "_").upper(),
            type=flag.type,
            default=getattr(defaults, flag.dest),
            help=flag.help,
        )
    args = vars(parser.parse_args(argv))
    json_file = args.pop("json")
    return options(**{flag.dest: args[flag.dest] for flag in flags}), json_file


def run_and_report(
    options: _O,
    json_file: str | None,
    run: Callable[[_O], Coroutine[Any, Any, dict[str, Any]]],
    report: Callable[[dict[str, Any]], None],
) -> None:
    """Run one benchmark, print its figures and write them to ``json_file`` if given."""
    result = asyncio.run(run(options))
    report(result)
    write_json(json_file, result)
