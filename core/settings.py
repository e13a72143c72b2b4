"""Every knob of the project in one pydantic-settings class.

Values come from environment variables (names are the field names in upper case)
and an optional ``.env`` file in the working directory. Nothing reads the
environment at import time: call :func:`get_settings` (or build ``Settings()``)
where the value is needed.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.money import parse_usdc
from core.order_ids import OrderIdFormat, order_id_format

DEFAULT_MOLTPE_BASE_URL = "https://api.moltpe.com"


def default_home() -> Path:
    """Per-user folder for the embedded database and local state."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "support-refund-agent"


class Settings(BaseSettings):
    """Effective configuration. See the README's configuration table."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    # --- storage -----------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None,
        description="Postgres URL. Unset: an embedded PostgreSQL in REFUND_AGENT_HOME.",
    )
    refund_agent_home: Path = Field(
        default_factory=default_home,
        description="Folder for the embedded database and sandbox state.",
    )
    db_pool_min_size: int = Field(default=1, ge=0, description="Connections kept open.")
    db_pool_max_size: int = Field(default=10, ge=1, description="Most connections at once.")
    db_prepare_threshold: int | None = Field(
        default=5,
        description="psycopg prepare_threshold; set empty/None behind PgBouncer in "
        "transaction mode.",
    )

    db_app_role: str | None = Field(
        default=None,
        description="The application role: migrations (run as the owner) grant it what the "
        "agent needs, including EXECUTE on audit_append, its only way to append audit "
        "events (docs/PRODUCTION.md).",
    )

    orders_source_query: str | None = Field(
        default=None,
        description="A SELECT returning the documented order columns for %(order_id)s; "
        "orders missing from the agent's table are read from it and copied in on first "
        "sight (docs/ORDERS.md). Checked at start-up.",
    )

    # --- MoltPe ------------------------------------------------------------------
    moltpe_base_url: str = Field(default=DEFAULT_MOLTPE_BASE_URL, description="MoltPe API.")
    moltpe_api_key: SecretStr | None = Field(
        default=None,
        description="MoltPe bearer key. Unset: the demo and server use the local sandbox.",
    )
    moltpe_agent_id: str | None = Field(default=None, description="The refund wallet's agent.")
    moltpe_network: str = Field(default="polygon", description="Network of the refund wallet.")
    moltpe_timeout_seconds: float = Field(default=10.0, gt=0, description="Per-phase timeout.")
    moltpe_deadline_seconds: float = Field(
        default=30.0, gt=0, description="Overall deadline of one call, retries included."
    )
    moltpe_max_retries: int = Field(default=3, ge=0, le=10, description="Retries on 5xx/429.")
    moltpe_sandbox_admin_key: SecretStr | None = Field(
        default=None,
        description="Admin key of the MoltPe sandbox at MOLTPE_BASE_URL (printed by "
        "refund-agent sandbox); lets db seed and orders import register payments with it.",
    )

    # --- language model -------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(
        default=None, description="Set to understand messages with an LLM; else offline rules."
    )
    openai_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint.")
    openai_model: str = Field(default="gpt-4o-mini", description="Chat model name.")
    openai_timeout_seconds: float = Field(default=20.0, gt=0, description="LLM call timeout.")
    model_reads_every_message: bool = Field(
        default=False,
        description="Ask the LLM about every message. Off: a message the rules read word "
        "for word (facts, refund words, courtesy) is not sent, one LLM call less.",
    )
    phrase_replies: bool = Field(
        default=False,
        description="Let the LLM rephrase the templated replies (the facts are checked "
        "verbatim, else the template is sent). Off: the templates and the catalogs' "
        "translations are sent as they are, one LLM call less per turn.",
    )

    # --- refund policy (the deterministic gate) ----------------------------------
    refund_per_tx_cap: Decimal = Field(default=Decimal("50"), description="USDC per refund.")
    refund_daily_cap: Decimal = Field(
        default=Decimal("100"), description="USDC per business day (REFUND_BUSINESS_TIMEZONE)."
    )
    refund_business_timezone: str = Field(
        default="UTC",
        description="IANA time zone whose midnight starts the daily budget's day; the "
        "database's clock decides the time.",
    )
    refund_window_days: int = Field(default=30, ge=0, description="Days an order is refundable.")
    refund_velocity_max: int = Field(
        default=3, ge=0, description="Refunds per customer in the velocity window before review."
    )
    refund_velocity_days: int = Field(default=30, ge=1, description="Velocity window in days.")
    max_failed_lookups: int = Field(
        default=3, ge=1, description="Failed order lookups in a conversation before escalation."
    )
    settlement_eta: str = Field(
        default="about a minute", description="Settlement time quoted to customers."
    )

    # --- HTTP service --------------------------------------------------------------
    reviewer_tokens: SecretStr | None = Field(
        default=None,
        description="Reviewer bearer tokens as name:token pairs, comma separated "
        "(e.g. 'dana:s3cret,li:t0ken'). Unset: the review API refuses everyone.",
    )
    service_tokens: SecretStr | None = Field(
        default=None,
        description="Bearer tokens (comma separated) the embedding backend must send on "
        "customer endpoints. Unset: customer endpoints are open (the demo web chat).",
    )
    order_id_prefix: str = Field(
        default="ORD-",
        pattern=r"^[A-Za-z]{1,10}[-_#]?$",
        description="How your order ids start (letters, then -, _ or # if any), followed by "
        "3-10 digits: 'SO-' reads 'so 12345' and 'order 12345' as SO-12345. "
        "ORDER_ID_FORMAT, when set, takes precedence.",
    )
    order_id_format: str | None = Field(
        default=None,
        description="Your order ids' shape as a template: letters and - _ / . : literal, # one "
        "digit, #{m,n} m to n digits, \\# a literal #. 'SO-####-#####' reads 'so 2024 "
        "00042' as SO-2024-00042; '###-#######-#######' reads '112 1234567 1234567'. "
        "Unset: ORDER_ID_PREFIX and 3-10 digits.",
    )
    state_message_window: int = Field(
        default=40,
        ge=2,
        le=1000,
        description="Messages kept in a conversation's checkpointed state (the latest); the "
        "whole transcript is in the conversation_messages table.",
    )
    checkpoint_prune_every: int = Field(
        default=10,
        ge=1,
        description="Turns of a conversation between prunings of its superseded checkpoints.",
    )
    max_message_chars: int = Field(
        default=4000, ge=1, le=100_000, description="Longest customer message accepted (413)."
    )
    rate_limit_per_conversation: int = Field(
        default=20, ge=1, description="Messages per conversation per minute (429)."
    )
    rate_limit_per_ip: int = Field(
        default=60, ge=1, description="Customer requests per client IP per minute (429)."
    )
    max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="Largest request body, counted while it is read, chunked or not (413).",
    )
    body_read_seconds: float = Field(
        default=15.0, gt=0, description="Time a client has to send its whole body (408)."
    )
    reconcile_interval_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How often the serving processes' one elected reconciler settles "
        "refunds left unsettled (0: none in serve; run refunds reconcile --watch instead).",
    )
    reconcile_after_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A refund unsettled this long is re-sent with its idempotency key.",
    )
    turn_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A running turn's hold on its conversation, renewed while it runs: a "
        "crashed process frees the conversation within this time.",
    )
    trace_hide_pii: bool = Field(
        default=True,
        description="Mask emails, wallet addresses, order ids and keys in LangSmith traces.",
    )

    # --- logs ----------------------------------------------------------------------
    log_format: Literal["plain", "json"] = Field(
        default="plain",
        description="How serve logs on stderr: plain lines, or json (one object per line).",
    )

    # --- audit ---------------------------------------------------------------------
    audit_log_file: Path | None = Field(
        default=None,
        description="Also copy the committed audit chain here, one JSON line per event in "
        "order, resuming from the file's last line.",
    )

    @field_validator("refund_per_tx_cap", "refund_daily_cap", mode="before")
    @classmethod
    def _money(cls, value: Any) -> Decimal:
        if isinstance(value, float):
            value = str(value)
        return parse_usdc(value)

    @field_validator("refund_business_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        value = value.strip()
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            message = f"{value!r} is not an IANA time zone (e.g. UTC, Europe/Paris)"
            raise ValueError(message) from exc
        return value

    @field_validator("order_id_format", mode="before")
    @classmethod
    def _order_id_format(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str):
            return OrderIdFormat.parse(value).template  # a clear error for a bad template
        return value

    def order_ids(self) -> OrderIdFormat:
        """The effective order-id format (ORDER_ID_FORMAT, else the prefix and 3-10 digits)."""
        template = self.order_id_format or self.order_id_prefix.replace("#", "\\#") + "#{3,10}"
        return order_id_format(template)

    @field_validator("db_app_role", mode="before")
    @classmethod
    def _empty_role(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("db_prepare_threshold", mode="before")
    @classmethod
    def _none_text(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"", "none", "null"}:
            return None
        return value

    def reviewers(self) -> dict[str, str]:
        """Reviewer tokens mapped to reviewer names."""
        if self.reviewer_tokens is None:
            return {}
        out: dict[str, str] = {}
        for pair in self.reviewer_tokens.get_secret_value().split(","):
            name, sep, token = pair.strip().partition(":")
            if sep and name.strip() and token.strip():
                out[token.strip()] = name.strip()
        return out

    def service_token_set(self) -> frozenset[str]:
        """Tokens accepted on customer endpoints (empty: open)."""
        if self.service_tokens is None:
            return frozenset()
        raw = self.service_tokens.get_secret_value().split(",")
        return frozenset(t.strip() for t in raw if t.strip())

    @property
    def uses_sandbox(self) -> bool:
        """True when no MoltPe key is configured, so the local sandbox stands in."""
        return self.moltpe_api_key is None

    @property
    def uses_llm(self) -> bool:
        """True when an OpenAI key is configured."""
        return self.openai_api_key is not None

    def masked(self) -> dict[str, str]:
        """Every setting as display text, with every secret form masked.

        Connection strings (any ``*_url`` setting) keep their host and database but
        lose passwords wherever they are written (``user:pw@host``, ``?password=``,
        ``password=...`` in a key/value DSN); token lists keep only reviewer names;
        API keys keep their last four characters, enough to tell two apart.
        """
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if raw is None:
                text = "(unset)"
            elif name.endswith("_url"):
                text = mask_dsn(str(raw))
            elif name == "reviewer_tokens":
                text = mask_reviewer_tokens(str(raw))
            elif name == "service_tokens":
                count = len([t for t in str(raw).split(",") if t.strip()])
                text = f"({count} token{'s' if count != 1 else ''}, hidden)"
            elif isinstance(value, SecretStr):
                text = mask_secret(str(raw))
            else:
                text = str(raw)
            out[name.upper()] = text
        return out


SECRET_PARAMETER_RE: Final = re.compile(r"pass|secret|token|key|auth|credential", re.IGNORECASE)
"""Names of connection parameters whose values are hidden."""

# ``name = value`` in a libpq key/value DSN: the value is a single-quoted string (with
# backslash escapes) or a run of non-blanks. Linear: no nested repetition.
_KV_RE: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)")


def mask_secret(raw: str) -> str:
    """Show only the last four characters of a secret."""
    if len(raw) <= 8:
        return "****"
    return "****" + raw[-4:]


def mask_dsn(raw: str) -> str:
    """Hide every password of a connection string, URL or key/value, keep the rest."""
    if "://" in raw:
        return mask_url(raw)
    return _KV_RE.sub(
        lambda m: (
            m.group(1) + m.group(2) + "****"
            if SECRET_PARAMETER_RE.search(m.group(1))
            else m.group(0)
        ),
        raw,
    )


def mask_url(raw: str) -> str:
    """Hide the password of a URL (``user:pw@``) and secret query parameters."""
    scheme, sep, rest = raw.partition("://")
    if not sep:
        return raw
    rest, hash_sign, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    if "@" in rest:
        # The last "@" ends the user info, even when an unencoded password holds "/" or "@".
        creds, _, rest = rest.rpartition("@")
        user, colon, _password = creds.partition(":")
        rest = f"{user}{':****' if colon else ''}@{rest}"
    if query:
        parts = []
        for part in query.split("&"):
            key, eq, _value = part.partition("=")
            parts.append(f"{key}=****" if eq and SECRET_PARAMETER_RE.search(key) else part)
        query = "&".join(parts)
    return f"{scheme}://{rest}{question}{query}{hash_sign}{fragment}"


def mask_reviewer_tokens(raw: str) -> str:
    """``dana:s3cret,li:t0ken`` -> ``dana:****, li:****`` (names only, no token tails)."""
    names = []
    for pair in raw.split(","):
        name, sep, token = pair.strip().partition(":")
        if sep and name.strip() and token.strip():
            names.append(f"{name.strip()}:****")
        elif pair.strip():
            names.append("(malformed):****")
    return ", ".join(names) or "(none)"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use."""
    return Settings()
