"""Each reply function writes its text in the customer's language and states its facts."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from graph import replies
from graph.policy import Limits
from graph.replies import RefundInfo, Reply, Translator, translator

HASH = "0x" + "ab" * 32
LIMITS = Limits(
    per_tx_cap=Decimal("50"),
    daily_cap=Decimal("100"),
    window_days=30,
    velocity_max=3,
    max_failed_lookups=3,
)
ALL = ("en", "es", "fr", "de", "pt", "it")

BUILDERS: dict[str, Callable[[Translator], Reply]] = {
    "greeting": replies.greeting,
    "empty_message": replies.empty_message,
    "off_topic": replies.off_topic,
    "anything_else": replies.anything_else,
    "cancelled": replies.cancelled,
    "acknowledged": replies.acknowledged,
    "unsupported": replies.unsupported,
    "ask_identity": lambda t: replies.ask_identity(t),
    "ask_identity(email)": lambda t: replies.ask_identity(t, email="ana@example.com"),
    "ask_identity(order)": lambda t: replies.ask_identity(t, order_id="ORD-4410"),
    "ask_which_order": lambda t: replies.ask_which_order(t, orders=["ORD-1", "ORD-2"]),
    "ask_amount": replies.ask_amount,
    "confirm_full": lambda t: replies.confirm_full(t, amount="39.90", order_id="ORD-4410"),
    "confirm_amount": lambda t: replies.confirm_amount(
        t, amount=Decimal("15"), order_id="ORD-4410"
    ),
    "lookup_failed": lambda t: replies.lookup_failed(
        t, order_id="ORD-9999", email="ana@example.com"
    ),
    "lookup_failed(again)": lambda t: replies.lookup_failed(
        t, order_id="ORD-9999", email="ana@example.com", again=True
    ),
    "found_order": lambda t: replies.found_order(
        t, order_id="ORD-4410", description="Wireless earbuds", amount="39.90"
    ),
    "refunded": lambda t: replies.refunded(
        t, amount="15.00", order_id="ORD-4410", tx_hash=HASH, eta="about a minute"
    ),
    "escalated": lambda t: replies.escalated(
        t, reasons=["over_per_tx_cap", "velocity"], ticket="RT-000007", limits=LIMITS
    ),
    "denied": lambda t: replies.denied(t, reasons=["outside_window"], limits=LIMITS),
    "ticket_open": lambda t: replies.ticket_open(t, ticket="RT-000007"),
    "already_with_person": lambda t: replies.already_with_person(t, ticket="RT-000007"),
    "review_denied": lambda t: replies.review_denied(t, ticket="RT-000007"),
    "nothing_yet": replies.nothing_yet,
    "refund_status": lambda t: replies.refund_status(
        t,
        refunds=[
            RefundInfo(order_id="ORD-4410", amount="20", status="confirmed", tx_hash=HASH),
            RefundInfo(order_id="ORD-4410", amount="5.5", status="processing"),
            RefundInfo(order_id="ORD-4410", amount="1", status="failed"),
        ],
    ),
    "refund_status(none)": lambda t: replies.refund_status(t, refunds=[], order_id="ORD-4410"),
    "policy_answer": lambda t: replies.policy_answer(
        t, window_days=30, per_tx_cap=Decimal(50), daily_cap=Decimal(100), eta="about a minute"
    ),
}


@pytest.mark.parametrize("language", ALL)
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_reply_states_its_facts_verbatim_in_every_language(name: str, language: str) -> None:
    reply = BUILDERS[name](translator(language))
    assert reply.language == language
    assert reply.text.strip() and "{" not in reply.text and "}" not in reply.text
    for fact in reply.facts:
        assert fact in reply.text, f"{name}/{language}: {fact!r} not in {reply.text!r}"


@pytest.mark.parametrize("language", ALL[1:])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_no_reply_is_left_in_english(name: str, language: str) -> None:
    english = BUILDERS[name](translator("en")).text
    assert BUILDERS[name](translator(language)).text != english


def test_english_replies_are_the_templates_word_for_word() -> None:
    t = translator("en")
    cases = [
        (replies.greeting(t), replies.GREETING),
        (replies.empty_message(t), replies.EMPTY),
        (replies.off_topic(t), replies.OFF_TOPIC),
        (replies.anything_else(t), replies.ANYTHING_ELSE),
        (replies.ask_identity(t), replies.ASK_BOTH.format(example="ORD-1234")),
        (
            replies.ask_identity(t, email="a@example.com", example="SO-1234"),
            replies.ASK_ORDER.format(example="SO-1234"),
        ),
        (
            replies.ask_identity(t, order_id="ORD-1"),
            replies.ASK_EMAIL.format(order_id="ORD-1"),
        ),
        (replies.ask_amount(t), replies.CLARIFY_AMOUNT),
        (
            replies.ask_which_order(t, orders=["ORD-1", "ORD-2", "ORD-3"]),
            replies.ASK_WHICH.format(orders="ORD-1 or ORD-2 or ORD-3"),
        ),
        (
            replies.lookup_failed(t, order_id="ORD-9", email="a@example.com"),
            replies.LOOKUP_FAILED.format(order_id="ORD-9", email="a@example.com"),
        ),
        (
            replies.lookup_failed(t, order_id="ORD-9", email="a@example.com", again=True),
            replies.STILL_NOT_FOUND.format(order_id="ORD-9", email="a@example.com"),
        ),
        (
            replies.found_order(t, order_id="ORD-1", description="Mug", amount="45"),
            replies.FOUND_ASK.format(order_id="ORD-1", description="Mug", amount="45.00"),
        ),
        (
            replies.refunded(
                t, amount="20.00", order_id="ORD-1", tx_hash=HASH, eta="about a minute"
            ),
            replies.REFUNDED.format(
                amount="20.00", order_id="ORD-1", tx_hash=HASH, eta="about a minute"
            ),
        ),
        (
            replies.escalated(t, reasons=["over_per_tx_cap"], ticket="RT-1", limits=LIMITS),
            replies.ESCALATED.format(
                why=replies.reasons_text(["over_per_tx_cap"], window=30, cap="50.00"),
                ticket="RT-1",
            ),
        ),
        (
            replies.denied(t, reasons=["already_refunded", "velocity"], limits=LIMITS),
            replies.DENIED.format(
                why=replies.reasons_text(["already_refunded", "velocity"], window=30, cap="50")
            ),
        ),
        (
            replies.confirm_full(t, amount="45", order_id="ORD-1"),
            replies.CONFIRM_FULL.format(amount="45.00", order_id="ORD-1"),
        ),
        (replies.ticket_open(t, ticket="RT-1"), replies.STATUS_TICKET.format(ticket="RT-1")),
        (replies.review_denied(t, ticket="RT-1"), replies.STATUS_DENIED.format(ticket="RT-1")),
        (replies.nothing_yet(t), replies.STATUS_NONE),
        (
            replies.refund_status(
                t,
                refunds=[
                    RefundInfo(order_id="ORD-1", amount="20", status="confirmed", tx_hash=HASH)
                ],
            ),
            replies.STATUS_REFUND.format(
                amount="20.00", order_id="ORD-1", status="confirmed", tx_hash=HASH
            ),
        ),
        (
            replies.cancelled(t),
            "No problem, I won't process a refund. Is there anything else I can help with?",
        ),
    ]
    for reply, expected in cases:
        assert reply.text == expected


def test_new_replies_say_what_the_node_layer_needs() -> None:
    t = translator("en")
    assert (
        replies.confirm_amount(t, amount="15", order_id="ORD-4410").text
        == "I can refund 15.00 USDC for order ORD-4410 to the wallet you paid with. "
        "Shall I go ahead?"
    )
    policy = replies.policy_answer(
        t, window_days=14, per_tx_cap=Decimal("25"), daily_cap=Decimal("80"), eta="two days"
    )
    assert "14 days" in policy.text and "25.00 USDC" in policy.text
    assert "80.00 USDC" in policy.text and policy.text.endswith("settle in two days.")
    assert "RT-000042" in replies.already_with_person(t, ticket="RT-000042").text
    assert "teammate" in replies.unsupported(t).text
    assert replies.acknowledged(t).text.startswith("All right")


@pytest.mark.parametrize(
    ("language", "written"),
    [
        ("en", "20.00"),
        ("es", "20,00"),
        ("fr", "20,00"),
        ("de", "20,00"),
        ("pt", "20,00"),
        ("it", "20,00"),
        ("hi-latn", "20.00"),
    ],
)
def test_amounts_are_written_the_customers_way(language: str, written: str) -> None:
    t = translator(language)
    assert t.amount(Decimal("20")) == written
    assert t.amount("20.000000") == written
    reply = replies.confirm_amount(t, amount=Decimal("20"), order_id="ORD-4410")
    assert written in reply.text and "ORD-4410" in reply.text
    assert reply.facts == (written, "ORD-4410")


def test_amounts_keep_six_places_and_no_grouping() -> None:
    assert translator("de").amount(Decimal("1234.5")) == "1234,50"
    assert translator("en").amount(Decimal("1234.5")) == "1234.50"
    assert translator("fr").amount(Decimal("0.000001")) == "0,000001"
    assert translator("it").amount(Decimal("12.345678")) == "12,345678"


@pytest.mark.parametrize("language", ALL)
def test_ids_hashes_tickets_and_emails_stay_verbatim(language: str) -> None:
    t = translator(language)
    refunded = replies.refunded(
        t, amount="15", order_id="ORD-4410", tx_hash=HASH, eta="about a minute"
    )
    assert "ORD-4410" in refunded.text and HASH in refunded.text
    failed = replies.lookup_failed(t, order_id="ORD-0001", email="Ana.Lopez+1@Example.com")
    assert "ORD-0001" in failed.text and "Ana.Lopez+1@Example.com" in failed.text
    assert (
        "RT-000123"
        in replies.escalated(t, reasons=["velocity"], ticket="RT-000123", limits=LIMITS).text
    )


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("es", "es"),
        ("es-MX", "es"),
        ("pt_BR", "pt"),
        ("DE", "de"),
        ("fr-CA", "fr"),
        ("it", "it"),
        ("en-GB", "en"),
        ("hi-latn", "en"),
        ("hi", "en"),
        ("zz", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_hinglish_and_unknown_languages_get_english(tag: str | None, language: str) -> None:
    assert translator(tag).language == language


def test_catalogs_are_read_once_per_language() -> None:
    assert translator("es") is translator("es-ES") is translator("ES")
    assert translator("hi-latn") is translator("en")


def test_the_settlement_time_is_translated_only_when_it_is_the_default() -> None:
    es = translator("es")
    default = replies.refunded(es, amount="1", order_id="ORD-1", tx_hash=HASH, eta="about a minute")
    assert "aproximadamente un minuto" in default.text
    custom = replies.refunded(es, amount="1", order_id="ORD-1", tx_hash=HASH, eta="2-3 min")
    assert custom.text.endswith("2-3 min.")


def test_an_order_without_description_is_your_order() -> None:
    reply = replies.found_order(translator("es"), order_id="ORD-1", description="", amount="5")
    assert "(tu pedido, 5,00 USDC)" in reply.text


def test_reasons_are_deduplicated_and_codes_without_words_left_out() -> None:
    t = translator("en")
    assert replies.reasons_words(t, ["velocity", "velocity"], LIMITS) == (
        "there have been several refunds on your account recently"
    )
    assert replies.reasons_words(t, ["within_policy", "needs_review"], LIMITS) == (
        "it needs a person to look at it"
    )
    assert replies.reasons_words(translator("de"), ["over_per_tx_cap"], LIMITS) == (
        "Erstattungen über 50,00 USDC muss ein Teammitglied genehmigen"
    )


def test_refund_status_tells_each_refund_and_nothing_when_there_is_none() -> None:
    t = translator("en")
    one = replies.refund_status(
        t, refunds=[RefundInfo(order_id="ORD-1", amount="5", status="processing")]
    )
    assert one.text.startswith("Your refund of 5.00 USDC for order ORD-1 is still being processed")
    assert one.facts == ("5.00", "ORD-1")
    several = replies.refund_status(
        t,
        refunds=[
            RefundInfo(order_id="ORD-1", amount="5", status="confirmed", tx_hash="0x01"),
            RefundInfo(order_id="ORD-1", amount="7", status="confirmed", tx_hash="0x02"),
        ],
    )
    assert several.text.startswith("Here are the refunds I found:")
    assert "0x01" in several.text and "0x02" in several.text
    assert replies.refund_status(t, refunds=[], order_id="ORD-1").text == (
        "I don't see a refund for order ORD-1 yet."
    )
    assert replies.refund_status(t, refunds=[]).text == replies.STATUS_NONE


@pytest.mark.parametrize(
    ("status", "tx_hash", "state"),
    [
        ("confirmed", "0x01", "confirmed"),
        ("confirmed", None, "processing"),
        ("intent", None, "processing"),
        ("unknown", None, "processing"),
        ("failed", None, "failed"),
    ],
)
def test_refund_records_map_to_what_the_customer_is_told(
    status: str, tx_hash: str | None, state: str
) -> None:
    info = RefundInfo.of(order_id="ORD-1", amount="5", status=status, tx_hash=tx_hash)
    assert info.status == state


def test_asking_for_identity_when_both_are_known_is_a_bug() -> None:
    with pytest.raises(ValueError):
        replies.ask_identity(translator("en"), email="a@example.com", order_id="ORD-1")


def test_a_translation_that_lost_a_placeholder_falls_back_to_english() -> None:
    broken = Translator(
        language="es", messages={replies.ASK_EMAIL: "¿Qué correo usaste para {pedido}?"}
    )
    reply = replies.ask_identity(broken, order_id="ORD-1")
    assert reply.text == replies.ASK_EMAIL.format(order_id="ORD-1")
