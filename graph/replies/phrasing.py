"""A model may reword a reply; the template goes out unless the rewording is harmless.

:func:`phrase` asks the model to reword a draft in the reply's language, then
:func:`vet` checks the rewording against the draft. It is refused when it:

* is empty or far too long;
* drops a fact (an amount, hash, order id, ticket reference or email of the reply);
* adds an email address, a link or web domain, or a phone number;
* adds a fact-like token (a number, hash, reference, email) the draft does not have;
* claims money moved or a decision was made (``refunded``, ``transaction``,
  ``reembolsado``, ``erstattet``...) in words the draft does not use;
* tells the customer to do something the draft does not (click, visit, reply with,
  send, enter, log in, verify your, share your, call, pay...; a password or a code),
  in any of English, Spanish, French, German, Portuguese and Italian, whatever
  language the reply is in.

Each check compares with the draft: what the template itself says may be said again.
Every pattern here reads model output, which is untrusted: each starts only at a token
boundary and has no nested repetition, so matching is linear in the text.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Final, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from graph import prompts
from graph.replies.catalog import translator
from graph.replies.compose import Reply

__all__ = [
    "CLAIMS",
    "FACT_LIKE",
    "INSTRUCTIONS",
    "MAX_PHRASED_CHARS",
    "Rejection",
    "facts_kept",
    "grounded",
    "phrase",
    "vet",
]

logger = logging.getLogger(__name__)

MAX_PHRASED_CHARS: Final = 2000
Rejection = Literal[
    "empty",
    "too_long",
    "dropped_fact",
    "email",
    "link",
    "phone",
    "new_fact",
    "claim",
    "instruction",
]
"""Why a rewording was refused (see the module docstring)."""

# Anything that looks like a fact: hashes, ticket and order references, emails, numbers.
FACT_LIKE: Final = re.compile(
    r"0x[0-9a-fA-F]+|RT-\d+|ORD-\d+|(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\d+(?:[.,]\d+)*"
)
EMAIL: Final = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
LINK: Final = re.compile(
    # a scheme or www. up to the next space; or a bare domain ("evil.example", "x.co.uk")
    r"\b(?:https?|ftp)://\S+|\bwww\.\S+|"
    r"(?<![\w@.-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}(?![\w-])",
    re.IGNORECASE,
)
PHONE: Final = re.compile(r"(?<![\w+(])[+(]?\d(?:[ ().-]{0,2}\d){6,}")
# Words that claim money moved or a decision was made, in the six reply languages.
CLAIMS: Final = re.compile(
    r"\b(refunded|refunding|transaction|tx|hash|credited|sent|paid|transferred|approved|"
    r"processed|issued|wallet|usdc|settle[sd]?|"
    r"reembolsad[oa]s?|reembols[ée]|reembolsei|transacci[óo]n|acreditad[oa]|enviad[oa]|"
    r"pagad[oa]|transferid[oa]|aprobad[oa]|procesad[oa]|emitid[oa]|billetera|cartera|"
    r"monedero|transa[çc][ãa]o|creditad[oa]|pago|aprovad[oa]|processad[oa]|carteira|"
    r"rembours[ée]e?s?|cr[ée]dit[ée]e?s?|envoy[ée]e?s?|pay[ée]e?s?|transf[ée]r[ée]e?s?|"
    r"approuv[ée]e?s?|trait[ée]e?s?|[ée]mise?s?|portefeuille|"
    r"erstattet|zur[üu]ckerstattet|transaktion|gutgeschrieben|gesendet|[üu]berwiesen|"
    r"bezahlt|genehmigt|bearbeitet|ausgestellt|"
    r"rimborsat[oaie]|transazione|accreditat[oaie]|inviat[oaie]|pagat[oaie]|"
    r"trasferit[oaie]|approvat[oaie]|elaborat[oaie]|emess[oaie]|portafoglio)\b",
    re.IGNORECASE,
)
# Telling the customer to do something, in the six reply languages (and credentials).
INSTRUCTIONS: Final = re.compile(
    r"\b(?:"
    # English
    r"click|tap (?:on|here|the)|visit|go to|head (?:to|over to)|open (?:the|this) link|"
    r"follow (?:the|this) link|reply with|respond with|send|enter|type in|log ?in|sign ?in|"
    r"verify your|confirm your|share your|provide your|give (?:me|us) your|update your|"
    r"call (?:us|me|our|this)|contact (?:us|me|our|support)|email (?:us|me)|text (?:us|me)|"
    r"message (?:us|me)|download|install|scan|pay|transfer|deposit|password|passcode|pin|"
    r"private key|seed phrase|recovery phrase|one-time code|verification code|card number|cvv|"
    # Spanish
    r"haz clic|haga clic|hacer clic|pulsa|pulse|pincha|visita|visite|entra en|ingresa|"
    r"introduce|responde con|responda con|env[íi]a|env[íi]e|env[íi]ame|env[íi]anos|manda|"
    r"inicia sesi[óo]n|inicie sesi[óo]n|verifica tu|verifique su|comparte tu|comparta su|"
    r"ll[áa]manos|llama al|contacta con|descarga|instala|paga|transfiere|contrase[ñn]a|"
    r"clave privada|frase semilla|c[óo]digo de verificaci[óo]n|n[úu]mero de tarjeta|"
    # French
    r"cliquez|clique[zr]?|appuyez|visitez|rendez-vous sur|allez sur|connectez-vous|"
    r"identifiez-vous|r[ée]pondez avec|envoyez|envoie-moi|saisissez|entrez|tapez|"
    r"v[ée]rifiez votre|partagez votre|communiquez-moi votre|appelez|contactez|"
    r"t[ée]l[ée]chargez|installez|payez|virez|transf[ée]rez|mot de passe|cl[ée] priv[ée]e|"
    r"phrase de r[ée]cup[ée]ration|code de v[ée]rification|num[ée]ro de carte|"
    # German
    r"klicken sie|klicke|klick auf|tippen sie|besuchen sie|gehen sie auf|antworten sie mit|"
    r"senden sie|schicken sie|eingeben|geben sie ihr\w*|melden sie sich|einloggen|anmelden|"
    r"verifizieren sie|best[äa]tigen sie ihr\w*|teilen sie uns|kontaktieren sie|"
    r"rufen sie|herunterladen|laden sie|installieren sie|zahlen sie|[üu]berweisen sie|"
    r"passwort|kennwort|privaten schl[üu]ssel|seed-phrase|best[äa]tigungscode|kartennummer|"
    # Portuguese
    r"clique|clica|carregue em|toque em|acesse|aceda|entre em|envie|mande|digite|insira|"
    r"introduza|fa[çc]a (?:o )?login|inicie sess[ãa]o|verifique (?:o )?seu|"
    r"verifique a sua|compartilhe|partilhe|ligue|contate|contacte|baixe|descarregue|instale|"
    r"pague|transfira|senha|palavra-passe|chave privada|frase de recupera[çc][ãa]o|"
    r"c[óo]digo de verifica[çc][ãa]o|n[úu]mero do cart[ãa]o|"
    # Italian
    r"clicca|fai clic|premi|tocca|vai su|accedi|effettua l'accesso|fai il login|"
    r"rispondi con|invia|inviami|inserisci|digita|verifica il tuo|verifica la tua|"
    r"condividi|chiama|contatta|scarica|installa|trasferisci|bonifico|chiave privata|"
    r"frase di recupero|codice di verifica|numero della carta"
    r")\b",
    re.IGNORECASE,
)


def facts_kept(text: str, facts: Sequence[str]) -> bool:
    """True when every fact string appears verbatim in ``text``."""
    return all(fact in text for fact in facts if fact)


def _normal(phrase: str) -> str:
    return " ".join(phrase.lower().split())


def _found(pattern: re.Pattern[str], text: str) -> set[str]:
    return {_normal(m.group(0)) for m in pattern.finditer(text)}


def _added(pattern: re.Pattern[str], text: str, draft: str) -> bool:
    """True when ``text`` has a match of ``pattern`` that the draft does not contain."""
    draft_normal = _normal(draft)
    return any(found not in draft_normal for found in _found(pattern, text))


def vet(text: str, draft: str, facts: Sequence[str] = ()) -> Rejection | None:
    """Why ``text`` may not replace ``draft`` (``None``: it may); see the module docstring."""
    if not text.strip():
        return "empty"
    if len(text) > MAX_PHRASED_CHARS:
        return "too_long"
    if not facts_kept(text, facts):
        return "dropped_fact"
    if _added(EMAIL, text, draft):
        return "email"
    if _added(LINK, text, draft):
        return "link"
    if _added(PHONE, text, draft):
        return "phone"
    draft_facts = {m.group(0) for m in FACT_LIKE.finditer(draft)}
    if any(m.group(0) not in draft_facts for m in FACT_LIKE.finditer(text)):
        return "new_fact"
    if not _found(CLAIMS, text) <= _found(CLAIMS, draft):
        return "claim"
    if not _found(INSTRUCTIONS, text) <= _found(INSTRUCTIONS, draft):
        return "instruction"
    return None


def grounded(text: str, draft: str) -> bool:
    """True when ``text`` states, claims, links or asks nothing that ``draft`` does not.

    A model may reword a reply; it may not add an amount, a hash, a reference, an email,
    a link or phone number, a claim that money moved (``refunded``, ``transaction``, ...)
    or an instruction to the customer that the template did not already make.
    """
    return vet(text, draft) in (None, "too_long")


async def phrase(
    model: BaseChatModel | None,
    draft: str | Reply,
    facts: Sequence[str] = (),
    *,
    language: str | None = None,
    limit_seconds: float = 10.0,
) -> tuple[str, bool]:
    """Let ``model`` reword ``draft`` in its language; keep the draft unless :func:`vet` agrees.

    Args:
        model: The phrasing model (None: send the draft).
        draft: A :class:`~graph.replies.compose.Reply` (its facts and language are used),
            or the draft's text.
        facts: With a text draft, the strings the rewording must keep verbatim.
        language: With a text draft, the language it is written in (default English).
        limit_seconds: How long the model may take.

    Returns:
        The text to send and whether the model's phrasing was used.
    """
    if isinstance(draft, Reply):
        text_draft, facts, language = draft.text, draft.facts, draft.language
    else:
        text_draft = draft
    if model is None:
        return text_draft, False
    system = prompts.PHRASE_SYSTEM.format(language=translator(language).language_name)
    try:
        async with asyncio.timeout(limit_seconds):
            result = await model.ainvoke([SystemMessage(system), HumanMessage(text_draft)])
    except Exception as exc:  # phrasing is optional: any failure sends the template
        logger.info("phrasing failed, sending the template: %s", exc)
        return text_draft, False
    text = result.content.strip() if isinstance(result.content, str) else ""
    refused = vet(text, text_draft, facts)
    if refused is not None:
        logger.info("phrasing refused (%s), sending the template", refused)
        return text_draft, False
    return text, True
