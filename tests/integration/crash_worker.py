"""A separate agent process for the crash tests in ``test_exactly_once.py``.

Configured like production, from the environment only (``DATABASE_URL``,
``MOLTPE_BASE_URL``, ``MOLTPE_API_KEY``, ``MOLTPE_AGENT_ID``)::

    python tests/integration/crash_worker.py refund REQUEST_KEY ORDER_ID EMAIL AMOUNT
    python tests/integration/crash_worker.py start

``refund`` issues one refund through :class:`tools.refunds.RefundService` and prints
its outcome as one JSON line; the test SIGKILLs it while MoltPe's answer is on its
way. ``start`` is a process starting up: :func:`wiring.services.create_services`
reconciles every unsettled refund, then the process prints ``started`` and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal

from core.limits import Limits
from core.settings import Settings
from persistence.runtime import open_storage
from tools.moltpe import MoltPeClient
from tools.refunds import RefundService


async def refund(request_key: str, order_id: str, email: str, amount: str) -> None:
    settings = Settings(_env_file=None)
    storage = await open_storage(settings)
    try:
        async with MoltPeClient.from_settings(settings) as moltpe:
            assert settings.moltpe_agent_id
            service = RefundService(
                audit=storage.audit,
                moltpe=moltpe,
                agent_id=settings.moltpe_agent_id,
                limits=Limits(
                    per_tx_cap=settings.refund_per_tx_cap,
                    daily_cap=settings.refund_daily_cap,
                    window_days=settings.refund_window_days,
                ),
            )
            print("calling", flush=True)  # noqa: T201
            outcome = await service.refund(
                request_key=request_key,
                order_id=order_id,
                customer_email=email,
                amount=Decimal(amount),
                reason="crash_test",
                approved_by="policy_gate",
                policy_version="test",
                thread_id=request_key,
            )
            print(json.dumps({"status": outcome.status}), flush=True)  # noqa: T201
    finally:
        await storage.close()


async def start() -> None:
    from wiring.services import create_services

    services = await create_services(Settings(_env_file=None), reconcile=True)
    await services.aclose()
    print("started", flush=True)  # noqa: T201


def main(argv: list[str]) -> None:
    if argv[:1] == ["refund"] and len(argv) == 5:
        asyncio.run(refund(*argv[1:]))
    elif argv == ["start"]:
        asyncio.run(start())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
