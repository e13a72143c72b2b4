"""Open everything the storage layer needs, once per process."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings
from persistence.audit import AuditLog
from persistence.db import Pool, open_pool, resolve_database_url
from persistence.migrations import migrate


@dataclass(slots=True)
class Storage:
    """The shared pool and audit log of one process."""

    url: str
    pool: Pool
    audit: AuditLog

    async def close(self) -> None:
        """Chain the audit events this process left pending, then close the pool."""
        try:
            await self.audit.aclose()
        finally:
            await self.pool.close()


async def open_storage(
    settings: Settings, *, url: str | None = None, run_migrations: bool = True
) -> Storage:
    """Resolve the database (embedded if needed), open the pool, apply migrations."""
    url = url or await resolve_database_url(settings)
    pool = await open_pool(url, settings)
    try:
        if run_migrations:
            async with pool.connection() as conn:
                await migrate(conn, app_role=settings.db_app_role)
    except BaseException:
        await pool.close()
        raise
    return Storage(url=url, pool=pool, audit=AuditLog(pool, settings.audit_log_file))
