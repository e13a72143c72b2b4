"""Message catalogs: which language a reply is written in, and its words in that language.

Every customer-facing string is an English *msgid* marked with :func:`N_` in
:mod:`graph.replies.texts`. Translations live in gettext catalogs shipped with the
package::

    graph/locales/messages.pot                   # the msgids (extracted from the code)
    graph/locales/<lang>/LC_MESSAGES/messages.po # es, fr, de, pt, it

The ``.po`` files are read at run time with Babel (``babel.messages.pofile.read_po``),
once per language per process, so there is no build step: a fresh checkout replies in
Spanish. English is the msgids themselves. Hinglish (``hi-latn``) and any language
without a catalog reply in English.

Amounts are written the customer's way with Babel (``20.00`` in English, ``20,00`` in
the others), without grouping separators, so that an amount stays one token a reader
and the grounding check (:mod:`graph.replies.phrasing`) see whole. Order ids, hashes,
ticket references and emails are never localized.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Final

from babel import Locale
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from core.money import parse_usdc

__all__ = [
    "CATALOG_LANGUAGES",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "Translator",
    "catalog_path",
    "locales_dir",
    "normalize_language",
    "translator",
]

logger = logging.getLogger(__name__)

DEFAULT_LANGUAGE: Final = "en"
CATALOG_LANGUAGES: Final = ("es", "fr", "de", "pt", "it")
"""Languages with a catalog of their own."""
LANGUAGES: Final = (DEFAULT_LANGUAGE, *CATALOG_LANGUAGES)
"""Every language a reply can be written in."""
DOMAIN: Final = "messages"
AMOUNT_PATTERN: Final = "0.00####"
"""At least two decimals and at most USDC's six, no grouping: ``1234.50`` / ``1234,50``."""


def N_(message: str) -> str:  # noqa: N802 (the gettext convention for a deferred msgid)
    """Mark ``message`` as a msgid; it is translated later, when a reply is built."""
    return message


def locales_dir() -> Path:
    """The folder holding ``messages.pot`` and one ``<lang>/LC_MESSAGES`` per language."""
    return Path(str(resources.files("graph") / "locales"))


def catalog_path(language: str) -> Path:
    """The ``.po`` file of ``language``."""
    return locales_dir() / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def normalize_language(code: str | None) -> str:
    """The reply language for a language tag: ``"es-MX"`` -> ``"es"``; others -> ``"en"``.

    ``hi-latn`` (Hinglish) has no catalog: it gets English, as does anything unknown.
    """
    if not code:
        return DEFAULT_LANGUAGE
    primary = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


@functools.cache
def _messages(language: str) -> Mapping[str, str]:
    """The translated, non-fuzzy messages of ``language``'s catalog (cached)."""
    if language == DEFAULT_LANGUAGE:
        return {}
    path = catalog_path(language)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    messages: dict[str, str] = {}
    for message in catalog:
        if not message.id or message.fuzzy or not isinstance(message.id, str):
            continue
        if isinstance(message.string, str) and message.string:
            messages[message.id] = message.string
    return messages


@dataclass(frozen=True, slots=True)
class Translator:
    """The words and number format of one reply language.

    ``t("Thanks!")`` is the translation of a msgid (the msgid itself when the catalog
    has none); ``t.amount(Decimal("20"))`` is ``"20.00"`` or ``"20,00"``.
    """

    language: str
    """``en``, ``es``, ``fr``, ``de``, ``pt`` or ``it``."""

    messages: Mapping[str, str] = field(repr=False)
    """msgid -> translation (empty for English)."""

    def __call__(self, msgid: str) -> str:
        """The translation of ``msgid`` (``msgid`` itself when there is none)."""
        return self.messages.get(msgid) or msgid

    def amount(self, value: Decimal | str) -> str:
        """A USDC amount written this language's way, exact to six places."""
        amount = parse_usdc(value) if isinstance(value, str) else value
        return format_decimal(amount, format=AMOUNT_PATTERN, locale=self.language)

    @property
    def language_name(self) -> str:
        """The language's English name (``"Spanish"``), for a model's instructions."""
        return str(Locale.parse(self.language).get_display_name(DEFAULT_LANGUAGE))


def translator(language: str | None = None) -> Translator:
    """The translator for a language tag (see :func:`normalize_language`), cached."""
    return _translator(normalize_language(language))


@functools.cache
def _translator(code: str) -> Translator:
    return Translator(language=code, messages=_messages(code))
