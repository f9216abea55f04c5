"""Cash events: deposits, withdrawals, dividends, splits, borrow fees, interest, fees,
settlement, day-trade buying power and the clock. Every figure is worked out by hand.

Dates used (2024): Thu 03-07, Fri 03-01 and 03-08, Mon 03-04 and 03-11, Tue 03-12.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest

from solvent import (
    Account,
    AccountSnapshot,
    BusinessCalendar,
    BuyingPowerMode,
    CashEventKind,
    Instrument,
    InvalidInputError,
    Money,
    ReasonCode,
    make_fill,
)

FRI = "2024-03-01"
MON = "2024-03-04"
TUE = "2024-03-05"


def _identity_holds(s: AccountSnapshot) -> bool:
    """realized + unrealized - commission - fees == NLV - start - deposits + withdrawals."""
    lhs = s.realized_pnl + s.unrealized_pnl - s.commission - s.fees
    rhs = s.nlv - s.starting_cash - s.deposits + s.withdrawals
    return lhs == rhs


# -- deposits and withdrawals ---------------------------------------------------------


def test_deposit_and_withdrawal_move_cash_and_keep_identity() -> None:
    # 10,000.00 + 2,500.50 - 500.25 = 12,000.25.
    account = Account(10_000, kind="cash")
    dep = account.deposit("2500.50", f"{MON} 09:00")
    assert dep.kind is CashEventKind.DEPOSIT
    assert dep.amount == Money.of("2500.50")
    verdict = account.withdraw("500.25", f"{MON} 10:00")
    assert verdict.ok
    assert verdict.reason is None
    assert account.cash == Money.of("12000.25")
    assert account.buying_power == Money.of("12000.25")
    s = account.snapshot()
    assert (s.deposits, s.withdrawals) == (Money.of("2500.50"), Money.of("500.25"))
    assert [(e.kind, e.amount) for e in account.cash_events] == [
        (CashEventKind.DEPOSIT, Money.of("2500.50")),
        (CashEventKind.WITHDRAWAL, Money.of("-500.25")),
    ]
    assert _identity_holds(s)


@pytest.mark.parametrize("amount", [0, "-1", "0.001", float("nan")])
def test_deposit_or_withdraw_bad_amount_raises_and_changes_nothing(amount: object) -> None:
    account = Account(1_000, kind="cash", start=f"{MON} 09:00")
    before = account.snapshot()
    with pytest.raises(InvalidInputError):
        account.deposit(amount, f"{MON} 10:00")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        account.withdraw(amount, f"{MON} 10:00")  # type: ignore[arg-type]
    assert account.snapshot() == before


def test_cash_account_withdrawal_above_withdrawable_refused_and_nothing_changes() -> None:
    # Cash 1,000.00 less a 300.00 reservation = 700.00 withdrawable.
    account = Account(1_000, kind="cash")
    account.reserve("o1", 300)
    account.deposit("0.01", f"{MON} 10:00")  # cash 1,000.01: withdrawable 700.01
    before = account.snapshot()
    verdict = account.withdraw("700.02", f"{MON} 10:00")
    assert not verdict
    assert verdict.reason is ReasonCode.INSUFFICIENT_CASH
    assert "700.01" in verdict.detail
    assert account.snapshot() == before
    assert len(account.cash_events) == 1
    assert account.withdraw("700.01", f"{MON} 10:00").ok
    assert account.cash == Money.of(300)
    assert account.buying_power == Money.of(0)


def test_margin_account_withdrawal_limited_by_cash() -> None:
    # 10,000 cash, buy 50 @ 100 = 5,000: cash 5,000, NLV 10,000, IM 2,500, excess 7,500.
    # Withdrawable = min(excess 7,500, cash 5,000) = 5,000.
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", 50, "100.00", f"{MON} 10:00"))
    assert account.excess == Money.of(7500)
    before = account.snapshot()
    refused = account.withdraw("5000.01", f"{MON} 10:00")
    assert refused.reason is ReasonCode.INSUFFICIENT_CASH
    assert account.snapshot() == before
    assert account.withdraw(5000, f"{MON} 10:00").ok
    # Cash 0, NLV 5,000, IM 2,500: excess 2,500, buying power 5,000.
    assert account.cash == Money.of(0)
    assert account.excess == Money.of(2500)
    assert account.buying_power == Money.of(5000)


def test_margin_account_withdrawal_limited_by_excess() -> None:
    # 10,000 cash, short 100 @ 100: cash 20,000, NLV 10,000, IM 50% x 10,000 = 5,000.
    # Withdrawable = min(excess 5,000, cash 20,000) = 5,000.
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", -100, "100.00", f"{MON} 10:00"))
    assert account.cash == Money.of(20_000)
    assert account.excess == Money.of(5000)
    before = account.snapshot()
    assert account.withdraw("5000.01", f"{MON} 10:00").reason is ReasonCode.INSUFFICIENT_CASH
    assert account.snapshot() == before
    assert account.withdraw(5000, f"{MON} 10:00").ok
    assert account.nlv == Money.of(5000)
    assert account.excess == Money.of(0)
    assert account.buying_power == Money.of(0)


def test_margin_account_with_debit_balance_cannot_withdraw() -> None:
    # Buy 150 @ 100 = 15,000 on 10,000: cash -5,000, NLV 10,000, IM 7,500, excess 2,500,
    # but there is no cash to take out.
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", 150, "100.00", f"{MON} 10:00"))
    assert account.excess == Money.of(2500)
    assert account.withdraw("0.01", f"{MON} 10:00").reason is ReasonCode.INSUFFICIENT_CASH


def test_margin_account_reservations_reduce_withdrawable_excess() -> None:
    # Flat 10,000; a 4,000 reservation of buying power ties up 50% x 4,000 = 2,000 of
    # margin, so excess (and withdrawable) is 8,000.
    account = Account(10_000)
    account.reserve("o1", 4000)
    assert account.excess == Money.of(8000)
    assert account.withdraw("8000.01", f"{MON} 10:00").reason is ReasonCode.INSUFFICIENT_CASH
    assert account.withdraw(8000, f"{MON} 10:00").ok
    # NLV 2,000 -> buying power 4,000, all of it reserved.
    assert account.buying_power == Money.of(0)
    assert account.reserved == Money.of(4000)


# -- dividends ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (37, "0.46"),  # 37 x 1.25 cents = 46.25 cents -> 46
        (2, "0.02"),  # 2.5 cents: a tie, to even -> 2
        (6, "0.08"),  # 7.5 cents: a tie, to even -> 8
        (-37, "-0.46"),  # short pays: -46.25 -> -46
        (-6, "-0.08"),  # -7.5 -> -8
    ],
)
def test_fractional_dividend_rounds_half_even_to_cent(quantity: int, expected: str) -> None:
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", quantity, "10.00", f"{FRI} 10:00"))
    before = account.snapshot()
    event = account.dividend("X", "0.0125", f"{MON} 09:00")
    assert event is not None
    assert event.kind is CashEventKind.DIVIDEND
    assert event.symbol == "X"
    assert event.amount == Money.of(expected)
    s = account.snapshot()
    assert s.cash - before.cash == Money.of(expected)
    assert s.dividends == Money.of(expected)
    assert s.realized_pnl - before.realized_pnl == Money.of(expected)
    assert s.fees == Money.of(0)
    assert _identity_holds(s)


def test_dividend_long_credited_short_charged() -> None:
    # Long 100 X and short 40 Y, both paying 0.50: X credits 50.00, Y charges 20.00.
    account = Account(10_000, instruments=["X", "Y"])
    account.apply_fill(make_fill("X", 100, "20.00", f"{FRI} 10:00"))
    account.apply_fill(make_fill("Y", -40, "25.00", f"{FRI} 10:00"))
    cash = account.cash
    x = account.dividend("X", "0.50", f"{MON} 09:00")
    y = account.dividend("Y", 0.5, f"{MON} 09:00")
    assert x is not None
    assert y is not None
    assert (x.amount, y.amount) == (Money.of(50), Money.of(-20))
    s = account.snapshot()
    assert s.cash == cash + Money.of(30)
    assert s.dividends == Money.of(30)
    assert s.realized_pnl == Money.of(30)  # nothing closed: only the dividends
    assert _identity_holds(s)


def test_dividend_when_flat_returns_none_and_records_nothing() -> None:
    account = Account(10_000, instruments=["X"])
    assert account.dividend("X", "1.00", f"{MON} 09:00") is None
    assert account.cash_events == ()
    assert account.cash == Money.of(10_000)


# -- splits ---------------------------------------------------------------------------


def test_two_for_one_split_doubles_quantity_halves_mark_keeps_basis_and_nlv() -> None:
    # 100 @ 50.00 (basis 5,000), marked 52.00 (value 5,200) -> 200 @ 26.00, value 5,200.
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", 100, "50.00", f"{FRI} 10:00"))
    account.mark("X", "52.00", f"{FRI} 16:00")
    before = account.snapshot()
    assert account.split("X", 2, f"{MON} 09:00") is None  # no fraction, no cash in lieu
    s = account.snapshot()
    pos = account.position("X")
    assert pos.quantity == 200
    assert pos.mark == Decimal("26.00")
    assert pos.avg_price == 25
    assert pos.market_value == Money.of(5200)
    assert pos.unrealized_pnl == Money.of(200)
    assert [lot.basis for lot in pos.lots] == [Money.of(5000)]
    assert (s.nlv, s.cash, s.realized_pnl) == (before.nlv, before.cash, before.realized_pnl)
    assert s.initial_margin == before.initial_margin
    assert account.cash_events == ()
    assert _identity_holds(s)


def test_three_for_two_split_odd_quantity_pays_cash_in_lieu_at_post_split_price() -> None:
    # 101 @ 30.00 (basis 3,030), marked 33.00 (value 3,333).
    # x 3/2 = 151.5 shares at 22.00: keep 151 (value 3,322) and pay 0.5 x 22.00 = 11.00.
    # The half share's basis is 3,030 x 0.5 / 151.5 = 10.00, so realized = 11 - 10 = 1.00.
    # NLV: 3,322 + 11 = 3,333, unchanged.
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", 101, "30.00", f"{FRI} 10:00"))
    account.mark("X", "33.00", f"{FRI} 16:00")
    before = account.snapshot()
    event = account.split("X", "1.5", f"{MON} 09:00")
    assert event is not None
    assert event.kind is CashEventKind.SPLIT_CASH
    assert event.amount == Money.of(11)
    pos = account.position("X")
    assert pos.quantity == 151
    assert pos.mark == Decimal("22.00")
    assert pos.market_value == Money.of(3322)
    assert pos.lots[0].basis == Money.of(3020)  # 3,030 - 10 out with the fraction
    s = account.snapshot()
    assert s.cash == before.cash + Money.of(11)
    assert s.nlv == before.nlv
    assert s.realized_pnl == Money.of(1)
    assert s.dividends == Money.of(0)
    assert account.cash_events == (event,)
    assert _identity_holds(s)


def test_reverse_split_one_for_ten_pays_cash_in_lieu() -> None:
    # 1,005 @ 2.00 (basis 2,010): / 10 = 100.5 shares at 20.00.
    # Keep 100 (value 2,000), pay 0.5 x 20.00 = 10.00; the half share's basis is
    # 2,010 x 0.5 / 100.5 = 10.00, so realized 0. NLV unchanged at 10,000.
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", 1005, "2.00", f"{FRI} 10:00"))
    event = account.split("X", "0.1", f"{MON} 09:00")
    assert event is not None
    assert event.amount == Money.of(10)
    pos = account.position("X")
    assert (pos.quantity, pos.mark) == (100, Decimal("20.00"))
    assert pos.lots[0].basis == Money.of(2000)
    s = account.snapshot()
    assert s.cash == Money.of(10_000 - 2010 + 10)
    assert s.nlv == Money.of(10_000)
    assert s.realized_pnl == Money.of(0)
    assert _identity_holds(s)


def test_reverse_split_across_two_lots_keeps_fifo_basis() -> None:
    # Lots 600 @ 1.00 and 405 @ 2.00 (basis 600 + 810), mark 2.00.
    # / 10: 60 and 40.5 -> keep 60 + 40 = 100 at 20.00; cash in lieu 0.5 x 20 = 10.00,
    # taken from the newest lot. Basis out = 1,410 x 0.5 / 100.5 = 7.0149... -> 7.01.
    # Realized 10.00 - 7.01 = 2.99.
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", 600, "1.00", f"{FRI} 10:00"))
    account.apply_fill(make_fill("X", 405, "2.00", f"{FRI} 11:00"))
    account.split("X", "0.1", f"{MON} 09:00")
    pos = account.position("X")
    assert [lot.quantity for lot in pos.lots] == [60, 40]
    assert [lot.basis for lot in pos.lots] == [Money.of(600), Money.of("802.99")]
    s = account.snapshot()
    assert s.realized_pnl == Money.of("2.99")
    assert s.nlv == Money.of(10_000 - 600 - 810 + 10 + 2000)
    assert _identity_holds(s)


def test_split_on_short_scales_liability_and_short_pays_cash_in_lieu() -> None:
    # Short 101 @ 30.00: cash 13,030, liability 101 x 33.00 = 3,333 at the mark, NLV 9,697.
    # x 3/2 = -151.5 at 22.00: keep -151 (liability 3,322) and the short pays 11.00 for
    # the half share. Its basis is -10.00, so realized = -(11 - 10) = -1.00.
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", -101, "30.00", f"{FRI} 10:00"))
    account.mark("X", "33.00", f"{FRI} 16:00")
    before = account.snapshot()
    assert before.nlv == Money.of(9697)
    event = account.split("X", 1.5, f"{MON} 09:00")
    assert event is not None
    assert event.amount == Money.of(-11)
    pos = account.position("X")
    assert pos.quantity == -151
    assert pos.market_value == Money.of(-3322)
    s = account.snapshot()
    assert s.cash == Money.of(13_019)
    assert s.nlv == Money.of(9697)
    assert s.short_capital == Money.of(3322)
    assert s.realized_pnl == Money.of(-1)
    # Short margin 50% x 3,322 = 1,661 (was 50% x 3,333 = 1,666.50).
    assert s.initial_margin == Money.of(1661)
    assert _identity_holds(s)


def test_two_for_one_split_on_short_doubles_short_quantity() -> None:
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", -100, "50.00", f"{FRI} 10:00"))
    before = account.snapshot()
    assert account.split("X", 2, f"{MON} 09:00") is None
    pos = account.position("X")
    assert (pos.quantity, pos.mark, pos.avg_price) == (-200, Decimal("25.00"), 25)
    s = account.snapshot()
    assert (s.nlv, s.cash, s.short_capital) == (before.nlv, before.cash, before.short_capital)


def test_four_for_three_split_as_fraction_is_exact() -> None:
    # 300 @ 30.00 x 4/3 = exactly 400 @ 22.50: no cash in lieu, value 9,000 unchanged.
    # (Decimal(4) / 3 = 1.333...3 would give 399.99... shares: 399 and 22.50 in lieu.)
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", 300, "30.00", f"{FRI} 10:00"))
    before = account.snapshot()
    assert account.split("X", Fraction(4, 3), f"{MON} 09:00") is None
    pos = account.position("X")
    assert (pos.quantity, pos.mark) == (400, Decimal("22.50"))
    assert pos.market_value == Money.of(9000)
    assert account.snapshot().nlv == before.nlv
    assert account.cash_events == ()


@pytest.mark.parametrize("ratio", [0, "-2", Fraction(0), Fraction(-1, 2)])
def test_split_non_positive_ratio_raises_and_changes_nothing(ratio: object) -> None:
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", 100, "30.00", f"{FRI} 10:00"))
    before = account.snapshot()
    with pytest.raises(InvalidInputError):
        account.split("X", ratio, f"{MON} 09:00")  # type: ignore[arg-type]
    assert account.snapshot() == before


def test_split_when_flat_changes_nothing() -> None:
    account = Account(10_000, instruments=["X"])
    assert account.split("X", 2, f"{MON} 09:00") is None
    assert account.cash == Money.of(10_000)
    assert account.cash_events == ()


# -- borrow fees and debit interest ---------------------------------------------------


def _short_account(rate: str | None = "0.05") -> Account:
    inst = Instrument("X", borrow_fee_rate=Decimal(rate)) if rate else Instrument("X")
    return Account(10_000, instruments=[inst, "Y"])


def test_borrow_fee_friday_to_monday_charges_three_days() -> None:
    # Short 100 X @ 50.00 = 5,000. ACT/360 at 5%: 5,000 x 0.05 x 3 / 360 = 2.0833 -> 2.08.
    account = _short_account()
    account.apply_fill(make_fill("X", -100, "50.00", f"{FRI} 10:00"))
    cash = account.cash
    account.advance(f"{MON} 09:30")
    (event,) = account.cash_events
    assert event.kind is CashEventKind.BORROW_FEE
    assert event.symbol == "X"
    assert event.amount == Money.of("-2.08")
    assert "3 day" in event.detail
    s = account.snapshot()
    assert s.fees == Money.of("2.08")
    assert s.cash == cash - Money.of("2.08")
    assert _identity_holds(s)


def test_borrow_fee_weekday_roll_charges_one_day_on_prior_close_value() -> None:
    # Short 100 @ 50.00, closes at 60.00 (value 6,000): 6,000 x 0.05 / 360 = 0.8333 -> 0.83.
    account = _short_account()
    account.apply_fill(make_fill("X", -100, "50.00", f"{MON} 10:00"))
    account.mark("X", "60.00", f"{MON} 16:00")
    account.advance(f"{TUE} 09:30")
    assert [e.amount for e in account.cash_events] == [Money.of("-0.83")]
    assert account.snapshot().fees == Money.of("0.83")


def test_borrow_fee_accrues_each_session() -> None:
    # Mon->Tue 1 day, Tue->Fri 3 days on 5,000 at 5%: 0.6944 -> 0.69, 2.0833 -> 2.08.
    account = _short_account()
    account.apply_fill(make_fill("X", -100, "50.00", f"{MON} 10:00"))
    account.advance(f"{TUE} 09:30")
    account.advance("2024-03-08 09:30")
    assert [e.amount for e in account.cash_events] == [Money.of("-0.69"), Money.of("-2.08")]
    assert account.snapshot().fees == Money.of("2.77")


def test_borrow_fee_not_charged_without_rate_or_on_longs() -> None:
    account = _short_account()
    account.apply_fill(make_fill("Y", -100, "50.00", f"{FRI} 10:00"))  # Y: no borrow rate
    account.apply_fill(make_fill("X", 100, "50.00", f"{FRI} 10:00"))  # X long: no borrow
    account.advance(f"{MON} 09:30")
    assert account.cash_events == ()
    assert account.snapshot().fees == Money.of(0)


def test_debit_interest_on_negative_cash_friday_to_monday() -> None:
    # Buy 300 @ 50.00 = 15,000 on 10,000: cash -5,000. 8% ACT/360 over 3 days:
    # 5,000 x 0.08 x 3 / 360 = 3.3333 -> 3.33.
    account = Account(10_000, instruments=["X"], debit_interest_rate="0.08")
    account.apply_fill(make_fill("X", 300, "50.00", f"{FRI} 10:00"))
    account.advance(f"{MON} 09:30")
    (event,) = account.cash_events
    assert event.kind is CashEventKind.INTEREST
    assert event.symbol is None
    assert event.amount == Money.of("-3.33")
    s = account.snapshot()
    assert s.cash == Money.of("-5003.33")
    assert s.fees == Money.of("3.33")
    assert _identity_holds(s)


def test_debit_interest_not_charged_on_positive_cash_or_at_zero_rate() -> None:
    positive = Account(10_000, instruments=["X"], debit_interest_rate="0.08")
    positive.apply_fill(make_fill("X", 100, "50.00", f"{FRI} 10:00"))
    positive.advance(f"{MON} 09:30")
    free = Account(10_000, instruments=["X"])
    free.apply_fill(make_fill("X", 300, "50.00", f"{FRI} 10:00"))
    free.advance(f"{MON} 09:30")
    assert positive.cash_events == ()
    assert free.cash_events == ()


def test_borrow_fee_and_debit_interest_both_recorded() -> None:
    # 10,000 cash; buy 300 Y @ 50 = 15,000 (cash -5,000); short 20 X @ 50 = 1,000
    # (cash -4,000). Fri->Mon, 3 days: borrow 1,000 x 5% x 3/360 = 0.4167 -> 0.42;
    # interest (after the borrow fee) on 4,000.42 x 8% x 3/360 = 2.6669 -> 2.67.
    inst = Instrument("X", borrow_fee_rate=Decimal("0.05"))
    account = Account(10_000, instruments=[inst, "Y"], debit_interest_rate="0.08")
    account.apply_fill(make_fill("Y", 300, "50.00", f"{FRI} 10:00"))
    account.apply_fill(make_fill("X", -20, "50.00", f"{FRI} 10:00"))
    account.advance(f"{MON} 09:30")
    assert [(e.kind, e.amount) for e in account.cash_events] == [
        (CashEventKind.BORROW_FEE, Money.of("-0.42")),
        (CashEventKind.INTEREST, Money.of("-2.67")),
    ]
    s = account.snapshot()
    assert s.fees == Money.of("3.09")
    assert _identity_holds(s)


# -- other fees -----------------------------------------------------------------------


def test_charge_fee_reduces_cash_and_counts_as_cost() -> None:
    account = Account(10_000, kind="cash")
    event = account.charge_fee("12.34", f"{MON} 09:00", detail="market data", symbol="X")
    assert event.kind is CashEventKind.FEE
    assert event.amount == Money.of("-12.34")
    assert (event.detail, event.symbol) == ("market data", "X")
    s = account.snapshot()
    assert s.cash == Money.of("9987.66")
    assert s.fees == Money.of("12.34")
    assert s.realized_pnl == Money.of(0)
    assert account.cash_events == (event,)
    assert _identity_holds(s)


@pytest.mark.parametrize("amount", [0, "-5", "0.005"])
def test_charge_fee_bad_amount_raises(amount: object) -> None:
    account = Account(10_000, kind="cash")
    with pytest.raises(InvalidInputError):
        account.charge_fee(amount, f"{MON} 09:00")  # type: ignore[arg-type]
    assert account.cash_events == ()


# -- settlement -----------------------------------------------------------------------


def _sell_on_friday(**kwargs: object) -> Account:
    # Thu: buy 100 @ 100.00 = 10,000 (cash 0). Fri: sell 100 @ 101.00: cash 10,100.
    account = Account(10_000, kind="cash", instruments=["X"], **kwargs)  # type: ignore[arg-type]
    account.apply_fill(make_fill("X", 100, "100.00", "2024-03-07 10:00"))
    account.apply_fill(make_fill("X", -100, "101.00", "2024-03-08 10:00"))
    assert account.cash == Money.of(10_100)
    return account


def test_t_plus_one_friday_sale_settles_monday() -> None:
    account = _sell_on_friday(settlement_days=1)
    assert account.settled_cash == Money.of(0)
    assert account.buying_power == Money.of(0)
    assert account.withdraw("0.01", "2024-03-08 11:00").reason is ReasonCode.INSUFFICIENT_CASH
    assert account.reserve("o1", "0.01").reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    account.advance("2024-03-09 12:00")  # Saturday: not a business day
    assert account.settled_cash == Money.of(0)
    account.advance("2024-03-11 09:30")  # Monday
    assert account.settled_cash == Money.of(10_100)
    assert account.buying_power == Money.of(10_100)
    s = account.snapshot()
    assert (s.cash, s.settled_cash) == (Money.of(10_100), Money.of(10_100))


def test_t_plus_one_holiday_monday_settles_tuesday() -> None:
    account = _sell_on_friday(settlement_days=1, calendar=BusinessCalendar(holidays=["2024-03-11"]))
    account.advance("2024-03-11 09:30")  # holiday Monday
    assert account.settled_cash == Money.of(0)
    assert account.buying_power == Money.of(0)
    account.advance("2024-03-12 09:30")  # Tuesday
    assert account.settled_cash == Money.of(10_100)
    assert account.buying_power == Money.of(10_100)


def test_t_plus_zero_proceeds_count_at_once() -> None:
    account = _sell_on_friday(settlement_days=0)
    assert account.settled_cash == Money.of(10_100)
    assert account.buying_power == Money.of(10_100)


def test_t_plus_one_only_sale_proceeds_are_unsettled() -> None:
    # Start 10,000; buy 50 @ 100 (cash 5,000 settled), sell 50 @ 101 (5,050 unsettled).
    account = Account(10_000, kind="cash", instruments=["X"], settlement_days=1)
    account.apply_fill(make_fill("X", 50, "100.00", "2024-03-07 10:00"))
    account.apply_fill(make_fill("X", -50, "101.00", "2024-03-07 11:00"))
    assert account.cash == Money.of(10_050)
    assert account.settled_cash == Money.of(5000)
    assert account.buying_power == Money.of(5000)
    account.advance("2024-03-08 09:30")  # Thursday's sale settles Friday
    assert account.settled_cash == Money.of(10_050)


# -- day-trade buying power -----------------------------------------------------------


def test_day_trade_buying_power_is_four_times_prior_close_equity_less_maintenance() -> None:
    # Day 1: prior-close NLV 30,000, MM 0: DTBP = 4 x 30,000 = 120,000.
    account = Account(30_000, instruments=["X"], day_trading=True)
    assert account.mode is BuyingPowerMode.DAY_TRADE
    assert account.buying_power == Money.of(120_000)
    # Opening 500 @ 100 = 50,000 uses 50,000 of it: 70,000 left.
    account.apply_fill(make_fill("X", 500, "100.00", "2024-03-07 10:00"))
    assert account.buying_power == Money.of(70_000)
    assert account.snapshot().day_trade_buying_power == Money.of(70_000)
    # Closing fills do not give day-trade buying power back.
    account.apply_fill(make_fill("X", -100, "100.00", "2024-03-07 11:00"))
    assert account.buying_power == Money.of(70_000)
    # Day 2: close NLV 30,000 (cash -10,000 + 400 x 100), MM 25% x 40,000 = 10,000:
    # DTBP = 4 x (30,000 - 10,000) = 80,000, the day's use reset to 0.
    account.advance("2024-03-08 09:30")
    s = account.snapshot()
    assert s.mode == "day_trade"
    assert s.maintenance_margin == Money.of(10_000)
    assert s.buying_power == Money.of(80_000)
    # Reservations come out of it too.
    assert account.reserve("o1", 80_000).ok
    assert account.buying_power == Money.of(0)


def test_day_trade_account_below_minimum_equity_uses_overnight_margin() -> None:
    # 24,500 < 25,000: Reg T buying power = 24,500 / 50% = 49,000.
    account = Account(24_500, instruments=["X"], day_trading=True)
    assert account.mode is BuyingPowerMode.MARGIN
    assert account.snapshot().mode == "margin"
    assert account.buying_power == Money.of(49_000)


def test_day_trade_mode_lost_when_prior_close_equity_falls_below_minimum() -> None:
    # Buy 500 @ 100 on 30,000 (cash -20,000); close at 88.00: NLV -20,000 + 44,000 = 24,000.
    # Next session: overnight margin, IM 50% x 44,000 = 22,000, BP = 2 x 2,000 = 4,000.
    account = Account(30_000, instruments=["X"], day_trading=True)
    account.apply_fill(make_fill("X", 500, "100.00", "2024-03-07 10:00"))
    account.mark("X", "88.00", "2024-03-07 16:00")
    assert account.mode is BuyingPowerMode.DAY_TRADE  # decided by the prior close
    account.advance("2024-03-08 09:30")
    assert account.mode is BuyingPowerMode.MARGIN
    assert account.buying_power == Money.of(4000)


# -- the clock ------------------------------------------------------------------------

_PAST = "2024-03-08 09:59"


def _past_events() -> list[tuple[str, Callable[[Account], object]]]:
    return [
        ("apply_fill", lambda a: a.apply_fill(make_fill("X", 1, "100.00", _PAST))),
        ("mark", lambda a: a.mark("X", "101.00", _PAST)),
        ("mark_prices", lambda a: a.mark_prices({"X": "101.00"}, _PAST)),
        ("deposit", lambda a: a.deposit(100, _PAST)),
        ("withdraw", lambda a: a.withdraw(100, _PAST)),
        ("charge_fee", lambda a: a.charge_fee(1, _PAST)),
        ("dividend", lambda a: a.dividend("X", "0.50", _PAST)),
        ("split", lambda a: a.split("X", 2, _PAST)),
        ("advance", lambda a: a.advance(_PAST)),
    ]


@pytest.mark.parametrize(("name", "event"), _past_events(), ids=[n for n, _ in _past_events()])
def test_event_before_last_event_raises_and_changes_nothing(
    name: str, event: Callable[[Account], object]
) -> None:
    inst = Instrument("X", borrow_fee_rate=Decimal("0.05"))
    account = Account(10_000, instruments=[inst])
    account.apply_fill(make_fill("X", -10, "100.00", "2024-03-07 10:00"))
    account.apply_fill(make_fill("X", 20, "100.00", "2024-03-08 10:00"))  # rolls, charges borrow
    before = account.snapshot()
    fills, events = account.fills, account.cash_events
    with pytest.raises(InvalidInputError):
        event(account)
    assert account.snapshot() == before
    assert account.fills == fills
    assert account.cash_events == events


def test_event_at_same_timestamp_as_last_event_allowed() -> None:
    account = Account(10_000, instruments=["X"])
    account.apply_fill(make_fill("X", 1, "100.00", f"{MON} 10:00"))
    account.deposit(1, f"{MON} 10:00")
    account.mark("X", "100.00", f"{MON} 10:00")
    assert account.cash == Money.of(9901)


def test_refused_withdrawal_on_new_day_still_moves_clock() -> None:
    # A refusal changes no money, but time has passed: the session rolls (charging the
    # overnight borrow fee) and later events must not be earlier than it.
    account = _short_account()
    account.apply_fill(make_fill("X", -100, "50.00", f"{FRI} 10:00"))
    before = account.snapshot()
    assert not account.withdraw(1_000_000, f"{MON} 09:30")
    after = account.snapshot()
    assert after.fees == Money.of("2.08")
    assert replace(after, timestamp=before.timestamp) != before
    assert after.withdrawals == Money.of(0)
    with pytest.raises(InvalidInputError):
        account.deposit(1, f"{FRI} 16:00")
