"""The runner's bookkeeping in whole-array passes and its shortcut at placements.

After the run the lots held per bar and the quiet stretches' cash and buying power are
written by ``np.repeat`` instead of a slice per change or stretch; a placement after
quiet bars skips the scan of the stretch for a new high of capital used when the run's
highest marks could not make one. Hand-worked cases, and the lazy run against the
reference that marks every bar.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pandas as pd

from solvent.data import BarData
from solvent.engine import Context, Strategy, backtest
from solvent.engine.runner import Runner
from solvent.model.records import Fill
from test_speed_lazy import assert_same


def test_positions_each_change_holds_to_the_next_last_of_a_bar_wins() -> None:
    state = SimpleNamespace(
        t=6,
        n=2,
        _lot_rows=[1, 3, 3, 5],
        _lot_values=[np.array([1, 0]), np.array([2, 0]), np.array([0, 4]), np.array([0, 0])],
    )
    out = Runner.positions(state)  # type: ignore[arg-type]
    expected = [[0, 0], [1, 0], [1, 0], [0, 4], [0, 4], [0, 0]]
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, expected)


def test_positions_no_change_all_flat() -> None:
    state = SimpleNamespace(t=3, n=2, _lot_rows=[], _lot_values=[])
    np.testing.assert_array_equal(Runner.positions(state), np.zeros((3, 2)))  # type: ignore[arg-type]


def test_write_stretches_cash_everywhere_fixed_buying_power_where_given() -> None:
    t = 10
    state = SimpleNamespace(
        t=t,
        _stretches=[(1, 3, 100, None), (5, 8, 200, 50), (9, 10, 300, 70)],
        lazy_rows=np.zeros(t, dtype=bool),
        const_bp_rows=np.zeros(t, dtype=bool),
        cash=np.full(t, -1, dtype=np.int64),  # busy bars' figures, left as they are
        bp=np.full(t, -1, dtype=np.int64),
    )
    state.lazy_rows[4] = state.const_bp_rows[4] = True  # a busy bar left unmarked
    Runner._write_stretches(state)  # type: ignore[arg-type]
    np.testing.assert_array_equal(state.cash, [-1, 100, 100, -1, -1, 200, 200, 200, -1, 300])
    np.testing.assert_array_equal(state.bp, [-1, -1, -1, -1, -1, 50, 50, 50, -1, 70])
    np.testing.assert_array_equal(state.lazy_rows, [0, 1, 1, 0, 1, 1, 1, 1, 0, 1])
    np.testing.assert_array_equal(state.const_bp_rows, [0, 0, 0, 0, 1, 1, 1, 1, 0, 1])


class PeakThenSmaller(Strategy):
    """Holds 10 shares through a new high, then 5 shares below it (cash account)."""

    def on_bar(self, ctx: Context) -> None:
        sym = ctx.symbols[0]
        if ctx.i in (0, 5):
            ctx.order(sym, 10 if ctx.i == 0 else 5)
        elif ctx.i in (3, 8):
            ctx.close_position(sym)


def test_placement_after_quiet_bars_high_water_mark_scanned_only_when_it_can_move() -> None:
    # Opens equal closes. Bought 10 at bar 1's 10.00 (capital used 120.00 at its close
    # of 12.00); bars 2-3 quiet, the close is placed at bar 3: the panel's high, 15.00,
    # could beat 120.00 (10 x 15.00 = 150.00), so the stretch is scanned: the peak is
    # bar 2's close. Then 5 bought at bar 6, closed from bar 8: 5 x 15.00 = 75.00 cannot
    # beat 150.00 and the stretch is not scanned; the mark stays where it was.
    stamps = pd.bdate_range("2024-01-02", periods=10).to_numpy()
    closes = np.array([10, 12, 15, 13, 11, 11, 14, 14.5, 14, 14], dtype=float)[:, None]
    opens = np.vstack([closes[:1], closes[:-1]])
    data = BarData(
        stamps,
        ["AAA"],
        opens,
        np.maximum(opens, closes),
        np.minimum(opens, closes),
        closes,
        np.full(closes.shape, 1e6),
    )
    kw = {"cash": 1_000, "account": "cash", "volume_limit": None}
    lazy = backtest(PeakThenSmaller, data, **kw)  # type: ignore[arg-type]
    eager = backtest(PeakThenSmaller, data, _lazy=False, **kw)  # type: ignore[arg-type]
    assert_same(lazy, eager)
    snap = lazy.account.snapshot()
    assert snap.max_capital_used.amount == Decimal("150.00")
    assert snap.max_capital_used_at == pd.Timestamp(stamps[2])
    assert len(lazy.fills) == 4


class CancelAfterFill(Strategy):
    """Buys 10 at market and works a low limit; cancels the limit on the fill's bar."""

    def on_bar(self, ctx: Context) -> None:
        sym = ctx.symbols[0]
        if ctx.i == 0:
            ctx.order(sym, 10)
            self.low = ctx.order(sym, 10, limit=5)

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        ctx.cancel(self.low)  # releases the limit's reservation after the bar was recorded


def test_quiet_bars_after_a_cancel_in_on_fill_see_the_released_reservation() -> None:
    # The fill's bar records the figures with the limit's 50.00 (+ cost) still reserved;
    # the cancel in ``on_fill`` releases it before the quiet bars that follow, whose
    # buying power must be the cash again: 1,000.00 - 10 x 10.00 = 900.00.
    stamps = pd.bdate_range("2024-01-02", periods=8).to_numpy()
    px = np.full((8, 1), 10.0)
    data = BarData(stamps, ["AAA"], px, px, px, px, np.full(px.shape, 1e6))
    kw = {"cash": 1_000, "account": "cash", "volume_limit": None}
    lazy = backtest(CancelAfterFill, data, **kw)  # type: ignore[arg-type]
    eager = backtest(CancelAfterFill, data, _lazy=False, **kw)  # type: ignore[arg-type]
    assert_same(lazy, eager)
    assert lazy.orders["status"].tolist() == ["filled", "cancelled"]
    assert lazy.margin_minor["buying_power"][1] < 90_000  # the fill's bar: still reserved
    np.testing.assert_array_equal(lazy.margin_minor["buying_power"][2:], 90_000)
