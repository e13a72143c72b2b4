"""A local, MoltPe-compatible server for development and tests (like stripe-mock).

It serves MoltPe's API shapes (``POST /v1/agents/create``, ``POST
/v1/agents/{agent_id}/policy``, ``POST /v1/payments/refund``, plus ``GET /v1/health``)
and enforces MoltPe's server-side rules on its own: per-transaction and daily caps,
refunds only to the original payer, never more than was paid, idempotency keys.
Admin endpoints under ``/_sandbox/`` register payments, read the ledger and
wallets, fund wallets, inject faults and reset; they take a separate admin key
(``SandboxServer.admin_key``) and refuse the API key an agent holds. See
:mod:`moltpe_sandbox.app` for the status and error codes and
:mod:`moltpe_sandbox.faults` for the fault knobs.

Start one from Python with :func:`start_sandbox`, from a shell with
``python -m moltpe_sandbox --port 8765`` or ``refund-agent sandbox``.
"""

from moltpe_sandbox.app import create_app
from moltpe_sandbox.faults import Faults
from moltpe_sandbox.server import SandboxAdmin, SandboxAdminError, SandboxServer, start_sandbox
from moltpe_sandbox.state import DEFAULT_FLOAT, SANDBOX_API_KEY, SandboxState, new_admin_key

__all__ = [
    "DEFAULT_FLOAT",
    "SANDBOX_API_KEY",
    "Faults",
    "SandboxAdmin",
    "SandboxAdminError",
    "SandboxServer",
    "SandboxState",
    "create_app",
    "new_admin_key",
    "start_sandbox",
]
