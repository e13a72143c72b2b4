"""Every msgid in the code is translated in every catalog, with the same placeholders."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from graph.replies import texts
from graph.replies.catalog import CATALOG_LANGUAGES, catalog_path, locales_dir, translator

REPLIES = Path(texts.__file__).parent


def code_msgids() -> set[str]:
    found: set[str] = set()
    for path in sorted(REPLIES.glob("*.py")):
        for _line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords={"N_": None}
        ):
            assert isinstance(message, str)
            found.add(message)
    return found


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, abort_invalid=True)


def fields(text: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


def test_the_code_marks_every_template_and_reason() -> None:
    ids = code_msgids()
    assert len(ids) >= 50
    assert set(texts.REASON_TEXT.values()) <= ids
    assert {texts.REFUNDED, texts.ESCALATED, texts.CANCELLED, texts.POLICY} <= ids


def test_the_template_lists_exactly_the_msgids_of_the_code() -> None:
    pot = {m.id for m in read(locales_dir() / "messages.pot") if m.id}
    ids = code_msgids()
    assert not ids - pot, f"missing from messages.pot: {sorted(ids - pot)}"
    assert not pot - ids, f"stale in messages.pot: {sorted(pot - ids)}"


@pytest.mark.parametrize("language", CATALOG_LANGUAGES)
def test_every_catalog_translates_exactly_the_msgids_of_the_code(language: str) -> None:
    catalog = read(catalog_path(language), locale=language)
    assert str(catalog.locale) == language
    entries = {m.id: m for m in catalog if m.id}
    ids = code_msgids()
    assert not ids - set(entries), f"{language}: missing {sorted(ids - set(entries))}"
    assert not set(entries) - ids, f"{language}: stale {sorted(set(entries) - ids)}"
    assert not catalog.obsolete, f"{language}: obsolete entries {list(catalog.obsolete)}"
    for msgid, message in entries.items():
        assert isinstance(message.string, str) and message.string.strip(), (
            f"{language}: no translation of {msgid!r}"
        )
        assert not message.fuzzy, f"{language}: fuzzy translation of {msgid!r}"


@pytest.mark.parametrize("language", CATALOG_LANGUAGES)
def test_translations_keep_every_placeholder_and_add_none(language: str) -> None:
    for message in read(catalog_path(language), locale=language):
        if not message.id:
            continue
        assert isinstance(message.id, str) and isinstance(message.string, str)
        assert fields(message.string) == fields(message.id), (
            f"{language}: {message.string!r} has placeholders {fields(message.string)}, "
            f"the msgid {fields(message.id)}"
        )


@pytest.mark.parametrize("language", CATALOG_LANGUAGES)
def test_translations_differ_from_english(language: str) -> None:
    t = translator(language)
    same = [m for m in code_msgids() if t(m) == m]
    assert not same, f"{language}: untranslated {same}"


def test_a_placeholder_check_catches_a_dropped_or_renamed_field() -> None:
    assert fields("Refunded {amount} USDC for {order_id}") == ["amount", "order_id"]
    assert fields("Reembolsé {cantidad} USDC") != fields("Refunded {amount} USDC")
    assert fields("{items} y {last}") == fields("{items} and {last}")
