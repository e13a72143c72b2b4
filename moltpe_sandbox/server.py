"""Run the sandbox: in a background thread (tests, the demo) or in the foreground.

:func:`start_sandbox` binds the socket first (so ``port=0`` picks a free port and
the URL is known at once), runs uvicorn in a daemon thread with its own event
loop, and returns when it accepts connections. The returned :class:`SandboxServer`
also offers synchronous helpers for the admin endpoints.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import httpx

from core.money import format_usdc, parse_usdc
from core.serving import ServerThread
from moltpe_sandbox.app import create_app
from moltpe_sandbox.faults import Faults
from moltpe_sandbox.state import DEFAULT_FLOAT, SANDBOX_API_KEY, SandboxState, new_admin_key

__all__ = ["SandboxAdmin", "SandboxAdminError", "SandboxServer", "start_sandbox"]

STARTUP_TIMEOUT: Final = 10.0


class SandboxAdminError(RuntimeError):
    """A sandbox call made through :class:`SandboxServer`'s helpers failed.

    Attributes:
        status_code: The HTTP status.
        body: The decoded error body, or the raw text.
    """

    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(f"sandbox answered HTTP {status_code}: {body}")
        self.status_code = status_code
        self.body = body


class SandboxAdmin:
    """Synchronous helpers for a sandbox's API and admin endpoints, by URL and keys.

    Works with any running sandbox (``refund-agent sandbox`` in another terminal, or
    ``python -m moltpe_sandbox``); :class:`SandboxServer` is one that this process runs.
    MoltPe API calls (``create_agent``) send ``api_key``; the admin helpers (everything
    under ``/_sandbox``) send ``admin_key`` and raise :class:`ValueError` without one.
    """

    def __init__(
        self,
        url: str,
        api_key: str = SANDBOX_API_KEY,
        *,
        admin_key: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.admin_key = admin_key
        self._http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def is_sandbox(self) -> bool:
        """True when ``url`` is a MoltPe sandbox that accepts ``api_key``."""
        try:
            response = self._http.get("/v1/health")
            body = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return False
        return isinstance(body, dict) and body.get("sandbox") is True

    def has_admin_access(self) -> bool:
        """True when the sandbox accepts ``admin_key`` on its admin routes."""
        if self.admin_key is None:
            return False
        try:
            response = self._http.get("/_sandbox/faults", headers=self._admin_headers())
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    # --- MoltPe API conveniences ---------------------------------------------------------

    def create_agent(
        self,
        name: str = "support-refund-agent",
        network: str = "polygon",
        *,
        per_tx_cap: Decimal | None = None,
        daily_cap: Decimal | None = None,
        refund_only: bool = True,
    ) -> str:
        """Create an agent (and set its policy when both caps are given).

        Returns:
            The new ``agent_id``.
        """
        agent = self._call("POST", "/v1/agents/create", {"name": name, "network": network})
        agent_id: str = agent["agent_id"]
        if per_tx_cap is not None and daily_cap is not None:
            self._call(
                "POST",
                f"/v1/agents/{agent_id}/policy",
                {
                    "per_tx_cap": format_usdc(per_tx_cap),
                    "daily_cap": format_usdc(daily_cap),
                    "refund_only": refund_only,
                },
            )
        elif (per_tx_cap is None) != (daily_cap is None):
            raise ValueError("give both per_tx_cap and daily_cap, or neither")
        return agent_id

    # --- admin helpers -------------------------------------------------------------------

    def register_payment(
        self,
        payment_id: str,
        payer_address: str,
        amount: Decimal,
        network: str = "polygon",
    ) -> dict[str, Any]:
        """Register a payment that refunds may return (idempotent for the same data).

        Returns:
            The payment: ``payment_id``, ``payer_address``, ``amount``, ``network``,
            ``refunded``, ``refundable`` (amounts as strings).
        """
        return self._call(
            "POST",
            "/_sandbox/payments",
            {
                "payment_id": payment_id,
                "payer_address": payer_address,
                "amount": format_usdc(amount),
                "network": network,
            },
        )

    def payment(self, payment_id: str) -> dict[str, Any]:
        """A registered payment, with what was refunded so far."""
        return self._call("GET", f"/_sandbox/payments/{payment_id}")

    def ledger(
        self, *, agent_id: str | None = None, payment_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Confirmed refunds, oldest first (amounts as strings)."""
        params = {k: v for k, v in {"agent_id": agent_id, "payment_id": payment_id}.items() if v}
        refunds: list[dict[str, Any]] = self._call("GET", "/_sandbox/ledger", params=params)[
            "refunds"
        ]
        return refunds

    def wallet(self, agent_id: str) -> dict[str, Any]:
        """A wallet: ``balance``, ``policy``, ``spent_today``, ``remaining_today``..."""
        return self._call("GET", f"/_sandbox/wallets/{agent_id}")

    def balance(self, agent_id: str) -> Decimal:
        """A wallet's balance."""
        return parse_usdc(self.wallet(agent_id)["balance"])

    def fund(self, agent_id: str, amount: Decimal) -> dict[str, Any]:
        """Add USDC to a wallet; returns the wallet."""
        return self._call(
            "POST", f"/_sandbox/wallets/{agent_id}/fund", {"amount": format_usdc(amount)}
        )

    def set_faults(self, faults: Faults | None = None, **fields: Any) -> Faults:
        """Replace the faults in force: pass a :class:`Faults` or its fields.

        ``set_faults()`` with nothing clears them.
        """
        chosen = faults if faults is not None else Faults(**fields)
        return Faults.model_validate(
            self._call("POST", "/_sandbox/faults", chosen.model_dump(mode="json"))
        )

    def faults(self) -> Faults:
        """The faults in force, with what is left of each counter."""
        return Faults.model_validate(self._call("GET", "/_sandbox/faults"))

    def requests(self) -> list[dict[str, Any]]:
        """``/v1`` requests received since the last reset (method, path, key, at)."""
        seen: list[dict[str, Any]] = self._call("GET", "/_sandbox/requests")["requests"]
        return seen

    def clear_requests(self) -> None:
        """Forget the recorded ``/v1`` requests, e.g. after a test's setup."""
        self._call("DELETE", "/_sandbox/requests")

    def set_clock(self, now: datetime | None) -> None:
        """Freeze the sandbox's clock (timezone-aware ``now``), or unfreeze with None."""
        self._call("POST", "/_sandbox/clock", {"now": now.isoformat() if now else None})

    def reset(self) -> None:
        """Forget every wallet, payment, refund, idempotency key, fault and request."""
        self._call("POST", "/_sandbox/reset", {})

    def _admin_headers(self) -> dict[str, str]:
        if self.admin_key is None:
            raise ValueError(
                f"no admin key for the sandbox at {self.url}: admin calls need the key it "
                "printed at start-up (MOLTPE_SANDBOX_ADMIN_KEY)"
            )
        return {"Authorization": f"Bearer {self.admin_key}"}

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = self._admin_headers() if path.startswith("/_sandbox/") else None
        response = self._http.request(method, path, json=body, params=params, headers=headers)
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        if not response.is_success or not isinstance(payload, dict):
            raise SandboxAdminError(response.status_code, payload)
        return payload


class SandboxServer(SandboxAdmin):
    """A running sandbox. Use :func:`start_sandbox` to get one.

    Attributes:
        url: Its root URL, e.g. ``http://127.0.0.1:54321``.
        api_key: The bearer key MoltPe's API accepts (what the agent holds).
        admin_key: The bearer key of the admin routes (register payments, faults...).
        state_file: Where it persists, or ``None``.
    """

    admin_key: str

    def __init__(
        self, runner: ServerThread, *, api_key: str, admin_key: str, state_file: Path | None
    ) -> None:
        self._runner = runner
        super().__init__(runner.url, api_key, admin_key=admin_key)
        self.state_file = state_file

    def __repr__(self) -> str:
        return f"SandboxServer(url={self.url!r}, running={self.running})"

    @property
    def running(self) -> bool:
        """True until :meth:`stop`."""
        return self._runner.running

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        self.close()
        self._runner.stop(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str = SANDBOX_API_KEY,
    admin_key: str | None = None,
    state_file: Path | None = None,
    initial_float: Decimal = DEFAULT_FLOAT,
) -> SandboxServer:
    """Start a sandbox in a background thread and wait until it accepts connections.

    Args:
        host: Interface to listen on (keep it on loopback).
        port: TCP port; 0 picks a free one (read it from ``.url``).
        api_key: The bearer key to accept on MoltPe's API.
        admin_key: The bearer key of the admin routes; None generates a fresh one
            (read it from ``.admin_key``).
        state_file: Persist state here (loaded if it exists); None keeps it in memory.
        initial_float: The USDC balance new wallets start with.

    Returns:
        The running server; stop it with ``.stop()`` or a ``with`` block.

    Raises:
        OSError: The address cannot be bound.
        ValueError: ``state_file`` exists but is not a sandbox state, or the admin key
            is empty or equal to the API key.
        RuntimeError: The server did not start within 10 seconds.
    """
    admin_key = admin_key if admin_key is not None else new_admin_key()
    state = SandboxState.open(initial_float=parse_usdc(initial_float), state_file=state_file)
    runner = ServerThread(
        create_app(state=state, api_key=api_key, admin_key=admin_key),
        host=host,
        port=port,
        lifespan="off",
        name="moltpe-sandbox",
        graceful_seconds=1,
    )
    try:
        runner.start(STARTUP_TIMEOUT)
    except RuntimeError:
        raise RuntimeError(f"the MoltPe sandbox did not start at {runner.url}") from None
    return SandboxServer(runner, api_key=api_key, admin_key=admin_key, state_file=state_file)
