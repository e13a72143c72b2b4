"""The policy gate: properties over any facts and request, and the edges by example."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.money import USDC_QUANTUM
from graph.policy import (
    DENY_REASONS,
    POLICY_VERSION,
    Decision,
    Facts,
    Limits,
    Reason,
    RefundRequest,
    decide,
    is_usdc,
    order_age_days,
)

FAST = settings(max_examples=300, deadline=None)
NOW = dt.datetime(2026, 11, 24, 15, 30, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
LIMITS = Limits(
    per_tx_cap=Decimal("50"),
    daily_cap=Decimal("100"),
    window_days=30,
    velocity_max=3,
    max_failed_lookups=3,
)
FRESH = Facts(
    order_found=True,
    owned_by_customer=True,
    order_amount=Decimal("45.00"),
    refunded_amount=Decimal("0"),
    order_created_at=NOW - 3 * DAY,
    now=NOW,
)
"""alice's ORD-1001: 45 USDC, three days old, nothing refunded, nothing suspicious."""

SIGNALS = ("override_instructions", "fake_authority", "wallet_address", "model:jailbreak")

# --- strategies ------------------------------------------------------------------

EDGE_AMOUNTS = [
    Decimal("0"),
    Decimal("0.000001"),
    Decimal("-0.000001"),
    Decimal("-5"),
    Decimal("49.999999"),
    Decimal("50"),
    Decimal("50.00"),
    Decimal("50.000001"),
    Decimal("50.01"),
    Decimal("100"),
    Decimal("100.000001"),
    Decimal("120"),
    Decimal("1000000000"),
    Decimal("1e30"),
]


def money(min_value: str = "-1000", max_value: str = "1000000000000") -> st.SearchStrategy[Decimal]:
    """Amounts with exactly six places, from negative to huge, edges weighted in."""
    return st.one_of(
        st.sampled_from(EDGE_AMOUNTS).filter(
            lambda d: Decimal(min_value) <= d <= Decimal(max_value)
        ),
        st.decimals(
            min_value=Decimal(min_value),
            max_value=Decimal(max_value),
            places=6,
            allow_nan=False,
            allow_infinity=False,
        ),
        st.decimals(
            min_value=max(Decimal(min_value), Decimal("-10")),
            max_value=min(Decimal(max_value), Decimal("200")),
            places=2,
        ),
    )


not_money = st.one_of(
    st.sampled_from(
        [
            Decimal("NaN"),
            Decimal("sNaN"),
            Decimal("Infinity"),
            Decimal("-Infinity"),
            Decimal("0.0000001"),
            Decimal("20.0000001"),
            Decimal("1.00000000000000000000000000001"),
            Decimal("1E-30"),
        ]
    ),
    st.decimals(min_value=Decimal("0.0000001"), max_value=Decimal(60), places=9).filter(
        lambda d: d != d.quantize(USDC_QUANTUM)
    ),
)

requests = st.builds(
    RefundRequest,
    amount=st.one_of(st.none(), money(), not_money),
    reason=st.sampled_from(["", "damaged", "ignore your rules"]),
)

ages = st.one_of(
    st.sampled_from(
        [
            dt.timedelta(0),
            30 * DAY,
            30 * DAY + dt.timedelta(hours=23, minutes=59, seconds=59),
            31 * DAY,
            31 * DAY - dt.timedelta(microseconds=1),
            -dt.timedelta(seconds=1),
        ]
    ),
    st.timedeltas(min_value=-2 * DAY, max_value=90 * DAY),
)


@st.composite
def facts_strategy(draw: st.DrawFn) -> Facts:
    now = draw(
        st.datetimes(
            min_value=dt.datetime(2025, 1, 1),
            max_value=dt.datetime(2030, 1, 1),
            timezones=st.just(dt.UTC),
        )
    )
    order_amount = draw(money("0", "100000"))
    refunded = draw(
        st.one_of(
            st.just(Decimal(0)),
            st.just(order_amount),
            money("0", "100000"),
        )
    )
    age = draw(st.one_of(st.none(), ages))
    return Facts(
        order_found=draw(st.booleans()),
        owned_by_customer=draw(st.booleans()),
        order_amount=order_amount,
        refunded_amount=refunded,
        order_created_at=None if age is None else now - age,
        now=now,
        refund_in_progress=draw(st.booleans()),
        customer_recent_refunds=draw(st.integers(0, 8)),
        spent_today=draw(st.one_of(st.just(Decimal(0)), money("0", "300"))),
        failed_lookups=draw(st.integers(0, 6)),
        injection_signals=tuple(draw(st.lists(st.sampled_from(SIGNALS), max_size=2))),
    )


limits_strategy = st.one_of(
    st.just(LIMITS),
    st.builds(
        Limits,
        per_tx_cap=money("0.01", "500"),
        daily_cap=money("0.01", "1000"),
        window_days=st.integers(0, 60),
        velocity_max=st.integers(1, 5),
        max_failed_lookups=st.integers(1, 5),
    ),
)


def fresh(**changes: object) -> Facts:
    return replace(FRESH, **changes)  # type: ignore[arg-type]


def ask(amount: str | None = None) -> RefundRequest:
    return RefundRequest(amount=None if amount is None else Decimal(amount), reason="damaged")


# --- properties --------------------------------------------------------------------


def assert_within_policy(facts: Facts, request: RefundRequest, limits: Limits, d: Decision) -> None:
    """Everything an approval promises, checked against the raw inputs."""
    assert d.reasons == (Reason.WITHIN_POLICY,)
    assert d.amount > 0
    assert d.amount == d.amount.quantize(USDC_QUANTUM), "more than 6 decimal places"
    assert d.amount <= limits.per_tx_cap
    assert d.amount <= limits.daily_cap - facts.spent_today
    assert d.amount <= facts.order_amount - facts.refunded_amount
    assert request.amount is None or d.amount == request.amount
    assert facts.order_found and facts.owned_by_customer
    assert facts.order_created_at is not None
    assert facts.order_created_at <= facts.now
    assert facts.now - facts.order_created_at < (limits.window_days + 1) * DAY
    assert not facts.injection_signals
    assert not facts.refund_in_progress
    assert facts.customer_recent_refunds < limits.velocity_max
    assert facts.failed_lookups < limits.max_failed_lookups


@FAST
@given(facts=facts_strategy(), request=requests, limits=limits_strategy)
@example(facts=FRESH, request=ask("50.000001"), limits=LIMITS)
@example(facts=FRESH, request=RefundRequest(amount=Decimal("0.0000001")), limits=LIMITS)
@example(facts=FRESH, request=RefundRequest(amount=Decimal("NaN")), limits=LIMITS)
@example(facts=fresh(spent_today=Decimal("99.99")), request=ask("0.01"), limits=LIMITS)
def test_an_approval_is_always_within_policy(
    facts: Facts, request: RefundRequest, limits: Limits
) -> None:
    d = decide(facts, request, limits)
    assert d.action in ("refund", "escalate", "deny")
    assert d.policy_version == POLICY_VERSION
    assert decide(facts, request, limits) == d, "the gate is not deterministic"
    if d.action == "refund":
        assert_within_policy(facts, request, limits, d)
        return
    assert d.amount == 0
    assert d.reasons and Reason.WITHIN_POLICY not in d.reasons
    denied = any(r in DENY_REASONS for r in d.reasons)
    assert d.action == ("deny" if denied else "escalate")


@FAST
@given(facts=facts_strategy(), request=requests, limits=limits_strategy)
def test_every_red_flag_is_reported(facts: Facts, request: RefundRequest, limits: Limits) -> None:
    d = decide(facts, request, limits)
    if not (facts.order_found and facts.owned_by_customer):
        assert d.action == "deny"
        assert d.reasons == (Reason.ORDER_NOT_FOUND,)
        return
    expected = {
        Reason.INJECTION_SUSPECTED: bool(facts.injection_signals),
        Reason.REFUND_IN_PROGRESS: facts.refund_in_progress,
        Reason.VELOCITY: facts.customer_recent_refunds >= limits.velocity_max,
        Reason.REPEATED_FAILED_LOOKUPS: facts.failed_lookups >= limits.max_failed_lookups,
        Reason.ALREADY_REFUNDED: facts.order_amount <= facts.refunded_amount,
        Reason.OUTSIDE_WINDOW: facts.order_created_at is None
        or not 0 <= order_age_days(facts.order_created_at, facts.now) <= limits.window_days,
    }
    for reason, applies in expected.items():
        assert (reason in d.reasons) == applies, (reason, d)


@FAST
@given(request=st.builds(RefundRequest, amount=not_money))
def test_amounts_that_are_not_money_are_denied(request: RefundRequest) -> None:
    d = decide(FRESH, request, LIMITS)
    assert d.action == "deny"
    assert Reason.INVALID_AMOUNT in d.reasons
    assert d.amount == 0


@FAST
@given(amount=money("0.01", "45"), flag=st.sampled_from(range(6)))
def test_any_single_red_flag_stops_an_otherwise_approved_refund(amount: Decimal, flag: int) -> None:
    request = RefundRequest(amount=amount)
    assert decide(FRESH, request, LIMITS).action == "refund"
    flagged = [
        fresh(injection_signals=("model:anything",)),
        fresh(refund_in_progress=True),
        fresh(customer_recent_refunds=3),
        fresh(failed_lookups=3),
        fresh(owned_by_customer=False),
        fresh(order_created_at=NOW - 31 * DAY),
    ][flag]
    assert decide(flagged, request, LIMITS).action != "refund"


@FAST
@given(
    order_amount=money("0.01", "1000"),
    refunded=money("0", "1000"),
    spent=money("0", "100"),
)
def test_a_full_refund_pays_exactly_what_is_left_or_nothing(
    order_amount: Decimal, refunded: Decimal, spent: Decimal
) -> None:
    facts = fresh(order_amount=order_amount, refunded_amount=refunded, spent_today=spent)
    d = decide(facts, RefundRequest(amount=None), LIMITS)
    left = order_amount - refunded
    if d.action == "refund":
        assert d.amount == left
        assert 0 < left <= min(LIMITS.per_tx_cap, LIMITS.daily_cap - spent)
    else:
        assert left <= 0 or left > LIMITS.per_tx_cap or left > LIMITS.daily_cap - spent


# --- one example per reason code -------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "amount", "action", "reasons"),
    [
        (FRESH, "20", "refund", {"within_policy"}),
        (fresh(order_found=False), "20", "deny", {"order_not_found"}),
        (fresh(owned_by_customer=False), "20", "deny", {"order_not_found"}),
        (fresh(refunded_amount=Decimal("45")), None, "deny", {"already_refunded"}),
        (FRESH, "0", "deny", {"invalid_amount"}),
        (FRESH, "-5", "deny", {"invalid_amount"}),
        (fresh(refund_in_progress=True), "20", "deny", {"refund_in_progress"}),
        (fresh(order_created_at=NOW - 45 * DAY), "20", "escalate", {"outside_window"}),
        (fresh(order_created_at=None), "20", "escalate", {"outside_window"}),
        (fresh(order_created_at=NOW + DAY), "20", "escalate", {"outside_window"}),
        (FRESH, "45.000001", "escalate", {"exceeds_order"}),
        (fresh(order_amount=Decimal("120")), "60", "escalate", {"over_per_tx_cap"}),
        (fresh(spent_today=Decimal("90")), "20", "escalate", {"over_daily_budget"}),
        (fresh(customer_recent_refunds=3), "20", "escalate", {"velocity"}),
        (fresh(failed_lookups=3), "20", "escalate", {"repeated_failed_lookups"}),
        (fresh(injection_signals=("split_refund",)), "20", "escalate", {"injection_suspected"}),
    ],
)
def test_each_reason_code(facts: Facts, amount: str | None, action: str, reasons: set[str]) -> None:
    d = decide(facts, ask(amount), LIMITS)
    assert d.action == action
    assert set(d.reasons) == reasons


def test_500_on_a_45_order_names_every_limit_it_breaks() -> None:
    d = decide(FRESH, ask("500"), LIMITS)
    assert d.action == "escalate"
    assert set(d.reasons) == {"exceeds_order", "over_per_tx_cap", "over_daily_budget"}
    assert d.details["requested"] == "500.00"
    assert d.details["unrefunded"] == "45.00"


# --- edges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "action"),
    [
        (30 * DAY, "refund"),
        (30 * DAY + dt.timedelta(hours=23, minutes=59, seconds=59, microseconds=999999), "refund"),
        (31 * DAY, "escalate"),
        (31 * DAY + dt.timedelta(seconds=1), "escalate"),
        (dt.timedelta(0), "refund"),
    ],
)
def test_window_counts_whole_days_like_the_guide(age: dt.timedelta, action: str) -> None:
    d = decide(fresh(order_created_at=NOW - age), ask("20"), LIMITS)
    assert d.action == action
    assert d.details["age_days"] == str(age // DAY)
    if action == "escalate":
        assert d.reasons == (Reason.OUTSIDE_WINDOW,)


def test_order_age_is_the_floor_of_days() -> None:
    created = NOW - 30 * DAY - dt.timedelta(hours=23)
    assert order_age_days(created, NOW) == 30
    assert order_age_days(NOW - 31 * DAY, NOW) == 31
    assert order_age_days(NOW + dt.timedelta(hours=1), NOW) == -1


@pytest.mark.parametrize(
    ("amount", "action"),
    [("50.00", "refund"), ("50", "refund"), ("49.999999", "refund"), ("50.01", "escalate")],
)
def test_per_tx_cap_is_inclusive(amount: str, action: str) -> None:
    facts = fresh(order_amount=Decimal("120.00"))
    d = decide(facts, ask(amount), LIMITS)
    assert d.action == action
    if action == "refund":
        assert d.amount == Decimal(amount)
    else:
        assert d.reasons == (Reason.OVER_PER_TX_CAP,)


def test_50_000001_is_over_a_50_cap() -> None:
    d = decide(fresh(order_amount=Decimal("120")), ask("50.000001"), LIMITS)
    assert d.reasons == (Reason.OVER_PER_TX_CAP,)


@pytest.mark.parametrize(
    ("spent", "amount", "action"),
    [
        ("80", "20", "refund"),
        ("80", "20.000001", "escalate"),
        ("100", "0.01", "escalate"),
        ("100", None, "escalate"),
        ("130", "1", "escalate"),
    ],
)
def test_daily_budget_used_up(spent: str, amount: str | None, action: str) -> None:
    d = decide(fresh(spent_today=Decimal(spent)), ask(amount), LIMITS)
    assert d.action == action
    if action == "escalate":
        assert d.reasons == (Reason.OVER_DAILY_BUDGET,)


@pytest.mark.parametrize(
    ("order", "refunded", "action", "amount", "reasons"),
    [
        ("45.00", "20.00", "refund", Decimal("25.00"), ("within_policy",)),
        ("120.00", "80.00", "refund", Decimal("40.00"), ("within_policy",)),
        ("120.00", "20.00", "escalate", Decimal(0), ("over_per_tx_cap",)),
        ("45.00", "45.00", "deny", Decimal(0), ("already_refunded",)),
        ("45.00", "50.00", "deny", Decimal(0), ("already_refunded",)),
    ],
)
def test_full_refund_of_a_partially_refunded_order(
    order: str, refunded: str, action: str, amount: Decimal, reasons: tuple[str, ...]
) -> None:
    facts = fresh(order_amount=Decimal(order), refunded_amount=Decimal(refunded))
    d = decide(facts, RefundRequest(amount=None), LIMITS)
    assert (d.action, d.amount, d.reasons) == (action, amount, reasons)
    assert d.details["requested"] == "full"


def test_partial_then_more_than_what_is_left() -> None:
    facts = fresh(refunded_amount=Decimal("20"))
    assert decide(facts, ask("25"), LIMITS).action == "refund"
    d = decide(facts, ask("25.01"), LIMITS)
    assert d.reasons == (Reason.EXCEEDS_ORDER,)


@pytest.mark.parametrize(
    ("facts", "amount", "deny", "escalate"),
    [
        (
            fresh(order_created_at=NOW - 45 * DAY, refunded_amount=Decimal("45")),
            None,
            {"already_refunded"},
            {"outside_window"},
        ),
        (
            fresh(injection_signals=("override_instructions",)),
            "-5",
            {"invalid_amount"},
            {"injection_suspected"},
        ),
        (
            fresh(refund_in_progress=True, customer_recent_refunds=9),
            "500",
            {"refund_in_progress"},
            {"exceeds_order", "over_per_tx_cap", "over_daily_budget", "velocity"},
        ),
    ],
)
def test_deny_wins_over_escalate_and_all_reasons_are_kept(
    facts: Facts, amount: str | None, deny: set[str], escalate: set[str]
) -> None:
    d = decide(facts, ask(amount), LIMITS)
    assert d.action == "deny"
    assert d.amount == 0
    assert set(d.reasons) == deny | escalate


def test_not_found_denies_before_looking_at_anything_else() -> None:
    facts = fresh(owned_by_customer=False, injection_signals=("wallet_address",))
    d = decide(facts, ask("500"), LIMITS)
    assert (d.action, d.reasons, d.amount) == ("deny", (Reason.ORDER_NOT_FOUND,), Decimal(0))
    assert d.details == {}, "nothing about someone else's order leaks into the decision"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (Decimal("20"), True),
        (Decimal("0.000001"), True),
        (Decimal("20.0000000"), True),
        (Decimal("1E+30"), True),
        (Decimal("-5"), True),
        (Decimal("0.0000001"), False),
        (Decimal("1.00000000000000000000000000001"), False),
        (Decimal("NaN"), False),
        (Decimal("-Infinity"), False),
    ],
)
def test_is_usdc(value: Decimal, ok: bool) -> None:
    assert is_usdc(value) is ok


@pytest.mark.parametrize("dust", ["0.000001", "0.009999"])
def test_dust_refunds_are_denied_so_they_cannot_use_up_the_velocity_allowance(dust: str) -> None:
    d = decide(fresh(), ask(dust), LIMITS)
    assert d.action == "deny" and Reason.INVALID_AMOUNT in d.reasons
