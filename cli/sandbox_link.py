"""The MoltPe sandbox configured through settings, for commands that register payments."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from cli._common import err

if TYPE_CHECKING:
    from core.settings import Settings
    from moltpe_sandbox import SandboxAdmin


async def configured_sandbox(settings: Settings) -> SandboxAdmin | None:
    """A sandbox admin client when ``MOLTPE_BASE_URL`` is a sandbox we may administer.

    None when MoltPe is the real one, not configured, or a sandbox without a working
    ``MOLTPE_SANDBOX_ADMIN_KEY`` (then a warning says why payments were not registered:
    refunds of them would fail with PAYMENT_NOT_FOUND). The caller closes the client.
    """
    from core.settings import DEFAULT_MOLTPE_BASE_URL
    from moltpe_sandbox import SandboxAdmin

    if settings.moltpe_api_key is None or settings.moltpe_base_url == DEFAULT_MOLTPE_BASE_URL:
        return None
    admin_key = settings.moltpe_sandbox_admin_key
    admin = SandboxAdmin(
        settings.moltpe_base_url,
        settings.moltpe_api_key.get_secret_value(),
        admin_key=admin_key.get_secret_value() if admin_key is not None else None,
    )
    if not await asyncio.to_thread(admin.is_sandbox):
        admin.close()
        return None
    if not await asyncio.to_thread(admin.has_admin_access):
        admin.close()
        problem = (
            "MOLTPE_SANDBOX_ADMIN_KEY is not set"
            if admin_key is None
            else "it refused MOLTPE_SANDBOX_ADMIN_KEY"
        )
        err().print(
            f"[yellow]MOLTPE_BASE_URL is a MoltPe sandbox ({admin.url}) but {problem}: "
            "the orders' payments were not registered with it (refunds of them will fail "
            "with PAYMENT_NOT_FOUND). Set it to the admin key the sandbox printed.[/yellow]",
            soft_wrap=True,
        )
        return None
    return admin
