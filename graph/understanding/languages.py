"""Which language a message is in, and the words for asking, agreeing and refusing in each.

Detection combines a statistical detector whose model ships in its wheel
(lingua-language-detector, restricted to the supported languages) with the words
below: short answers ("sí", "oui", "ja", "sim", "haan") are too short for statistics,
and Hinglish (Hindi written in Latin letters) is not a language the detector knows.

Every word here is written folded (see :func:`graph.understanding.text.fold`): lower
case, no accents. Phrases use single spaces (the normaliser collapses whitespace).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # pragma: no cover
    from lingua import LanguageDetector

SUPPORTED: Final = ("en", "es", "fr", "de", "pt", "it", "hi")
"""Languages understood (``hi`` is Hinglish in Latin script; replies to it are English)."""


def words(*items: str) -> str:
    """An alternation of folded words/phrases, longest first (no pattern operators)."""
    return "|".join(
        re.escape(w).replace(r"\ ", " ") for w in sorted(set(items), key=len, reverse=True)
    )


# Asking for money back. Stems end in \w* where the pattern allows (see patterns.py).
REFUND_WORDS: Final = {
    "en": (
        "refund",
        "money back",
        "reimburse",
        "chargeback",
        "charge back",
        "pay me back",
        "want my money",
        "give me back",
        "reverse the charge",
        "reverse the payment",
        "reverse this charge",
        "my money",
        "return the money",
        "return my money",
    ),
    "es": (
        "reembols",
        "devolucion",
        "devuelv",
        "devolver",
        "mi dinero",
        "reintegr",
        "dinero de vuelta",
        "devolvais",
        "regresen mi dinero",
    ),
    "fr": ("rembours", "mon argent", "argent en retour", "me rendre mon argent"),
    "de": (
        "ruckerstatt",
        "erstatt",
        "geld zuruck",
        "mein geld",
        "zuruckzahl",
        "zuruckbuch",
        "gutschrift",
        "zuruckhaben",
    ),
    "pt": ("reembols", "devolucao", "devolv", "estorn", "meu dinheiro", "dinheiro de volta"),
    "it": ("rimbors", "i miei soldi", "soldi indietro", "restituit", "restituire", "i soldi"),
    "hi": (
        "paise wapas",
        "paisa wapas",
        "paise vapas",
        "paisa vapas",
        "wapas chahiye",
        "wapas karo",
        "wapas kar do",
        "refund chahiye",
        "refund karo",
        "refund kar do",
        "refund de do",
        "mera paisa",
        "mere paise",
    ),
}
YES_WORDS: Final = {
    "en": (
        "yes",
        "yeah",
        "yep",
        "yup",
        "sure",
        "ok",
        "okay",
        "please do",
        "go ahead",
        "do it",
        "confirm",
        "confirmed",
        "that's right",
        "correct",
        "sounds good",
        "please",
        "right",
        "alright",
        "fine",
    ),
    "es": (
        "si",
        "claro",
        "vale",
        "de acuerdo",
        "adelante",
        "correcto",
        "por favor",
        "dale",
        "hazlo",
        "perfecto",
        "esta bien",
    ),
    "fr": (
        "oui",
        "d'accord",
        "bien sur",
        "allez-y",
        "vas-y",
        "ouais",
        "exact",
        "parfait",
        "volontiers",
        "s'il vous plait",
        "ca marche",
    ),
    "de": (
        "ja",
        "jawohl",
        "genau",
        "gerne",
        "einverstanden",
        "bitte",
        "klar",
        "richtig",
        "passt",
        "mach das",
        "in ordnung",
    ),
    "pt": (
        "sim",
        "claro",
        "pode",
        "certo",
        "por favor",
        "com certeza",
        "isso",
        "pode ser",
        "esta bem",
        "ta bom",
        "beleza",
    ),
    "it": (
        "si",
        "certo",
        "va bene",
        "d'accordo",
        "per favore",
        "esatto",
        "procedi",
        "perfetto",
        "certamente",
    ),
    "hi": (
        "haan",
        "han",
        "haa",
        "ji haan",
        "ji",
        "theek hai",
        "thik hai",
        "kar do",
        "karo",
        "bilkul",
        "zaroor",
    ),
}
NO_WORDS: Final = {
    "en": ("no", "nope", "nah", "not now", "don't", "do not"),
    "es": ("no", "todavia no", "mejor no"),
    "fr": ("non", "pas maintenant", "surtout pas"),
    "de": ("nein", "noch nicht", "lieber nicht", "nee"),
    "pt": ("nao", "agora nao"),
    "it": ("no", "non ancora", "meglio di no"),
    "hi": ("nahi", "nahin", "mat karo", "na"),
}
FULL_WORDS: Final = {
    "en": (
        "full",
        "entire",
        "whole",
        "everything",
        "all of it",
        "all of my money",
        "the rest",
        "what's left",
        "remaining",
        "the remainder",
        "all my money",
    ),
    "es": (
        "completo",
        "completa",
        "total",
        "todo el dinero",
        "todo el importe",
        "el resto",
        "integro",
        "todo",
    ),
    "fr": (
        "total",
        "totalite",
        "integral",
        "integralement",
        "complet",
        "le reste",
        "tout le montant",
        "tout",
    ),
    "de": ("komplett", "vollstandig", "ganz", "gesamt", "den rest", "alles", "voll"),
    "pt": ("total", "integral", "completo", "tudo", "o resto", "o valor todo"),
    "it": ("totale", "intero", "completo", "tutto", "il resto", "per intero"),
    "hi": ("pura", "poora", "saara", "sab", "pure paise", "poore paise"),
}
HALF_WORDS: Final = {
    "en": ("half",),
    "es": ("mitad", "medio"),
    "fr": ("moitie",),
    "de": ("halfte", "halb"),
    "pt": ("metade",),
    "it": ("meta",),
    "hi": ("aadha", "adha", "aadhe", "adhe"),
}
CANCEL_WORDS: Final = {
    "en": (
        "never mind",
        "nevermind",
        "forget it",
        "forget about it",
        "cancel it",
        "cancel that",
        "cancel the refund",
        "cancel my refund",
        "cancel the whole refund",
        "cancel the refund request",
        "cancel my refund request",
        "no longer want a refund",
        "don't want a refund",
        "do not want a refund",
        "don't need a refund",
        "do not need a refund",
        "i'll keep it",
        "i will keep it",
        "i'll keep them",
        "i will keep them",
    ),
    "es": (
        "olvidalo",
        "no importa",
        "ya no quiero el reembolso",
        "cancela el reembolso",
        "me lo quedo",
    ),
    "fr": ("laisse tomber", "laissez tomber", "oubliez", "annulez le remboursement", "je le garde"),
    "de": ("vergiss es", "vergessen sie es", "schon gut", "ich behalte es"),
    "pt": ("esquece", "deixa pra la", "cancela o reembolso", "vou ficar com"),
    "it": ("lascia stare", "non importa", "annulla il rimborso", "lo tengo"),
    "hi": ("rehne do", "chhodo", "chodo"),
}
HUMAN_WORDS: Final = {
    "en": (
        "human",
        "real person",
        "a person",
        "agent",
        "manager",
        "supervisor",
        "someone",
        "someone else",
        "escalate",
        "teammate",
        "team member",
        "representative",
        "staff",
    ),
    "es": ("una persona", "un humano", "un agente", "supervisor", "encargado", "gerente"),
    "fr": ("un humain", "une personne", "un conseiller", "un responsable", "un agent"),
    "de": ("ein mensch", "einen menschen", "mitarbeiter", "vorgesetzten", "echte person"),
    "pt": ("uma pessoa", "um humano", "atendente", "um agente", "gerente", "supervisor"),
    "it": ("una persona", "un operatore", "un umano", "un responsabile"),
    "hi": ("insaan", "kisi insaan", "kisi se baat", "manager se baat"),
}
# Markers after which a later amount replaces an earlier one.
CORRECTION_WORDS: Final = {
    "en": (
        "wait",
        "actually",
        "instead",
        "i mean",
        "sorry",
        "make that",
        "make it",
        "rather",
        "correction",
        "scratch that",
        "no,",
        "oops",
        "is enough",
    ),
    "es": (
        "mejor",
        "perdon",
        "en realidad",
        "quiero decir",
        "digo",
        "en vez",
        "corrijo",
        "mas bien",
        "espera",
    ),
    "fr": (
        "en fait",
        "plutot",
        "pardon",
        "je veux dire",
        "finalement",
        "attendez",
        "attends",
        "au lieu",
    ),
    "de": (
        "eigentlich",
        "warte",
        "nee",
        "halt",
        "lieber",
        "doch",
        "ich meine",
        "korrektur",
        "moment",
        "stattdessen",
        "vielmehr",
    ),
    "pt": ("na verdade", "melhor", "quer dizer", "digo", "alias", "espera", "em vez"),
    "it": ("anzi", "in realta", "cioe", "scusa", "aspetta", "invece", "piuttosto"),
    "hi": ("nahi nahi", "matlab", "sorry"),
}
# Asking how refunds work (answered from the configured policy, no identity needed).
POLICY_WORDS: Final = {
    "en": (
        "how do refunds work",
        "how does a refund work",
        "how does the refund work",
        "refund policy",
        "refund policies",
        "how long do i have",
        "how long does a refund take",
        "how long do refunds take",
        "how long does the refund take",
        "what is your policy",
        "what's your refund policy",
        "how many days",
        "is there a limit",
        "what is the limit",
        "how do i get a refund",
        "can i get a refund if",
    ),
    "es": (
        "politica de reembolso",
        "como funcionan los reembolsos",
        "cuanto tarda el reembolso",
        "cuantos dias tengo",
        "como funciona el reembolso",
    ),
    "fr": (
        "politique de remboursement",
        "comment fonctionne le remboursement",
        "combien de temps pour le remboursement",
        "combien de jours",
    ),
    "de": (
        "erstattungsrichtlinie",
        "wie funktioniert die erstattung",
        "wie lange dauert",
        "wie viele tage",
        "ruckerstattungsrichtlinie",
    ),
    "pt": (
        "politica de reembolso",
        "como funciona o reembolso",
        "quanto tempo demora",
        "quantos dias tenho",
    ),
    "it": (
        "politica di rimborso",
        "come funziona il rimborso",
        "quanto tempo ci vuole",
        "quanti giorni ho",
    ),
    "hi": ("refund kaise hota", "refund policy kya", "kitne din"),
}
# Questions about the deadline and the rules, in each language's everyday words.
POLICY_MORE: Final = {
    lang: more
    for lang, more in {
        "en": (
            "if i get a refund",
            "if i ask for a refund",
            "if i request a refund",
            "do you keep a fee",
            "is there a fee",
            "any fees",
            "is the full amount returned",
            "would i get the full amount",
            "until when can i",
            "is there a deadline",
            "what's the deadline",
            "just asking",
            "how long is the refund window",
            "what is the refund window",
        ),
        "es": ("hasta cuando", "que plazo", "hay un plazo", "solo pregunto"),
        "fr": ("jusqu'a quand", "quel est le delai", "y a-t-il un delai", "juste pour savoir"),
        "de": (
            "bis wann",
            "gibt es eine frist",
            "gibt es da eine frist",
            "welche frist",
            "nur zur info",
            "wie lange habe ich",
        ),
        "pt": ("ate quando", "qual e o prazo", "tem prazo", "so uma duvida"),
        "it": ("entro quando", "fino a quando", "c'e un limite", "qual e il termine"),
        "hi": ("kitne din tak",),
    }.items()
}
FULL_MORE: Final = {
    "de": (
        "komplette",
        "kompletten",
        "vollstandige",
        "ganze",
        "ganzes",
        "ganzen",
        "gesamte",
        "gesamten",
        "vollen",
        "volle",
    ),
}
# Asking whether a refund already went through.
STATUS_WORDS: Final = {
    "en": (
        "has it been sent",
        "has it actually been sent",
        "was it sent",
        "have you sent",
        "did you send the refund",
        "has the refund been",
        "was the refund sent",
        "is it on its way",
        "where is my refund",
        "where's my refund",
        "where is the refund",
        "refund status",
        "status of my refund",
        "status of the refund",
        "status on my refund",
        "did my refund",
        "has my refund",
        "is my refund",
        "did the refund",
        "did it go through",
        "did you send it",
        "did it get through",
        "any update",
        "any news",
        "haven't received my refund",
        "have not received my refund",
        "haven't got my refund",
        "didn't get my refund",
        "did not get my refund",
        "haven't received the refund",
        "haven't seen the refund",
        "when will i get my refund",
        "when will i receive my refund",
        "when will i get my money",
        "when will the refund",
    ),
    "es": (
        "donde esta mi reembolso",
        "estado de mi reembolso",
        "ya se hizo el reembolso",
        "no he recibido el reembolso",
        "llego el reembolso",
    ),
    "fr": (
        "ou en est mon remboursement",
        "ou est mon remboursement",
        "je n'ai pas recu le remboursement",
        "le remboursement est-il passe",
    ),
    "de": (
        "wo ist meine erstattung",
        "status meiner erstattung",
        "erstattung noch nicht erhalten",
        "ist die erstattung durch",
    ),
    "pt": (
        "cade meu reembolso",
        "onde esta meu reembolso",
        "status do reembolso",
        "nao recebi o reembolso",
    ),
    "it": ("dov'e il mio rimborso", "stato del rimborso", "non ho ricevuto il rimborso"),
    "hi": ("refund kab milega", "refund aaya", "refund hua kya", "paise aaye"),
}
# Things the agent cannot do: said plainly, with a person offered.
UNSUPPORTED_WORDS: Final = {
    "en": (
        "cancel my order",
        "cancel the order",
        "cancel this order",
        "before it ships",
        "change my address",
        "change the address",
        "change the shipping address",
        "change my order",
        "exchange it",
        "exchange for",
        "track my order",
        "tracking number",
        "where is my package",
        "where is my order",
    ),
    "es": (
        "cancelar mi pedido",
        "cancelar el pedido",
        "cambiar la direccion",
        "cambiar mi direccion",
        "donde esta mi paquete",
    ),
    "fr": (
        "annuler ma commande",
        "annuler la commande",
        "changer l'adresse",
        "changer mon adresse",
        "ou est mon colis",
    ),
    "de": ("bestellung stornieren", "bestellung storniere", "adresse andern", "wo ist mein paket"),
    "pt": (
        "cancelar meu pedido",
        "cancelar o pedido",
        "mudar o endereco",
        "alterar o endereco",
        "cade meu pacote",
    ),
    "it": (
        "annullare l'ordine",
        "annullare il mio ordine",
        "cambiare indirizzo",
        "cambiare l'indirizzo",
        "dov'e il mio pacco",
    ),
    "hi": ("order cancel", "address change"),
}
# Words only one language uses: evidence for detection of very short messages.
MARKERS: Final = {
    "es": (
        "hola",
        "quiero",
        "gracias",
        "pedido",
        "por favor",
        "dinero",
        "mi",
        "el",
        "de",
        "reembolso",
        "vale",
        "si",
        "mitad",
        "correo",
    ),
    "fr": (
        "bonjour",
        "je",
        "merci",
        "commande",
        "oui",
        "non",
        "mon",
        "argent",
        "remboursement",
        "voudrais",
        "moitie",
        "s'il",
    ),
    "de": (
        "hallo",
        "ich",
        "danke",
        "bestellung",
        "ja",
        "nein",
        "mein",
        "geld",
        "bitte",
        "mochte",
        "zuruck",
        "halfte",
        "erstattung",
    ),
    "pt": (
        "ola",
        "obrigado",
        "obrigada",
        "pedido",
        "sim",
        "nao",
        "meu",
        "dinheiro",
        "reembolso",
        "quero",
        "metade",
        "voces",
    ),
    "it": (
        "ciao",
        "grazie",
        "ordine",
        "vorrei",
        "rimborso",
        "soldi",
        "mio",
        "meta",
        "per favore",
        "buongiorno",
    ),
    "hi": (
        "haan",
        "nahi",
        "nahin",
        "mujhe",
        "chahiye",
        "wapas",
        "vapas",
        "paise",
        "paisa",
        "mera",
        "mere",
        "karo",
        "kar do",
        "kya",
        "aadha",
        "hai",
        "bhai",
        "ji",
    ),
    "en": ("hello", "hi", "the", "my", "please", "refund", "thanks", "want", "yes"),
}
# Markers that alone decide a short message's language.
DISTINCT: Final = {
    "es": ("hola", "gracias", "quiero", "vale", "dinero", "reembolso", "mitad"),
    "fr": ("bonjour", "merci", "oui", "je", "voudrais", "moitie", "argent", "remboursement"),
    "de": ("hallo", "danke", "ja", "nein", "ich", "bitte", "geld", "mochte", "halfte"),
    "pt": ("ola", "obrigado", "obrigada", "sim", "nao", "quero", "dinheiro", "metade"),
    "it": ("ciao", "grazie", "vorrei", "soldi", "rimborso", "meta"),
    "hi": (
        "haan",
        "nahi",
        "nahin",
        "mujhe",
        "chahiye",
        "wapas",
        "vapas",
        "paise",
        "paisa",
        "karo",
        "aadha",
    ),
}


def all_words(table: Mapping[str, Sequence[str]], languages: Iterable[str] = SUPPORTED) -> str:
    """One alternation of every language's words in ``table``."""
    return words(*(w for lang in languages for w in table.get(lang, ())))


_TOKEN: Final = re.compile(r"[a-z']+")
_MARKER_SETS: Final = {lang: frozenset(ws) for lang, ws in MARKERS.items()}
_DISTINCT_SETS: Final = {lang: frozenset(ws) for lang, ws in DISTINCT.items()}


@dataclass(frozen=True, slots=True)
class Detected:
    """A message's language and whether it is clear enough to switch replies to it."""

    language: str = "en"
    sure: bool = False


@functools.cache
def _detector() -> LanguageDetector:
    from lingua import Language, LanguageDetectorBuilder

    return (
        LanguageDetectorBuilder.from_languages(
            Language.ENGLISH,
            Language.SPANISH,
            Language.FRENCH,
            Language.GERMAN,
            Language.PORTUGUESE,
            Language.ITALIAN,
        )
        .with_preloaded_language_models()
        .build()
    )


def warm_up() -> None:
    """Load the detector's models now (a second or two) rather than on the first message."""
    _detector()


def detect(folded: str, original: str) -> Detected:
    """The language of a message, from its folded form and its original letters.

    Words decide short messages and Hinglish; the detector decides the rest, and is
    trusted only when it is confident and the words do not contradict it.
    """
    tokens = _TOKEN.findall(folded)
    if not tokens:
        return Detected()
    joined = " " + " ".join(tokens) + " "
    hits = {
        lang: sum(1 for w in markers if (" " + w + " ") in joined)
        for lang, markers in _MARKER_SETS.items()
    }
    hinglish = hits["hi"]
    if hinglish >= 2 or (hinglish == 1 and len(tokens) <= 3 and _distinct(tokens) == "hi"):
        return Detected("hi", True)
    if len(tokens) <= 3:
        lang = _distinct(tokens)
        return Detected(lang, True) if lang else Detected()
    from lingua import IsoCode639_1

    values = _detector().compute_language_confidence_values(original[:300])
    if not values:
        return Detected()
    best = values[0]
    code = {
        IsoCode639_1.EN: "en",
        IsoCode639_1.ES: "es",
        IsoCode639_1.FR: "fr",
        IsoCode639_1.DE: "de",
        IsoCode639_1.PT: "pt",
        IsoCode639_1.IT: "it",
    }.get(best.language.iso_code_639_1, "en")
    if best.value >= 0.5 or hits.get(code, 0) >= 1:
        return Detected(code, best.value >= 0.5 or hits.get(code, 0) >= 2)
    return Detected(code, False)


def _distinct(tokens: list[str]) -> str | None:
    """The one language whose distinctive words appear, if exactly one does."""
    found = {lang for lang, ws in _DISTINCT_SETS.items() for t in tokens if t in ws}
    return found.pop() if len(found) == 1 else None
