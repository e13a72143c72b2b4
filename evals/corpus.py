"""Natural-conversation corpora: the format of ``evals/corpora/README.md``, validated.

A corpus is a folder with two halves, each of YAML files holding a list of
conversations::

    evals/corpora/<name>/dev/*.yaml       # read its failures, tune against it
    evals/corpora/<name>/heldout/*.yaml   # run and report it, never tune against it

One conversation (every field is checked; unknown fields are errors)::

    - id: es-corr-003                 # unique in the corpus, [a-z0-9-]
      lang: es                        # en | es | fr | de | pt | it | hi-latn
      note: corrects the amount in the same message
      data: {orders: [...], refunds: [...]}   # as a scenario's data (or `demo`)
      signed_in: false                # true: the backend passes customer.email
      customer: {email: maria.lopez@example.com, order: ORD-4410}
      messages: ["Hola! ... Devolvedme 20, bueno no, 15 USDC ..."]
      answers: {email: ..., order: ..., amount: ..., yes: ..., no: "no, {amount}",
                decline: ...}
      expect: {result: refund, order: ORD-4410, amount: 15.00}

``expect.result`` is ``refund`` (with ``order`` and ``amount``), ``escalate`` or
``deny`` (``reasons`` optional), ``info`` (with ``topic``: ``policy``,
``refund_status``, ``unsupported`` or ``acknowledged``) or ``none``.
:func:`load_corpus` names the file, the conversation and the field of every mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.money import format_usdc
from evals.scenario import KNOWN_REASONS, ExactLoader, ShopData, Usdc, location

__all__ = [
    "HALVES",
    "LANGUAGES",
    "MAX_CUSTOMER_MESSAGES",
    "Corpus",
    "CorpusAnswers",
    "CorpusConversation",
    "CorpusCustomer",
    "CorpusError",
    "CorpusExpect",
    "corpora_dir",
    "load_corpus",
    "plain_amount",
    "resolve_corpus",
]

Half = Literal["dev", "heldout"]
HALVES: Final[tuple[Half, ...]] = ("dev", "heldout")
Language = Literal["en", "es", "fr", "de", "pt", "it", "hi-latn"]
LANGUAGES: Final = ("en", "es", "fr", "de", "pt", "it", "hi-latn")
CorpusResult = Literal["refund", "escalate", "deny", "info", "none"]
Topic = Literal["policy", "refund_status", "unsupported", "acknowledged"]
MAX_CUSTOMER_MESSAGES: Final = 8
"""The simulated customer stops after this many messages."""
ID_RE: Final = r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$"
PLACEHOLDER_RE: Final = re.compile(r"\{([^{}]*)\}")


class CorpusError(ValueError):
    """A corpus is missing, not YAML, or breaks the format (names file, conversation, field)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CorpusCustomer(_Strict):
    """Who the customer is and the order they talk about (the one they would name)."""

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    order: str = Field(min_length=1, max_length=64)


class CorpusAnswers(_Strict):
    """How the customer answers the agent's questions, in their language."""

    email: str | None = Field(default=None, min_length=1)
    """Asked for the email (default: ``customer.email`` as it is)."""
    order: str | None = Field(default=None, min_length=1)
    """Asked for the order id, or which order (default: ``customer.order``)."""
    amount: str | None = Field(default=None, min_length=1)
    """Asked how much."""
    yes: str | None = Field(default=None, min_length=1)
    """The agent proposed the right order and amount, or offered a wanted person."""
    no: str | None = Field(default=None, min_length=1)
    """The agent proposed a wrong amount; ``{amount}`` is replaced by the right one."""
    decline: str | None = Field(default=None, min_length=1)
    """Offered something the customer does not want (a refund they did not ask for)."""

    @model_validator(mode="before")
    @classmethod
    def _yaml_booleans(cls, raw: Any) -> Any:
        """YAML 1.1 reads the keys ``yes:`` and ``no:`` as booleans: take them back."""
        if isinstance(raw, dict):
            names = {True: "yes", False: "no"}
            return {names.get(k, k) if isinstance(k, bool) else k: v for k, v in raw.items()}
        return raw

    @model_validator(mode="after")
    def _placeholders(self) -> CorpusAnswers:
        for name in ("email", "order", "amount", "yes", "no", "decline"):
            text = getattr(self, name)
            if text is None:
                continue
            found = PLACEHOLDER_RE.findall(text)
            allowed = ["amount"] if name == "no" else []
            wrong = [f for f in found if f not in allowed]
            if wrong:
                hint = "only {amount}" if name == "no" else "none"
                raise ValueError(f"{name}: placeholder {{{wrong[0]}}} not allowed ({hint})")
        return self


class CorpusExpect(_Strict):
    """What a careful person in support would reach."""

    result: CorpusResult
    order: str | None = None
    amount: Usdc | None = None
    reasons: list[str] = []
    topic: Topic | None = None

    @field_validator("reasons")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [r for r in value if r not in KNOWN_REASONS]
        if unknown:
            raise ValueError(f"unknown reason code(s) {unknown}; known: {sorted(KNOWN_REASONS)}")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> CorpusExpect:
        if self.result == "refund":
            if self.order is None or self.amount is None:
                raise ValueError("result refund needs `order` and `amount`")
        elif self.order is not None or self.amount is not None:
            raise ValueError("`order` and `amount` go with result refund only")
        if self.result == "info" and self.topic is None:
            raise ValueError("result info needs `topic` (policy, refund_status, ...)")
        if self.result != "info" and self.topic is not None:
            raise ValueError("`topic` goes with result info only")
        if self.reasons and self.result not in ("escalate", "deny"):
            raise ValueError(f"`reasons` do not apply to result {self.result}")
        return self


class CorpusConversation(_Strict):
    """One natural conversation, its shop, its customer and its expected result."""

    id: str = Field(pattern=ID_RE)
    lang: Language
    note: str = ""
    data: ShopData
    signed_in: bool = False
    customer: CorpusCustomer
    messages: list[str] = Field(min_length=1, max_length=MAX_CUSTOMER_MESSAGES)
    answers: CorpusAnswers = CorpusAnswers()
    expect: CorpusExpect
    half: Half
    """Set by the loader from the folder: ``dev`` or ``heldout``."""
    source: str
    """Set by the loader: the file it was read from."""

    @property
    def person_messages(self) -> int:
        """Messages a careful person would need from this customer to settle it.

        The scripted messages, plus one answer when they leave out the email (and the
        customer is not signed in) or the order id: a person asks once for both.
        """
        written = " ".join(self.messages).lower()
        email_missing = not self.signed_in and self.customer.email.lower() not in written
        digits = "".join(ch for ch in (self.customer.order or "") if ch.isdigit())
        order_missing = not digits or digits not in written
        return len(self.messages) + (1 if email_missing or order_missing else 0)

    @field_validator("messages")
    @classmethod
    def _not_blank(cls, value: list[str]) -> list[str]:
        for index, message in enumerate(value):
            if not message.strip():
                raise ValueError(f"message {index + 1} is empty")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CorpusConversation:
        if self.expect.result == "refund":
            orders = {o.id for o in self.data.seed("check").orders}
            if self.expect.order not in orders:
                raise ValueError(f"expect.order {self.expect.order} is not among data.orders")
        return self

    @property
    def expected_refund(self) -> tuple[str, Decimal] | None:
        """``(order, amount)`` of the refund due, if one is."""
        if self.expect.result != "refund":
            return None
        assert self.expect.order is not None and self.expect.amount is not None
        return self.expect.order, self.expect.amount

    @property
    def group(self) -> str:
        """The expected result, with the topic for ``info`` (``info:policy``)."""
        if self.expect.result == "info":
            return f"info:{self.expect.topic}"
        return self.expect.result


def plain_amount(amount: Decimal) -> str:
    """An amount as a customer types it: ``15`` for 15.00, ``12.50``, ``0.005``."""
    if amount == amount.to_integral_value():
        return str(int(amount))
    return format_usdc(amount)


@dataclass(frozen=True, slots=True)
class Corpus:
    """A loaded corpus: its name, folder and conversations (dev first, by file)."""

    name: str
    path: Path
    conversations: tuple[CorpusConversation, ...]

    def select(
        self, *, half: Half | Literal["all"] = "all", lang: str | None = None
    ) -> list[CorpusConversation]:
        """The conversations of one half and/or one language."""
        return [
            c
            for c in self.conversations
            if (half == "all" or c.half == half) and (lang is None or c.lang == lang)
        ]


def corpora_dir() -> Path:
    """Where named corpora live (``evals/corpora``)."""
    return Path(str(resources.files("evals") / "corpora"))


def resolve_corpus(name_or_path: str | Path) -> Path:
    """The folder of a corpus: a folder path, or a name under ``evals/corpora/``.

    Raises:
        CorpusError: neither exists.
    """
    given = Path(name_or_path)
    if given.is_dir():
        return given
    named = corpora_dir() / str(name_or_path)
    if "/" not in str(name_or_path) and named.is_dir():
        return named
    raise CorpusError(
        f"{name_or_path}: no such corpus folder, and no corpus by that name in {corpora_dir()}"
    )


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def _read_file(path: Path, half: Half, problems: list[str]) -> list[CorpusConversation]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=ExactLoader)  # SafeLoader
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror}")
        return []
    except yaml.YAMLError as exc:
        problems.append(f"{path}: not valid YAML: {exc}")
        return []
    if not isinstance(raw, list):
        problems.append(f"{path}: a corpus file is a YAML list of conversations")
        return []
    loaded: list[CorpusConversation] = []
    for index, item in enumerate(raw):
        where = f"{path}: conversation {index + 1}"
        if not isinstance(item, dict):
            problems.append(f"{where}: a conversation is a mapping (id, lang, messages, ...)")
            continue
        if isinstance(item.get("id"), str):
            where += f" ({item['id']})"
        clash = [k for k in ("half", "source") if k in item]
        if clash:
            problems.append(f"{where}: {clash[0]}: set by the loader, not written in the file")
            continue
        try:
            loaded.append(
                CorpusConversation.model_validate({**item, "half": half, "source": str(path)})
            )
        except ValidationError as exc:
            problems.extend(
                f"{where}: {location(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
            )
    return loaded


def load_corpus(name_or_path: str | Path) -> Corpus:
    """Read and validate a whole corpus (both halves).

    Raises:
        CorpusError: every problem of every file, one per line, each naming the file,
            the conversation and the field; or a missing half, or no conversations.
    """
    folder = resolve_corpus(name_or_path)
    problems: list[str] = []
    conversations: list[CorpusConversation] = []
    stray = _yaml_files(folder)
    if stray:
        problems.append(f"{stray[0]}: conversations go in {folder}/dev/ or {folder}/heldout/")
    for half in HALVES:
        part = folder / half
        if not part.is_dir():
            problems.append(f"{folder}: no {half}/ folder (a corpus keeps two halves)")
            continue
        for path in _yaml_files(part):
            conversations.extend(_read_file(path, half, problems))
    seen: dict[str, str] = {}
    for conversation in conversations:
        if conversation.id in seen:
            problems.append(
                f"{conversation.source}: id {conversation.id!r} is also used in "
                f"{seen[conversation.id]}"
            )
        seen.setdefault(conversation.id, conversation.source)
    if not problems and not conversations:
        problems.append(f"{folder}: no conversations in dev/*.yaml or heldout/*.yaml")
    if problems:
        raise CorpusError("\n".join(problems))
    return Corpus(name=folder.name, path=folder, conversations=tuple(conversations))
