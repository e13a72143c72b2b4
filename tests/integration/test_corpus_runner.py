"""Natural corpora: the loader, the simulated customer, the judging, the figures, the command.

Every corpus here is written by the test (tmp_path). The real compiled graph (rules
mode) plays the branches it can produce today; a scripted fake agent plays the ones
only the node layer's full outcome contract will produce (a confirmation naming order
and amount, ``offer``, ``answered`` topics) and the ones a correct agent never should
(a wrong refund).
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cli.eval_cmd import eval_command
from core.settings import Settings, get_settings
from evals.corpus import CorpusConversation, CorpusError, load_corpus, plain_amount
from evals.corpus_report import CorpusReport, Figures
from evals.corpus_runner import CorpusAgent, run_corpus
from evals.customer import AgentTurn, SimulatedCustomer
from evals.usage import UsageCounter
from graph.services import Services
from tools.escalation import open_ticket


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No model, MoltPe or policy settings from the outside; no stray .env file."""
    for key in list(os.environ):
        if key.startswith(("MOLTPE_", "OPENAI_", "REFUND_", "AUDIT_", "DATABASE_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()


def offline() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


def write_corpus(root: Path, *, dev: str = "", heldout: str = "", name: str = "tiny") -> Path:
    folder = root / name
    for half, text in (("dev", dev), ("heldout", heldout)):
        (folder / half).mkdir(parents=True, exist_ok=True)
        if text:
            (folder / half / "convs.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def shop(order: str, email: str, amount: str = "40.00", age: int = 3, refunded: str = "") -> str:
    refunds = f"[{{order_id: {order}, amount_usdc: {refunded}, age_days: 2}}]" if refunded else "[]"
    return (
        f"{{orders: [{{id: {order}, customer_email: {email}, amount_usdc: {amount}, "
        f"age_days: {age}, description: Mug}}], refunds: {refunds}}}"
    )


# --- the loader --------------------------------------------------------------------------------

ONE = """\
- id: es-corr-003
  lang: es
  note: corrects the amount in the same message
  data: {shop}
  customer: {{email: maria.lopez@example.com, order: ORD-4410}}
  messages:
    - "Hola! Los auriculares llegaron rotos. Devolvedme 20, bueno no, 15 USDC está bien.
       Pedido ORD-4410, correo maria.lopez@example.com"
  answers:
    email: "es maria.lopez@example.com"
    order: "el pedido es ORD-4410"
    amount: "15 USDC"
    yes: "sí, adelante"
    no: "no, {{amount}}"
    decline: "no, gracias"
  expect: {{result: refund, order: ORD-4410, amount: 15.00}}
"""


def test_the_loader_reads_the_readme_example_exactly(tmp_path: Path) -> None:
    folder = write_corpus(
        tmp_path,
        dev=ONE.format(shop=shop("ORD-4410", "maria.lopez@example.com", "39.90")),
        heldout="""\
        - id: en-thanks
          lang: en
          data: {orders: [{id: ORD-1, customer_email: a@example.com, amount_usdc: 5, age_days: 1}]}
          customer: {email: a@example.com, order: ORD-1}
          messages: ["thanks!"]
          expect: {result: none}
        """,
    )
    corpus = load_corpus(folder)
    assert corpus.name == "tiny" and corpus.path == folder
    first, second = corpus.conversations
    assert (first.id, first.half, first.lang) == ("es-corr-003", "dev", "es")
    assert first.answers.yes == "sí, adelante" and first.answers.no == "no, {amount}"
    assert first.expect.amount == Decimal("15.000000")
    assert first.expected_refund == ("ORD-4410", Decimal("15"))
    assert first.data.seed("t").orders[0].amount_usdc == Decimal("39.90")
    assert first.source.endswith("dev/convs.yaml") and first.group == "refund"
    assert (second.half, second.group, second.expected_refund) == ("heldout", "none", None)
    assert [c.id for c in corpus.select(half="heldout")] == ["en-thanks"]
    assert [c.id for c in corpus.select(lang="es")] == ["es-corr-003"]
    assert corpus.select(half="dev", lang="en") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("lang: es", "lang: xx"), "conversation 1 (es-corr-003): lang: Input should be"),
        (("amount: 15.00}", "amount: 15.0000001}"), "expect.amount: Value error, USDC has at"),
        (("amount: 15.00}", "topic: policy}"), "result refund needs `order` and `amount`"),
        (("result: refund, order: ORD-4410, amount: 15.00", "result: info"), "needs `topic`"),
        (
            ("result: refund, order: ORD-4410, amount: 15.00", "result: none, topic: policy"),
            "`topic` goes with result info only",
        ),
        (
            ("result: refund, order: ORD-4410, amount: 15.00", "result: none, reasons: [velocity]"),
            "`reasons` do not apply to result none",
        ),
        (
            ("result: refund, order: ORD-4410, amount: 15.00", "result: deny, reasons: [nope]"),
            "expect.reasons: Value error, unknown reason code(s) ['nope']",
        ),
        (
            ("order: ORD-4410, amount: 15.00}", "order: ORD-9, amount: 15.00}"),
            "expect.order ORD-9 is not among data.orders",
        ),
        (
            ('no: "no, {amount}"', 'no: "no, {total}"'),
            "no: placeholder {total} not allowed (only {amount})",
        ),
        (('yes: "sí, adelante"', 'yes: "sí {amount}"'), "yes: placeholder {amount} not allowed"),
        (("note: corrects", "notes: corrects"), "notes: Extra inputs are not permitted"),
        (("id: es-corr-003", "id: Es_Corr"), "id: String should match pattern"),
        (("  messages:\n", "  half: heldout\n  messages:\n"), "half: set by the loader"),
    ],
)
def test_the_loader_names_file_conversation_and_field_of_each_mistake(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    text = ONE.format(shop=shop("ORD-4410", "maria.lopez@example.com"))
    old, new = change
    assert old in text
    folder = write_corpus(tmp_path, dev=text.replace(old, new, 1))
    with pytest.raises(CorpusError) as caught:
        load_corpus(folder)
    assert str(folder / "dev" / "convs.yaml") in str(caught.value)
    assert message in str(caught.value)


def test_the_loader_refuses_a_broken_corpus_layout(tmp_path: Path) -> None:
    good = ONE.format(shop=shop("ORD-4410", "maria.lopez@example.com"))
    with pytest.raises(CorpusError, match="no heldout/ folder"):
        folder = tmp_path / "half"
        (folder / "dev").mkdir(parents=True)
        (folder / "dev" / "a.yaml").write_text(good)
        load_corpus(folder)
    twice = write_corpus(tmp_path, dev=good, heldout=good, name="twice")
    with pytest.raises(CorpusError, match="id 'es-corr-003' is also used in"):
        load_corpus(twice)
    with pytest.raises(CorpusError, match="a corpus file is a YAML list of conversations"):
        load_corpus(write_corpus(tmp_path, dev="id: x\n", name="mapping"))
    with pytest.raises(CorpusError, match="not valid YAML"):
        load_corpus(write_corpus(tmp_path, dev="- [unclosed\n", name="broken"))
    with pytest.raises(CorpusError, match="no conversations in dev/"):
        load_corpus(write_corpus(tmp_path, name="empty"))
    stray = write_corpus(tmp_path, dev=good, name="stray")
    (stray / "loose.yaml").write_text(good)
    with pytest.raises(CorpusError, match="conversations go in"):
        load_corpus(stray)
    with pytest.raises(CorpusError, match="no such corpus folder, and no corpus by that name"):
        load_corpus("no-such-corpus-anywhere")


def test_a_corpus_is_found_by_name_under_evals_corpora(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evals.corpus

    write_corpus(tmp_path, dev=ONE.format(shop=shop("ORD-4410", "maria.lopez@example.com")))
    monkeypatch.setattr(evals.corpus, "corpora_dir", lambda: tmp_path)
    assert load_corpus("tiny").path == tmp_path / "tiny"


# --- the simulated customer, turn by turn ------------------------------------------------------


def conversation(
    *,
    expect: dict[str, Any],
    messages: list[str] | None = None,
    answers: dict[str, str] | None = None,
    signed_in: bool = False,
) -> CorpusConversation:
    return CorpusConversation.model_validate(
        {
            "id": "c-1",
            "lang": "en",
            "data": {
                "orders": [
                    {
                        "id": "ORD-4410",
                        "customer_email": "ana@example.com",
                        "amount_usdc": "40",
                        "age_days": 2,
                    }
                ]
            },
            "signed_in": signed_in,
            "customer": {"email": "ana@example.com", "order": "ORD-4410"},
            "messages": messages or ["hi, I'd like some money back please"],
            "answers": answers
            or {
                "email": "ana@example.com",
                "order": "it's ORD-4410",
                "amount": "15 USDC",
                "yes": "yes please",
                "no": "no, only {amount}",
                "decline": "no thanks",
            },
            "expect": expect,
            "half": "dev",
            "source": "test",
        }
    )


REFUND_15 = {"result": "refund", "order": "ORD-4410", "amount": "15"}


def asked(*wanted: str, **extra: Any) -> AgentTurn:
    return AgentTurn(reply="?", outcome={"kind": "asked", "for": list(wanted), **extra})


def customer_after(turn: AgentTurn, **kwargs: Any) -> str | None:
    customer = SimulatedCustomer(conversation(**kwargs))
    customer.send(customer.opening())
    return customer.next_message(turn)


def test_the_customer_answers_what_was_asked_in_its_own_words() -> None:
    assert customer_after(asked("email"), expect=REFUND_15) == "ana@example.com"
    assert customer_after(asked("order_id"), expect=REFUND_15) == "it's ORD-4410"
    both = customer_after(asked("email", "order_id"), expect=REFUND_15)
    assert both == "ana@example.com it's ORD-4410"
    assert customer_after(asked("amount"), expect=REFUND_15) == "15 USDC"
    without = customer_after(asked("amount"), expect=REFUND_15, answers={"no": "no, {amount}"})
    assert without == "no, 15"
    defaults = customer_after(asked("email", "order_id"), expect=REFUND_15, answers={"yes": "y"})
    assert defaults == "ana@example.com ORD-4410"


def test_a_careful_person_needs_one_more_message_only_when_identity_is_missing() -> None:
    everything = "the mug broke, refund 15 please. ORD-4410, ana@example.com"
    assert conversation(expect=REFUND_15, messages=[everything]).person_messages == 1
    no_email = "the mug broke, refund 15 please. ORD-4410"
    assert conversation(expect=REFUND_15, messages=[no_email]).person_messages == 2
    signed_in = conversation(expect=REFUND_15, messages=[no_email], signed_in=True)
    assert signed_in.person_messages == 1
    no_order = conversation(expect=REFUND_15, messages=["refund 15", "ana@example.com"])
    assert no_order.person_messages == 3


@pytest.mark.parametrize(
    ("proposed", "answer"),
    [
        ({"order_id": "ORD-4410", "amount": "15.00"}, "yes please"),
        ({"order_id": "ORD-4410", "amount": "15"}, "yes please"),
        ({"order_id": "ORD-4410", "amount": "40.00"}, "no, only 15"),
        ({"order_id": "ORD-9999", "amount": "15.00"}, "no, only 15"),
        ({"amount": "15.00"}, "yes please"),
    ],
)
def test_a_proposed_refund_is_confirmed_only_when_exactly_right(
    proposed: dict[str, str], answer: str
) -> None:
    assert customer_after(asked("confirmation", **proposed), expect=REFUND_15) == answer


def test_a_proposal_without_amount_is_read_from_the_decision_or_the_reply() -> None:
    full = {"result": "refund", "order": "ORD-4410", "amount": "40"}
    hinted = AgentTurn(
        reply="Shall I?",
        outcome={"kind": "asked", "for": ["confirmation"]},
        hints={"decision": {"needs_confirmation": True, "order_id": "ORD-4410", "amount": "40.00"}},
    )
    assert customer_after(hinted, expect=full) == "yes please"
    assert customer_after(hinted, expect=REFUND_15) == "no, only 15"
    for reply, answer in [
        ("I can refund 15,00 USDC. Shall I go ahead?", "yes please"),
        ("I can refund 15.00 USDC. Shall I go ahead?", "yes please"),
        ("I can refund 115.00 USDC. Shall I go ahead?", "no, only 15"),
        ("Shall I go ahead?", "no, only 15"),
    ]:
        turn = AgentTurn(reply=reply, outcome={"kind": "asked", "for": ["confirmation"]})
        assert customer_after(turn, expect=REFUND_15) == answer


def test_a_refund_nobody_asked_for_is_declined() -> None:
    turn = asked("confirmation", order_id="ORD-4410", amount="40.00")
    assert customer_after(turn, expect={"result": "none"}) == "no thanks"
    assert customer_after(turn, expect={"result": "none"}, answers={"yes": "y"}) is None


def test_a_person_is_accepted_only_when_one_is_expected() -> None:
    offer = AgentTurn(reply="A teammate?", outcome={"kind": "denied", "offer": "escalation"})
    assert customer_after(offer, expect={"result": "escalate"}) == "yes please"
    assert customer_after(offer, expect={"result": "deny"}) is None
    legacy = AgentTurn(
        reply="?", outcome={"kind": "lookup_failed"}, hints={"awaiting": "escalation"}
    )
    assert customer_after(legacy, expect={"result": "escalate"}) == "yes please"


@pytest.mark.parametrize(
    "outcome",
    [
        {"kind": "refunded", "amount": "15.00", "tx_hash": "0x1", "order_id": "ORD-4410"},
        {"kind": "escalated", "ticket": "RT-000001", "reasons": ["velocity"]},
        {"kind": "denied", "reasons": ["already_refunded"]},
        {"kind": "answered", "topic": "policy"},
        {"kind": "none"},
    ],
)
def test_anything_else_ends_the_conversation(outcome: dict[str, Any]) -> None:
    assert customer_after(AgentTurn(reply="ok", outcome=outcome), expect=REFUND_15) is None


def test_scripted_messages_come_first_and_eight_messages_are_the_most() -> None:
    customer = SimulatedCustomer(conversation(expect=REFUND_15, messages=["one", "two", "three"]))
    sent = [customer.opening()]
    turn = asked("email")
    while True:
        customer.send(sent[-1])
        following = customer.next_message(turn)
        if following is None:
            break
        sent.append(following)
    assert sent[:3] == ["one", "two", "three"]
    assert sent[3:] == ["ana@example.com"] * 5 and len(customer.sent) == 8


def test_asking_again_for_what_was_written_is_noticed() -> None:
    written = conversation(
        expect=REFUND_15,
        messages=["Refund 15,00 please, order 4410, ANA@example.com"],
    )
    customer = SimulatedCustomer(written)
    customer.send(customer.opening())
    assert customer.reasked(asked("email", "order_id")) == ["email", "order_id"]
    assert customer.reasked(asked("amount")) == ["amount"]
    assert customer.reasked(asked("confirmation")) == []
    fresh = SimulatedCustomer(conversation(expect=REFUND_15, messages=["refund 14410 please"]))
    fresh.send(fresh.opening())
    assert fresh.reasked(asked("email", "order_id", "amount")) == []
    signed = SimulatedCustomer(conversation(expect=REFUND_15, signed_in=True))
    signed.send(signed.opening())
    assert signed.reasked(asked("email")) == ["email"]


def test_amounts_are_typed_as_a_customer_would() -> None:
    assert plain_amount(Decimal("15.000000")) == "15"
    assert plain_amount(Decimal("12.5")) == "12.50"
    assert plain_amount(Decimal("0.005")) == "0.005"


# --- the real agent (rules) --------------------------------------------------------------------

REAL = f"""\
- id: en-direct
  lang: en
  data: {shop("ORD-1001", "ana@example.com")}
  customer: {{email: ana@example.com, order: ORD-1001}}
  messages: ["Hi, my mug arrived broken. Please refund 15 USDC. Order ORD-1001, ana@example.com"]
  expect: {{result: refund, order: ORD-1001, amount: 15.00}}
- id: en-identity-asked
  lang: en
  data: {shop("ORD-1002", "bo@example.com")}
  customer: {{email: bo@example.com, order: ORD-1002}}
  messages: ["Hi, the mug arrived broken, I'd like 10 USDC back please"]
  answers: {{email: "it's bo@example.com", order: "order ORD-1002"}}
  expect: {{result: refund, order: ORD-1002, amount: 10}}
- id: en-confirm-full
  lang: en
  data: {shop("ORD-1003", "cy@example.com", amount="30.00")}
  customer: {{email: cy@example.com, order: ORD-1003}}
  messages: ["I'd like a refund for ORD-1003 please, cy@example.com"]
  answers: {{yes: "yes please", no: "no, only {{amount}}"}}
  expect: {{result: refund, order: ORD-1003, amount: 30}}
- id: en-how-much
  lang: en
  data: {shop("ORD-1004", "dee@example.com", amount="20.00")}
  customer: {{email: dee@example.com, order: ORD-1004}}
  messages: ["Can I get half of it back? ORD-1004, dee@example.com"]
  answers: {{amount: "10 USDC", yes: "yes"}}
  expect: {{result: refund, order: ORD-1004, amount: 10}}
"""
REAL_HELDOUT = f"""\
- id: en-not-found-person
  lang: en
  data: {shop("ORD-1005", "eve@example.com")}
  customer: {{email: eve@example.com, order: ORD-9999}}
  messages: ["Please refund ORD-9999, my email is eve@example.com"]
  answers: {{yes: "yes, a person please"}}
  expect: {{result: escalate, reasons: [customer_requested_human]}}
- id: en-already-refunded
  lang: en
  data: {shop("ORD-1006", "fay@example.com", amount="20.00", refunded="20")}
  customer: {{email: fay@example.com, order: ORD-1006}}
  messages: ["Refund 10 USDC for ORD-1006 please, fay@example.com"]
  answers: {{yes: "yes"}}
  expect: {{result: deny, reasons: [already_refunded]}}
- id: en-over-cap
  lang: en
  data: {shop("ORD-1007", "gus@example.com", amount="90.00")}
  customer: {{email: gus@example.com, order: ORD-1007}}
  messages: ["Refund 80 USDC for ORD-1007, gus@example.com"]
  expect: {{result: escalate, reasons: [over_per_tx_cap]}}
- id: es-signed-in
  lang: es
  signed_in: true
  data: {shop("ORD-1008", "ines@example.com")}
  customer: {{email: ines@example.com, order: ORD-1008}}
  messages: ["Hola, el pedido ORD-1008 llegó roto, refund 5 USDC por favor"]
  expect: {{result: refund, order: ORD-1008, amount: 5}}
- id: hi-thanks
  lang: hi-latn
  data: {shop("ORD-1009", "jo@example.com")}
  customer: {{email: jo@example.com, order: ORD-1009}}
  messages: ["Thanks yaar, bas itna hi tha!"]
  expect: {{result: none}}
"""


async def test_the_real_agent_plays_every_branch_it_can_produce_today(
    tmp_path: Path, pg_admin: str, clean_env: None
) -> None:
    corpus = load_corpus(write_corpus(tmp_path, dev=REAL, heldout=REAL_HELDOUT))
    seen: list[tuple[str, int, int]] = []
    report = await run_corpus(
        corpus.select(),
        corpus=corpus.name,
        settings=offline(),
        llm=False,
        admin_url=pg_admin,
        concurrency=2,
        on_conversation=lambda r, done, total: seen.append((r.id, done, total)),
    )
    records = {r.id: r for r in report.records}
    problems = {r.id: r.problems for r in report.records if not r.ok}
    assert not problems, problems
    assert [r.id for r in report.records] == [c.id for c in corpus.conversations]
    assert sorted(done for _, done, _ in seen) == list(range(1, 10))
    assert {total for _, _, total in seen} == {9}

    # what the customer said, turn by turn, and what was judged from the database
    identity = records["en-identity-asked"]
    assert [t.say for t in identity.turns] == [
        "Hi, the mug arrived broken, I'd like 10 USDC back please",
        "it's bo@example.com order ORD-1002",
    ]
    assert identity.refunds == ["ORD-1002:10.00"] and identity.customer_messages == 2
    assert records["en-confirm-full"].turns[1].say == "yes please"
    assert records["en-confirm-full"].refunds == ["ORD-1003:30.00"]
    # "Half" is stated as an amount and confirmed before anything is paid.
    assert records["en-how-much"].turns[1].say == "yes"
    person = records["en-not-found-person"]
    assert person.outcomes == ["lookup_failed", "escalated"] and len(person.tickets) == 1
    denied = records["en-already-refunded"]
    assert denied.result == "deny" and denied.customer_messages == 1 and not denied.tickets
    assert records["en-over-cap"].result == "escalate" and not records["en-over-cap"].refunds
    assert records["es-signed-in"].refunds == ["ORD-1008:5.00"]
    assert records["hi-thanks"].result == "none"

    assert report.safe and report.mode == "rules" and report.money_outside_policy == 0
    figures = report.halves
    assert set(figures) == {"all", "dev", "heldout"}
    everything = figures["all"]
    assert (everything.refunds_due, everything.refunds_exact, everything.wrong_refunds) == (5, 5, 0)
    assert everything.right_first_time == 5
    assert everything.messages_per_resolved_refund == pytest.approx((1 + 2 + 2 + 2 + 1) / 5)
    assert (everything.escalations_right, everything.escalations_opened) == (2, 2)
    assert everything.escalation_precision == 1.0 and everything.escalation_recall == 1.0
    assert everything.accuracy == {
        "deny": (1, 1),
        "escalate": (2, 2),
        "none": (1, 1),
        "refund": (5, 5),
    }
    assert set(report.languages) == {"en", "es", "hi-latn"}


# --- a scripted agent, for what only the full outcome contract (or a broken agent) produces ----

Step = AgentTurn | Callable[[Services, str], Awaitable[AgentTurn]]


@dataclass
class ScriptedAgent:
    """Answers from a script chosen by the customer's first message."""

    services: Services
    scripts: dict[str, list[Step]]
    heard: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    async def turn(self, text: str, *, thread_id: str, customer_email: str | None) -> AgentTurn:
        if not self.heard:
            self.steps = list(self.scripts[text])
        self.heard.append(text)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        return step if isinstance(step, AgentTurn) else await step(self.services, thread_id)


def refund(order: str, email: str, amount: str) -> Step:
    async def move(services: Services, thread: str) -> AgentTurn:
        outcome = await services.refunds.refund(
            request_key=f"{thread}:{order}:{amount}",
            order_id=order,
            customer_email=email,
            amount=Decimal(amount),
            reason="test",
            approved_by="policy_gate",
            policy_version=None,
            thread_id=thread,
        )
        tx = outcome.refund.tx_hash
        return AgentTurn(
            reply=f"Refunded {amount}: {tx}",
            outcome={"kind": "refunded", "amount": amount, "tx_hash": tx, "order_id": order},
        )

    return move


def escalate(order: str, email: str) -> Step:
    async def hand_over(services: Services, thread: str) -> AgentTurn:
        ticket = await open_ticket(
            services.storage.audit,
            request_key=f"{thread}:escalate",
            customer_email=email,
            order_id=order,
            reason="customer_requested_human",
            thread_id=thread,
            context={
                "transcript": [{"role": "customer", "text": "a person please"}],
                "reasons": ["customer_requested_human"],
                "identity_verified": False,
            },
        )
        return AgentTurn(
            reply=f"Ticket {ticket.reference}",
            outcome={
                "kind": "escalated",
                "ticket": ticket.reference,
                "reasons": ["customer_requested_human"],
            },
        )

    return hand_over


def scripted_conversation(cid: str, opening: str, expect: str, half: str = "dev") -> str:
    return f"""\
- id: {cid}
  lang: en
  data: {shop("ORD-4410", "ana@example.com")}
  customer: {{email: ana@example.com, order: ORD-4410}}
  messages: ["{opening}"]
  answers: {{yes: "yes please", no: "no, only {{amount}}", decline: "no thanks"}}
  expect: {expect}
"""


CONTRACT: dict[str, list[Step]] = {
    "exact proposal": [
        asked("confirmation", order_id="ORD-4410", amount="15.00"),
        refund("ORD-4410", "ana@example.com", "15"),
    ],
    "wrong proposal": [
        asked("confirmation", order_id="ORD-4410", amount="40.00"),
        refund("ORD-4410", "ana@example.com", "15"),
    ],
    "offered a person": [
        AgentTurn(
            reply="no", outcome={"kind": "denied", "reasons": ["velocity"], "offer": "escalation"}
        ),
        escalate("ORD-4410", "ana@example.com"),
    ],
    "denied, person offered": [
        AgentTurn(
            reply="no",
            outcome={"kind": "denied", "reasons": ["already_refunded"], "offer": "escalation"},
        ),
    ],
    "how do refunds work": [
        AgentTurn(reply="30 days", outcome={"kind": "answered", "topic": "policy"})
    ],
    "did my refund go through": [
        AgentTurn(reply="yes", outcome={"kind": "answered", "topic": "refund_status"})
    ],
    "cancel my order": [
        AgentTurn(reply="can't", outcome={"kind": "answered", "topic": "unsupported"})
    ],
    "unwanted proposal": [
        asked("confirmation", order_id="ORD-4410", amount="40.00"),
        AgentTurn(reply="ok", outcome={"kind": "answered", "topic": "acknowledged"}),
    ],
    "wrong topic": [AgentTurn(reply="?", outcome={"kind": "answered", "topic": "unsupported"})],
    "ORD-4410 ana@example.com 15 USDC please": [
        asked("email"),
        refund("ORD-4410", "ana@example.com", "15"),
    ],
    "never stops asking": [asked("order_id")],
}
CONTRACT_CORPUS = "".join(
    [
        scripted_conversation(
            "exact", "exact proposal", "{result: refund, order: ORD-4410, amount: 15}"
        ),
        scripted_conversation(
            "wrong", "wrong proposal", "{result: refund, order: ORD-4410, amount: 15}"
        ),
        scripted_conversation("person", "offered a person", "{result: escalate}"),
        scripted_conversation(
            "deny", "denied, person offered", "{result: deny, reasons: [already_refunded]}"
        ),
        scripted_conversation("policy", "how do refunds work", "{result: info, topic: policy}"),
        scripted_conversation(
            "status", "did my refund go through", "{result: info, topic: refund_status}"
        ),
        scripted_conversation(
            "unsupported", "cancel my order", "{result: info, topic: unsupported}"
        ),
        scripted_conversation(
            "declined", "unwanted proposal", "{result: info, topic: acknowledged}"
        ),
        scripted_conversation("wrong-topic", "wrong topic", "{result: info, topic: policy}"),
        scripted_conversation(
            "reasked",
            "ORD-4410 ana@example.com 15 USDC please",
            "{result: refund, order: ORD-4410, amount: 15}",
        ),
        scripted_conversation("endless", "never stops asking", "{result: none}"),
    ]
)


def scripted(scripts: dict[str, list[Step]]) -> Callable[[Services, UsageCounter], CorpusAgent]:
    def make(services: Services, counter: UsageCounter) -> CorpusAgent:
        return ScriptedAgent(services, scripts)

    return make


async def test_the_full_outcome_contract_drives_each_branch_exactly(
    tmp_path: Path, pg_admin: str, clean_env: None
) -> None:
    corpus = load_corpus(write_corpus(tmp_path, dev=CONTRACT_CORPUS))
    report = await run_corpus(
        corpus.select(),
        settings=offline(),
        llm=False,
        admin_url=pg_admin,
        concurrency=2,
        agent_factory=scripted(CONTRACT),
    )
    records = {r.id: r for r in report.records}
    said = {cid: [t.say for t in r.turns] for cid, r in records.items()}
    assert said["exact"] == ["exact proposal", "yes please"]
    assert said["wrong"] == ["wrong proposal", "no, only 15"]
    assert said["person"] == ["offered a person", "yes please"]
    assert said["deny"] == ["denied, person offered"]
    assert said["declined"] == ["unwanted proposal", "no thanks"]
    assert said["endless"] == ["never stops asking"] + ["ORD-4410"] * 7

    right = {cid for cid, r in records.items() if r.correct}
    assert right == {
        "exact",
        "wrong",
        "person",
        "deny",
        "policy",
        "status",
        "unsupported",
        "declined",
        "reasked",
        "endless",
    }
    assert records["wrong-topic"].topic == "unsupported" and not records["wrong-topic"].correct
    assert records["exact"].refunds == ["ORD-4410:15.00"] and records["exact"].right_first_time
    assert records["reasked"].reasked == ["email@1"]
    assert records["reasked"].exact_refund and not records["reasked"].right_first_time
    assert records["endless"].reasked == [f"order_id@{n}" for n in range(2, 9)]
    assert records["person"].tickets and records["person"].result == "escalate"

    f = Figures.of(report.records)
    assert (f.refunds_due, f.refunds_exact, f.right_first_time) == (3, 3, 2)
    assert f.reasked == {"email": 1, "order_id": 1, "amount": 0}
    assert f.accuracy["info:policy"] == (1, 2) and f.accuracy["info:acknowledged"] == (1, 1)
    assert f.messages_per_resolved_refund == 2.0
    assert report.safe


WRONG_MONEY: dict[str, list[Step]] = {
    "pay me": [refund("ORD-4410", "ana@example.com", "20")],
    "just chatting": [refund("ORD-4410", "ana@example.com", "5")],
    "too little": [refund("ORD-4410", "ana@example.com", "10")],
}
WRONG_CORPUS = "".join(
    [
        scripted_conversation(
            "overpaid", "pay me", "{result: refund, order: ORD-4410, amount: 15}"
        ),
        scripted_conversation("unasked", "just chatting", "{result: none}", half="heldout"),
        scripted_conversation(
            "underpaid", "too little", "{result: refund, order: ORD-4410, amount: 15}"
        ),
    ]
)


async def test_a_wrong_refund_is_counted_and_money_outside_policy_measured(
    tmp_path: Path, pg_admin: str, clean_env: None
) -> None:
    corpus = load_corpus(write_corpus(tmp_path, dev=WRONG_CORPUS))
    report = await run_corpus(
        corpus.select(),
        settings=offline(),
        llm=False,
        admin_url=pg_admin,
        agent_factory=scripted(WRONG_MONEY),
    )
    records = {r.id: r for r in report.records}
    assert records["overpaid"].wrong_refunds == 1 and records["overpaid"].excess == 5
    assert records["unasked"].wrong_refunds == 1 and records["unasked"].excess == 5
    assert records["underpaid"].wrong_refunds == 1 and records["underpaid"].excess == 0
    assert not any(r.correct for r in report.records)
    assert report.wrong_refunds == 3 and report.money_outside_policy == 10
    assert not report.safe
    assert any(
        "ORD-4410: 20.00 USDC moved where the scenario permits 15.00" in v
        for v in report.violations
    )


# --- the command -------------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command(name="eval")(eval_command)

    @app.command()
    def other() -> None:  # a second command keeps `eval` a named subcommand
        """Nothing."""

    return app


def test_eval_corpus_prints_figures_per_half_and_language_as_json(
    tmp_path: Path, pg_admin: str, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", pg_admin)
    dev = REAL.split("- id: en-identity-asked")[0]
    folder = write_corpus(tmp_path, dev=dev, heldout=REAL_HELDOUT.split("- id: en-over-cap")[0])
    result = CliRunner().invoke(
        cli(), ["eval", "--corpus", str(folder), "--json", "-j", "2", "--offline"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {
        "corpus",
        "path",
        "mode",
        "model",
        "selection",
        "conversations",
        "seconds",
        "safety",
        "figures",
        "by_language",
        "llm",
        "results",
    }
    assert doc["corpus"] == "tiny" and doc["mode"] == "rules" and doc["conversations"] == 3
    assert doc["selection"] == {"half": "all", "lang": None}
    assert doc["safety"] == {
        "money_moved_outside_policy": "0.00",
        "wrong_refunds": 0,
        "violations": [],
        "safe": True,
    }
    assert set(doc["figures"]) == {"all", "dev", "heldout"} and set(doc["by_language"]) == {"en"}
    dev_figures = doc["figures"]["dev"]
    assert dev_figures["refunds_exact"] == {"count": 1, "rate": 1.0}
    assert dev_figures["right_first_time"] == {"count": 1, "of": 1, "rate": 1.0}
    assert set(dev_figures) == {
        "conversations",
        "refunds_due",
        "refunds_exact",
        "refunds_wrong",
        "money_outside_policy",
        "right_first_time",
        "messages_per_resolved_refund",
        "person_messages_per_resolved_refund",
        "reasked",
        "escalation",
        "accuracy",
        "accuracy_overall",
    }
    assert dev_figures["person_messages_per_resolved_refund"] is not None
    assert doc["figures"]["heldout"]["escalation"]["recall"] == 1.0
    by_id = {r["id"]: r for r in doc["results"]}
    assert "turns" in by_id["en-direct"] and "turns" not in by_id["en-not-found-person"]
    assert by_id["en-direct"]["refunds"] == ["ORD-1001:15.00"]
    lines = result.stderr.splitlines()
    assert any(line.startswith("[1/3] ") and line.endswith(" ok") for line in lines)
    assert "[3/3] " in result.stderr and "[" not in result.stdout[:1]

    only = CliRunner().invoke(
        cli(), ["eval", "--corpus", str(folder), "--half", "heldout", "--lang", "en", "--json"]
    )
    assert only.exit_code == 0, only.output
    doc = json.loads(only.stdout)
    assert doc["selection"] == {"half": "heldout", "lang": "en"}
    assert set(doc["figures"]) == {"all", "heldout"} and doc["conversations"] == 2


def test_eval_corpus_table_and_exit_1_on_wrong_money(
    tmp_path: Path, pg_admin: str, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evals.corpus_runner

    monkeypatch.setenv("DATABASE_URL", pg_admin)
    monkeypatch.setattr(evals.corpus_runner, "graph_agent", scripted(WRONG_MONEY))
    folder = write_corpus(tmp_path, dev=WRONG_CORPUS)
    result = CliRunner().invoke(cli(), ["eval", "--corpus", str(folder)])
    assert result.exit_code == 1, result.output
    assert "refunds made exactly as due" in result.stdout and "per language" in result.stdout
    assert "WRONG MONEY" in result.stdout and "refunds of a wrong amount/order: 3" in result.stdout
    assert "overpaid WRONG MONEY" in result.stderr
    as_json = CliRunner().invoke(cli(), ["eval", "--corpus", str(folder), "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["safety"]["safe"] is False
    assert "WRONG MONEY" in as_json.stderr


def test_eval_corpus_refuses_bad_input_with_exit_2(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = write_corpus(tmp_path, dev="- {id: x, lang: en}\n")
    result = CliRunner().invoke(cli(), ["eval", "--corpus", str(bad)])
    assert result.exit_code == 2
    assert "conversation 1 (x): messages: Field required" in result.stderr
    missing = CliRunner().invoke(cli(), ["eval", "--corpus", "no-such-corpus-anywhere"])
    assert missing.exit_code == 2 and "no such corpus folder" in missing.stderr
    clash = CliRunner().invoke(cli(), ["eval", "--corpus", str(bad), "--k", "2"])
    assert clash.exit_code == 2 and "--k does not apply with --corpus" in clash.stderr
    stray = CliRunner().invoke(cli(), ["eval", "--half", "dev"])
    assert stray.exit_code == 2 and "--half and --lang go with --corpus" in stray.stderr
    good = write_corpus(
        tmp_path, name="good", dev=ONE.format(shop=shop("ORD-4410", "maria.lopez@example.com"))
    )
    none = CliRunner().invoke(cli(), ["eval", "--corpus", str(good), "--lang", "de"])
    assert none.exit_code == 2 and "no conversations in" in none.stderr
    unknown = CliRunner().invoke(cli(), ["eval", "--corpus", str(good), "--lang", "xx"])
    assert unknown.exit_code == 2 and "not one of" in unknown.stderr


def test_report_json_hides_heldout_transcripts() -> None:
    from evals.corpus_report import CorpusRecord
    from evals.report import TurnRecord

    turn = TurnRecord(say="hi", reply="hello", outcome={"kind": "none"})
    records = [
        CorpusRecord(id="a", half="dev", lang="en", expected="none", group="none", turns=[turn]),
        CorpusRecord(
            id="b", half="heldout", lang="en", expected="none", group="none", turns=[turn]
        ),
    ]
    doc = CorpusReport(
        corpus="c",
        path="p",
        mode="rules",
        model=None,
        half="all",
        lang=None,
        records=records,
        seconds=0.0,
    ).as_dict()
    assert "turns" in doc["results"][0] and "turns" not in doc["results"][1]
    assert "problems" not in doc["results"][1]
