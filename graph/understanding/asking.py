"""How a message asks: for more than before, for money rather than goods, an amount settled on.

Kept apart from :mod:`.patterns` so each module stays readable; built the same way
(folded text, linear-time patterns).
"""

from __future__ import annotations

import re
from typing import Final

from graph.understanding import languages as L
from graph.understanding.patterns import NUM, UNIT

# Words of a request that adds to or follows another: "another 20", "now 5 for ...".
MORE_RE: Final = re.compile(
    # ("noch nichts", "pas encore": not yet, not more.)
    r"\b(?:more|another|again|also|too|now|otro|otra|otros|otras|ahora|(?<!pas )encore|"
    r"autres?|maintenant|weitere\w?|altri|altre|outros|outras|aur|"
    r"noch(?! (?:nicht|nichts|nix|kein\w*))|jetzt|mais|"
    r"agora|altro|adesso|ora)\b"
)
# Asking for more than before, the word tied to an amount ("another 20", "20 more", "otros
# 20", "noch 10", "10 aur"); "hi again", "I'll say it again", "too many times", "mais je
# veux mes 10" and "noch immer" ask for nothing more. Read on marked text (NUM marks).
# ("the other 10 never showed up", French "mais" (but), Hinglish "aur" (and), German
# "noch 10 offen" (still open) ask for nothing more.)
_ANOTHER: Final = (
    r"(?:another|otro|otra|otros|otras|weitere\w?|altri|altre|altro|altra|"
    r"outros|outras|outro|outra)"
)
_MORE_BEFORE: Final = r"(?:nochmal|nochmals|noch einmal|ek aur|aur ek|encore|also)"
_MORE_AFTER: Final = (
    r"(?:more|extra|additional|de plus|en plus|mas|mehr|dazu|in piu|di piu|a mais|aur)"
    r"(?! (?:abhi|nahi|nhi)\b)"
)
AGAIN_RE: Final = re.compile(
    rf"\b({_ANOTHER}) (?:[a-z]+ ){{0,3}}(?:{UNIT} ?)?{NUM}|"
    rf"\b({_MORE_BEFORE}) (?:{UNIT} ?)?{NUM}|"
    rf"{NUM} ?(?:{UNIT} )?{_MORE_AFTER}\b"
)
# "not interested in a replacement", "no quiero un reemplazo": the money, not the goods
# (declined in so many words; "there is no replacement part" declines nothing).
NO_REPLACEMENT_RE: Final = re.compile(
    r"\b(?:not interested in|no need for|don't want|do not want|don't need|do not need|"
    r"no quiero|ne veux pas|will keinen?|mochte keinen?|brauche keinen?|nao quero|non voglio)"
    r" (?:a |an |any |un |una |uno |une |einen |um |uma )?"
    r"(?:replacement|new one|exchange|reemplazo|cambio|remplacement|echange|ersatz|umtausch|"
    r"troca|sostituzione)\b"
)
# "12,50 ça suffit", "20 is enough": an amount settled on, with or without keeping the item.
ENOUGH_RE: Final = re.compile(
    r"\b(?:is enough|would be enough|will do|is fine|suffit|suffira|suffisent|reicht|reichen|"
    r"genugt|basta|bastano|bastan|alcanza|es suficiente|chega|e suficiente|kaafi)\b"
)

# Why the customer asks (the refund reason recorded with the request).
REASONS: Final = (
    (
        "damaged",
        re.compile(
            r"\b(?:damaged|broken|broke|cracked|smashed|shattered|chipped|torn|ripped|dented|"
            r"defective|faulty|doesn't work|stopped working|"
            r"not working|roto|rota|danado|danada|casse|cassee|abime|kaputt|beschadigt|defekt|"
            r"quebrad[oa]|danificad[oa]|rott[oa]|danneggiat[oa]|toota|tuta|kharab)\b"
        ),
    ),
    (
        "not_received",
        re.compile(
            r"\b(?:never (?:arrived|received|came)|not (?:arrived|received)|didn't (?:arrive|"
            r"receive|get)|lost|no llego|nunca llego|pas recu|jamais arrive|nie angekommen|"
            r"nicht angekommen|nao chegou|nunca chegou|mai arrivato|non e arrivato|nahi aaya)\b"
        ),
    ),
    ("wrong_item", re.compile(r"\b(?:wrong (?:item|size|color|colour|product))\b")),
    (
        "not_as_described",
        re.compile(r"\b(?:not as described|different from|fake|poor quality|quality issue)\b"),
    ),
    ("duplicate_charge", re.compile(r"\b(?:charged twice|double charged|duplicate)\b")),
    (
        "changed_mind",
        re.compile(r"\b(?:changed my mind|don't (?:want|need) it|no longer need)\b"),
    ),
)

# A yes that narrows what it agrees to: "yes but only for the left earbud", "sí, pero solo 1".
BUT_ONLY_RE: Final = re.compile(
    r"\b(?:but|pero|mais|aber|mas|ma|lekin|par|though)\b[^.!?]{0,20}\b(?:only|solo|solamente|"
    r"seulement|nur|so|somente|apenas|sirf|bas|just|juste)\b"
)
# A yes-word that opens a refusal, a delay or a question: "ok, I changed my mind",
# "ja, lieber nicht", "sí, cancélalo", "ok, let me think about it".
NOT_NOW_RE: Final = re.compile(
    r"\b(?:changed? my mind|think about it|get back to you|let me think|lieber nicht|"
    r"besser nicht|mejor no|plutot pas|meglio (?:di )?no|melhor nao|cancel\w*|annul\w*|"
    r"storn\w*|later|spater|despues|plus tard|dopo|depois|baad mein|not now|no longer|"
    r"give me (?:a |\w+ )?(?:min\w*|sec\w*|moment)|one sec|a moment|un momento|un moment|"
    r"einen moment|un attimo|ek minute|ruko|momentinho)\b"
)
# A yes and nothing else ("yes", "yes please, thanks", "sí, gracias", "ok go ahead").
_YES_OR_POLITE: Final = re.compile(
    rf"\b(?:{L.all_words(L.YES_WORDS)}|please|pls|plz|thank you|thanks?|thx|ty|por favor|"
    r"gracias|merci|s'il vous plait|s'il te plait|svp|danke|danke schon|bitte|obrigad[oa]|"
    r"valeu|grazie|per favore|shukriya|dhanyavaad|ji|go ahead|do it|sure|ok|okay)\b"
)
# A yes to a second refund in so many words: "yes, another 20", "yes, refund it again".
_ANOTHER_ONE: Final = re.compile(
    r"\b(?:another|again|second|one more|otro|otra|de nuevo|otra vez|encore|un autre|"
    r"une autre|nochmal|noch einmal|noch einen|weitere\w?|ancora|un altro|di nuovo|outro|outra|"
    r"de novo|mais um|ek aur|phir se|dobara)\b"
)


def plain_yes(text: str) -> bool:
    """``text`` (folded) is a yes and nothing else: no words beside yes and thanks."""
    return not re.search(r"[a-z]", _YES_OR_POLITE.sub(" ", text))


def another_one(text: str) -> bool:
    """``text`` (folded) asks for a second refund in so many words."""
    return bool(_ANOTHER_ONE.search(text))


def asks_again(marked: str, language: str) -> bool:
    """``marked`` text asks for an amount more than before: "another 20", "otros 20".

    (German "also" is "so", not "also".)
    """
    return any(m.group(2) != "also" or language != "de" for m in AGAIN_RE.finditer(marked))


__all__ = [
    "AGAIN_RE",
    "BUT_ONLY_RE",
    "ENOUGH_RE",
    "MORE_RE",
    "NOT_NOW_RE",
    "NO_REPLACEMENT_RE",
    "REASONS",
    "another_one",
    "asks_again",
    "plain_yes",
]
