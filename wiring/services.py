"""Build :class:`~graph.services.Services` from settings, or from parts a caller has.

Nothing here runs at import time. :func:`create_services` starts what is missing
(database pool, MoltPe sandbox, clients) and owns it through the services'
``AsyncExitStack``; :func:`default_services` builds one lazily on first use, for the
graph that ``langgraph dev`` serves.

With no ``MOLTPE_API_KEY`` the local MoltPe sandbox is started in-process, a refund
wallet is created with the configured caps (refund_only), and every order's payment
is registered with it, so the whole system runs offline.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

from langchain_core.language_models import BaseChatModel

from core.errors import ConfigurationError
from core.limits import Limits
from core.settings import Settings, get_settings
from graph.services import Services
from graph.understanding import LLMUnderstander, RulesUnderstander, Understander
from graph.understanding.languages import warm_up as warm_up_languages
from persistence.runtime import Storage, open_storage
from tools.moltpe import MoltPeClient
from tools.order_import import OrderRecord
from tools.order_source import OrderSource
from tools.refunds import RefundService

__all__ = [
    "chat_model_from",
    "create_services",
    "default_services",
    "order_source_from",
    "provision_sandbox",
    "register_payments",
]

logger = logging.getLogger(__name__)


def chat_model_from(settings: Settings) -> BaseChatModel | None:
    """``ChatOpenAI`` when an OpenAI key is configured, else None (offline rules)."""
    if settings.openai_api_key is None:
        return None
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.openai_model,
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_seconds,
        max_retries=1,
        temperature=0,
    )


async def provision_sandbox(sandbox: Any, storage: Storage, settings: Settings) -> str:
    """Create a refund wallet with the configured policy and register every payment."""
    agent_id: str = await asyncio.to_thread(
        sandbox.create_agent,
        "support-refund-agent",
        settings.moltpe_network,
        per_tx_cap=settings.refund_per_tx_cap,
        daily_cap=settings.refund_daily_cap,
        refund_only=True,
    )
    await register_payments(sandbox, storage)
    return agent_id


async def register_payments(sandbox: Any, storage: Storage) -> int:
    """Tell the sandbox about every order's payment (idempotent)."""
    async with storage.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT payment_id, payer_address, amount_usdc, network FROM orders"
        )
        rows = await cur.fetchall()

    def register() -> None:
        for row in rows:
            sandbox.register_payment(
                row["payment_id"], row["payer_address"], row["amount_usdc"], row["network"]
            )

    await asyncio.to_thread(register)
    return len(rows)


async def order_source_from(
    settings: Settings, storage: Storage, sandbox: Any | None = None
) -> OrderSource | None:
    """The ``ORDERS_SOURCE_QUERY`` source, checked against the database; None when unset.

    With a local sandbox, every order copied in has its payment registered with it.

    Raises:
        tools.order_source.OrderSourceError: the query is unusable (says why).
    """
    if not settings.orders_source_query:
        return None

    async def register(record: OrderRecord) -> None:
        assert sandbox is not None
        await asyncio.to_thread(
            sandbox.register_payment,
            record.payment_id,
            record.payer_address,
            record.amount_usdc,
            record.network,
        )

    source = OrderSource(
        settings.orders_source_query,
        default_network=settings.moltpe_network,
        on_copied=register if sandbox is not None else None,
    )
    async with storage.pool.connection() as conn:
        await source.validate(conn)
    return source


async def create_services(
    settings: Settings | None = None,
    *,
    storage: Storage | None = None,
    moltpe: MoltPeClient | None = None,
    agent_id: str | None = None,
    chat_model: BaseChatModel | None = None,
    sandbox: Any | None = None,
    reconcile: bool = True,
) -> Services:
    """Build the services, starting what is missing (database, sandbox, clients).

    What this function opens is closed by :meth:`Services.aclose`; what the caller
    passes in stays the caller's.
    """
    settings = settings or get_settings()
    # The language detector's models load once per process (a second or two): here, off
    # the event loop, rather than inside the first customer's turn.
    await asyncio.to_thread(warm_up_languages)
    async with AsyncExitStack() as stack:
        if storage is None:
            storage = await open_storage(settings)
            stack.push_async_callback(storage.close)
        if moltpe is None:
            if settings.uses_sandbox:
                if sandbox is None:
                    from moltpe_sandbox import start_sandbox

                    started = await asyncio.to_thread(start_sandbox)
                    stack.push_async_callback(asyncio.to_thread, started.stop)
                    logger.info("MoltPe sandbox running at %s", started.url)
                    sandbox = started
                if agent_id is None:
                    agent_id = await provision_sandbox(sandbox, storage, settings)
                moltpe = MoltPeClient.from_settings(
                    settings, api_key_override=sandbox.api_key, base_url_override=sandbox.url
                )
            else:
                moltpe = MoltPeClient.from_settings(settings)
            stack.push_async_callback(moltpe.aclose)
        agent_id = agent_id or settings.moltpe_agent_id
        if not agent_id:
            raise ConfigurationError(
                "MOLTPE_AGENT_ID is not set: create a refund wallet with "
                "`refund-agent wallet create` and put its agent_id in settings"
            )
        model = chat_model if chat_model is not None else chat_model_from(settings)
        understander: Understander = (
            LLMUnderstander(
                model,
                settings.openai_timeout_seconds,
                every_message=settings.model_reads_every_message,
            )
            if model is not None
            else RulesUnderstander()
        )
        order_source = await order_source_from(settings, storage, sandbox)
        limits = Limits.from_settings(settings)
        refunds = RefundService(
            audit=storage.audit, moltpe=moltpe, agent_id=agent_id, limits=limits
        )
        services = Services(
            settings=settings,
            storage=storage,
            moltpe=moltpe,
            refunds=refunds,
            understander=understander,
            limits=limits,
            agent_id=agent_id,
            phraser=model if settings.phrase_replies else None,
            sandbox=sandbox,
            order_source=order_source,
            resources=stack.pop_all(),
        )
    if reconcile:
        # Only refunds unsettled for longer than any sender may still be sending them:
        # re-sending one another process's turn is still waiting on could let that turn
        # record a failure while this re-send pays (and the order look free for a second
        # refund). A failure here is logged, not fatal: the elected reconciler retries.
        from wiring.reconciler import reconcile_stale

        try:
            settled = await reconcile_stale(services, older_than=settings.reconcile_after_seconds)
        except Exception:
            logger.warning("could not reconcile unsettled refunds at start-up", exc_info=True)
        else:
            if settled:
                logger.info("reconciled %d unsettled refunds at start-up", len(settled))
    return services


_default: Services | None = None
_default_lock: asyncio.Lock | None = None


async def default_services() -> Services:
    """The process-wide services from settings, built on first use."""
    global _default, _default_lock
    if _default is not None:
        return _default
    if _default_lock is None:
        _default_lock = asyncio.Lock()
    async with _default_lock:
        if _default is None:
            from wiring import tracing

            settings = await asyncio.to_thread(get_settings)
            # Under `langgraph dev` runs are traced by the server's own machinery; making
            # the masking client LangSmith's process default keeps PII out of those too.
            await asyncio.to_thread(tracing.install, settings)
            from wiring.llm_check import settings_that_work

            # The graph's first run checks the LLM once (langgraph dev has no start-up hook).
            settings, _ = await settings_that_work(settings)
            _default = await create_services(settings)
    return _default
