"""Speed round 3, placement: the cheaper paths must give the records the plain ones give.

``affordable_lots`` with a ``hint`` answers as without one; ``order_value`` sizing with
the lowered value-fee cost matches the model's own commission; the records built
without the frozen ``__init__`` equal the ordinary ones; refusal details print amounts
as ``Money`` does; ``close_position`` places the order ``ctx.order`` would.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import product

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import solvent
from solvent import Account
from solvent.accounting import rules
from solvent.data import BarData
from solvent.errors import InvalidInputError
from solvent.execution import gatekeeper as gk
from solvent.execution.broker import SimulatedBroker
from solvent.execution.costs import BasisPoints, CommissionModel, PercentOfValue, PerShare
from solvent.model.instrument import Instrument
from solvent.model.money import JPY, USD, Currency, Money, to_minor
from solvent.model.orders import (
    Intent,
    Order,
    OrderStatus,
    OrderType,
    Rejection,
    StatusChange,
    TimeInForce,
    new_order,
    new_rejection,
    new_status_change,
)
from solvent.model.records import ReasonCode

TS = pd.Timestamp("2024-01-02")


def _search(max_lots: int, available: int, cost: object) -> int:
    """The answer by definition: the largest ``n <= max_lots`` whose cost fits (0 if none)."""
    assert callable(cost)
    best = 0
    for n in range(1, max_lots + 1):
        if cost(n) <= available:
            best = n
    return best


@settings(max_examples=200, deadline=None)
@given(
    per_lot=st.integers(1, 5_000),
    fee_ppm=st.integers(0, 20_000),
    minimum=st.integers(0, 2_000),
    max_lots=st.integers(1, 60),
    available=st.integers(-10, 200_000),
    hint=st.integers(-3, 70),
)
def test_affordable_lots_with_any_hint_same_answer(
    per_lot: int, fee_ppm: int, minimum: int, max_lots: int, available: int, hint: int
) -> None:
    def cost(n: int) -> int:  # non-decreasing: notional plus a fee with a minimum
        notional = per_lot * n
        return notional + max(minimum, notional * fee_ppm // 1_000_000)

    expected = _search(max_lots, available, cost)
    assert gk.affordable_lots(max_lots, available, cost, hint=hint) == expected
    assert gk.affordable_lots(max_lots, available, cost) == expected


def test_affordable_lots_confirmed_hint_asks_cost_twice() -> None:
    calls: list[int] = []

    def cost(n: int) -> int:
        calls.append(n)
        return 101 * n  # 100 per lot plus 1% commission

    assert gk.affordable_lots(1_000, 10_000, cost, over=True, hint=99) == 99
    assert calls == [99, 100]


def test_value_hint_all_in_budget_within_one_lot() -> None:
    # 10,000.00 at 100.00 a share, 0.1% commission: 99 shares cost 9,909.90, 100 cost 10,010.00.
    budget, upper = 1_000_000, 101
    cost_upper = 101 * 10_000 + 1_010  # notional plus 0.1%
    assert gk.value_hint(budget, upper, cost_upper) == 99


def _broker(model: CommissionModel, inst: Instrument, cash: str = "100000.00") -> SimulatedBroker:
    acct = Account(cash=Decimal(cash), kind="cash", instruments=[inst])
    return SimulatedBroker(acct, commission=model, volume_limit=None)


@pytest.mark.parametrize(
    ("model", "tick", "lot"),
    [
        (PercentOfValue("0.001"), "0.01", "1"),
        (BasisPoints(7), "0.01", "1"),
        (PercentOfValue("0.0025"), "0.005", "0.1"),  # k_den > 1: the generic cost
        (PerShare("0.005", minimum="1.00"), "0.01", "1"),
    ],
)
def test_lots_for_value_equals_largest_affordable_by_model(
    model: CommissionModel, tick: str, lot: str
) -> None:
    inst = Instrument("X", tick_size=Decimal(tick), lot_size=Decimal(lot))
    broker = _broker(model, inst)
    for price, budget in product((1, 37, 999, 10_000, 123_457), (0, 1, 99, 5_000, 1_000_000, 7_654_321)):

        def cost(n: int, price: int = price) -> int:
            notional = abs(rules.notional_minor(price, n, inst.k_num, inst.k_den))
            return notional + model.order_commission(inst, n, notional)

        # The answer by definition (cost is non-decreasing): the largest n up to the
        # notional-only bound whose cost fits, 0 for an empty budget.
        upper = budget * inst.k_den // (price * inst.k_num) + 1
        n = broker._lots_for_value(inst, budget, price, 0)
        if budget <= 0:
            assert n == 0
            continue
        assert 0 <= n <= upper, (price, budget)
        assert n == 0 or cost(n) <= budget, (price, budget)
        assert n == upper or cost(n + 1) > budget, (price, budget)


@pytest.mark.parametrize("rates", [None, (1_000_000, 1_000_000), (500_000, 500_000), (1_000_000, 500_000)])
@pytest.mark.parametrize("model", [PercentOfValue("0.001"), BasisPoints("2.5")])
def test_cost_fn_lowered_value_fee_equals_generic_cost(
    model: CommissionModel, rates: tuple[int, int] | None
) -> None:
    inst = Instrument("X", tick_size=Decimal("0.01"))
    broker = _broker(model, inst)
    lowered = broker._cost_fn(inst, 12_345, lots0=3, notional0=37_035, paid=37, rates=rates)
    for n in (0, 1, 2, 17, 400, 12_345):
        notional = abs(rules.notional_minor(12_345, n, inst.k_num, inst.k_den))
        comm = model.order_commission(inst, 3 + n, 37_035 + notional) - 37
        if rates is None:
            expected = notional + comm
        else:
            expected = rules.opening_bp_cost(notional, comm, rates[0], rates[1])
        assert lowered(n) == expected


def test_new_order_equals_order_init() -> None:
    values = (
        "o9", "X", Decimal("-5"), OrderType.LIMIT, TS, Decimal("10.01"), None, None, None,
        TimeInForce.DAY, None, "tag", Intent.CLOSE, "c1", None, "g",
    )  # fmt: skip
    built = new_order(*values)
    assert built == Order(*values)
    assert type(built) is Order
    with pytest.raises(AttributeError):
        built.symbol = "Y"  # type: ignore[misc]  # still frozen


def test_new_rejection_equals_rejection_init() -> None:
    built = new_rejection("o3", "X", TS, Decimal("2"), ReasonCode.INSUFFICIENT_BUYING_POWER, "needs 1.00")
    assert built == Rejection("o3", "X", TS, Decimal("2"), ReasonCode.INSUFFICIENT_BUYING_POWER, "needs 1.00")
    assert built.at_fill is False


@pytest.mark.parametrize("currency", [USD, JPY, Currency("BTC8", 8)])
@pytest.mark.parametrize("minor", [0, 1, 9, 10, 99, 100, 12_345, -1, -99, -100, -12_345, 10**20 + 7])
def test_refusal_amount_text_equals_money_str(currency: Currency, minor: int) -> None:
    inst = Instrument("X", currency=currency, tick_size=Decimal(1).scaleb(-min(currency.digits, 2)))
    acct = Account(cash=100, kind="cash", currency=currency, instruments=[inst])
    broker = SimulatedBroker(acct)
    assert broker._text(minor) == str(Money(minor, currency))


_INTENT_CASES = [
    # (intent, position lots, order lots, allowed)
    (Intent.OPEN, 0, 5, True),
    (Intent.OPEN, 3, 5, False),
    (Intent.INCREASE, 3, 5, True),
    (Intent.INCREASE, 3, -1, False),
    (Intent.INCREASE, 0, 5, False),
    (Intent.REDUCE, 3, -3, True),
    (Intent.REDUCE, 3, -4, False),
    (Intent.REDUCE, -3, 2, True),
    (Intent.REDUCE, 0, -1, False),
    (Intent.CLOSE, 3, -3, True),
    (Intent.CLOSE, 3, -2, False),
    (Intent.CLOSE, 0, 0, False),
    (Intent.REVERSE, 3, -4, True),
    (Intent.REVERSE, 3, -3, False),
    (Intent.REVERSE, -2, 5, True),
]


@pytest.mark.parametrize(("intent", "pos", "qty", "allowed"), _INTENT_CASES)
def test_check_intent_cases_allowed_or_intent_mismatch(
    intent: Intent, pos: int, qty: int, allowed: bool
) -> None:
    verdict = gk.check_intent(intent, pos, qty)
    assert verdict.ok is allowed
    assert verdict.reason is (None if allowed else ReasonCode.INTENT_MISMATCH)


class _Flatten(solvent.Strategy):
    """Buy 3 on bar 0, then close on bar 1 through ``close_position`` or ``order``."""

    how = "close_position"

    def on_bar(self, ctx: solvent.Context) -> None:
        if ctx.i == 0:
            ctx.order("X", 3)
        elif ctx.i == 1:
            if self.how == "close_position":
                ctx.close_position("X", tag="t")
            else:
                ctx.order("X", -ctx.position("X"), tag="t", intent="close")


def test_close_position_order_equals_order_with_close_intent() -> None:
    n = 4
    close = np.array([10.0, 11.0, 12.0, 13.0]).reshape(n, 1)
    times = pd.date_range("2024-01-02", periods=n, freq="D").to_numpy()
    data = BarData(times, ("X",), close, close, close, close, np.full((n, 1), 1e6))
    a, b = (
        solvent.backtest(_Flatten(how=how), data, cash=1_000, account="cash").orders.drop(columns="order_id")
        for how in ("close_position", "order")
    )
    pd.testing.assert_frame_equal(a, b)
    assert a["intent"].isna().iloc[0]
    assert a["intent"].iloc[1] == "close"
    assert list(a["status"]) == ["filled", "filled"]
    assert a["quantity"].iloc[1] == Decimal("-3")


def test_placement_reserves_need_and_refusal_reserves_nothing() -> None:
    inst = Instrument("X", tick_size=Decimal("0.01"))
    broker = _broker(PercentOfValue("0.001"), inst, cash="1000.00")
    broker.observe_close("X", 10_000)  # 100.00
    ok = broker.submit("X", 5, TS)
    # 5 × 100.00 plus 0.1%: 500.50 held until the fill.
    assert ok.status is OrderStatus.ACCEPTED
    assert broker.account.reserved == Money(50_050)
    refused = broker.submit("X", 5, TS)  # 499.50 left: 4 shares (400.40) affordable
    assert refused.quantity == Decimal(4)
    assert broker.account.reserved == Money(50_050 + 40_040)
    none = broker.submit_value("X", Decimal("99.00"), TS)  # 99.10 left, one share costs 100.10
    assert none.status is OrderStatus.REJECTED
    assert none.reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    assert broker.rejections[-1].detail == "needs 100.10, 99.10 available"
    assert broker.account.reserved == Money(90_090)


def test_placement_reservation_id_already_held_not_reserved_twice() -> None:
    inst = Instrument("X", tick_size=Decimal("0.01"))
    broker = _broker(PercentOfValue("0.001"), inst, cash="1000.00")
    broker.observe_close("X", 10_000)
    assert broker.account.reserve("mine", Money(10_000))  # a reservation under an order id to come
    view = broker.submit("X", 1, TS, order_id="mine")
    assert view.status is OrderStatus.ACCEPTED
    assert broker.account.reserved == Money(10_000)  # the held amount, not 100.10 more


@pytest.mark.parametrize(
    "value", [Decimal("1234.56"), Decimal("-0.01"), Decimal("1E+3"), Decimal("7.50000"), 12, -3, "8.25", 9.5]
)
def test_order_value_budget_minor_units_equal_to_minor(value: Decimal | int | str | float) -> None:
    inst = Instrument("X", tick_size=Decimal("0.01"))
    broker = _broker(PercentOfValue("0.001"), inst)
    fast = broker._minor_of(value)
    assert fast is None or fast == to_minor(value, USD, "v")
    if isinstance(value, (Decimal, int)):
        assert fast is not None


@pytest.mark.parametrize("value", [Decimal("1.005"), Decimal("NaN"), Decimal("Infinity"), True])
def test_order_value_budget_off_grid_or_not_a_number_raises(value: Decimal | bool) -> None:
    inst = Instrument("X", tick_size=Decimal("0.01"))
    broker = _broker(PercentOfValue("0.001"), inst)
    broker.observe_close("X", 10_000)
    assert broker._minor_of(value) is None
    with pytest.raises(InvalidInputError, match="order_value"):
        broker.submit_value("X", value, TS)


@pytest.mark.parametrize(
    ("lot", "quantity"), [("1", 7), ("1", -3), ("0.5", 2), ("1", Decimal("4")), ("1", "5")]
)
def test_order_quantity_int_or_decimal_same_lots(lot: str, quantity: int | Decimal | str) -> None:
    inst = Instrument("X", tick_size=Decimal("0.01"), lot_size=Decimal(lot))
    broker = _broker(PercentOfValue("0.001"), inst)
    broker.observe_close("X", 1_000)
    view = broker.submit("X", quantity, TS)
    assert view.order.quantity == Decimal(quantity)
    assert view.quantity == Decimal(quantity)


@pytest.mark.parametrize("quantity", [0, True, 1.5])
def test_order_quantity_zero_bool_or_off_grid_raises(quantity: int | bool | float) -> None:
    inst = Instrument("X", tick_size=Decimal("0.01"))
    broker = _broker(PercentOfValue("0.001"), inst)
    broker.observe_close("X", 1_000)
    with pytest.raises(InvalidInputError, match="quantity"):
        broker.submit("X", quantity, TS)


def test_new_status_change_equals_status_change_init() -> None:
    built = new_status_change("o4", TS, OrderStatus.CANCELLED, Decimal("1.5"), ReasonCode.ZERO_VOLUME, "x")
    assert built == StatusChange("o4", TS, OrderStatus.CANCELLED, Decimal("1.5"), ReasonCode.ZERO_VOLUME, "x")
    assert type(built) is StatusChange


@settings(max_examples=300, deadline=None)
@given(
    price=st.integers(1, 2_000_000),
    budget=st.integers(0, 10**10),
    rate_ppm=st.integers(0, 999_999),
    bps=st.booleans(),
)
def test_lots_for_value_value_fee_equals_largest_affordable(
    price: int, budget: int, rate_ppm: int, bps: bool
) -> None:
    # The same rate either way: ppm / 100 basis points, or ppm / 10**6 of value.
    model: CommissionModel = (
        BasisPoints(Decimal(rate_ppm) / 100) if bps else PercentOfValue(Decimal(rate_ppm) / 10**6)
    )
    inst = Instrument("X", tick_size=Decimal("0.01"))
    broker = _broker(model, inst)

    def cost(n: int) -> int:
        notional = price * n
        return notional + model.order_commission(inst, n, notional)

    lo, hi = 0, budget // price + 1  # cost(hi) > budget: its notional alone is
    while hi - lo > 1:  # the largest n whose cost fits, by bisection (cost rises with n)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if cost(mid) <= budget else (lo, mid)
    assert broker._lots_for_value(inst, budget, price, 0) == lo
