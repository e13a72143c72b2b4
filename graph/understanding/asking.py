"""How a message asks: for more than before, for money rather than goods, an amount settled on.

Kept apart from :mod:`.patterns` so each module stays readable; built the same way
(folded text, linear-time patterns).
"""

from __future__ import annotations

import re
from typing import Final

# Words of a request that adds to or follows another: "another 20", "now 5 for ...".
MORE_RE: Final = re.compile(
    # ("noch nichts", "pas encore": not yet, not more.)
    r"\b(?:more|another|again|also|too|now|otro|otra|otros|otras|ahora|(?<!pas )encore|"
    r"autres?|maintenant|weitere\w?|altri|altre|outros|outras|aur|"
    r"noch(?! (?:nicht|nichts|nix|kein\w*))|jetzt|mais|"
    r"agora|altro|adesso|ora)\b"
)
# Asking for more than before ("another 20", "20 more", "otros 20"): MORE_RE without the
# words for "now", which start a new request without saying it adds to the last one.
AGAIN_RE: Final = re.compile(
    r"\b(?:more|another|again|also|too|otro|otra|otros|otras|(?<!pas )encore|autres?|"
    r"weitere\w?|altri|altre|outros|outras|outro|outra|ek aur|aur bhi|aur ek|"
    r"noch(?! (?:nicht|nichts|nix|kein\w*|was|etwas)\b)|"
    r"mais|altro|altra|de nuevo|otra vez|de novo|di nuovo|nochmal|wieder|phir se|dobara)\b"
)
# "not interested in a replacement", "no quiero un reemplazo": the money, not the goods.
NO_REPLACEMENT_RE: Final = re.compile(
    r"\b(?:not interested in|no need for|don't want|do not want|don't need|no|without|"
    r"no quiero|ne veux pas|pas de|kein(?:en)?|nao quero|non voglio)"
    r" (?:a |an |any |un |una |uno |une |einen |um |uma )?"
    r"(?:replacement|new one|exchange|reemplazo|cambio|remplacement|echange|ersatz|umtausch|"
    r"troca|sostituzione)\b"
)
# "12,50 ça suffit", "20 is enough": an amount settled on, with or without keeping the item.
ENOUGH_RE: Final = re.compile(
    r"\b(?:is enough|would be enough|will do|is fine|suffit|suffira|suffisent|reicht|reichen|"
    r"genugt|basta|bastano|bastan|alcanza|es suficiente|chega|e suficiente|kaafi)\b"
)


def asks_again(text: str, language: str) -> bool:
    """``text`` (folded) asks for more than before: "another 20", "otros 20", "nochmal".

    (German "also" is "so", not "also".)
    """
    return any(m.group(0) != "also" or language != "de" for m in AGAIN_RE.finditer(text))


__all__ = ["AGAIN_RE", "ENOUGH_RE", "MORE_RE", "NO_REPLACEMENT_RE", "asks_again"]
