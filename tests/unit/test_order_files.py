"""Order rows: reading CSV and JSON as streams, and validating each order with clear errors."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest

from tools import order_files
from tools.order_files import OrderFileError, detect_format, read_csv, read_json
from tools.order_import import InvalidOrder, RowError, parse_order

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
GOOD: dict[str, Any] = {
    "id": "ORD-1001",
    "customer_email": " Alice@Example.com ",
    "amount_usdc": "45.00",
    "created_at": "2026-05-29T10:00:00Z",
    "payment_id": "pay_1",
    "payer_address": "0x" + "AB" * 20,
}


def problems(**changes: Any) -> list[str]:
    data = {**GOOD, **changes}
    with pytest.raises(InvalidOrder) as info:
        parse_order(data, now=NOW)
    return [str(p) for p in info.value.problems]


def test_a_good_order_is_normalised() -> None:
    record = parse_order({**GOOD, "extra": "ignored"}, now=NOW)
    assert record.customer_email == "alice@example.com"
    assert record.payer_address == "0x" + "ab" * 20
    assert record.amount_usdc == Decimal("45.000000")
    assert record.created_at == dt.datetime(2026, 5, 29, 10, tzinfo=dt.UTC)
    assert (record.network, record.currency, record.description) == ("polygon", "USDC", "")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("12,5O", "amount_usdc: '12,5O' is not an amount"),
        ("12,5", "amount_usdc: '12,5' is not an amount"),
        ("1e3", "amount_usdc: '1e3' is not an amount"),
        ("-5", "amount_usdc: '-5' is not an amount"),
        ("0", "amount_usdc: '0' is not a valid amount: amount must be greater than zero"),
        ("1.0000001", "amount_usdc: '1.0000001' is not a valid amount: USDC has at most 6"),
        ("", "amount_usdc: missing"),
        (45.5, "amount_usdc: must be exact (a decimal), not a float"),
    ],
)
def test_amounts_are_exact_decimals(amount: Any, message: str) -> None:
    [found] = problems(amount_usdc=amount)
    assert found.startswith(message)


@pytest.mark.parametrize(
    ("amount", "value"),
    [("1,250.50", "1250.50"), ("$20", "20"), (Decimal("7.25"), "7.25"), (3, "3")],
)
def test_accepted_amounts(amount: Any, value: str) -> None:
    assert parse_order({**GOOD, "amount_usdc": amount}, now=NOW).amount_usdc == Decimal(value)


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2026-05-29", dt.datetime(2026, 5, 29, tzinfo=dt.UTC)),
        ("2026-05-29T12:00:00+02:00", dt.datetime(2026, 5, 29, 10, tzinfo=dt.UTC)),
        (dt.date(2026, 5, 1), dt.datetime(2026, 5, 1, tzinfo=dt.UTC)),
    ],
)
def test_accepted_times(created: Any, expected: dt.datetime) -> None:
    assert parse_order({**GOOD, "created_at": created}, now=NOW).created_at == expected


def test_every_problem_of_a_row_is_named() -> None:
    found = problems(
        id="ORD 1",
        customer_email="not-an-email",
        created_at="2026-05-29 10:00",
        payer_address="0x123",
        network="Poly Gon",
        currency="EUR",
        payment_id="",
    )
    assert found == [
        "id: 'ORD 1' has spaces or control characters",
        "customer_email: 'not-an-email' is not an email address",
        "created_at: 2026-05-29 10:00 has no UTC offset (add Z or +00:00)",
        "payment_id: missing",
        "payer_address: '0x123' is not a wallet address (0x + 40 hex)",
        "network: 'poly gon' is not a network name",
        "currency: 'EUR' is not supported (only USDC is refunded)",
    ]
    assert problems(created_at="2027-01-01T00:00:00Z") == [
        "created_at: 2027-01-01T00:00:00Z is in the future"
    ]


def test_a_row_error_reads_like_the_documentation() -> None:
    with pytest.raises(InvalidOrder) as info:
        parse_order({**GOOD, "amount_usdc": "12,5O"}, now=NOW)
    error = RowError(17, info.value.problems)
    assert str(error) == "row 17: amount_usdc: '12,5O' is not an amount"


def test_csv_rows_are_numbered_by_line() -> None:
    text = (
        "\ufeffID, Customer_Email ,amount_usdc\n"
        'ORD-1,a@x.io,"1,250.00"\n'
        "\n"
        'ORD-2,"b@x.io",5\n'
        'ORD-3,"multi\nline",7,extra\n'
        "ORD-4,d@x.io,9\n"
    )
    stream = io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8-sig", newline="")
    rows = list(read_csv(stream))
    assert [row for row, _ in rows] == [2, 4, 5, 7]
    assert rows[0][1] == {"id": "ORD-1", "customer_email": "a@x.io", "amount_usdc": "1,250.00"}
    assert "4 values for 3 columns" in rows[2][1][order_files.ROW_ERROR_KEY]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("id,id\n1,2\n", "the header names id more than once"),
        ('id,name\n1,"unclosed\n', "not valid CSV"),
    ],
)
def test_unreadable_csv(text: str, message: str) -> None:
    with pytest.raises(OrderFileError, match=message):
        list(read_csv(io.StringIO(text, newline="")))


@pytest.mark.parametrize("chunk", [1, 3, 7, 64 * 1024])
def test_json_arrays_stream_in_any_chunk_size(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(order_files, "CHUNK_CHARS", chunk)
    text = ' \n[ {"id": "ORD-1", "amount_usdc": 45.10},\n {"ID": 7}, 3 , {"id": "a\\u00e9"} ] \n'
    rows = list(read_json(io.StringIO(text)))
    assert [row for row, _ in rows] == [1, 2, 3, 4]
    first = rows[0][1]
    assert first["amount_usdc"] == Decimal("45.10") and isinstance(first["amount_usdc"], Decimal)
    assert rows[1][1] == {"id": 7}
    assert "must be a JSON object, not int" in rows[2][1][order_files.ROW_ERROR_KEY]
    assert rows[3][1] == {"id": "aé"}
    assert list(read_json(io.StringIO("[]"))) == []


def test_json_lines() -> None:
    text = '{"id": "ORD-1"}\n\n{"id": "ORD-2"}\n{broken\n{"id": "ORD-4"}'
    rows = list(read_json(io.StringIO(text)))
    assert [row for row, _ in rows] == [1, 3, 4, 5]
    assert order_files.ROW_ERROR_KEY in rows[2][1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ('"orders"', "an array of objects or JSON Lines"),
        ('{"orders": [\n{"id": 1}]}', "line 1 is neither"),
        ('[{"id": "ORD-1"}', "not closed"),
        ('[{"id": "ORD-1"} {"id": 2}]', "expected ',' or ']'"),
        ('[{"id": "a", "id": "b"}]', "appears twice"),
        ("[1] [2]", "text after the JSON array"),
    ],
)
def test_unreadable_json(text: str, message: str) -> None:
    with pytest.raises(OrderFileError, match=message):
        list(read_json(io.StringIO(text)))


def test_formats_come_from_the_suffix_or_the_option() -> None:
    assert detect_format("orders.CSV") == "csv"
    assert detect_format("x.jsonl") == "json"
    assert detect_format("x.txt", "csv") == "csv"
    with pytest.raises(OrderFileError, match="--format"):
        detect_format("orders.txt")
    with pytest.raises(OrderFileError, match="unknown format"):
        detect_format("orders.csv", "xml")
