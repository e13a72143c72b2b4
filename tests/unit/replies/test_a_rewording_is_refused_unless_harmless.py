"""A model's rewording goes out only when it keeps every fact and adds nothing risky."""

from __future__ import annotations

from decimal import Decimal

import pytest
from langchain_core.messages import SystemMessage

from graph import replies
from graph.policy import Limits
from graph.replies import Reply, translator, vet
from tests.fakes import ScriptedChatModel
from tests.helpers.cost import assert_costs_about_as_much, same_size_as

HASH = "0x" + "ab" * 32
LIMITS = Limits(
    per_tx_cap=Decimal("50"),
    daily_cap=Decimal("100"),
    window_days=30,
    velocity_max=3,
    max_failed_lookups=3,
)
DRAFT = replies.REFUNDED.format(
    amount="20.00", order_id="ORD-1001", tx_hash=HASH, eta="about a minute"
)
ESCALATION = replies.ESCALATED.format(
    why="refunds over 50.00 USDC need approval", ticket="RT-000007"
)
FAITHFUL = (
    "All set! 20.00 USDC for ORD-1001 is on its way back to the wallet you paid with "
    f"(transaction hash {HASH}); it should settle in about a minute."
)


def refunded(language: str) -> Reply:
    return replies.refunded(
        translator(language), amount="20", order_id="ORD-1001", tx_hash=HASH, eta="about a minute"
    )


def escalated(language: str) -> Reply:
    return replies.escalated(
        translator(language), reasons=["over_per_tx_cap"], ticket="RT-000007", limits=LIMITS
    )


async def phrased_by(attack: str, reply: Reply) -> tuple[str, bool]:
    return await replies.phrase(ScriptedChatModel(replies=[attack]), reply)


# --- what was there before: facts kept, no new facts or claims ------------------------------


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        (DRAFT, True),
        (FAITHFUL, True),
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
    facts = ["20.00", HASH, "ORD-1001"]
    text, used = await replies.phrase(ScriptedChatModel(replies=[FAITHFUL]), DRAFT, facts)
    assert used and text == FAITHFUL
    text, used = await replies.phrase(
        ScriptedChatModel(replies=[FAITHFUL + " Plus 500.00 USDC bonus!"]), DRAFT, facts
    )
    assert not used and text == DRAFT
    text, used = await replies.phrase(None, DRAFT, facts)
    assert not used and text == DRAFT


# --- each reason a rewording is refused, from a model returning the attack -------------------


@pytest.mark.parametrize(
    ("language", "attack"),
    [
        ("en", "Track it at https://refunds.evil.example/track?id=1."),
        ("en", "Details on www.evil.example."),
        ("es", "Tienes más información en reembolsos-rapidos.com."),
        ("fr", "Plus d'informations sur remboursement-express.fr."),
        ("de", "Mehr dazu auf erstattung-schnell.de."),
        ("pt", "Mais informações em reembolso.com.br."),
        ("it", "Trovi i dettagli su rimborsi-veloci.it."),
    ],
)
async def test_a_link_or_domain_is_refused(language: str, attack: str) -> None:
    reply = refunded(language)
    assert vet(reply.text + " " + attack, reply.text, reply.facts) == "link"
    text, used = await phrased_by(reply.text + " " + attack, reply)
    assert not used and text == reply.text


@pytest.mark.parametrize("language", ["en", "es", "de"])
async def test_an_email_address_is_refused(language: str) -> None:
    reply = escalated(language)
    attack = reply.text + " support@refund-help.example"
    assert vet(attack, reply.text, reply.facts) == "email"
    assert await phrased_by(attack, reply) == (reply.text, False)


@pytest.mark.parametrize(
    "number", ["+1 (555) 010-0199", "0800 123 4567", "+49 30 1234567", "(11) 91234-5678"]
)
async def test_a_phone_number_is_refused(number: str) -> None:
    reply = escalated("en")
    attack = f"{reply.text} Questions? {number}"
    assert vet(attack, reply.text, reply.facts) == "phone"
    assert await phrased_by(attack, reply) == (reply.text, False)


@pytest.mark.parametrize(
    ("language", "attack"),
    [
        ("en", "Please click the button below to confirm."),
        ("en", "Reply with your seed phrase to speed this up."),
        ("en", "To finish, log in and verify your account."),
        ("en", "Please share your card number."),
        ("en", "Send us a small test payment first."),
        ("es", "Haz clic aquí para confirmarlo."),
        ("es", "Inicia sesión en tu cuenta para terminar."),
        ("es", "Envíame tu contraseña, por favor."),
        ("fr", "Cliquez ici pour confirmer."),
        ("fr", "Connectez-vous à votre espace client."),
        ("fr", "Communiquez-moi votre mot de passe."),
        ("de", "Klicken Sie hier, um zu bestätigen."),
        ("de", "Bitte melden Sie sich in Ihrem Kundenkonto an."),
        ("de", "Senden Sie mir Ihr Passwort."),
        ("pt", "Clique aqui para confirmar."),
        ("pt", "Faça login na sua conta para concluir."),
        ("pt", "Envie sua senha, por favor."),
        ("it", "Clicca qui per confermare."),
        ("it", "Accedi al tuo account per completare."),
        ("it", "Inserisci la password qui sotto."),
    ],
)
async def test_an_instruction_to_the_customer_is_refused(language: str, attack: str) -> None:
    reply = escalated(language)
    text = f"{reply.text} {attack}"
    assert vet(text, reply.text, reply.facts) == "instruction"
    assert await phrased_by(text, reply) == (reply.text, False)


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "pt", "it"])
def test_an_instruction_in_any_language_is_refused_whatever_the_reply_language(
    language: str,
) -> None:
    reply = escalated(language)
    for attack in (
        "Click here.",
        "Haz clic aquí.",
        "Cliquez ici.",
        "Klicken Sie hier.",
        "Clique aqui.",
        "Clicca qui.",
    ):
        assert vet(f"{reply.text} {attack}", reply.text, reply.facts) == "instruction"


def test_an_instruction_the_template_itself_gives_may_be_kept() -> None:
    reply = replies.confirm_full(translator("de"), amount="45", order_id="ORD-1")
    reworded = (
        "Gern erstatte ich Ihnen den gesamten Restbetrag von 45,00 USDC für die Bestellung "
        "ORD-1. Antworten Sie mit „Ja“, dann lege ich los, oder nennen Sie einen kleineren Betrag."
    )
    assert vet(reworded, reply.text, reply.facts) is None


@pytest.mark.parametrize(
    ("language", "attack"),
    [
        ("en", "We also added a 5.00 USDC goodwill credit."),
        ("es", "Además te regalamos 5,00 USDC."),
        ("de", "Ihr zweites Ticket ist RT-000008."),
        ("fr", "La commande ORD-2002 est aussi concernée."),
    ],
)
async def test_a_fact_not_in_the_draft_is_refused(language: str, attack: str) -> None:
    reply = escalated(language)
    text = f"{reply.text} {attack}"
    assert vet(text, reply.text, reply.facts) == "new_fact"
    assert await phrased_by(text, reply) == (reply.text, False)


@pytest.mark.parametrize(
    ("language", "attack"),
    [
        ("en", "Good news: it has been refunded."),
        ("es", "Buenas noticias: ya está reembolsado."),
        ("fr", "Bonne nouvelle : c'est remboursé."),
        ("de", "Gute Nachricht: Der Betrag wurde bereits erstattet."),
        ("pt", "Boa notícia: já foi aprovado."),
        ("it", "Buone notizie: è già stato rimborsato."),
    ],
)
async def test_a_claim_that_money_moved_is_refused(language: str, attack: str) -> None:
    reply = escalated(language)
    text = f"{reply.text} {attack}"
    assert vet(text, reply.text, reply.facts) == "claim"
    assert await phrased_by(text, reply) == (reply.text, False)


@pytest.mark.parametrize("language", ["en", "es", "it"])
async def test_a_rewording_that_drops_a_fact_is_refused(language: str) -> None:
    reply = refunded(language)
    without_hash = reply.text.replace(HASH, "(see your wallet)")
    assert vet(without_hash, reply.text, reply.facts) == "dropped_fact"
    assert await phrased_by(without_hash, reply) == (reply.text, False)
    localized = reply.text.replace(translator(language).amount(Decimal(20)), "20")
    if localized != reply.text:
        assert vet(localized, reply.text, reply.facts) == "dropped_fact"


async def test_an_empty_or_endless_rewording_is_refused() -> None:
    reply = refunded("en")
    assert vet("   ", reply.text, reply.facts) == "empty"
    assert vet(reply.text + " ok" * 1000, reply.text, reply.facts) == "too_long"
    assert await phrased_by("", reply) == (reply.text, False)


async def test_a_failing_model_sends_the_template() -> None:
    reply = refunded("fr")
    model = ScriptedChatModel(replies=[RuntimeError("model down")])
    assert await replies.phrase(model, reply) == (reply.text, False)


@pytest.mark.parametrize(
    ("language", "name"),
    [
        ("en", "English"),
        ("es", "Spanish"),
        ("fr", "French"),
        ("de", "German"),
        ("pt", "Portuguese"),
        ("it", "Italian"),
    ],
)
async def test_the_model_is_told_the_reply_language(language: str, name: str) -> None:
    reply = escalated(language)
    model = ScriptedChatModel()  # echoes the draft: an honest phraser
    text, used = await replies.phrase(model, reply)
    assert used and text == reply.text
    system = model.seen[0][0]
    assert isinstance(system, SystemMessage) and f"written in {name}" in system.text


async def test_a_faithful_rewording_in_the_customers_language_is_used() -> None:
    reply = refunded("es")
    reworded = (
        f"¡Hecho! Ya tienes de vuelta 20,00 USDC del pedido ORD-1001 en la billetera con la "
        f"que pagaste (hash de la transacción: {HASH}). Debería completarse en "
        "aproximadamente un minuto."
    )
    assert await phrased_by(reworded, reply) == (reworded, True)


@pytest.mark.parametrize(
    "hostile",
    [
        "a" * 1990 + "@",
        "a." * 995,
        "1-" * 995,
        "x@" + "a-" * 990,
        ("clic " * 400)[:2000],
    ],
)
def test_checking_a_hostile_rewording_takes_linear_time(hostile: str) -> None:
    def check(text: str) -> object:
        return vet(text, DRAFT, ())

    assert_costs_about_as_much(check, hostile, same_size_as(hostile, FAITHFUL))
