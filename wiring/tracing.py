"""LangSmith tracing of customer turns, with personal data masked before it leaves.

Tracing is on when the environment says so, as LangSmith reads it: ``LANGSMITH_TRACING``
(or ``LANGSMITH_TRACING_V2`` / the ``LANGCHAIN_`` spellings) is ``true``, with
``LANGSMITH_API_KEY`` and optionally ``LANGSMITH_ENDPOINT`` and ``LANGSMITH_PROJECT``.
Callers merge :func:`trace_config` into the config of every graph invocation::

    config = {"configurable": {"thread_id": thread}, **trace_config(settings, thread_id=thread)}
    await graph.ainvoke(turn, config, context=context, durability="exit")

Each turn is then one trace: a root run named ``"refund-agent turn"`` with the thread id
(and channel, turn) in its metadata, which LangSmith uses to group a conversation, and
one child run per graph node (``understand``, ``lookup``, ``decide``, ...).

Masking (``Settings.trace_hide_pii``, on by default) goes through LangSmith's own hook:
the one process-wide :class:`langsmith.Client` is built with ``anonymizer=``
:func:`mask_pii`, which the client applies to every run's inputs, outputs, metadata and
error before queueing it for upload. Every string at any depth (dict keys too, and the
content of LangChain messages, which the client serialises to plain JSON first) has
emails, wallet addresses, transaction hashes, order ids and API keys / bearer tokens
replaced by placeholders (``[EMAIL]``, ``[WALLET]``, ``[TX_HASH]``, ``[ORDER_ID]``,
``[SECRET]``). The value under a ``thread_id`` key is left as it is: it is an opaque id
and LangSmith groups threads by it.

Limits: masking is by pattern, so personal data of another shape (a name, a phone
number, an email written as "alice at example dot com") passes; run names, tags and the
client's own ``extra.runtime`` block are not masked (the project puts no personal data
there). Thread ids must stay opaque (the HTTP service makes them with ``uuid4``).

The same masking client is installed as LangSmith's process default (``langsmith``
``configure(client=...)``), so LangChain's automatic, environment-driven tracer, which
stays out of any run that already carries our tracer, also masks when something runs
outside :func:`trace_config`. If the masking client cannot be built, LangSmith tracing is
switched off for the process rather than letting an unmasked copy out.

Nothing happens at import time; the client is built on the first traced turn (or by
:func:`install`), and :func:`flush` / :func:`shutdown` drain it. Tracing never breaks a
turn: every error here is logged and swallowed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any, Final, NamedTuple, cast

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import merge_configs
from langchain_core.tracers.langchain import LangChainTracer
from langsmith import Client
from langsmith import run_trees as ls_run_trees
from langsmith import utils as ls_utils

from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

TRACE_RUN_NAME: Final = "refund-agent turn"
"""Name of the root run of every turn."""

TRACE_TAG: Final = "support-refund-agent"
"""Tag put on every traced run."""

DEFAULT_PROJECT: Final = "default"
"""LangSmith project when ``LANGSMITH_PROJECT`` is unset (LangSmith's own default)."""

FLUSH_TIMEOUT_SECONDS: Final = 10.0
"""Longest wait for queued runs in :func:`flush` and :func:`shutdown`."""

EMAIL: Final = "[EMAIL]"
WALLET: Final = "[WALLET]"
TX_HASH: Final = "[TX_HASH]"
ORDER_ID: Final = "[ORDER_ID]"
SECRET: Final = "[SECRET]"

UNMASKED_KEYS: Final = frozenset({"thread_id"})
"""Dict keys whose value is an opaque id, kept as is."""

SECRET_KEY_RE: Final = re.compile(
    r"(?:^|[_-])(?:api[_-]?key|secret|password|passwd|token|authorization|cookie)$",
    re.IGNORECASE,
)
"""Dict keys whose string value is a credential, replaced whole by :data:`SECRET`."""

MAX_DEPTH: Final = 200
"""Nesting deeper than this is replaced whole by :data:`TOO_DEEP` (fails closed)."""

TOO_DEEP: Final = "[TOO_DEEP]"


class MaskRule(NamedTuple):
    """One kind of personal data: how to find it and what replaces it."""

    pattern: re.Pattern[str]
    replacement: str
    needles: tuple[str, ...]
    """Lower-case substrings every match contains; a text with none skips the pattern."""


# Every pattern starts at an anchored prefix or at the start of a run of its characters
# (a look-behind), and repeats are possessive or bounded, so masking is linear in the
# length of the text; the needles skip most patterns for most texts. Order matters:
# credentials first (a token may contain anything), the 64-hex transaction hash before
# the 40-hex wallet address.
MASK_RULES: Final[tuple[MaskRule, ...]] = (
    MaskRule(
        re.compile(r"\b(Bearer\s{1,5})[A-Za-z0-9._~+/=-]{8,}+", re.IGNORECASE),
        r"\1" + SECRET,
        ("bearer",),
    ),
    MaskRule(
        re.compile(r"\b(Basic\s{1,5})[A-Za-z0-9+/=]{16,}+", re.IGNORECASE),
        r"\1" + SECRET,
        ("basic",),
    ),
    MaskRule(
        re.compile(
            r"(?<![A-Za-z0-9_-])(?:sk|rk|lsv2|ls_|whsec|ghp|gho|ghu|ghs|ghr|github_pat|glpat"
            r"|xox[abprs]|npm|pypi)[-_][A-Za-z0-9_-]{8,}+"
        ),
        SECRET,
        ("sk", "rk", "ls", "whsec", "gh", "glpat", "xox", "npm", "pypi"),
    ),
    MaskRule(re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), SECRET, ("akia", "asia")),
    MaskRule(
        re.compile(r"\beyJ[A-Za-z0-9_-]++\.eyJ[A-Za-z0-9_-]++\.[A-Za-z0-9_-]++"), SECRET, ("eyj",)
    ),
    MaskRule(
        re.compile(
            r"(?<![A-Za-z0-9])((?:api[_-]?key|secret|token|password|passwd|authorization)"
            r"[\"']?\s{0,3}[:=]\s{0,3}[\"']?)[^\s\"',;&]{6,}+",
            re.IGNORECASE,
        ),
        r"\1" + SECRET,
        ("key", "secret", "token", "passw", "authorization"),
    ),
    MaskRule(
        re.compile(r"(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*+://[^:@/\s]*+:)[^@/\s]++@", re.IGNORECASE),
        r"\1" + SECRET + "@",
        ("://",),
    ),
    MaskRule(
        re.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@[A-Za-z0-9-]{1,63}"
            r"(?:\.[A-Za-z0-9-]{1,63}){0,10}\.[A-Za-z]{2,24}(?![A-Za-z])"
        ),
        EMAIL,
        ("@",),
    ),
    MaskRule(re.compile(r"(?<![A-Za-z0-9])0[xX][0-9a-fA-F]{64}(?![0-9a-fA-F])"), TX_HASH, ("0x",)),
    MaskRule(re.compile(r"(?<![A-Za-z0-9])0[xX][0-9a-fA-F]{40}(?![0-9a-fA-F])"), WALLET, ("0x",)),
    MaskRule(
        re.compile(
            r"(?<![A-Za-z0-9])(?:ORD|ORDER|ORDR)\s{0,3}(?:ID|NUMBER|NUM\.?|NO\.?|NR\.?)?"
            r"\s{0,3}[-_#:]?\s{0,3}\d{3,12}(?!\d)",
            re.IGNORECASE,
        ),
        ORDER_ID,
        ("ord",),
    ),
)
"""The rules applied, in order, to every string of a trace."""


def mask_text(text: str) -> str:
    """``text`` with every email, wallet, tx hash, order id and credential replaced."""
    lowered = text.lower()
    for rule in MASK_RULES:
        if any(needle in lowered for needle in rule.needles):
            text = rule.pattern.sub(rule.replacement, text)
    return text


def mask_pii(data: Any) -> Any:
    """A copy of ``data`` with personal data masked in every string, at any depth.

    This is the ``anonymizer`` of the LangSmith client: it receives the JSON form of a
    run's inputs, outputs, metadata or ``{"error": ...}``. Dicts, lists and tuples are
    walked and dict keys are masked too; a string under a credential-named key
    (``api_key``, ``password``, ``authorization``, ...) is replaced whole; the value under
    ``thread_id`` is kept, being an opaque id. Other values are returned as they are.
    """
    return _mask(data, 0)


def _mask(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if not isinstance(value, Mapping | list | tuple):
        return value
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                out[key] = _mask(item, depth + 1)
            elif key in UNMASKED_KEYS and isinstance(item, str | int):
                out[key] = item
            elif SECRET_KEY_RE.search(key) and isinstance(item, str) and item:
                out[mask_text(key)] = SECRET
            else:
                out[mask_text(key)] = _mask(item, depth + 1)
        return out
    items = [_mask(item, depth + 1) for item in value]
    return items if isinstance(value, list) else tuple(items)


# --- environment ---------------------------------------------------------------------


def tracing_enabled() -> bool:
    """Whether LangSmith would trace now (:func:`langsmith.utils.tracing_is_enabled`).

    Its reading: a ``tracing_context`` or an enclosing run first, then a process-wide
    switch (:func:`_disable_tracing` sets it off), then ``LANGSMITH_TRACING_V2`` /
    ``LANGSMITH_TRACING`` (or the ``LANGCHAIN_`` spellings) equal to ``true``. LangSmith
    caches what it read from the environment (``get_env_var.cache_clear()`` forgets it).
    """
    return ls_utils.tracing_is_enabled() is True


def project_name() -> str:
    """The LangSmith project traces go to, read as LangSmith's own tracer reads it."""
    return ls_utils.get_tracer_project() or DEFAULT_PROJECT


# --- the process's client --------------------------------------------------------------

_lock = threading.Lock()
_client: Client | None = None
_installed_default = False
_disabled_tracing = False


def active_client() -> Client | None:
    """The client if one has been built (never builds one)."""
    return _client


def get_client(settings: Settings | None = None) -> Client | None:
    """The process's LangSmith client, built on first use; None when tracing is off.

    The client masks personal data unless ``settings.trace_hide_pii`` is false (read
    when the client is built; one client serves the whole process). It also becomes
    LangSmith's process-wide default client, so any tracing LangChain does on its own
    goes through it too. If it cannot be built, LangSmith tracing is switched off for
    the process (nothing unmasked leaves) and None is returned.
    """
    global _client, _installed_default, _disabled_tracing
    if not tracing_enabled():
        return None
    if _client is not None:
        return _client
    with _lock:
        if _client is not None or _disabled_tracing:
            return _client
        try:
            hide = (settings or get_settings()).trace_hide_pii
            client = Client(anonymizer=mask_pii if hide else None)
            ls_run_trees.configure(client=client)
        except Exception:
            logger.exception("LangSmith client could not be built; tracing is switched off")
            _disable_tracing()
            return None
        _client = client
        _installed_default = True
        logger.info(
            "LangSmith tracing to %s, project %s, personal data %s",
            client.api_url,
            project_name(),
            "masked" if hide else "NOT masked",
        )
        return client


def _disable_tracing() -> None:
    """Switch LangSmith tracing off process-wide (fail closed)."""
    global _disabled_tracing
    _disabled_tracing = True
    try:
        ls_run_trees.configure(enabled=False)
    except Exception:  # pragma: no cover - configure only sets variables
        logger.exception("could not switch LangSmith tracing off")


def install(settings: Settings | None = None) -> bool:
    """Build the client now, at start-up, if tracing is on; True when it is ready.

    Optional (the first traced turn builds it anyway); calling it at process start makes
    LangChain's own environment-driven tracing mask from the very first run.
    """
    return get_client(settings) is not None


# --- per-turn config -----------------------------------------------------------------------


def trace_config(
    settings: Settings | None = None,
    *,
    thread_id: str,
    channel: str = "chat",
    turn: int | None = None,
) -> dict[str, Any]:
    """The ``RunnableConfig`` entries that trace one turn; empty when tracing is off.

    Returns ``run_name``, ``metadata`` (``thread_id``, ``channel``, ``turn`` when given),
    ``tags`` and ``callbacks`` (a fresh :class:`LangChainTracer` on the masking client),
    to merge into the config passed to ``graph.ainvoke`` / ``graph.astream``. Never
    raises: on any error it logs and returns ``{}``.
    """
    try:
        client = get_client(settings)
        if client is None:
            return {}
        metadata: dict[str, Any] = {"thread_id": thread_id, "channel": channel}
        if turn is not None:
            metadata["turn"] = turn
        tracer = LangChainTracer(client=client, project_name=project_name())
        return {
            "run_name": TRACE_RUN_NAME,
            "metadata": metadata,
            "tags": [TRACE_TAG, f"channel:{channel}"],
            "callbacks": [tracer],
        }
    except Exception:
        logger.exception("tracing set-up failed; this turn is not traced")
        return {}


def with_tracing(
    config: RunnableConfig,
    settings: Settings | None = None,
    *,
    channel: str = "chat",
    turn: int | None = None,
) -> RunnableConfig:
    """``config`` plus :func:`trace_config` for its ``configurable.thread_id``.

    Merged by LangChain's own rule (:func:`~langchain_core.runnables.config.merge_configs`,
    ``config`` second): its run name and metadata win, tags and callbacks are joined (a
    callbacks manager in ``config`` gets the tracer added). ``config`` is not modified.
    """
    thread = str((config.get("configurable") or {}).get("thread_id") or "")
    extra = trace_config(settings, thread_id=thread, channel=channel, turn=turn) if thread else {}
    if not extra:
        return config
    return merge_configs(cast(RunnableConfig, extra), config)


# --- shutdown ------------------------------------------------------------------------------


def flush(wait_seconds: float | None = FLUSH_TIMEOUT_SECONDS) -> None:
    """Wait (up to ``wait_seconds``; None: no limit) until queued runs are sent. Never raises."""
    client = _client
    if client is None:
        return
    try:
        client.flush(timeout=wait_seconds)
    except Exception:
        logger.exception("flushing LangSmith traces failed")


async def aflush(wait_seconds: float | None = FLUSH_TIMEOUT_SECONDS) -> None:
    """:func:`flush` off the event loop."""
    await asyncio.to_thread(flush, wait_seconds)


def shutdown(wait_seconds: float | None = FLUSH_TIMEOUT_SECONDS) -> None:
    """Flush and close the client, and forget it (the next traced turn builds a new one).

    Also undoes what :func:`get_client` did to LangSmith's process-wide defaults. For
    process shutdown and tests. Never raises.
    """
    global _client, _installed_default, _disabled_tracing
    with _lock:
        client, _client = _client, None
        installed, _installed_default = _installed_default, False
        disabled, _disabled_tracing = _disabled_tracing, False
    try:
        if client is not None:
            client.close(timeout=wait_seconds)
        # ``get_cached_client()`` would build a client; read the default it returns.
        if installed and getattr(ls_run_trees, "_CLIENT", None) is client:
            ls_run_trees.configure(client=None)
        if disabled:
            ls_run_trees.configure(enabled=None)
    except Exception:
        logger.exception("closing the LangSmith client failed")


async def ashutdown(wait_seconds: float | None = FLUSH_TIMEOUT_SECONDS) -> None:
    """:func:`shutdown` off the event loop."""
    await asyncio.to_thread(shutdown, wait_seconds)
