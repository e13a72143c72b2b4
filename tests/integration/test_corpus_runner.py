"""Natural corpora: the loader (format of evals/corpora/README.md, every mistake named).

Every corpus here is written by the test (tmp_path).
"""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from evals.corpus import CorpusError, load_corpus


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
