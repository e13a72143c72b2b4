"""An embedded PostgreSQL for machines with no ``DATABASE_URL``.

Uses the ``pgserver`` package (PostgreSQL binaries shipped on PyPI). The data folder
lives under ``REFUND_AGENT_HOME`` and is reused across runs; the server keeps running
after the process exits so the next command starts instantly.

The server is found by its data folder, never by a list of processes that once used
it: ``postmaster.pid`` names the postmaster (pid, port, socket folder), and
:func:`stop_embedded` runs ``pg_ctl stop -D`` on the folder, then checks the postmaster
and every postgres process serving that folder are gone before it says so.
(pgserver's own clean-up counts the processes that opened the server and stops it only
when the last one leaves; a process killed with SIGKILL, or one that never ran its exit
hooks, is counted forever, so that is not used to stop it.)
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS: Final = 30.0
HANDLE_LIST: Final = ".handle_pids.json"
"""pgserver's list of processes holding the server (reset once the server is stopped)."""


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started or stopped."""


@dataclass(frozen=True, slots=True)
class EmbeddedStatus:
    """What the data folder says about its server, checked against the live processes."""

    data_dir: Path
    running: bool
    """True when a live postmaster or any postgres process serves ``data_dir``."""
    pid: int | None = None
    """The postmaster's pid when it is alive."""
    port: int | None = None
    socket_dir: Path | None = None
    """Where its Unix socket is (the embedded server listens on no TCP address)."""
    stale_pid_file: bool = False
    """``postmaster.pid`` names a process that is gone (a crash or a kill)."""
    other_pids: tuple[int, ...] = ()
    """Postgres processes of ``data_dir`` other than the postmaster (normally its
    children; alone, the leftovers of a postmaster that was killed)."""

    @property
    def url(self) -> str | None:
        """The URL to connect with (the ``postgres`` superuser, trust auth), if running."""
        if self.pid is None or self.socket_dir is None:
            return None
        return f"postgresql://postgres:@/postgres?host={self.socket_dir}"


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


def embedded_status(data_dir: Path) -> EmbeddedStatus:
    """Whether a server runs on ``data_dir``, from ``postmaster.pid`` and the processes.

    Never starts anything and never blocks for long.
    """
    data_dir = _resolved(data_dir)
    others = tuple(postgres_processes(data_dir))
    info = _read_pid_file(data_dir)
    if info is None:
        return EmbeddedStatus(data_dir=data_dir, running=bool(others), other_pids=others)
    pid, port, socket_dir = info
    # On Linux the pid must be a postgres of this folder: a pid file left by a crash may
    # name a pid that now belongs to another program.
    if not _alive(pid) or (_HAS_PROC and pid not in others):
        return EmbeddedStatus(
            data_dir=data_dir, running=bool(others), stale_pid_file=True, other_pids=others
        )
    return EmbeddedStatus(
        data_dir=data_dir,
        running=True,
        pid=pid,
        port=port,
        socket_dir=socket_dir,
        other_pids=tuple(p for p in others if p != pid),
    )


def stop_embedded(data_dir: Path, *, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
    """Stop the server of ``data_dir``; True when one was running and is now gone.

    Runs ``pg_ctl stop -D data_dir -m fast`` (as the folder's owner when called as
    root, since PostgreSQL refuses to run as root), then waits until the postmaster
    and every postgres process of the folder have exited. Blocking. The data stays;
    the next start reuses it.

    Raises:
        EmbeddedPostgresError: the server is still running after ``timeout`` seconds,
            naming what is left.
    """
    data_dir = _resolved(data_dir)
    before = embedded_status(data_dir)
    if not before.running:
        _forget_handles(data_dir)
        return False
    deadline = time.monotonic() + timeout
    if before.pid is not None:
        _pg_ctl_stop(data_dir, timeout)
        _wait_gone([before.pid], min(deadline, time.monotonic() + timeout / 2))
        if _alive(before.pid):
            # pg_ctl could not do it (e.g. it runs as the folder's owner, who cannot reach
            # the folder any more): SIGINT is the same fast shutdown, sent directly.
            _signal_all([before.pid], signal.SIGINT)
            _wait_gone([before.pid], deadline)
    leftovers = list(postgres_processes(data_dir))
    if leftovers:
        # A postmaster that was killed leaves its children for a moment; one that is
        # gone from postmaster.pid cannot be asked by pg_ctl. Ask them directly.
        _signal_all(leftovers, signal.SIGTERM)
        _wait_gone(leftovers, deadline)
    after = embedded_status(data_dir)
    if after.running:
        left = ([after.pid] if after.pid else []) + list(after.other_pids)
        raise EmbeddedPostgresError(
            f"the embedded PostgreSQL in {data_dir} is still running after {timeout:.0f}s "
            f"(pids {', '.join(map(str, left))}); see {data_dir / 'log'}"
        )
    _forget_handles(data_dir)
    logger.info("stopped the embedded PostgreSQL in %s", data_dir)
    return True


def holders(data_dir: Path) -> list[int]:
    """Live processes that opened the server through pgserver (its list of handles).

    The list also names processes that died without saying so; only live ones are
    returned. Another program using the server does not appear here unless it opened
    it through pgserver.
    """
    try:
        pids = json.loads((_resolved(data_dir) / HANDLE_LIST).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(pids, list):
        return []
    return sorted({p for p in pids if isinstance(p, int) and p > 0 and _alive(p)})


_HAS_PROC: Final = sys.platform.startswith("linux") and Path("/proc/self").is_dir()


def postgres_processes(data_dir: Path) -> list[int]:
    """Pids of live postgres processes started with ``-D data_dir`` (Linux; else [])."""
    proc = Path("/proc")
    if not _HAS_PROC:
        return []
    wanted = str(_resolved(data_dir))
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or not argv[0] or Path(os.fsdecode(argv[0])).name != "postgres":
            continue
        args = [os.fsdecode(a) for a in argv]
        if any(
            a == "-D" and i + 1 < len(args) and _same_dir(args[i + 1], wanted)
            for i, a in enumerate(args)
        ) and _alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


# --- helpers ---------------------------------------------------------------------------


def _resolved(path: Path) -> Path:
    return path.expanduser().resolve()


def _same_dir(candidate: str, wanted: str) -> bool:
    try:
        return str(Path(candidate).resolve()) == wanted
    except OSError:
        return False


def _read_pid_file(data_dir: Path) -> tuple[int, int | None, Path | None] | None:
    """``(pid, port, socket_dir)`` from ``postmaster.pid``, or None when absent/garbled."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    try:
        pid = int(lines[0].strip())
    except (IndexError, ValueError):
        return None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else None
    return pid, port, socket_dir


def _alive(pid: int) -> bool:
    """True when ``pid`` is a live process (a zombie nobody reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal check is all there is
    state = stat.rpartition(")")[2].split()[:1]
    return state not in (["Z"], ["X"])


def _pg_ctl_stop(data_dir: Path, timeout: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    pg_ctl = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    owner = data_dir.stat().st_uid
    as_owner = owner if hasattr(os, "geteuid") and os.geteuid() == 0 and owner != 0 else None
    command = [str(pg_ctl), "stop", "-D", str(data_dir), "-m", "fast", "-w"]
    command += ["-t", str(max(1, int(timeout)))]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout + 5,
            check=False,
            user=as_owner,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("pg_ctl stop failed: %s", exc)
        return
    if done.returncode != 0:
        # Not fatal: the checks after it decide, and say what is left.
        logger.warning("pg_ctl stop: %s", (done.stderr or done.stdout).strip())


def _wait_gone(pids: list[int], deadline: float) -> None:
    delay = 0.05
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def _signal_all(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            continue


def _forget_handles(data_dir: Path) -> None:
    """Reset pgserver's list of holders: none of them holds a stopped server."""
    handles = data_dir / HANDLE_LIST
    if handles.exists():
        try:
            handles.write_text("[]")
        except OSError:
            pass
