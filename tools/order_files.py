"""Reading order files one row at a time: CSV, a JSON array, or JSON Lines.

Each reader yields ``(row, mapping)`` pairs, never the whole file: memory stays
constant however many rows there are. ``row`` is what a person looks for when told
about a problem: the line number in a CSV file (the header is line 1; a quoted value
spanning lines counts from its first), the position in a JSON array (from 1), or the
line number in JSON Lines.

Numbers in JSON are read as exact decimals (``Decimal`` from their text), never as
floats. Problems that make the whole file unreadable raise :class:`OrderFileError`;
problems of one row are for the caller to report (a JSON element that is not an object
comes back as a mapping with the key ``__error__``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final, Literal

__all__ = [
    "ROW_ERROR_KEY",
    "OrderFileError",
    "OrderFormat",
    "detect_format",
    "open_text",
    "read_csv",
    "read_json",
    "read_rows",
]

OrderFormat = Literal["csv", "json"]

ROW_ERROR_KEY: Final = "__error__"
"""Key of a mapping that stands for a row that could not be read."""

CHUNK_CHARS: Final = 64 * 1024
MAX_OBJECT_CHARS: Final = 1024 * 1024
"""A JSON element longer than this is refused (no order needs a megabyte)."""

SUFFIXES: Final[dict[str, OrderFormat]] = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


class OrderFileError(ValueError):
    """The file cannot be read as orders at all (missing, not CSV/JSON, no id column...)."""


def detect_format(path: Path | str, given: str | None = None) -> OrderFormat:
    """``given`` when set, else from the file name's suffix.

    Raises:
        OrderFileError: an unknown format or suffix.
    """
    if given is not None:
        if given not in ("csv", "json"):
            raise OrderFileError(f"unknown format {given!r}: use csv or json")
        return given  # type: ignore[return-value]
    suffix = Path(str(path)).suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    raise OrderFileError(
        f"cannot tell the format of {path} from its name: give --format csv or --format json"
    )


def open_text(source: IO[bytes]) -> IO[str]:
    """A UTF-8 text view of a binary stream (a byte-order mark is skipped)."""
    return io.TextIOWrapper(source, encoding="utf-8-sig", newline="")


def read_rows(stream: IO[str], fmt: OrderFormat) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The rows of ``stream`` in format ``fmt``."""
    return read_csv(stream) if fmt == "csv" else read_json(stream)


def read_csv(stream: IO[str]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Rows of a CSV file with a header line; column names are trimmed and lower-cased.

    Raises:
        OrderFileError: no header, a repeated column, bad UTF-8 or broken quoting.
    """
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise OrderFileError("the file is empty: the first line must name the columns")
        names = [h.strip().lower() for h in header]
        repeated = sorted({n for n in names if n and names.count(n) > 1})
        if repeated:
            raise OrderFileError(f"the header names {', '.join(repeated)} more than once")
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            if not any(v.strip() for v in values):
                continue  # a blank line
            row: dict[str, Any] = {}
            for index, value in enumerate(values):
                if index < len(names):
                    row[names[index]] = value
                elif value.strip():
                    row[ROW_ERROR_KEY] = (
                        f"{len(values)} values for {len(names)} columns (a comma too many?)"
                    )
            yield start, row
    except UnicodeDecodeError as exc:
        raise OrderFileError(f"the file is not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise OrderFileError(f"line {reader.line_num}: not valid CSV: {exc}") from None


def read_json(stream: IO[str]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Objects of a JSON array (``[{...}, {...}]``) or of JSON Lines (one per line).

    Raises:
        OrderFileError: not JSON, neither an array nor JSON Lines, or bad UTF-8.
    """
    decoder = json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_no_duplicate_keys)
    try:
        buffer = stream.read(CHUNK_CHARS)
        start = _skip_blank(buffer, 0)
        while start == len(buffer):
            more = stream.read(CHUNK_CHARS)
            if not more:
                raise OrderFileError("the file is empty: expected a JSON array of orders")
            buffer = buffer[start:] + more
            start = _skip_blank(buffer, 0)
        if buffer[start] == "[":
            yield from _array(stream, decoder, buffer, start + 1)
        elif buffer[start] == "{":
            yield from _lines(stream, decoder, buffer[start:])
        else:
            raise OrderFileError(
                "a JSON order file is an array of objects or JSON Lines (one object a line)"
            )
    except UnicodeDecodeError as exc:
        raise OrderFileError(f"the file is not UTF-8 text ({exc.reason})") from None


def _array(
    stream: IO[str], decoder: json.JSONDecoder, buffer: str, pos: int
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Decode the elements of a top-level array incrementally, chunk by chunk."""
    index = 0
    expect_value = True  # after "[" or ","
    while True:
        pos = _skip_blank(buffer, pos)
        if pos >= len(buffer):
            more = stream.read(CHUNK_CHARS)
            if not more:
                raise OrderFileError("the JSON array is not closed (the file ends early)")
            buffer, pos = buffer[pos:] + more, 0
            continue
        char = buffer[pos]
        if char == "]" and (index == 0 or not expect_value):
            if _skip_blank_to_end(stream, buffer, pos + 1):
                return
            raise OrderFileError("text after the JSON array")
        if not expect_value:
            if char != ",":
                raise OrderFileError(f"element {index}: expected ',' or ']' after it")
            pos += 1
            expect_value = True
            continue
        while True:
            try:
                value, end = decoder.raw_decode(buffer, pos)
                break
            except json.JSONDecodeError as exc:
                if len(buffer) - pos > MAX_OBJECT_CHARS:
                    raise OrderFileError(
                        f"element {index + 1}: not valid JSON, or longer than "
                        f"{MAX_OBJECT_CHARS} characters ({exc.msg})"
                    ) from None
                more = stream.read(CHUNK_CHARS)
                if not more:
                    raise OrderFileError(
                        f"element {index + 1}: not valid JSON ({exc.msg})"
                    ) from None
                buffer, pos = buffer[pos:] + more, 0
            except ValueError as exc:  # a duplicate key
                raise OrderFileError(f"element {index + 1}: {exc}") from None
        index += 1
        yield index, _as_row(value)
        buffer, pos = buffer[end:], 0
        expect_value = False


def _lines(
    stream: IO[str], decoder: json.JSONDecoder, first: str
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """JSON Lines: one object per line, blank lines skipped."""
    pending = first
    number = 0
    while True:
        newline = pending.find("\n")
        while newline == -1:
            more = stream.read(CHUNK_CHARS)
            if not more:
                break
            pending += more
            if len(pending) > MAX_OBJECT_CHARS + CHUNK_CHARS:
                raise OrderFileError(f"line {number + 1} is longer than {MAX_OBJECT_CHARS}")
            newline = pending.find("\n")
        if newline == -1:
            line, pending = pending, ""
        else:
            line, pending = pending[:newline], pending[newline + 1 :]
        number += 1
        if line.strip():
            try:
                value = decoder.decode(line)
            except ValueError as exc:
                message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                if number == 1:
                    raise OrderFileError(
                        "a JSON order file is an array of objects or JSON Lines (one object "
                        f"a line); line 1 is neither: {message}"
                    ) from None
                yield number, {ROW_ERROR_KEY: f"not valid JSON ({message})"}
                continue
            yield number, _as_row(value)
        if not pending and newline == -1:
            return


def _as_row(value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        return {ROW_ERROR_KEY: f"an order must be a JSON object, not {type(value).__name__}"}
    return {str(k).strip().lower(): v for k, v in value.items()}


def _skip_blank(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _skip_blank_to_end(stream: IO[str], buffer: str, pos: int) -> bool:
    """True when only whitespace follows ``pos`` up to the end of the stream."""
    while True:
        if _skip_blank(buffer, pos) < len(buffer):
            return False
        buffer, pos = stream.read(CHUNK_CHARS), 0
        if not buffer:
            return True


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice")
        result[key] = value
    return result
