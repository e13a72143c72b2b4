"""The state's dict shapes are in step with the state and with what they hold."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import get_args, get_type_hints

import pytest

from evals.scenario import OutcomeKind as ScenarioOutcomeKind
from graph import types
from graph.pending import proposal_of, reading_of
from graph.state import State, Update
from graph.understanding import AmountReading


def test_a_node_update_names_exactly_the_state_fields() -> None:
    assert set(Update.__annotations__) == {f.name for f in dataclasses.fields(State)}


def test_every_outcome_kind_has_one_shape() -> None:
    kinds = [get_args(get_type_hints(member)["kind"])[0] for member in get_args(types.Outcome)]
    assert sorted(kinds) == sorted(get_args(types.OutcomeKind))
    assert set(get_args(ScenarioOutcomeKind)) <= set(kinds)


@pytest.mark.parametrize(
    "reading",
    [
        AmountReading(kind="full"),
        AmountReading(kind="exact", value=Decimal("12.50"), why_confirm="correction"),
        AmountReading(kind="fraction", ratio=Decimal("0.5"), why_confirm="fraction"),
    ],
)
def test_a_proposal_is_the_reading_as_json(reading: AmountReading) -> None:
    proposal = proposal_of(reading)
    assert list(proposal) == list(types.Proposal.__annotations__)
    assert reading_of(proposal) == reading
