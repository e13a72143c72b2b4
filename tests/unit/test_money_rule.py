"""The money rule, over generated messages: no amount is final unless the customer wrote it.

Money moves only for an amount that deterministic code read in the customer's own words
as their final request, or for an amount the agent stated and the customer confirmed.
The properties here run the rules (and the model merge, with a model saying anything)
and then :func:`graph.pending.after`, the one place a request becomes payable:

* a final amount is always a number the customer wrote in digits;
* a model's amount or intent is never final on its own;
* a yes makes final exactly the amount the agent stated last, nothing else.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.money import format_usdc
from graph import pending
from graph.state import State
from graph.understanding import LLMExtraction, merge_with_rules, understand_with_rules
from graph.understanding.amounts import NUMBER_TOKEN, parse_amount_text
from graph.understanding.text import prepare

VERBS = [
    "refund",
    "refund me",
    "I want",
    "give me",
    "can I get",
    "please send",
    "reembolso",
    "remboursez",
    "erstatten Sie",
    "rimborsatemi",
    "wapas karo",
    "",
]
NUMBER_WORDS = ["twenty", "fifteen", "half", "a third", "fifty", "vingt", "zwanzig", "veinte"]
GLUE = [
    " ",
    ", ",
    " wait no, ",
    " actually ",
    " and another ",
    " times ",
    " of the ",
    " not ",
    " plus ",
    "% ",
    " back ",
    " USDC ",
    " dollars ",
    " mugs ",
    " days ago ",
    " instead ",
    " already got ",
    " thanks for the refund of ",
    " never mind ",
    " the rest ",
    " full ",
]
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)


@st.composite
def messages(draw: st.DrawFn) -> str:
    """Customer-like messages mixing verbs, numbers in digits and words, and glue."""
    parts: list[str] = [draw(st.sampled_from(VERBS))]
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        parts.append(draw(st.sampled_from(GLUE)))
        if draw(st.booleans()):
            parts.append(str(draw(AMOUNTS)))
        else:
            parts.append(draw(st.sampled_from(NUMBER_WORDS)))
    return "".join(parts)


def written_in_digits(text: str) -> set[Decimal]:
    """Every valid amount the customer wrote in digits."""
    found = set()
    for match in NUMBER_TOKEN.finditer(prepare(text)):
        try:
            found.add(parse_amount_text(match.group()))
        except ValueError:
            continue
    return found


def final_amount(state: State, text: str, *, model: LLMExtraction | None = None) -> str | None:
    understood = understand_with_rules(text)
    if model is not None:
        understood = merge_with_rules(model, text, rules=understood)
    return pending.after(state, understood).amount


FAST = settings(max_examples=300, deadline=None)


@FAST
@given(messages())
def test_a_final_amount_is_always_one_the_customer_wrote_in_digits(text: str) -> None:
    amount = final_amount(State(), text)
    if amount is not None:
        assert Decimal(amount) in written_in_digits(text), (text, amount)


@FAST
@given(messages(), st.sampled_from(["amount", "confirm", None]))
def test_answering_the_agent_never_makes_an_unwritten_amount_final(
    text: str, awaiting: str | None
) -> None:
    state = State(refund_requested=True, awaiting=awaiting, proposed_amount="7.00")
    amount = final_amount(state, text)
    if amount is not None and amount != "7.00":
        assert Decimal(amount) in written_in_digits(text), (text, amount)


@FAST
@given(
    messages(),
    st.sampled_from(["refund", "status", "other", "provide_info", "human"]),
    st.one_of(
        st.none(),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999"), places=6).map(str),
    ),
)
def test_a_model_saying_anything_adds_no_final_amount(
    text: str, intent: str, model_amount: str | None
) -> None:
    lying = LLMExtraction.model_validate({"intent": intent, "amount": model_amount})
    amount = final_amount(State(), text, model=lying)
    if amount is not None:
        assert Decimal(amount) in written_in_digits(text), (text, amount, model_amount)


@given(AMOUNTS, st.sampled_from(["yes", "yes please", "sí", "oui", "ja", "sim", "haan", "ok"]))
def test_a_yes_confirms_exactly_the_amount_stated_last(stated: Decimal, yes: str) -> None:
    state = State(refund_requested=True, awaiting="confirm", proposed_amount=format_usdc(stated))
    assert final_amount(state, yes) == format_usdc(stated)


@given(st.sampled_from(["yes", "ok", "sure"]))
def test_a_yes_with_nothing_stated_confirms_nothing(yes: str) -> None:
    state = State(refund_requested=True, awaiting="confirm", proposed_amount=None)
    assert final_amount(state, yes) is None


def test_a_no_to_the_stated_amount_drops_the_request() -> None:
    state = State(refund_requested=True, awaiting="confirm", proposed_amount="22.50")
    after = pending.after(state, understand_with_rules("no"))
    assert after.declined and not after.requested and after.amount is None


def test_no_just_five_is_the_new_amount() -> None:
    state = State(refund_requested=True, awaiting="confirm", proposed_amount="22.50")
    after = pending.after(state, understand_with_rules("no, just 5"))
    assert after.amount == "5.00"


def test_the_old_behaviour_this_rule_replaces_would_fail_here() -> None:
    """ "refund 20, wait no, 12 instead" once paid 20: now nothing is final until a yes."""
    after = pending.after(State(), understand_with_rules("refund 20, wait no, 12 instead"))
    assert after.amount is None and after.proposal is not None
    assert after.proposal["value"] == "12.000000"


def test_a_correction_in_a_follow_up_replaces_the_pending_amount_in_both_modes() -> None:
    """ "I want 30 back" then "wait sorry, 25 not 30": 25 is stated back, 30 never paid."""
    state = State(refund_requested=True, requested_amount="30.00")
    text = "wait sorry, 25 not 30. ORD-20512, email is k@example.com"
    rules = understand_with_rules(text)
    model = LLMExtraction.model_validate({"intent": "provide_info", "amount": None})
    for understood in (rules, merge_with_rules(model, text, rules=rules)):
        after = pending.after(state, understood)
        assert after.amount != "30.00"
        assert after.proposal is not None and after.proposal["value"] == "25.000000"


@pytest.mark.parametrize("model_intent", ["refund", "other"])
def test_an_answer_to_how_much_is_read_whatever_intent_a_model_sees(model_intent: str) -> None:
    """ "12, they're 6 each" answering "how much?": 12 stated back for a yes, in both modes."""
    state = State(refund_requested=True, awaiting="amount", amount_unclear=True)
    text = "12, they're 6 each"
    model = LLMExtraction.model_validate({"intent": model_intent, "amount": "500"})
    for understood in (understand_with_rules(text), merge_with_rules(model, text)):
        after = pending.after(state, understood)
        assert after.amount is None and after.proposal is not None, understood
        assert Decimal(after.proposal["value"] or "0") == Decimal(12)


@pytest.mark.parametrize("text", ["linda.okoro@example.com", "ORD-23646", "it's ORD-23646"])
def test_an_identity_only_message_asks_for_nothing_whatever_a_model_says(text: str) -> None:
    model = LLMExtraction.model_validate({"intent": "refund", "amount": "45"})
    merged = merge_with_rules(model, text)
    assert merged.intent == "provide_info"
    assert not pending.after(State(), merged).requested


def test_no_with_the_very_amount_stated_pays_nothing() -> None:
    """'no, 8.75' to 'refund 8.75 for ORD-5521?': the no is about the order, not the amount."""
    state = State(refund_requested=True, awaiting="confirm", proposed_amount="8.75")
    request = pending.after(state, understand_with_rules("no, 8.75"))
    assert request.amount is None
    assert request.declined
