"""A model may reword a reply; the template goes out unless every fact survives.

The rewording must keep every fact of the reply verbatim and may state no fact
(number, hash, reference, email) or claim that money moved that the draft does not.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Final

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from graph import prompts
from graph.replies.catalog import translator
from graph.replies.compose import Reply

__all__ = ["CLAIMS", "FACT_LIKE", "MAX_PHRASED_CHARS", "facts_kept", "grounded", "phrase"]

logger = logging.getLogger(__name__)

MAX_PHRASED_CHARS: Final = 2000

# Anything that looks like a fact: hashes, ticket and order references, emails, numbers.
FACT_LIKE: Final = re.compile(
    r"0x[0-9a-fA-F]+|RT-\d+|ORD-\d+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\d+(?:[.,]\d+)*"
)
# Words that claim money moved or a decision was made.
CLAIMS: Final = re.compile(
    r"\b(refunded|refunding|transaction|tx|hash|credited|sent|paid|transferred|approved|"
    r"processed|issued|wallet|usdc|settle[sd]?)\b",
    re.IGNORECASE,
)


def facts_kept(text: str, facts: Sequence[str]) -> bool:
    """True when every fact string appears verbatim in ``text``."""
    return all(fact in text for fact in facts if fact)


def grounded(text: str, draft: str) -> bool:
    """True when ``text`` states no fact and makes no claim that ``draft`` does not."""
    if any(token not in draft for token in FACT_LIKE.findall(text)):
        return False
    draft_lower = draft.lower()
    return all(word.lower() in draft_lower for word in CLAIMS.findall(text))


async def phrase(
    model: BaseChatModel | None,
    draft: str | Reply,
    facts: Sequence[str] = (),
    *,
    language: str | None = None,
    limit_seconds: float = 10.0,
) -> tuple[str, bool]:
    """Let ``model`` reword ``draft`` in its language; keep the draft unless every fact survives.

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
    if (
        not text
        or len(text) > MAX_PHRASED_CHARS
        or not facts_kept(text, facts)
        or not grounded(text, text_draft)
    ):
        return text_draft, False
    return text, True
