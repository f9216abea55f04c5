"""Busy bars that leave positions unmarked (cash accounts) against the reference loop.

In a cash account buying power does not move with prices, so a busy bar marks only the
positions with working orders; the others keep their marks until someone reads the
account (their session rolls are replayed then, the high-water mark of capital used
counted them all along), and the bar's equity and margin are filled in by the figures
model. The result must be the very one marking every position at every bar gives.
"""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from _bars import minute_sessions
from solvent.accounting.account import Account
from solvent.data import BarData
from solvent.engine import Context, Strategy, backtest
from solvent.engine.backtest import _snap_ticks, _volume_lots
from solvent.engine.runner import Runner
from solvent.execution.broker import SimulatedBroker
from solvent.model.instrument import Instrument
from test_speed_lazy import assert_same, random_panel


class BusyTrader(Strategy):
    """Holds many symbols and trades one or two of them nearly every bar.

    Every bar is busy while most positions have no order: the case where the engine
    leaves them unmarked. Reads the account now and then (which marks them all).
    """

    seed = 0
    read = 0.03
    overspend = False

    def on_start(self, ctx: Context) -> None:
        self.rng = random.Random(self.seed)

    def on_bar(self, ctx: Context) -> None:
        r = self.rng
        n = len(ctx.symbols)
        for _ in range(r.randint(0, 2)):
            j = r.randrange(n)
            if np.isnan(ctx.close[j]):
                continue
            sym = ctx.symbols[j]
            x = r.random()
            if x < 0.55:
                budget = 3_000 * r.randint(1, 4) if self.overspend else 200 * r.randint(1, 15)
                ctx.order_value(sym, Decimal(budget)) if not self.overspend else ctx.order(sym, budget // 50)
            elif x < 0.8:
                ctx.close_position(sym)
            elif x < 0.9:
                limit = Decimal(str(round(float(ctx.close[j]) * 0.99, 2)))
                ctx.order(sym, r.randint(1, 20), limit=limit, tif="DAY")
            else:
                held = ctx.position(sym)
                if held > 1:
                    ctx.order(sym, -(held // 2))
        if r.random() < self.read:
            self.seen = (ctx.account.nlv, ctx.account.snapshot().max_capital_used)
        if r.random() < 0.02:
            for view in ctx.open_orders():
                ctx.cancel(view)


CASES = [
    # seed, bars, symbols, intraday, drift, more settings
    (21, 300, 8, False, 0.002, {}),
    (22, 360, 6, True, 0.001, {}),
    (23, 300, 10, False, -0.001, {"volume_limit": None}),
    (24, 240, 5, True, 0.003, {"read": 0.0}),
    (25, 300, 6, False, 0.002, {"read": 0.2, "commission": 0.0}),
]


@pytest.mark.parametrize(("seed", "bars", "symbols", "intraday", "drift", "more"), CASES)
def test_cash_account_busy_bars_leave_positions_unmarked_identical_to_marking_every_bar(
    seed: int, bars: int, symbols: int, intraday: bool, drift: float, more: dict[str, object]
) -> None:
    data = random_panel(seed, bars, symbols, intraday=intraday, drift=drift)
    kw = {"cash": 60_000, "account": "cash", "commission": 0.001, "seed": seed, **more}
    lazy = backtest(BusyTrader, data, **kw)  # type: ignore[arg-type]
    eager = backtest(BusyTrader, data, _lazy=False, **kw)  # type: ignore[arg-type]
    assert len(eager.fills) > 50
    assert_same(lazy, eager)


def test_validation_off_loan_mid_bar_marks_everything_identical_to_reference() -> None:
    # Without validation a cash account can buy past its cash: the bar's fills leave a
    # loan, so the shortcut stops mid-bar and every position is marked after all.
    data = random_panel(26, 200, 6, intraday=False, drift=0.001)
    kw = {"cash": 20_000, "account": "cash", "seed": 26, "overspend": True, "validation": "off"}
    lazy = backtest(BusyTrader, data, **kw)  # type: ignore[arg-type]
    eager = backtest(BusyTrader, data, _lazy=False, **kw)  # type: ignore[arg-type]
    assert (eager.cash_minor < 0).any()
    assert_same(lazy, eager)


class HoldAllTradeOne(Strategy):
    """Buys every symbol, then trades the first one on every bar while the rest rally."""

    def on_bar(self, ctx: Context) -> None:
        if ctx.i == 0:
            for sym in ctx.symbols:
                ctx.order(sym, 50)
        elif ctx.i % 2:
            ctx.order(ctx.symbols[0], 1)
        else:
            ctx.close_position(ctx.symbols[0])


def _rally(n_bars: int, n_symbols: int, intraday: bool) -> BarData:
    """Return a panel rising steadily (new highs of capital used at unmarked bars)."""
    if intraday:
        stamps = minute_sessions(n_bars, 30, "2024-01-02")
    else:
        stamps = pd.bdate_range("2021-01-04", periods=n_bars).to_numpy()
    rng = np.random.default_rng(7)
    close = np.round(40.0 * np.exp(np.cumsum(rng.normal(0.004, 0.006, (n_bars, n_symbols)), axis=0)), 2)
    opens = np.round(np.vstack([close[:1], close[:-1]]) * 1.001, 2)
    high, low = np.maximum(opens, close), np.minimum(opens, close)
    vol = np.full(close.shape, 1e6)
    return BarData(stamps, [f"R{j}" for j in range(n_symbols)], opens, high, low, close, vol)


@pytest.mark.parametrize("intraday", [False, True])
def test_capital_high_water_mark_counts_unmarked_positions(intraday: bool) -> None:
    data = _rally(120, 5, intraday)
    lazy = backtest(HoldAllTradeOne, data, cash=100_000, account="cash", volume_limit=None)
    eager = backtest(HoldAllTradeOne, data, cash=100_000, account="cash", volume_limit=None, _lazy=False)
    assert_same(lazy, eager)
    # The peak is at the last bar, where only R0 had an order: the other four were
    # counted at the prices nobody marked them at.
    snap = lazy.account.snapshot()
    assert snap.max_capital_used_at == pd.Timestamp(data.timestamps[-1])
    # They were held over session closes: their lots were re-based when they were read.
    for sym in data.symbols[1:]:
        pos = lazy.account.position(sym)
        assert pos.unrealized_pnl_mtm != pos.unrealized_pnl


def test_busy_bars_leave_most_positions_unmarked() -> None:
    data = _rally(120, 5, False)
    insts = [Instrument(s) for s in data.symbols]
    broker = SimulatedBroker(Account(100_000, kind="cash", instruments=insts), volume_limit=None)
    ticks = tuple(
        _snap_ticks(getattr(data, k), data.present, insts, k) for k in ("open", "high", "low", "close")
    )
    runner = Runner(HoldAllTradeOne(), data, broker, insts, (*ticks, _volume_lots(data.volume, insts)))
    runner.run()
    assert runner.stats["busy"] == 119  # an order works at every bar but the first
    # R1..R4 went unmarked once (after the first fill) and stayed so: four positions.
    assert runner.stats["unmarked"] == 4
    assert runner.stats["model_mismatch"] == 0
