"""Unmarked positions brought to a busy bar's open, and peaks of capital used found by rows.

A cash account's position left unmarked over busy bars (it had no order) is marked once
it gets one: after the bar's clock moves, re-based on the close before the last session
roll it missed and marked straight at the bar's open. A placement after quiet bars
finds the first peak of capital used over the stretch as one dot product of each bar's
prices with the held lots. Hand-worked cases, and the lazy run against the reference
that marks every position at every bar.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from _bars import minute_sessions
from solvent.data import BarData
from solvent.engine import Context, Strategy, backtest, marking
from test_speed_lazy import assert_same

KW: dict[str, object] = {"cash": 10_000, "account": "cash", "commission": 0.0, "volume_limit": None}


def _panel(stamps: np.ndarray, opens: list[list[float]], closes: list[list[float]]) -> BarData:
    o = np.array(opens, dtype=float).T
    c = np.array(closes, dtype=float).T
    return BarData(stamps, ["A", "B"], o, np.maximum(o, c), np.minimum(o, c), c, np.full(c.shape, 1e6))


class HoldATradeB(Strategy):
    """Buys 10 A and 10 B, adds 1 B every bar (A has no order), then sells all of A."""

    sell_at = 6

    def on_bar(self, ctx: Context) -> None:
        if ctx.i == 0:
            ctx.order("A", 10)
            ctx.order("B", 10)
        elif ctx.i == self.sell_at:
            ctx.close_position("A")
        elif ctx.i < self.sell_at:
            ctx.order("B", 1)


# Bar 7 gaps up: A's and B's opens (30.00) are the run's highest marks.
A_OPEN = [10, 10, 10, 11, 12, 13, 12, 30, 15]
A_CLOSE = [10, 10, 11, 12, 13, 12, 14, 15, 15]
B_OPEN = [20, 20, 20, 21, 22, 21, 22, 30, 24]
B_CLOSE = [20, 20, 21, 22, 21, 22, 23, 24, 24]


@pytest.mark.parametrize("intraday", [False, True])
def test_position_unmarked_over_missed_rolls_sold_at_gap_open_identical_to_reference(
    intraday: bool,
) -> None:
    # A is bought at bar 1 and has no order over bars 2-6 (every bar is busy with B's
    # orders): it is left unmarked through the session rolls, then sold at bar 7's open.
    stamps = (
        minute_sessions(9, 3, "2024-01-02")
        if intraday
        else pd.bdate_range("2024-01-02", periods=9).to_numpy()
    )
    data = _panel(stamps, [A_OPEN, B_OPEN], [A_CLOSE, B_CLOSE])
    lazy = backtest(HoldATradeB, data, **KW)  # type: ignore[arg-type]
    eager = backtest(HoldATradeB, data, _lazy=False, **KW)  # type: ignore[arg-type]
    assert_same(lazy, eager)
    (trade,) = [t for t in lazy.account.trades if t.symbol == "A"]
    # 10 bought at 10.00, sold at 30.00.
    assert trade.pnl.amount == Decimal("200.00")
    # Capital used peaks at bar 7's open, before A's sale fills: A 10 x 30.00 and B
    # (10 + 5 added at bars 2-6) 15 x 30.00, both counted at the open.
    snap = lazy.account.snapshot()
    assert snap.max_capital_used.amount == Decimal("750.00")
    assert snap.max_capital_used_at == pd.Timestamp(stamps[7])


def test_daily_position_sold_after_missed_rolls_mark_to_market_from_previous_close() -> None:
    stamps = pd.bdate_range("2024-01-02", periods=9).to_numpy()
    data = _panel(stamps, [A_OPEN, B_OPEN], [A_CLOSE, B_CLOSE])
    lazy = backtest(HoldATradeB, data, **KW)  # type: ignore[arg-type]
    (trade,) = [t for t in lazy.account.trades if t.symbol == "A"]
    # Daily bars: every bar opens a session, so the lots were last re-based on bar 6's
    # close, 14.00: 10 x (30.00 - 14.00) is the last session's mark-to-market P&L.
    assert trade.pnl_mtm.amount == Decimal("160.00")


class BuyBothThenWait(Strategy):
    """Buys 10 A and 10 B, does nothing for two bars, then buys 1 A."""

    def on_bar(self, ctx: Context) -> None:
        if ctx.i == 0:
            ctx.order("A", 10)
            ctx.order("B", 10)
        elif ctx.i == 4:
            ctx.order("A", 1)


@pytest.mark.parametrize("by_rows", [True, False])
def test_placement_after_quiet_bars_finds_peak_at_an_open_of_unmarked_positions(
    by_rows: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bought at bar 1's opens (10.00, 10.00): capital used 200.00. Bars 2-3 are quiet;
    # the placement at bar 4 replays the stretch: A + B at bar 2's open 200.00, its close
    # 230.00 (12 and 11, the highest closes), bar 3's open 270.00 (14 and 13), its close
    # 210.00, bar 4's open and close 210.00. The peak is bar 3's open, where nobody
    # marked either position; A's added share fills at bar 5's 11.00 (221.00).
    if not by_rows:  # as on a wide panel's long stretch: the held columns picked out
        monkeypatch.setattr(marking, "DOT_WASTE", -1)
    stamps = pd.bdate_range("2024-01-02", periods=7).to_numpy()
    a_open, a_close = [10, 10, 10, 14, 11, 11, 11], [10, 10, 12, 11, 11, 11, 11]
    b_open, b_close = [10, 10, 10, 13, 10, 10, 10], [10, 10, 11, 10, 10, 10, 10]
    data = _panel(stamps, [a_open, b_open], [a_close, b_close])
    lazy = backtest(BuyBothThenWait, data, **KW)  # type: ignore[arg-type]
    eager = backtest(BuyBothThenWait, data, _lazy=False, **KW)  # type: ignore[arg-type]
    assert_same(lazy, eager)
    snap = lazy.account.snapshot()
    assert snap.max_capital_used.amount == Decimal("270.00")
    assert snap.max_capital_used_at == pd.Timestamp(stamps[3])
    assert len(lazy.fills) == 3
