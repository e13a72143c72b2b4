"""A bounded window of messages in state; the whole transcript goes to its table.

The checkpoint stores the state's ``messages`` again at every turn, so keeping them all
makes a conversation's storage grow with the square of its length. The last node of
every turn therefore (1) hands this turn's new messages to
:mod:`persistence.transcripts`, written in the same transaction as the turn's audit
trail, and (2) removes from state the messages older than the window.
"""

from __future__ import annotations

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage

from graph.facts import message_text
from persistence.transcripts import Line


def new_customer_lines(messages: list[AnyMessage]) -> list[Line]:
    """The customer's messages not yet answered: those after the agent's last message."""
    lines: list[Line] = []
    for message in reversed(messages):
        if isinstance(message, AIMessage):
            break
        if isinstance(message, HumanMessage):
            lines.append(Line(role="customer", text=message_text(message)))
    lines.reverse()
    return lines


def removals(messages: list[AnyMessage], adding: int, window: int) -> list[RemoveMessage]:
    """What to remove so that ``messages`` plus ``adding`` new ones fit in ``window``."""
    excess = len(messages) + adding - window
    if excess <= 0:
        return []
    return [RemoveMessage(id=m.id) for m in messages[:excess] if m.id is not None]
