"""Operations routes: health (database and MoltPe reachability) and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from persistence.models import OPEN_REFUND_STATUSES
from server.runtime import ServerRuntime, current_runtime

UNSETTLED = """
SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS oldest,
       (SELECT count(*) FROM audit_pending) AS audit_pending,
       (SELECT extract(epoch FROM now() - min(ts)) FROM audit_pending) AS audit_oldest
  FROM refunds WHERE status = ANY(%(statuses)s)
"""

router = APIRouter()


@router.get("/healthz", tags=["operations"])
async def healthz(runtime: Annotated[ServerRuntime, Depends(current_runtime)]) -> JSONResponse:
    """Database and MoltPe reachability; the LLM check's finding at start-up.

    ``llm`` (``off``, ``ok``, ``unreachable``, ``unauthorized`` or ``error``) does not make
    the service unhealthy: without a working LLM it answers with the offline rules.
    """
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(5):
            async with runtime.services.storage.pool.connection() as conn:
                await conn.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # report, never raise, from a health check
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        async with asyncio.timeout(5):
            reachable = await runtime.services.moltpe.ping()
        checks["moltpe"] = "ok" if reachable else "unreachable"
    except Exception as exc:  # report, never raise, from a health check
        checks["moltpe"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    llm = runtime.llm
    return JSONResponse(
        {
            "status": "ok" if healthy else "degraded",
            **checks,
            "llm": llm.state if llm is not None else "unchecked",
            "llm_detail": llm.message if llm is not None else None,
        },
        status_code=200 if healthy else 503,
    )


@router.get("/metrics", tags=["operations"])
async def metrics(runtime: Annotated[ServerRuntime, Depends(current_runtime)]) -> Response:
    """Prometheus metrics of this process and of the database.

    The database's: unsettled refunds, and audit events waiting to be chained.
    """
    async with runtime.services.storage.pool.connection() as conn:
        cur = await conn.execute(UNSETTLED, {"statuses": list(OPEN_REFUND_STATUSES)})
        row = await cur.fetchone()
    if row is not None:
        runtime.metrics.unsettled.set(int(row["n"]))
        runtime.metrics.oldest_unsettled.set(float(row["oldest"] or 0))
        runtime.metrics.audit_pending.set(int(row["audit_pending"]))
        runtime.metrics.oldest_audit_pending.set(float(row["audit_oldest"] or 0))
    return Response(
        runtime.metrics.render(),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )
