"""The sandbox's ledger and MoltPe's server-side rules, with no HTTP in sight.

Everything here is synchronous and single-threaded: the web layer serialises calls
with one ``asyncio.Lock``. Money is ``Decimal`` in memory and a decimal string in
JSON. With a ``state_file`` every change is written atomically (temp file, fsync,
rename) so a restarted sandbox keeps its wallets, payments, ledger and idempotency
records.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from core.money import format_usdc

SANDBOX_API_KEY: Final = "sk_sandbox_local"
"""The bearer key the sandbox accepts on MoltPe's API unless told otherwise."""

ADMIN_KEY_PREFIX: Final = "sk_sandbox_admin_"


def new_admin_key() -> str:
    """A fresh, unguessable key for the sandbox's admin API (``/_sandbox/...``)."""
    return ADMIN_KEY_PREFIX + secrets.token_urlsafe(24)


DEFAULT_FLOAT: Final = Decimal("500")
"""USDC a new wallet starts with (the guide's suggested float)."""

STATE_VERSION: Final = 1
TOKEN: Final = "USDC"
CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ADDRESS_RE: Final = re.compile(r"^0x[0-9a-fA-F]{40}$")


class SandboxError(Exception):
    """A refusal, rendered as ``{"error": {"code", "reason"?, "message"}}``.

    Attributes:
        status: The HTTP status code.
        code: The MoltPe error code, e.g. ``"POLICY_VIOLATION"``.
        reason: The finer reason, e.g. ``"per_tx_cap"``, or ``None``.
        message: A sentence for people.
        headers: Extra response headers (``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reason = reason
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        error: dict[str, str] = {"code": self.code}
        if self.reason is not None:
            error["reason"] = self.reason
        error["message"] = self.message
        return {"error": error}


def bad_request(message: str) -> SandboxError:
    """400 BAD_REQUEST."""
    return SandboxError(400, "BAD_REQUEST", message)


def policy_violation(reason: str, message: str) -> SandboxError:
    """403 POLICY_VIOLATION with a reason."""
    return SandboxError(403, "POLICY_VIOLATION", message, reason=reason)


def new_ulid(now: datetime) -> str:
    """A ULID: 48 bits of milliseconds and 80 random bits, 26 Crockford base32 chars."""
    value = ((int(now.timestamp() * 1000) & ((1 << 48) - 1)) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


@dataclass
class Policy:
    """An agent's spending rules."""

    daily_cap: Decimal
    per_tx_cap: Decimal
    refund_only: bool

    def to_json(self) -> dict[str, Any]:
        """JSON shape, amounts as strings."""
        return {
            "daily_cap": format_usdc(self.daily_cap),
            "per_tx_cap": format_usdc(self.per_tx_cap),
            "refund_only": self.refund_only,
        }


@dataclass
class Wallet:
    """An agent and its USDC wallet."""

    agent_id: str
    name: str
    network: str
    wallet_address: str
    balance: Decimal
    created_at: datetime
    policy: Policy | None = None

    def public(self) -> dict[str, Any]:
        """What ``POST /v1/agents/create`` answers."""
        return {
            "agent_id": self.agent_id,
            "wallet_address": self.wallet_address,
            "network": self.network,
        }


@dataclass(frozen=True)
class Payment:
    """A payment a customer made, that refunds may return (in part)."""

    payment_id: str
    payer_address: str
    amount: Decimal
    network: str


@dataclass(frozen=True)
class Refund:
    """One confirmed refund: a ledger entry."""

    refund_id: str
    agent_id: str
    payment_id: str
    amount: Decimal
    tx_hash: str
    reason: str
    to_address: str
    network: str
    created_at: datetime
    idempotency_key: str
    token: str = TOKEN
    status: str = "confirmed"

    def receipt(self) -> dict[str, Any]:
        """What ``POST /v1/payments/refund`` answers."""
        return {
            "refund_id": self.refund_id,
            "payment_id": self.payment_id,
            "amount": format_usdc(self.amount),
            "token": self.token,
            "tx_hash": self.tx_hash,
            "status": self.status,
            "reason": self.reason,
        }

    def to_json(self) -> dict[str, Any]:
        """The ledger entry: the receipt plus who, where and when."""
        return {
            **self.receipt(),
            "agent_id": self.agent_id,
            "to_address": self.to_address,
            "network": self.network,
            "created_at": self.created_at.isoformat(),
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True)
class StoredResponse:
    """The first answer given to an idempotency key, replayed to later requests."""

    fingerprint: str
    status: int
    body: dict[str, Any]


@dataclass
class SandboxState:
    """Wallets, payments, the refund ledger and idempotency records.

    Args:
        initial_float: The balance every new wallet starts with.
        state_file: Where to persist after every change; ``None`` keeps it in memory.
        clock: Returns the current time (UTC); overridable for tests.
    """

    initial_float: Decimal = DEFAULT_FLOAT
    state_file: Path | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    wallets: dict[str, Wallet] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    ledger: list[Refund] = field(default_factory=list)
    idempotency: dict[str, StoredResponse] = field(default_factory=dict)
    frozen_now: datetime | None = None

    @classmethod
    def open(
        cls, *, initial_float: Decimal = DEFAULT_FLOAT, state_file: Path | None = None
    ) -> SandboxState:
        """A state, loaded from ``state_file`` when that exists.

        Raises:
            ValueError: ``state_file`` exists but is not a readable sandbox state.
        """
        state = cls(initial_float=initial_float, state_file=state_file)
        state.load()
        return state

    # --- time ----------------------------------------------------------------------

    def now(self) -> datetime:
        """The sandbox's current time (UTC): frozen if set, else the clock."""
        return (self.frozen_now or self.clock()).astimezone(UTC)

    # --- reads ---------------------------------------------------------------------

    def wallet(self, agent_id: str) -> Wallet:
        """The wallet of ``agent_id``.

        Raises:
            SandboxError: 404 AGENT_NOT_FOUND.
        """
        wallet = self.wallets.get(agent_id)
        if wallet is None:
            raise SandboxError(404, "AGENT_NOT_FOUND", f"no agent {agent_id!r}")
        return wallet

    def payment(self, payment_id: str) -> Payment:
        """The payment ``payment_id``.

        Raises:
            SandboxError: 404 PAYMENT_NOT_FOUND.
        """
        payment = self.payments.get(payment_id)
        if payment is None:
            raise SandboxError(404, "PAYMENT_NOT_FOUND", f"no payment {payment_id!r}")
        return payment

    def spent_on(self, agent_id: str, day: date) -> Decimal:
        """USDC the agent refunded on a UTC day."""
        return sum(
            (r.amount for r in self.ledger if r.agent_id == agent_id and _utc_day(r) == day),
            Decimal("0"),
        )

    def refunded_total(self, payment_id: str) -> Decimal:
        """USDC refunded so far on a payment."""
        return sum((r.amount for r in self.ledger if r.payment_id == payment_id), Decimal("0"))

    def wallet_view(self, agent_id: str) -> dict[str, Any]:
        """A wallet with its balance, policy and today's spend, for the admin API."""
        wallet = self.wallet(agent_id)
        spent = self.spent_on(agent_id, self.now().date())
        policy = wallet.policy
        remaining = max(policy.daily_cap - spent, Decimal("0")) if policy else None
        return {
            **wallet.public(),
            "name": wallet.name,
            "balance": format_usdc(wallet.balance),
            "policy": policy.to_json() if policy else None,
            "spent_today": format_usdc(spent),
            "remaining_today": format_usdc(remaining) if remaining is not None else None,
            "created_at": wallet.created_at.isoformat(),
        }

    def payment_view(self, payment_id: str) -> dict[str, Any]:
        """A payment with what was refunded and what still can be."""
        payment = self.payment(payment_id)
        refunded = self.refunded_total(payment_id)
        return {
            "payment_id": payment.payment_id,
            "payer_address": payment.payer_address,
            "amount": format_usdc(payment.amount),
            "network": payment.network,
            "refunded": format_usdc(refunded),
            "refundable": format_usdc(payment.amount - refunded),
        }

    # --- changes -------------------------------------------------------------------

    def create_agent(self, name: str, network: str) -> Wallet:
        """Create an agent with a new wallet holding the initial float."""
        now = self.now()
        wallet = Wallet(
            agent_id="ag_" + new_ulid(now),
            name=name,
            network=network,
            wallet_address="0x" + secrets.token_hex(20),
            balance=self.initial_float,
            created_at=now,
        )
        self.wallets[wallet.agent_id] = wallet
        return wallet

    def set_policy(self, agent_id: str, policy: Policy) -> Wallet:
        """Replace an agent's policy.

        Raises:
            SandboxError: 404 AGENT_NOT_FOUND.
        """
        wallet = self.wallet(agent_id)
        wallet.policy = policy
        return wallet

    def refund(
        self,
        *,
        agent_id: str,
        payment_id: str,
        amount: Decimal,
        reason: str,
        idempotency_key: str,
        destination: str | None = None,
    ) -> Refund:
        """Refund ``amount`` of a payment to its original payer, or refuse.

        Checks, in order: the agent exists, the payment exists, a named destination
        (refused: a refund only ever goes to the payer), same network, the
        per-transaction cap, the daily cap (UTC day, this agent's confirmed
        refunds), the payment's unrefunded amount, the wallet's balance. A refusal
        changes nothing.

        Raises:
            SandboxError: AGENT_NOT_FOUND, PAYMENT_NOT_FOUND (404), BAD_REQUEST
                (400), POLICY_VIOLATION (403; reason ``refund_only``,
                ``per_tx_cap``, ``daily_cap`` or ``exceeds_payment``),
                INSUFFICIENT_FUNDS (402).
        """
        wallet = self.wallet(agent_id)
        payment = self.payment(payment_id)
        policy = wallet.policy
        if destination is not None:
            if policy is None or policy.refund_only:
                raise policy_violation(
                    "refund_only",
                    "refunds go only to the original payer of the payment; "
                    "a destination address is not accepted",
                )
            raise bad_request("a refund always goes to the original payer; omit the destination")
        if payment.network != wallet.network:
            raise bad_request(
                f"payment {payment_id} is on {payment.network}, the agent's wallet on "
                f"{wallet.network}"
            )
        now = self.now()
        if policy is not None:
            if amount > policy.per_tx_cap:
                raise policy_violation(
                    "per_tx_cap",
                    f"{format_usdc(amount)} USDC is over the per-transaction cap of "
                    f"{format_usdc(policy.per_tx_cap)} USDC",
                )
            spent = self.spent_on(agent_id, now.date())
            if spent + amount > policy.daily_cap:
                raise policy_violation(
                    "daily_cap",
                    f"{format_usdc(amount)} USDC would exceed the daily cap of "
                    f"{format_usdc(policy.daily_cap)} USDC ({format_usdc(spent)} spent today)",
                )
        refunded = self.refunded_total(payment_id)
        if refunded + amount > payment.amount:
            raise policy_violation(
                "exceeds_payment",
                f"{format_usdc(amount)} USDC is more than the "
                f"{format_usdc(payment.amount - refunded)} USDC left to refund on payment "
                f"{payment_id}",
            )
        if amount > wallet.balance:
            raise SandboxError(
                402,
                "INSUFFICIENT_FUNDS",
                f"the wallet holds {format_usdc(wallet.balance)} USDC, "
                f"{format_usdc(amount)} USDC needed",
            )
        refund = Refund(
            refund_id="ref_" + new_ulid(now),
            agent_id=agent_id,
            payment_id=payment_id,
            amount=amount,
            tx_hash="0x" + secrets.token_hex(32),
            reason=reason,
            to_address=payment.payer_address,
            network=payment.network,
            created_at=now,
            idempotency_key=idempotency_key,
        )
        wallet.balance -= amount
        self.ledger.append(refund)
        return refund

    def register_payment(
        self, *, payment_id: str, payer_address: str, amount: Decimal, network: str
    ) -> tuple[Payment, bool]:
        """Record a payment that refunds may return; idempotent for the same data.

        Returns:
            The payment and whether it was new.

        Raises:
            SandboxError: 409 PAYMENT_CONFLICT when the id exists with other data.
        """
        payment = Payment(payment_id, payer_address, amount, network)
        existing = self.payments.get(payment_id)
        if existing is not None:
            same = (
                existing.payer_address.lower() == payer_address.lower()
                and existing.amount == amount
                and existing.network == network
            )
            if not same:
                raise SandboxError(
                    409,
                    "PAYMENT_CONFLICT",
                    f"payment {payment_id} is already registered with other data",
                )
            return existing, False
        self.payments[payment_id] = payment
        return payment, True

    def fund(self, agent_id: str, amount: Decimal) -> Wallet:
        """Add USDC to a wallet.

        Raises:
            SandboxError: 404 AGENT_NOT_FOUND.
        """
        wallet = self.wallet(agent_id)
        wallet.balance += amount
        return wallet

    def remember(self, key: str, response: StoredResponse) -> None:
        """Store the first answer to an idempotency key."""
        self.idempotency[key] = response

    def recall(self, key: str, fingerprint: str) -> StoredResponse | None:
        """The stored answer to ``key``, if any.

        Raises:
            SandboxError: 409 IDEMPOTENCY_CONFLICT when ``key`` was used with another
                request body.
        """
        stored = self.idempotency.get(key)
        if stored is not None and stored.fingerprint != fingerprint:
            raise SandboxError(
                409,
                "IDEMPOTENCY_CONFLICT",
                "this Idempotency-Key was already used with a different request body",
            )
        return stored

    def reset(self) -> None:
        """Forget everything (wallets, payments, ledger, idempotency, frozen time)."""
        self.wallets.clear()
        self.payments.clear()
        self.ledger.clear()
        self.idempotency.clear()
        self.frozen_now = None

    # --- persistence ---------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Everything, as JSON-ready data (money as strings)."""
        return {
            "version": STATE_VERSION,
            "frozen_now": self.frozen_now.isoformat() if self.frozen_now else None,
            "wallets": [
                {
                    **w.public(),
                    "name": w.name,
                    "balance": str(w.balance),
                    "created_at": w.created_at.isoformat(),
                    "policy": w.policy.to_json() if w.policy else None,
                }
                for w in self.wallets.values()
            ],
            "payments": [
                {
                    "payment_id": p.payment_id,
                    "payer_address": p.payer_address,
                    "amount": str(p.amount),
                    "network": p.network,
                }
                for p in self.payments.values()
            ],
            "ledger": [r.to_json() for r in self.ledger],
            "idempotency": {
                key: {"fingerprint": s.fingerprint, "status": s.status, "body": s.body}
                for key, s in self.idempotency.items()
            },
        }

    def load_json(self, data: dict[str, Any]) -> None:
        """Replace everything with what :meth:`to_json` produced.

        Raises:
            ValueError: The data is not a sandbox state of a known version.
        """
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError(f"not a sandbox state file of version {STATE_VERSION}")
        try:
            wallets = {}
            for w in data["wallets"]:
                p = w["policy"]
                wallets[w["agent_id"]] = Wallet(
                    agent_id=w["agent_id"],
                    name=w["name"],
                    network=w["network"],
                    wallet_address=w["wallet_address"],
                    balance=Decimal(w["balance"]),
                    created_at=datetime.fromisoformat(w["created_at"]),
                    policy=Policy(
                        daily_cap=Decimal(p["daily_cap"]),
                        per_tx_cap=Decimal(p["per_tx_cap"]),
                        refund_only=bool(p["refund_only"]),
                    )
                    if p
                    else None,
                )
            payments = {
                p["payment_id"]: Payment(
                    p["payment_id"], p["payer_address"], Decimal(p["amount"]), p["network"]
                )
                for p in data["payments"]
            }
            ledger = [
                Refund(
                    refund_id=r["refund_id"],
                    agent_id=r["agent_id"],
                    payment_id=r["payment_id"],
                    amount=Decimal(r["amount"]),
                    tx_hash=r["tx_hash"],
                    reason=r["reason"],
                    to_address=r["to_address"],
                    network=r["network"],
                    created_at=datetime.fromisoformat(r["created_at"]),
                    idempotency_key=r["idempotency_key"],
                    token=r["token"],
                    status=r["status"],
                )
                for r in data["ledger"]
            ]
            idempotency = {
                key: StoredResponse(s["fingerprint"], int(s["status"]), s["body"])
                for key, s in data["idempotency"].items()
            }
            frozen = data.get("frozen_now")
            frozen_now = datetime.fromisoformat(frozen) if frozen else None
        except (KeyError, TypeError, ArithmeticError, ValueError) as exc:
            raise ValueError(f"corrupt sandbox state: {exc!r}") from exc
        self.wallets, self.payments, self.ledger = wallets, payments, ledger
        self.idempotency, self.frozen_now = idempotency, frozen_now

    def load(self) -> None:
        """Read ``state_file`` if it exists.

        Raises:
            ValueError: The file exists but is not a readable sandbox state.
        """
        if self.state_file is None or not self.state_file.exists():
            return
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read sandbox state {self.state_file}: {exc}") from exc
        self.load_json(data)

    def save(self) -> None:
        """Write ``state_file`` atomically (no-op when in memory only)."""
        if self.state_file is None:
            return
        write_atomically(self.state_file, json.dumps(self.to_json(), indent=1, sort_keys=True))


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a crash leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _utc_day(refund: Refund) -> date:
    return refund.created_at.astimezone(UTC).date()
