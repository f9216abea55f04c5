"""The Pattern Day Trader rule: counting, the rolling window, ``block`` and ``downgrade``.

Hourly bars at a flat 100.00 and no commission, so every round trip leaves NLV where
it was. One day trade per session: buy 10 after the 09:30 bar (fills 10:30), sell 10
after the 10:30 bar (fills 11:30). January 2024: Monday 8th to Thursday 11th are four
sessions in a row; Monday 15th is five business days after Monday 8th.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from _bars import flat
from solvent import Account, BusinessCalendar, Money, SimulatedBroker
from solvent.errors import InvalidInputError
from solvent.execution.broker import OrderView
from solvent.model.orders import OrderStatus
from solvent.model.records import ReasonCode
from solvent.risk import DayTradeCounter, PdtPolicy


def at(d: int, hour: int) -> pd.Timestamp:
    """Return 2024-01-``d`` at ``hour``:30."""
    return pd.Timestamp(2024, 1, d, hour, 30)


def step(broker: SimulatedBroker, ts: pd.Timestamp) -> None:
    broker.on_bar(ts, {"X": flat(ts, "100")})


def day_trade(broker: SimulatedBroker, d: int) -> OrderView:
    """Open and close 10 X in session ``d``; return the closing order as it ends up."""
    step(broker, at(d, 9))
    broker.submit("X", 10, at(d, 9))
    step(broker, at(d, 10))
    assert broker.account.quantity("X") == 10
    sell = broker.submit("X", -10, at(d, 10))
    step(broker, at(d, 11))
    return broker.view(sell.order_id)


def _broker(cash: int, pdt: str | None = "block", **kwargs: object) -> SimulatedBroker:
    kind = str(kwargs.pop("kind", "margin"))
    day_trading = bool(kwargs.pop("day_trading", False))
    acct = Account(cash, kind=kind, instruments=["X"], pdt=pdt, day_trading=day_trading)
    broker = SimulatedBroker(acct, **kwargs)  # type: ignore[arg-type]
    broker.observe_close("X", 10_000)
    return broker


# -- counting -------------------------------------------------------------------------------


MON = date(2024, 1, 8)


def _count(fills: list[tuple[int, int]]) -> int:
    """Feed ``(position before, fill)`` pairs for one symbol in one session."""
    counter = DayTradeCounter(BusinessCalendar())
    for pos, qty in fills:
        counter.record("X", MON, pos, qty)
    return counter.count(MON)


@pytest.mark.parametrize(
    ("fills", "expected"),
    [
        ([(0, 100), (100, -100)], 1),  # buy, sell
        ([(0, 100), (100, 100), (200, -200)], 1),  # buy, buy, sell all
        ([(0, 100), (100, -50), (50, -50)], 1),  # buy, sell half, sell half: one sequence
        ([(0, 100), (100, -100), (0, 100), (100, -100)], 2),  # two round trips
        ([(0, -100), (-100, 100)], 1),  # a short sale covered the same session
        ([(0, 100), (100, -200), (-100, 100)], 2),  # buy, flip short, cover
        ([(100, -100)], 0),  # sold a position held overnight
        ([(100, -50), (50, 50)], 0),  # sold some overnight shares, then bought: no close after
        ([(100, 100), (200, -100)], 1),  # added today, then sold: a day trade
    ],
)
def test_day_trades_are_counted_by_open_then_close_sequences(
    fills: list[tuple[int, int]], expected: int
) -> None:
    assert _count(fills) == expected


def test_opening_in_one_session_and_closing_in_the_next_is_not_a_day_trade() -> None:
    counter = DayTradeCounter(BusinessCalendar())
    counter.record("X", MON, 0, 100)
    assert not counter.record("X", date(2024, 1, 9), 100, -100)
    assert counter.count(date(2024, 1, 9)) == 0


def test_window_is_five_business_days_skipping_weekends_and_holidays() -> None:
    counter = DayTradeCounter(BusinessCalendar())
    counter.record("X", MON, 0, 1)
    counter.record("X", MON, 1, -1)
    assert counter.count(date(2024, 1, 12)) == 1  # Friday: Mon..Fri is 5 business days
    assert counter.count(date(2024, 1, 13)) == 1  # Saturday: still Mon..Fri
    assert counter.count(date(2024, 1, 15)) == 0  # next Monday: Mon 8th is the 6th
    holiday = DayTradeCounter(BusinessCalendar(["2024-01-12"]))
    holiday.record("X", MON, 0, 1)
    holiday.record("X", MON, 1, -1)
    assert holiday.count(date(2024, 1, 15)) == 1  # Friday was no business day
    assert holiday.count(date(2024, 1, 16)) == 0


def test_unknown_policy_raises_and_off_means_none() -> None:
    with pytest.raises(InvalidInputError, match="pdt"):
        Account(1000, pdt="strict")
    assert Account(1000, pdt="off").pdt_policy is None
    assert Account(1000).pdt_policy is PdtPolicy.BLOCK


# -- downgrade: $24,500 ---------------------------------------------------------------------


def test_downgrade_four_day_trades_restrict_to_cash_then_lift_five_business_days_later() -> None:
    broker = _broker(24_500, pdt="downgrade")
    acct = broker.account
    for d in (8, 9, 10):
        day_trade(broker, d)
    s = acct.snapshot()
    assert (s.day_trades, s.pdt_restricted, s.mode) == (3, False, "margin")
    assert s.buying_power == Money.of(49_000)  # Reg T: 2 x 24,500
    sell = day_trade(broker, 11)  # the 4th goes through under downgrade
    assert sell.status is OrderStatus.FILLED and acct.quantity("X") == 0
    s = acct.snapshot()
    assert (s.day_trades, s.pattern_day_trader, s.pdt_restricted, s.mode) == (4, True, True, "cash")
    assert s.buying_power == Money.of(24_500)  # cash buying power: the cash, not 2x
    # An order above the cash is cut to what the cash buys, in full: 245 x 100 = 24,500.
    big = broker.submit("X", 300, at(11, 11))
    assert big.quantity == 245
    broker.cancel(big.order_id, at(11, 11))
    step(broker, at(12, 9))  # Friday: Mon..Fri still holds all four
    assert acct.snapshot().pdt_restricted
    step(broker, at(15, 9))  # Monday 15th: Monday 8th left the window
    s = acct.snapshot()
    assert (s.day_trades, s.pdt_restricted, s.mode) == (3, False, "margin")
    assert s.buying_power == Money.of(49_000)


def test_downgrade_restriction_with_a_holiday_lifts_one_business_day_later() -> None:
    broker = _broker(24_500, pdt="downgrade", holidays=["2024-01-12"])
    for d in (8, 9, 10, 11):
        day_trade(broker, d)
    step(broker, at(15, 9))  # Friday 12th was a holiday: Mon 8th is still in the window
    assert broker.account.snapshot().pdt_restricted
    step(broker, at(16, 9))
    assert not broker.account.snapshot().pdt_restricted


def test_downgrade_restriction_lifts_when_equity_reaches_25000() -> None:
    broker = _broker(24_500, pdt="downgrade")
    acct = broker.account
    for d in (8, 9, 10, 11):
        day_trade(broker, d)
    acct.deposit(600, at(11, 12))
    assert acct.snapshot().pdt_restricted  # equity is the prior close: 24,500
    step(broker, at(12, 9))  # prior close 25,100: a pattern day trader with the equity
    s = acct.snapshot()
    assert (s.pdt_restricted, s.pattern_day_trader, s.mode) == (False, True, "margin")


# -- block: $24,500 -------------------------------------------------------------------------


def test_block_refuses_the_order_completing_a_fourth_day_trade_and_the_position_stays() -> None:
    broker = _broker(24_500)  # block is the default
    acct = broker.account
    for d in (8, 9, 10):
        assert day_trade(broker, d).status is OrderStatus.FILLED
    s = acct.snapshot()
    assert (s.day_trades, s.pdt_restricted, s.pdt_policy) == (3, True, "block")
    step(broker, at(11, 9))
    broker.submit("X", 10, at(11, 9))
    step(broker, at(11, 10))
    sell = broker.submit("X", -10, at(11, 10))
    assert (sell.status, sell.reason) == (OrderStatus.REJECTED, ReasonCode.PDT_RESTRICTED)
    assert "day trade #4" in broker.rejections[-1].detail
    step(broker, at(11, 11))
    assert acct.quantity("X") == 10  # still open
    assert acct.snapshot().day_trades == 3
    # Adding to the position is no day trade: accepted.
    add = broker.submit("X", 5, at(11, 11))
    assert add.status is OrderStatus.ACCEPTED
    broker.cancel(add.order_id, at(11, 11))
    # Friday: the shares were bought on Thursday, so selling them is no day trade.
    step(broker, at(12, 9))
    friday = broker.submit("X", -10, at(12, 9))
    assert friday.status is OrderStatus.ACCEPTED
    step(broker, at(12, 10))
    assert acct.quantity("X") == 0
    assert acct.snapshot().day_trades == 3


def test_block_does_not_apply_to_cash_accounts_or_when_off() -> None:
    for broker in (_broker(24_500, kind="cash"), _broker(24_500, pdt=None)):
        for d in (8, 9, 10, 11):
            assert day_trade(broker, d).status is OrderStatus.FILLED
        s = broker.account.snapshot()
        assert (s.day_trades, s.pdt_restricted) == (4, False)


def test_broker_pdt_setting_overrides_the_account_and_default_keeps_it() -> None:
    acct = Account(24_500, instruments=["X"], pdt="downgrade")
    SimulatedBroker(acct)
    assert acct.pdt_policy is PdtPolicy.DOWNGRADE
    SimulatedBroker(acct, pdt=None)
    assert acct.pdt_policy is None


# -- $30,000 --------------------------------------------------------------------------------


@pytest.mark.parametrize("pdt", ["block", "downgrade"])
def test_30000_account_day_trades_freely_with_day_trade_buying_power(pdt: str) -> None:
    broker = _broker(30_000, pdt=pdt, day_trading=True)
    acct = broker.account
    for d in (8, 9, 10, 11):
        assert day_trade(broker, d).status is OrderStatus.FILLED
    s = acct.snapshot()
    assert (s.day_trades, s.pattern_day_trader, s.pdt_restricted, s.mode) == (4, True, False, "day_trade")
    # Hold 100 X over Thursday's close: MM 25% x 10,000 = 2,500.
    broker.submit("X", 100, at(11, 11))
    step(broker, at(11, 12))
    assert acct.snapshot().maintenance_margin == Money.of(2_500)
    acct.advance(at(12, 9))  # Friday's session opens
    s = acct.snapshot()
    # 4 x (prior-close NLV - prior-close MM) = 4 x (30,000 - 2,500) = 110,000.
    assert s.day_trade_buying_power == Money.of(110_000)
    assert s.buying_power == Money.of(110_000)
    assert s.mode == "day_trade"
