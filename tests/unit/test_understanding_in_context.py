"""Numbers that are not money, whole-money phrasings, replies that correct the agent,
and questions about refunds already made or promised: each reading pinned.

Each case is one customer message and what the rules must read in it. A case that a
careless reading gets wrong (and used to) is marked with what that reading paid.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from graph.understanding import understand_with_rules


@pytest.mark.parametrize(
    ("message", "final_amount"),
    [
        # a size, a year, a time of day, a measure or a count beside one asked amount
        ("the 2025 planner came with 2024 pages. refund 7 for that? ORD-90147", "7"),
        ("The X200 charger only pushes 5W, not the 20W listed, give me 18 back please", "18"),
        ("delivered at 9pm, one of the 3 books is soaked, 6 bucks back for that one", "6"),
        ("quiero q me devuelvan 12 por la funda, se ha puesto amarilla en 3 dias", "12"),
        ("3 de las copas llegaron rotas, devuelvanme 12 dolares", "12"),
        ("they are 9 each so can I get 9 back for the broken one?", "9"),
    ],
)
def test_one_asked_amount_beside_numbers_that_are_not_money_is_final(
    message: str, final_amount: str
) -> None:
    understood = understand_with_rules(message)
    assert understood.amount == Decimal(final_amount)
    assert understood.reading.final


@pytest.mark.parametrize(
    "message",
    [
        # paid 2.00 before: "2 of the bowls" counts bowls
        "2 of the bowls from ORD-67003 cracked. Please refund the cracked ones.",
        "refund 20, wait no, 12 instead",
        "I got 15 back already, could you refund 20 of the 45?",
        "send me back ten bucks for it",
    ],
)
def test_counts_corrections_shares_and_words_are_never_final(message: str) -> None:
    understood = understand_with_rules(message)
    assert understood.amount is None
    assert not understood.reading.final


@pytest.mark.parametrize(
    "message",
    [
        "after 3 weeks it never came, I want a full refund. ORD-1001",
        "Spent 2 hours on it, none of them connect. Refund everything please.",
        "this ring light is junk, half the LEDs are dead. I want a full refund.",
        "I want a 100% refund. Order ORD-21248",
    ],
)
def test_the_whole_order_asked_in_so_many_words_is_final(message: str) -> None:
    understood = understand_with_rules(message)
    assert understood.full_refund and understood.reading.final


@pytest.mark.parametrize(
    "message",
    [
        "THREE weeks and it never came. I want my money back. ORD-1001",
        "Hace 3 semanas que compré el libro y nunca llegó, quiero mi dinero de vuelta",
        "teen hafte ho gaye, book aayi hi nahi. paise wapas karo. ORD-85169",
        "NONE of these plugs connect. Spent 2 hours on it. I want every cent back.",
    ],
)
def test_whole_money_in_loose_words_is_the_whole_order_stated_back_first(message: str) -> None:
    understood = understand_with_rules(message)
    assert understood.full_refund and not understood.reading.final


@pytest.mark.parametrize(
    "message",
    [
        "I want my money back for the broken glass from the set",
        "one of the 4 glasses broke, I want my money back",
        "can I get a refund?",
    ],
)
def test_a_part_of_the_order_or_a_question_is_stated_back_first(message: str) -> None:
    understood = understand_with_rules(message)
    assert not understood.reading.final


@pytest.mark.parametrize(
    ("reply", "amount"),
    [
        ("no, just 9 for the one glass", "9"),
        ("no, 8, only the notebook", "8"),
        ("non, 8", "8"),  # text2num read "non" as a Portuguese ordinal (9)
        ("não, 6, só a taça", "6"),
        ("no, 3 for the two tubes", "3"),
    ],
)
def test_a_reply_that_leads_with_its_amount_names_it(reply: str, amount: str) -> None:
    assert understand_with_rules(reply).mentioned_amount == Decimal(amount)


@pytest.mark.parametrize("reply", ["no, 50%", "50%", "no, 5 each", "no, 20 wait 15"])
def test_a_share_a_product_or_a_correction_is_not_a_short_answer(reply: str) -> None:
    assert understand_with_rules(reply).mentioned_amount is None


@pytest.mark.parametrize(
    ("message", "topic"),
    [
        # paid 15.00 before: a promised refund asked about
        (
            "bonjour, on m'avait promis un remboursement de 15 pour le bol, il est passé ? "
            "je ne le vois pas. ORD-67208",
            "refund_status",
        ),
        (
            "kal bola tha paise wapas aa jayenge, aaye kya? abhi tak kuch nahi dikha.",
            "refund_status",
        ),
        ("still don't see my refund for the diffuser in my wallet, was it sent?", "refund_status"),
        (
            "If a refund gets approved, how long does it take for the money to show up?",
            "policy",
        ),
        ("Una pregunta: si pido un reembolso, ¿cuánto tarda en llegar el dinero?", "policy"),
        ("I typed the wrong house number on ORD-90324, can you fix the address?", "unsupported"),
        (
            "je me suis trompée d'adresse pour la commande ORD-92304, pouvez-vous la changer ?",
            "unsupported",
        ),
    ],
)
def test_questions_about_refunds_and_things_the_agent_cannot_do(message: str, topic: str) -> None:
    understood = understand_with_rules(message)
    assert understood.topic == topic
    assert understood.amount is None


def test_a_new_request_beside_a_past_refund_is_a_request() -> None:
    understood = understand_with_rules(
        "ya me devolvieron 10 por la paleta, gracias. ahora una de las 2 brochas se deshace, "
        "me pueden devolver 7 por ella? ORD-67107"
    )
    assert understood.intent == "refund" and understood.topic is None
    assert understood.reading.value == Decimal(7)


@pytest.mark.parametrize(
    ("message", "order_id"),
    [
        ("refund 14 please. order ORD-21575 no wait ORD-21557, always mix those up", "ORD-21557"),
        ("9 de vuelta del ORD-30150, perdón, no el ORD-30150, el ORD-30157", "ORD-30157"),
        (
            "15 indietro sull'ORD-74220, ah no scusate, non l'ORD-74220, intendevo l'ORD-74224",
            "ORD-74224",
        ),
    ],
)
def test_a_corrected_order_id_keeps_the_one_named_last(message: str, order_id: str) -> None:
    assert understand_with_rules(message).order_id == order_id


def test_two_order_ids_without_a_correction_are_both_kept() -> None:
    understood = understand_with_rules("I have ORD-1234 and ORD-5678, the second one broke")
    assert understood.order_id is None and understood.order_ids == ("ORD-1234", "ORD-5678")


@pytest.mark.parametrize(
    "message", ["kevin.schaefer@example.de ORD-52163", "ines@example.fr", "12"]
)
def test_a_message_without_words_does_not_decide_the_language(message: str) -> None:
    assert not understand_with_rules(message).language_sure
