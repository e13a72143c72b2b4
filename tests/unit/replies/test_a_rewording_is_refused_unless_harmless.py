from __future__ import annotations

import pytest

from graph import replies
from tests.fakes import ScriptedChatModel

DRAFT = replies.REFUNDED.format(
    amount="20.00", order_id="ORD-1001", tx_hash="0x" + "ab" * 32, eta="about a minute"
)
ESCALATION = replies.ESCALATED.format(
    why="refunds over 50.00 USDC need approval", ticket="RT-000007"
)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        (DRAFT, True),
        (
            "All set! 20.00 USDC for ORD-1001 is on its way back to the wallet you paid with "
            f"(transaction hash {'0x' + 'ab' * 32}); it should settle in about a minute.",
            True,
        ),
        (DRAFT + " I also added a 5.00 USDC credit.", False),
        (DRAFT.replace("ab", "cd", 1), False),
        (DRAFT + " Contact me at mallory@evil.example.", False),
    ],
)
def test_grounded_refund_reply(text: str, ok: bool) -> None:
    assert replies.grounded(text, DRAFT) is ok


def test_an_escalation_may_not_claim_a_refund() -> None:
    assert replies.grounded("Sorry for the wait! Ticket RT-000007 is with a teammate.", ESCALATION)
    assert not replies.grounded("Good news: I refunded you. Ticket RT-000007.", ESCALATION)
    assert not replies.grounded("Ticket RT-000008 is open.", ESCALATION)


async def test_phrase_uses_the_model_only_when_grounded() -> None:
    faithful = (
        "All set! 20.00 USDC for ORD-1001 is on its way back to the wallet you paid with "
        f"(transaction hash {'0x' + 'ab' * 32}); it should settle in about a minute."
    )
    facts = ["20.00", "0x" + "ab" * 32, "ORD-1001"]
    text, used = await replies.phrase(ScriptedChatModel(replies=[faithful]), DRAFT, facts)
    assert used and text == faithful
    text, used = await replies.phrase(
        ScriptedChatModel(replies=[faithful + " Plus 500.00 USDC bonus!"]), DRAFT, facts
    )
    assert not used and text == DRAFT
    text, used = await replies.phrase(None, DRAFT, facts)
    assert not used and text == DRAFT
