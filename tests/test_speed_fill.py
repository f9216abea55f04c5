"""The fill path's shortcuts against the reference loop and against their own contracts.

Placing an order after quiet bars in a cash account leaves every held position unmarked
(only the clock, the session roll and the high-water mark of capital used are replayed),
and the broker's last prices are written only when it reads them (``LastCloses``). The
results must be the very ones marking every position at every bar gives.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from _bars import minute_sessions
from solvent.accounting.account import Account
from solvent.data import BarData
from solvent.engine import Context, Strategy, backtest
from solvent.engine.backtest import _snap_ticks, _volume_lots
from solvent.engine.last_closes import LastCloses
from solvent.engine.runner import Runner
from solvent.errors import InvalidInputError
from solvent.execution.broker import SimulatedBroker
from solvent.execution.costs import SlippageModel
from solvent.model.bar import Bar
from solvent.model.calendar import DEFAULT_CALENDAR
from solvent.model.instrument import Instrument
from solvent.risk.pdt import DayTradeCounter
from test_speed_lazy import assert_same


class HoldAllPlaceSparse(Strategy):
    """Buys every symbol, then every 7th bar trades one symbol in turn while the rest rally."""

    def on_bar(self, ctx: Context) -> None:
        i, n = ctx.i, len(ctx.symbols)
        if i == 0:
            for sym in ctx.symbols:
                ctx.order(sym, 40)
        elif i % 7 == 0:
            sym = ctx.symbols[(i // 7) % n]
            if ctx.position(sym) > 0 and (i // 7) % 2:
                ctx.close_position(sym)
            else:
                ctx.order_value(sym, ctx.account.cash.amount // 4)  # whole dollars


def _rally(n_bars: int, n_symbols: int, intraday: bool, seed: int) -> BarData:
    """Return a rising panel with holes: new highs of capital used fall on quiet bars."""
    if intraday:  # sessions of 20 one-minute bars
        stamps = minute_sessions(n_bars, 20, "2024-01-02")
    else:
        stamps = pd.bdate_range("2021-01-04", periods=n_bars).to_numpy()
    rng = np.random.default_rng(seed)
    close = np.round(30.0 * np.exp(np.cumsum(rng.normal(0.003, 0.01, (n_bars, n_symbols)), axis=0)), 2)
    opens = np.round(np.vstack([close[:1], close[:-1]]) * (1 + rng.normal(0, 0.003, close.shape)), 2)
    present = rng.random(close.shape) > 0.15
    present[0] = True
    nan = np.where(present, 1.0, np.nan)
    high, low = np.maximum(opens, close), np.minimum(opens, close)
    vol = np.where(present, 1e6, 0.0)
    symbols = [f"U{j}" for j in range(n_symbols)]
    return BarData(stamps, symbols, opens * nan, high * nan, low * nan, close * nan, vol)


@pytest.mark.parametrize(
    ("intraday", "seed", "symbols"), [(False, 1, 6), (True, 2, 6), (False, 3, 6), (False, 4, 1), (True, 5, 1)]
)
def test_cash_account_placements_after_quiet_bars_identical_to_marking_every_bar(
    intraday: bool, seed: int, symbols: int
) -> None:
    data = _rally(240, symbols, intraday, seed)
    kw: dict[str, object] = {"cash": 50_000, "account": "cash", "commission": 0.001, "volume_limit": None}
    lazy = backtest(HoldAllPlaceSparse, data, **kw)  # type: ignore[arg-type]
    eager = backtest(HoldAllPlaceSparse, data, _lazy=False, **kw)  # type: ignore[arg-type]
    assert len(eager.fills) > 5 * symbols
    assert_same(lazy, eager)
    # Lots held over session closes were re-based when they were next read or traded.
    assert any(t.pnl_mtm != t.pnl for t in lazy.account.trades)


def test_cash_account_placement_leaves_held_positions_unmarked() -> None:
    data = _rally(240, 6, False, 1)
    insts = [Instrument(s) for s in data.symbols]
    broker = SimulatedBroker(Account(50_000, kind="cash", instruments=insts), volume_limit=None)
    ticks = tuple(
        _snap_ticks(getattr(data, k), data.present, insts, k) for k in ("open", "high", "low", "close")
    )
    runner = Runner(HoldAllPlaceSparse(), data, broker, insts, (*ticks, _volume_lots(data.volume, insts)))
    runner.run()
    # A placement after a quiet stretch leaves the positions without orders as they were
    # (marking them all there, then unmarking them at the next busy bar, went 125 times).
    assert runner.stats["quiet"] > 150
    assert runner.stats["unmarked"] == 30  # once per position each time a trade marked it


def test_last_closes_written_from_the_row_on_first_read() -> None:
    last = LastCloses({"A": 0, "B": 1, "C": 2}, {"C": 77})  # C: a seed price (observe_close)
    last.catch_up(np.array([101, 0, 0]))
    assert dict(last) == {"C": 77}  # nothing written until read
    assert last.get("A") == 101
    assert last.get("B") is None  # no bar yet: still no price
    assert last.get("C") == 77  # a row's 0 leaves the entry as it was
    last.update({"A": 105})  # the broker's own write (a bar's close) is newer
    assert last.get("A") == 105
    last.catch_up(np.array([110, 202, 303]))
    last["B"] = 101  # a split divided B's price after the catch-up
    assert (last.get("A"), last.get("B"), last.get("C")) == (110, 101, 303)
    assert last.get("Z", 5) == 5
    last.catch_up(np.array([120, 0, 0]))
    assert "A" in last and last["A"] == 120 and last["B"] == 101  # a 0 keeps what was there


def test_pdt_counter_close_from_earlier_session_counts_nothing_and_keeps_count() -> None:
    counter = DayTradeCounter(DEFAULT_CALENDAR)
    monday, tuesday = date(2024, 1, 8), date(2024, 1, 9)
    assert not counter.record("A", monday, 0, 10)
    assert not counter.record("A", tuesday, 10, -4)  # held overnight: not a day trade
    assert not counter.would_count("A", tuesday, 6, -6)
    assert not counter.record("A", tuesday, 6, 5)
    assert counter.would_count("A", tuesday, 11, -1)
    assert counter.record("A", tuesday, 11, -11)  # closes what Tuesday opened: one
    assert counter.count(tuesday) == 1


# -- round 2: the ledger's engine entry and the re-base of an unmarked position -------------


class _PriceZero(SlippageModel):
    """A broken slippage model: fills at zero ticks."""

    def fill_price(self, instrument: Instrument, side: int, price_ticks: int, lots: int, bar: Bar) -> int:
        return 0


def test_broken_slippage_price_zero_raises_naming_fill_price_and_books_nothing() -> None:
    # The broker books its own fills past ``Account.book``'s checks (``_book_exact``); a
    # price a model put under one tick must still be refused by them, naming the field.
    acct = Account(10_000, instruments=["A"])
    broker = SimulatedBroker(acct, slippage=_PriceZero())
    t0, t1 = pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")
    broker.on_bar(t0, {"A": Bar(t0, 10_000, 10_000, 10_000, 10_000, 1_000)})
    broker.submit("A", 5, t0)
    with pytest.raises(InvalidInputError, match=r"A\.fill\.price"):
        broker.on_bar(t1, {"A": Bar(t1, 10_000, 10_100, 9_900, 10_050, 1_000)})
    assert acct.position_lots("A") == 0
    assert acct.figures_minor().cash == 1_000_000
    assert broker.fills == []


def _two_lot_account() -> Account:
    # Ticks of 0.0001 dollar on cents: each lot's value is rounded on its own (k_den 100).
    inst = Instrument("X", tick_size=Decimal("0.0001"))
    acct = Account(100_000, instruments=[inst])
    t0 = pd.Timestamp("2024-01-02 10:00")
    acct.book("X", 3, 1_000_005, 0, 0, t0)  # 3 at 100.0005
    acct.book("X", 7, 1_000_015, 0, 0, t0)  # 7 at 100.0015
    return acct


def test_restate_after_missed_rolls_same_as_marking_every_close() -> None:
    # Closes of days 1..4; every session roll re-bases both lots on the previous close.
    closes = [1_010_003, 995_007, 1_020_011, 1_003_009]
    days = [pd.Timestamp(f"2024-01-0{d} 10:00") for d in (3, 4, 5, 8)]
    marked = _two_lot_account()
    for ts, c in zip(days, closes, strict=True):
        marked.advance(ts)
        marked.mark_ticks({"X": c}, ts)
    unmarked = _two_lot_account()
    for ts in days:
        unmarked.advance(ts)  # the rolls pass the position by, on its entry mark
    # Re-based on the close before the last roll, then marked: one step, as the runner does.
    unmarked._restate("X", closes[-2], closes[-1])
    a, b = marked._positions["X"], unmarked._positions["X"]
    assert (b.realized_mtm, b.unrealized_mtm, b.market_value) == (
        a.realized_mtm,
        a.unrealized_mtm,
        a.market_value,
    )
    assert [lot.mark_basis for lot in b.lots] == [lot.mark_basis for lot in a.lots]
    assert unmarked.snapshot().positions == marked.snapshot().positions
    # Hand-worked: the last roll's basis is each lot at 102.0011 (3 -> 306.0033 = 306.00,
    # 7 -> 714.0077 = 714.01); at 100.3009 the 10 are worth 1003.009 = 1003.01, 17.00 under it.
    assert [lot.mark_basis for lot in a.lots] == [30_600, 71_401]
    assert a.market_value == 100_301 and a.unrealized_mtm == -1_700
