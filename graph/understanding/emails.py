"""Email addresses in a customer's words: written, spaced or spelled out.

"ana@example.com", "john . doe @ example . com", "ana dot ruiz at example dot com",
"j o dot w h i t e at example dot co dot uk"; a correction between two addresses keeps
the last. Linear-time patterns only, like the rest of the rules.
"""

from __future__ import annotations

import re
from typing import Final

from graph.understanding import patterns as P
from graph.understanding.text import prepare

_DOT_WORD: Final = re.compile(r" (?:dot|punto|point|punkt|ponto) ")
_LETTER_RUN_RE: Final = re.compile(r"(?<!\w)(?:[a-z0-9] ){1,63}[a-z0-9](?!\w)")

_GENERIC_TLDS: Final = frozenset({"com", "net", "org", "edu", "gov", "info", "io", "biz"})
_COUNTRIES_AFTER_GENERIC: Final = frozenset(
    "br ar mx au tr cn sg hk tw ve ec uy py bo gt ng pk ph vn eg ua cy mt gr uk nz za jp kr ru "
    "ro hr lb qa kw bh om jm".split()
)
"""Countries whose addresses end in com.br, net.au, org.uk and the like ("es", "it",
"le", "my", "do", "pe", "sa", "pt" after a spoken ".com" are words of a sentence: "... dot
com dot my order is ...")."""


def _whole_domain(domain: str) -> str:
    """A spelled domain without the words spoken after it.

    "example.com.was" ("... punkt com Punkt was kann man ...") is example.com; a country
    after a generic name (example.com.br) stays.
    """
    labels = domain.split(".")
    for i, label in enumerate(labels[:-1]):
        if label in _GENERIC_TLDS and labels[i + 1] not in _COUNTRIES_AFTER_GENERIC:
            return ".".join(labels[: i + 1])
    return domain


def emails_in(text: str) -> list[str]:
    """Every address in prepared ``text``: written, spaced or spelled out, in order."""
    found = [m.group() for m in P.EMAIL_RE.finditer(text)]
    written = tuple(found)
    for match in P.SPACED_EMAIL_RE.finditer(text):
        address = f"{match.group(1)}@{match.group(2)}".replace(" ", "")
        # "ana@example.com. Order ...": the sentence's full stop, not a longer address.
        if P.EMAIL_RE.fullmatch(address) and not address.startswith(written):
            found.append(address)
    # "j o dot w h i t e at example dot co dot uk": letters spelled one by one, joined.
    joined = _LETTER_RUN_RE.sub(lambda m: m.group().replace(" ", ""), text)
    for match in P.SPELLED_EMAIL_RE.finditer(joined):
        if not (_DOT_WORD.search(match.group(2)) or "." in match.group(1)):
            continue  # "I bought it at shop.com": a spelled address spells a dot somewhere
        local = _DOT_WORD.sub(".", match.group(1))
        domain = _whole_domain(_DOT_WORD.sub(".", match.group(2)))
        address = f"{local}@{domain}"
        if P.EMAIL_RE.fullmatch(address):
            found.append(address)
    return list(dict.fromkeys(found))


def corrected_email(text: str, emails: list[str]) -> str | None:
    """The address meant: the first, or the last when a correction stands between them.

    "mark.t@example.net - sorry, not that one, it's mark.taylor@example.net": the last.
    """
    if len(emails) < 2:
        return emails[0] if emails else None
    first, last = text.find(emails[0]), text.rfind(emails[-1])
    if 0 <= first < last and P.CORRECTION_RE.search(text, first + len(emails[0]), last):
        return emails[-1]
    return emails[0]


def normalize_email(raw: str) -> str | None:
    """Lower-cased email if ``raw`` contains exactly one plausible address."""
    found = emails_in(prepare(raw))
    return found[0] if len(found) == 1 else None


__all__ = ["corrected_email", "emails_in", "normalize_email"]
