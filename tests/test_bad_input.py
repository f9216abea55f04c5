"""Every bad input gets a typed error with a clear message, and changes nothing.

Each test builds an account with some history (an open long, an open short, a mark,
cash events), then feeds it one bad input and checks three things: the exception type,
that its message names the field or symbol at fault, and that the account's snapshot,
fills, trades and cash events are exactly what they were before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from solvent import (
    USD,
    Account,
    CurrencyMismatchError,
    Instrument,
    InvalidInputError,
    Money,
    PrecisionError,
    SolventError,
    UnknownReservationError,
    UnknownSymbolError,
    make_fill,
)
from solvent.model.money import EUR, JPY, to_steps

T0 = pd.Timestamp("2024-01-02 10:00")
T1 = pd.Timestamp("2024-01-03 10:00")
T2 = pd.Timestamp("2024-01-03 11:00")

NAN_AND_INF: list[Any] = [
    float("nan"),
    float("inf"),
    float("-inf"),
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("Infinity"),
    Decimal("-Infinity"),
    "nan",
    "inf",
    np.float64("nan"),
]
NOT_POSITIVE: list[Any] = [0, -1, Decimal("-100.00"), "0", -0.01, Decimal("-0")]


class _Opaque:
    """An arbitrary object with a stable repr (xdist workers must collect the same ids)."""

    def __repr__(self) -> str:
        return "<opaque object>"


GARBAGE: list[Any] = ["abc", "", "  ", "1,000.00", "$100", "1e", None, [100], {"price": 1}, _Opaque()]
BOOLEANS: list[Any] = [True, False, np.bool_(True)]


def _account(kind: str = "margin") -> Account:
    """Return an account with history: a long, a short (margin), marks, cash events."""
    es = Instrument(
        "ES",
        asset_class="future",
        tick_size=Decimal("0.25"),
        multiplier=Decimal("50"),
        initial_margin_fixed=Decimal("12000"),
        maintenance_margin_fixed=Decimal("11000"),
    )
    btc = Instrument("BTC", lot_size=Decimal("0.001"), asset_class="crypto")
    acct = Account("100000.00", kind=kind, instruments=["AAA", "BBB", btc, es], start=T0)
    acct.apply_fill(make_fill("AAA", 100, "50.00", T0, commission="1.00", order_id="a1"))
    if kind == "margin":
        acct.apply_fill(make_fill("BBB", -40, "25.00", T0, commission="1.00", order_id="b1"))
    acct.apply_fill(make_fill("BTC", "0.125", "40000.00", T1, commission="0.50", order_id="c1"))
    acct.mark("AAA", "51.00", T1)
    acct.deposit("1000.00", T1)
    acct.reserve("r1", "500.00", symbol="AAA")
    return acct


@contextmanager
def unchanged(account: Account) -> Iterator[None]:
    """Assert that the block leaves every observable figure of ``account`` as it was."""
    before = account.snapshot()
    n_fills, n_trades, n_events = len(account.fills), len(account.trades), len(account.cash_events)
    reserved = account.reserved
    yield
    assert account.snapshot() == before
    assert len(account.fills) == n_fills
    assert len(account.trades) == n_trades
    assert len(account.cash_events) == n_events
    assert account.reserved == reserved


def _names(*parts: str) -> str:
    """Return a regex that matches a message naming all ``parts`` (in order)."""
    return ".*".join(re.escape(p) for p in parts)


@pytest.fixture
def acct() -> Account:
    return _account()


# -- prices ------------------------------------------------------------------------


@pytest.mark.parametrize("price", NAN_AND_INF, ids=repr)
def test_fill_nan_or_infinite_price_raises_invalid_input_and_changes_nothing(
    acct: Account, price: Any
) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=_names("AAA.fill.price", "finite")):
        acct.apply_fill(make_fill("AAA", 10, price, T2))


@pytest.mark.parametrize("price", NAN_AND_INF, ids=repr)
def test_mark_nan_or_infinite_price_raises_invalid_input_and_changes_nothing(
    acct: Account, price: Any
) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=_names("AAA.mark", "finite")):
        acct.mark("AAA", price, T2)


@pytest.mark.parametrize("price", NOT_POSITIVE, ids=repr)
def test_fill_zero_or_negative_price_raises_invalid_input_and_changes_nothing(
    acct: Account, price: Any
) -> None:
    with (
        unchanged(acct),
        pytest.raises(InvalidInputError, match=_names("AAA.fill.price", "greater than zero")),
    ):
        acct.apply_fill(make_fill("AAA", 10, price, T2))


@pytest.mark.parametrize("price", NOT_POSITIVE, ids=repr)
def test_mark_zero_or_negative_price_raises_invalid_input_and_changes_nothing(
    acct: Account, price: Any
) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=_names("AAA.mark", "greater than zero")):
        acct.mark("AAA", price)


def test_mark_price_that_rounds_to_zero_ticks_raises_invalid_input_and_changes_nothing(acct: Account) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=_names("AAA.mark", "zero ticks")):
        acct.mark("AAA", "0.004")


@pytest.mark.parametrize(
    ("symbol", "price"),
    [
        ("AAA", 100.005),
        ("AAA", "100.005"),
        ("AAA", Decimal("100.001")),
        ("ES", "5000.10"),  # tick 0.25
        ("ES", 5000.3),
        ("AAA", Decimal("100.0000000000000000000000000001")),  # off grid in the 31st digit
    ],
    ids=repr,
)
def test_fill_price_off_tick_grid_raises_precision_error_and_changes_nothing(
    acct: Account, symbol: str, price: Any
) -> None:
    qty = 1
    with (
        unchanged(acct),
        pytest.raises(PrecisionError, match=_names(f"{symbol}.fill.price", "not a multiple")),
    ):
        acct.apply_fill(make_fill(symbol, qty, price, T2))


def test_precision_error_is_an_invalid_input_error_and_solvent_error() -> None:
    assert issubclass(PrecisionError, InvalidInputError)
    assert issubclass(InvalidInputError, SolventError)
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(UnknownSymbolError, KeyError)


# -- quantities --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "qty"),
    [
        ("AAA", 0.5),
        ("AAA", Decimal("0.5")),
        ("AAA", "-10.5"),
        ("AAA", Decimal("1.00000000000000000000000000001")),  # off grid in the 30th digit
        ("BTC", "0.0001"),  # lot 0.001
        ("BTC", 1.0005),
        ("ES", "1.5"),
    ],
    ids=repr,
)
def test_fill_quantity_off_lot_grid_raises_precision_error_and_changes_nothing(
    acct: Account, symbol: str, qty: Any
) -> None:
    price = "40000.00" if symbol == "BTC" else "5000.00"
    with (
        unchanged(acct),
        pytest.raises(PrecisionError, match=_names(f"{symbol}.fill.quantity", "not a multiple")),
    ):
        acct.apply_fill(make_fill(symbol, qty, price, T2))


@pytest.mark.parametrize("qty", [0, 0.0, Decimal("0"), "0", Decimal("-0.000")], ids=repr)
def test_fill_zero_quantity_raises_invalid_input_and_changes_nothing(acct: Account, qty: Any) -> None:
    with (
        unchanged(acct),
        pytest.raises(InvalidInputError, match=_names("AAA.fill.quantity", "must not be zero")),
    ):
        acct.apply_fill(make_fill("AAA", qty, "50.00", T2))


@pytest.mark.parametrize("qty", NAN_AND_INF, ids=repr)
def test_fill_nan_or_infinite_quantity_raises_invalid_input_and_changes_nothing(
    acct: Account, qty: Any
) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=_names("AAA.fill.quantity", "finite")):
        acct.apply_fill(make_fill("AAA", qty, "50.00", T2))


def test_huge_quantity_is_kept_exact_not_rounded_to_28_digits() -> None:
    inst = Instrument("AAA")
    assert inst.qty_lots(Decimal(10**30 + 1)) == 10**30 + 1
    assert inst.qty_lots(str(-(10**40) - 7)) == -(10**40) - 7
    exact = Decimal(f"{10**35 + 1}E-2")  # built from a string: no context rounding
    assert Money.of(exact) == Money(10**35 + 1)


# -- unknown symbols ---------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.apply_fill(make_fill("ZZZ", 1, "10.00", T2)),
        lambda a: a.mark("ZZZ", "10.00", T2),
        lambda a: a.mark_prices({"AAA": "60.00", "ZZZ": "10.00"}, T2),
        lambda a: a.dividend("ZZZ", "0.10", T2),
        lambda a: a.split("ZZZ", 2, T2),
        lambda a: a.position("ZZZ"),
        lambda a: a.quantity("ZZZ"),
        lambda a: a.position_lots("ZZZ"),
        lambda a: a.instrument("ZZZ"),
        lambda a: a.im_rate_ppm("ZZZ", 1),
    ],
    ids=[
        "apply_fill",
        "mark",
        "mark_prices",
        "dividend",
        "split",
        "position",
        "quantity",
        "position_lots",
        "instrument",
        "im_rate_ppm",
    ],
)
def test_unknown_symbol_raises_unknown_symbol_error_and_changes_nothing(
    acct: Account, call: Callable[[Account], object]
) -> None:
    with unchanged(acct), pytest.raises(UnknownSymbolError, match=_names("unknown symbol", "'ZZZ'")) as info:
        call(acct)
    assert info.value.symbol == "ZZZ"
    assert str(info.value).startswith("unknown symbol 'ZZZ'")  # not KeyError's quoted repr
    assert acct.position("AAA").mark == Decimal("51.00")  # mark_prices applied nothing


def test_symbol_case_mismatch_raises_unknown_symbol_error(acct: Account) -> None:
    with unchanged(acct), pytest.raises(UnknownSymbolError, match="'aaa'"):
        acct.apply_fill(make_fill("aaa", 1, "10.00", T2))


# -- money: commissions, deposits, withdrawals, fees --------------------------------

INEXACT_MONEY: list[Any] = [
    0.1 + 0.2,
    Decimal("0.001"),
    "1.005",
    1e-3,
    Decimal("0.010000000000000000000000000001"),
]


@pytest.mark.parametrize("commission", INEXACT_MONEY, ids=repr)
def test_fill_commission_not_exact_to_the_cent_raises_precision_error_and_changes_nothing(
    acct: Account, commission: Any
) -> None:
    with (
        unchanged(acct),
        pytest.raises(PrecisionError, match=_names("AAA.fill.commission", "not a multiple of 0.01")),
    ):
        acct.apply_fill(make_fill("AAA", 10, "50.00", T2, commission=commission))


def test_float_sum_commission_error_message_suggests_the_rounded_decimal(acct: Account) -> None:
    with pytest.raises(PrecisionError) as info:
        acct.apply_fill(make_fill("AAA", 10, "50.00", T2, commission=0.1 + 0.2))
    assert "0.30000000000000004" in str(info.value)
    assert "Decimal('0.30')" in str(info.value)
    assert info.value.field == "AAA.fill.commission"


@pytest.mark.parametrize("commission", [-0.01, Decimal("-1.00"), "-5"], ids=repr)
def test_fill_negative_commission_raises_invalid_input_and_changes_nothing(
    acct: Account, commission: Any
) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=_names("AAA.fill.commission", "negative")):
        acct.apply_fill(make_fill("AAA", 10, "50.00", T2, commission=commission))


@pytest.mark.parametrize("commission", [*NAN_AND_INF, *BOOLEANS], ids=repr)
def test_fill_nan_or_boolean_commission_raises_invalid_input_and_changes_nothing(
    acct: Account, commission: Any
) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=re.escape("AAA.fill.commission")):
        acct.apply_fill(make_fill("AAA", 10, "50.00", T2, commission=commission))


def test_fill_slippage_not_exact_to_the_cent_raises_precision_error_and_changes_nothing(
    acct: Account,
) -> None:
    with unchanged(acct), pytest.raises(PrecisionError, match=re.escape("AAA.fill.slippage")):
        acct.apply_fill(make_fill("AAA", 10, "50.00", T2, slippage=0.1 + 0.2))


@pytest.mark.parametrize("method", ["deposit", "withdraw", "charge_fee"])
@pytest.mark.parametrize("amount", INEXACT_MONEY, ids=repr)
def test_cash_event_amount_not_exact_to_the_cent_raises_precision_error_and_changes_nothing(
    acct: Account, method: str, amount: Any
) -> None:
    field = {"deposit": "deposit", "withdraw": "withdrawal", "charge_fee": "fee"}[method]
    with unchanged(acct), pytest.raises(PrecisionError, match=_names(field, "not a multiple of 0.01")):
        getattr(acct, method)(amount, T2)


@pytest.mark.parametrize("method", ["deposit", "withdraw", "charge_fee"])
@pytest.mark.parametrize("amount", [*NOT_POSITIVE, *NAN_AND_INF, *BOOLEANS, "abc", None], ids=repr)
def test_cash_event_amount_not_a_positive_number_raises_invalid_input_and_changes_nothing(
    acct: Account, method: str, amount: Any
) -> None:
    field = {"deposit": "deposit", "withdraw": "withdrawal", "charge_fee": "fee"}[method]
    with unchanged(acct), pytest.raises(InvalidInputError, match=re.escape(field)):
        getattr(acct, method)(amount, T2)


def test_jpy_account_deposit_with_sen_raises_precision_error_and_changes_nothing() -> None:
    acct = Account(1_000_000, currency=JPY, start=T0)
    with unchanged(acct), pytest.raises(PrecisionError, match=_names("deposit", "not a multiple of 1")):
        acct.deposit("100.5", T1)


# -- dividends and splits ----------------------------------------------------------


@pytest.mark.parametrize("per_share", [*NOT_POSITIVE, *NAN_AND_INF, *BOOLEANS, "abc"], ids=repr)
def test_dividend_bad_amount_raises_invalid_input_and_changes_nothing(acct: Account, per_share: Any) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=re.escape("AAA.dividend")):
        acct.dividend("AAA", per_share, T2)


@pytest.mark.parametrize("ratio", [*NOT_POSITIVE, *NAN_AND_INF, *BOOLEANS, "two"], ids=repr)
def test_split_bad_ratio_raises_invalid_input_and_changes_nothing(acct: Account, ratio: Any) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=re.escape("AAA.split")):
        acct.split("AAA", ratio, T2)


# -- timestamps --------------------------------------------------------------------

EARLIER = pd.Timestamp("2024-01-03 09:59")  # before T1, the last event


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.apply_fill(make_fill("AAA", 1, "50.00", EARLIER)),
        lambda a: a.mark("AAA", "52.00", EARLIER),
        lambda a: a.mark_prices({"AAA": "52.00"}, EARLIER),
        lambda a: a.deposit("10.00", EARLIER),
        lambda a: a.withdraw("10.00", EARLIER),
        lambda a: a.charge_fee("10.00", EARLIER),
        lambda a: a.dividend("AAA", "0.10", EARLIER),
        lambda a: a.split("AAA", 2, EARLIER),
        lambda a: a.advance(EARLIER),
        lambda a: a.advance(T0),
    ],
    ids=[
        "apply_fill",
        "mark",
        "mark_prices",
        "deposit",
        "withdraw",
        "charge_fee",
        "dividend",
        "split",
        "advance",
        "advance_a_day_back",
    ],
)
def test_timestamp_earlier_than_last_event_raises_invalid_input_and_changes_nothing(
    acct: Account, call: Callable[[Account], object]
) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=_names("timestamp", "earlier", str(T1))):
        call(acct)


@pytest.mark.parametrize(
    "ts", ["not a date", "2024-13-45", None, float("nan"), pd.NaT, np.datetime64("NaT"), _Opaque()], ids=repr
)
def test_fill_garbage_timestamp_raises_invalid_input_and_changes_nothing(acct: Account, ts: Any) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=re.escape("AAA.fill.timestamp")):
        acct.apply_fill(make_fill("AAA", 1, "50.00", ts))


@pytest.mark.parametrize("ts", ["not a date", None, pd.NaT], ids=repr)
def test_cash_event_garbage_timestamp_raises_invalid_input_and_changes_nothing(
    acct: Account, ts: Any
) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match="timestamp"):
        acct.deposit("10.00", ts)


# -- booleans and garbage as numbers -----------------------------------------------


@pytest.mark.parametrize("value", BOOLEANS, ids=repr)
@pytest.mark.parametrize("where", ["quantity", "price"])
def test_fill_boolean_number_raises_invalid_input_and_changes_nothing(
    acct: Account, value: Any, where: str
) -> None:
    kwargs: dict[str, Any] = {"quantity": 1, "price": "50.00"}
    kwargs[where] = value
    with unchanged(acct), pytest.raises(InvalidInputError, match=_names(f"AAA.fill.{where}", "boolean")):
        acct.apply_fill(make_fill("AAA", kwargs["quantity"], kwargs["price"], T2))


@pytest.mark.parametrize("value", GARBAGE, ids=repr)
@pytest.mark.parametrize("where", ["quantity", "price"])
def test_fill_garbage_number_raises_invalid_input_and_changes_nothing(
    acct: Account, value: Any, where: str
) -> None:
    kwargs: dict[str, Any] = {"quantity": 1, "price": "50.00"}
    kwargs[where] = value
    with unchanged(acct), pytest.raises(InvalidInputError, match=re.escape(f"AAA.fill.{where}")):
        acct.apply_fill(make_fill("AAA", kwargs["quantity"], kwargs["price"], T2))


@pytest.mark.parametrize("value", [*BOOLEANS, *GARBAGE], ids=repr)
def test_mark_boolean_or_garbage_price_raises_invalid_input_and_changes_nothing(
    acct: Account, value: Any
) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=re.escape("AAA.mark")):
        acct.mark("AAA", value)


def test_mark_prices_one_bad_price_applies_none_of_them(acct: Account) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=re.escape("BTC.mark")):
        acct.mark_prices({"AAA": "60.00", "BBB": "20.00", "BTC": float("nan")}, T2)
    assert acct.position("AAA").mark == Decimal("51.00")


# -- reservations ------------------------------------------------------------------


@pytest.mark.parametrize("amount", [-0.01, Decimal("-1"), 0.1 + 0.2, float("nan"), True, "abc"], ids=repr)
def test_reserve_bad_amount_raises_invalid_input_and_changes_nothing(acct: Account, amount: Any) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=re.escape("reservation.amount")):
        acct.reserve("r2", amount)


@pytest.mark.parametrize("order_id", ["", None, 7], ids=repr)
def test_reserve_bad_order_id_raises_invalid_input_and_changes_nothing(acct: Account, order_id: Any) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match="order_id"):
        acct.reserve(order_id, "10.00")


def test_reserve_money_in_another_currency_raises_currency_mismatch_and_changes_nothing(
    acct: Account,
) -> None:
    with unchanged(acct), pytest.raises(CurrencyMismatchError, match=_names("EUR", "USD")):
        acct.reserve("r2", Money.of("10.00", EUR))


@pytest.mark.parametrize(
    "call", [lambda a: a.confirm("nope"), lambda a: a.release("nope")], ids=["confirm", "release"]
)
def test_unknown_reservation_raises_unknown_reservation_error_and_changes_nothing(
    acct: Account, call: Callable[[Account], object]
) -> None:
    with unchanged(acct), pytest.raises(UnknownReservationError, match="'nope'"):
        call(acct)


@pytest.mark.parametrize("fraction", [0, -0.5, float("nan"), True, "half"], ids=repr)
def test_confirm_bad_fraction_raises_invalid_input_and_changes_nothing(acct: Account, fraction: Any) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=re.escape("reservation[r1].fraction")):
        acct.confirm("r1", fraction)


# -- Money ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
    ids=["add", "sub", "lt", "le", "gt", "ge"],
)
def test_money_across_currencies_raises_currency_mismatch(op: Callable[[Money, Money], object]) -> None:
    usd, eur = Money.of("10.00", USD), Money.of("10.00", EUR)
    with pytest.raises(CurrencyMismatchError, match=_names("USD", "vs", "EUR")):
        op(usd, eur)
    assert usd == Money.of("10.00")  # untouched (immutable)


def test_money_equality_across_currencies_is_false_not_an_error() -> None:
    assert Money.of("10.00", USD) != Money.of("10.00", EUR)


@pytest.mark.parametrize("other", [1, Decimal("1.00"), 1.0, "1.00"], ids=repr)
def test_money_with_plain_number_raises_type_error(other: Any) -> None:
    with pytest.raises(TypeError, match="cannot combine Money"):
        Money.of("10.00") + other


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (0.1 + 0.2, PrecisionError),
        ("0.001", PrecisionError),
        (float("nan"), InvalidInputError),
        (True, InvalidInputError),
        ("ten dollars", InvalidInputError),
        (None, InvalidInputError),
    ],
    ids=repr,
)
def test_money_of_bad_value_raises_typed_error_naming_money(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="money"):
        Money.of(value)


def test_money_of_unknown_currency_raises_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match=_names("currency", "XYZ")):
        Money.of("1.00", "XYZ")


# -- instruments and accounts ------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"maintenance_margin_long": "0.6"}, "X.maintenance_margin_long"),
        ({"maintenance_margin_short": "0.6"}, "X.maintenance_margin_short"),
        ({"initial_margin_fixed": "1000", "maintenance_margin_fixed": "1200"}, "X.maintenance_margin_fixed"),
    ],
    ids=["long", "short", "fixed"],
)
def test_instrument_maintenance_above_initial_margin_raises_invalid_input(
    kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError, match=_names(field, "cannot exceed initial margin")):
        Instrument("X", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tick_size": 0}, "X.tick_size"),
        ({"tick_size": "-0.01"}, "X.tick_size"),
        ({"lot_size": float("nan")}, "X.lot_size"),
        ({"multiplier": True}, "X.multiplier"),
        ({"initial_margin_long": "1.5"}, "X.initial_margin_long"),
        ({"initial_margin_short": "-0.1"}, "X.initial_margin_short"),
        ({"borrow_fee_rate": "0.0000001"}, "X.borrow_fee_rate"),
        ({"initial_margin_fixed": "1000"}, "X.initial_margin_fixed"),
        ({"currency": "XYZ"}, "currency"),
    ],
    ids=repr,
)
def test_instrument_bad_parameter_raises_invalid_input_naming_field(
    kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(field)):
        Instrument("X", **kwargs)


@pytest.mark.parametrize("symbol", ["", None, 5], ids=repr)
def test_instrument_bad_symbol_raises_invalid_input(symbol: Any) -> None:
    with pytest.raises(InvalidInputError, match="symbol"):
        Instrument(symbol)


@pytest.mark.parametrize("cash", [-1, "-0.01", Decimal("-100000")], ids=repr)
def test_account_negative_starting_cash_raises_invalid_input(cash: Any) -> None:
    with pytest.raises(InvalidInputError, match=_names("cash", "cannot be negative")):
        Account(cash)


@pytest.mark.parametrize(
    ("cash", "error"),
    [
        (0.1 + 0.2, PrecisionError),
        (float("nan"), InvalidInputError),
        (True, InvalidInputError),
        ("x", InvalidInputError),
    ],
    ids=repr,
)
def test_account_bad_starting_cash_raises_typed_error_naming_cash(cash: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="cash"):
        Account(cash)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"initial_margin": 0}, "initial_margin"),
        ({"initial_margin": "1.5"}, "initial_margin"),
        ({"debit_interest_rate": -0.01}, "debit_interest_rate"),
        ({"settlement_days": -1}, "settlement_days"),
        ({"day_trade_multiplier": 0}, "day_trade_multiplier"),
        ({"day_trade_min_equity": 0.1 + 0.2}, "day_trade_min_equity"),
        ({"start": "garbage"}, "start"),
        ({"currency": "XYZ"}, "currency"),
    ],
    ids=repr,
)
def test_account_bad_parameter_raises_invalid_input_naming_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(field)):
        Account(1000, **kwargs)


def test_account_bad_kind_raises_value_error() -> None:
    with pytest.raises(ValueError, match="'broker'"):
        Account(1000, kind="broker")


def test_instrument_in_another_currency_raises_invalid_input_and_changes_nothing(acct: Account) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=_names("X.currency", "EUR", "USD")):
        acct.add_instrument(Instrument("X", currency=EUR))
    assert "X" not in acct.instruments


def test_redefining_instrument_with_open_position_raises_invalid_input_and_changes_nothing(
    acct: Account,
) -> None:
    with unchanged(acct), pytest.raises(InvalidInputError, match=_names("AAA.instrument", "open position")):
        acct.add_instrument(Instrument("AAA", tick_size="0.05"))
    assert acct.instrument("AAA").tick_size == Decimal("0.01")


# -- a cash account refuses the same way ------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda a: a.apply_fill(make_fill("AAA", "0.5", "50.00", T2)), PrecisionError, "AAA.fill.quantity"),
        (lambda a: a.apply_fill(make_fill("AAA", 1, "50.005", T2)), PrecisionError, "AAA.fill.price"),
        (
            lambda a: a.apply_fill(make_fill("AAA", 1, "50.00", T2, commission=0.1 + 0.2)),
            PrecisionError,
            "commission",
        ),
        (lambda a: a.apply_fill(make_fill("ZZZ", 1, "50.00", T2)), UnknownSymbolError, "ZZZ"),
        (lambda a: a.deposit(0.1 + 0.2, T2), PrecisionError, "deposit"),
        (lambda a: a.mark("AAA", float("inf")), InvalidInputError, "AAA.mark"),
        (lambda a: a.apply_fill(make_fill("AAA", 1, "50.00", EARLIER)), InvalidInputError, "timestamp"),
    ],
    ids=["lot", "tick", "commission", "symbol", "deposit", "mark", "time"],
)
def test_cash_account_bad_input_raises_typed_error_and_changes_nothing(
    call: Callable[[Account], object], error: type[Exception], field: str
) -> None:
    acct = _account("cash")
    with unchanged(acct), pytest.raises(error, match=re.escape(field)):
        call(acct)


@pytest.mark.parametrize(
    ("value", "step", "hint"),
    [
        ("25.5", "5", "the nearest is Decimal('25')"),
        ("12.5", "5", "the nearest is Decimal('10')"),  # ties to even: 2.5 steps → 2
        ("25.5", "1", "the nearest is Decimal('26')"),
        ("1.005", "0.01", "the nearest is Decimal('1.00')"),
        ("0.3", "1", "the smallest is Decimal('1')"),
        ("-0.3", "1", "the smallest is Decimal('-1')"),
        ("1e30", "7", "the nearest is Decimal('999999999999999999999999999999')"),
    ],
)
def test_off_grid_value_hint_names_nearest_multiple_of_the_step(value: str, step: str, hint: str) -> None:

    with pytest.raises(PrecisionError, match=re.escape(f"round it to the grid ({hint})")):
        to_steps(Decimal(value), Decimal(step), "quantity")
