"""The event stream's wire format: what the web chat's reader and API clients parse."""

from __future__ import annotations

from server.turns import sse


def test_an_event_is_its_name_then_one_line_of_json() -> None:
    event = sse("reply", {"reply": "Erstattet: 25,00 USDC", "lines": "a\nb", "sep": "\u2028"})
    assert event.encode() == (
        b"event: reply\n"
        b'data: {"reply": "Erstattet: 25,00 USDC", "lines": "a\\nb", "sep": "\xe2\x80\xa8"}\n'
        b"\n"
    )
