"""The lazy engine against the reference loop: same fills, same ledger, same figures.

``backtest(..., _lazy=False)`` marks the ledger at every bar's open and close and builds
every symbol's bar, as the first engine did. The default leaves quiet bars to the
strategy alone, replays their marks where they leave a trace (session rolls, the
high-water mark of capital used) and fills their figures in after the run. Random
strategies on random panels (several symbols with missing bars, intraday sessions,
dividends and a split, rising and falling stretches, cash and margin accounts, shorts)
must give the very same result either way, field by field.
"""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from _bars import minute_sessions
from solvent.data import BarData
from solvent.engine import Context, Strategy, backtest
from solvent.engine.backtest import Result
from solvent.engine.runner import Runner


def random_panel(seed: int, n_bars: int, n_symbols: int, *, intraday: bool, drift: float) -> BarData:
    """Return a cent-grid random walk with holes, zero-volume bars, a dividend and a split."""
    rng = np.random.default_rng(seed)
    if intraday:  # sessions of 60 one-minute bars
        stamps = minute_sessions(n_bars, 60, "2024-01-02")
    else:
        stamps = pd.bdate_range("2020-01-02", periods=n_bars).to_numpy()
    steps = rng.normal(drift, 0.01, (n_bars, n_symbols))
    close = np.round(50.0 * np.exp(np.cumsum(steps, axis=0)), 2)
    opens = np.round(np.vstack([close[:1], close[:-1]]) * (1 + rng.normal(0, 0.002, close.shape)), 2)
    high = np.round(np.maximum(opens, close) * (1 + np.abs(rng.normal(0, 0.003, close.shape))), 2)
    low = np.round(np.minimum(opens, close) * (1 - np.abs(rng.normal(0, 0.003, close.shape))), 2)
    volume = rng.integers(0, 5_000, close.shape).astype(float)
    volume[rng.random(close.shape) < 0.05] = 0.0
    present = rng.random(close.shape) > 0.1
    present[0] = True
    nan = np.where(present, 1.0, np.nan)
    dividend = np.zeros(close.shape)
    split = np.ones(close.shape)
    dividend[n_bars // 3, 0] = 0.25
    present[n_bars // 3, 0] = True
    if n_symbols > 1:
        split[n_bars // 2, 1] = 2.0
        present[n_bars // 2, 1] = True
        for a in (opens, high, low, close):
            a[n_bars // 2 :, 1] = np.round(a[n_bars // 2 :, 1] / 2, 2)
    low = np.minimum(low, np.minimum(opens, close))
    high = np.maximum(high, np.maximum(opens, close))
    return BarData(
        stamps, [f"S{j}" for j in range(n_symbols)], opens * nan, high * nan, low * nan, close * nan,
        np.where(present, volume, 0.0), dividend=dividend, split=split,
    )  # fmt: skip


class RandomTrader(Strategy):
    """Trades at random, sparsely, and reads the account at random (forcing the ledger up to date)."""

    seed = 0
    rate = 0.02
    shorts = False

    def on_start(self, ctx: Context) -> None:
        self.rng = random.Random(self.seed)

    def on_bar(self, ctx: Context) -> None:
        r = self.rng
        for j, sym in enumerate(ctx.symbols):
            x, size = r.random(), r.randint(1, 40)
            if np.isnan(ctx.close[j]):
                continue
            if x < self.rate:
                ctx.order_value(sym, Decimal(500 * size))
            elif x < 2 * self.rate:
                ctx.close_position(sym)
            elif x < 2.5 * self.rate:
                limit = Decimal(str(round(float(ctx.close[j]) * 0.995, 2)))
                ctx.order(sym, size, limit=limit, tif="DAY")
            elif x < 3 * self.rate and self.shorts:
                ctx.order(sym, -size)
            elif x < 3.2 * self.rate:
                ctx.order(sym, size, type="market_on_close")
        if r.random() < 0.05:
            self.seen = (ctx.account.nlv, ctx.account.buying_power)
        if r.random() < 0.02:
            for view in ctx.open_orders():
                ctx.cancel(view)


def assert_same(lazy: Result, eager: Result) -> None:
    """Assert every output of the two runs is the same."""
    for name in ("equity_minor", "cash_minor"):
        np.testing.assert_array_equal(getattr(lazy, name), getattr(eager, name), err_msg=name)
    for key, values in eager.margin_minor.items():
        np.testing.assert_array_equal(lazy.margin_minor[key], values, err_msg=key)
    for name in ("orders", "fills", "trades", "rejections", "positions", "events"):
        pd.testing.assert_frame_equal(getattr(lazy, name), getattr(eager, name), obj=name)
    assert lazy.account.snapshot() == eager.account.snapshot()
    assert lazy.account.cash_events == eager.account.cash_events
    assert lazy.account.fills == eager.account.fills
    for sym in lazy.positions.columns:
        assert lazy.account.position(sym) == eager.account.position(sym)
    assert lazy.metrics == eager.metrics or str(lazy.metrics) == str(eager.metrics)


CASES = [
    # seed, bars, symbols, intraday, drift, account, shorts, more settings
    (1, 400, 3, False, 0.002, "cash", False, {}),
    (2, 400, 3, False, -0.001, "margin", False, {"check_extremes": True}),
    (3, 360, 2, True, 0.001, "margin", False, {"pdt": None}),
    (4, 360, 2, True, 0.0005, "margin", True, {}),
    (5, 300, 1, False, 0.004, "margin", False, {"pdt": None, "volume_limit": None}),
    (6, 300, 4, True, -0.0005, "cash", False, {"fill_timing": "same_bar_close"}),
    (7, 300, 2, False, 0.002, "margin", True, {"fill_timing": "same_bar_close", "pdt": "downgrade"}),
]


@pytest.mark.parametrize(("seed", "bars", "symbols", "intraday", "drift", "account", "shorts", "more"), CASES)
def test_lazy_engine_random_trading_identical_to_marking_every_bar(
    seed: int,
    bars: int,
    symbols: int,
    intraday: bool,
    drift: float,
    account: str,
    shorts: bool,
    more: dict[str, object],
) -> None:
    data = random_panel(seed, bars, symbols, intraday=intraday, drift=drift)
    kw = {"cash": 50_000, "account": account, "commission": 0.001, "seed": seed, "shorts": shorts, **more}
    lazy = backtest(RandomTrader, data, **kw)  # type: ignore[arg-type]
    eager = backtest(RandomTrader, data, _lazy=False, **kw)  # type: ignore[arg-type]
    assert len(eager.fills) > 10
    assert_same(lazy, eager)


class HoldRising(Strategy):
    """Buys every symbol once, holds through a rally (new highs of capital used while
    no order works), sells one, and reads the account only now and then."""

    def on_bar(self, ctx: Context) -> None:
        if ctx.i == 1:
            for sym in ctx.symbols:
                ctx.order(sym, 100)
        elif ctx.i == 150:
            ctx.close_position(ctx.symbols[0])
        elif ctx.i % 97 == 0:
            self.nlv = ctx.account.nlv


@pytest.mark.parametrize("intraday", [False, True])
def test_lazy_engine_capital_high_water_mark_and_session_rolls_replayed(intraday: bool) -> None:
    data = random_panel(11, 300, 2, intraday=intraday, drift=0.003)
    lazy = backtest(HoldRising, data, cash=100_000)
    eager = backtest(HoldRising, data, cash=100_000, _lazy=False)
    assert_same(lazy, eager)
    snap = lazy.account.snapshot()
    # The high-water mark was set on a bar nobody marked in the lazy run.
    assert snap.max_capital_used_at is not None and snap.max_capital_used_at > pd.Timestamp(
        data.timestamps[2]
    )
    assert any(t.pnl_mtm != t.pnl for t in lazy.account.trades)  # held over session closes


def test_lazy_engine_leaves_most_bars_unmarked_and_its_model_never_disagrees() -> None:
    data = random_panel(5, 300, 2, intraday=False, drift=0.002)
    strat = HoldRising()
    from solvent.accounting.account import Account
    from solvent.engine.backtest import _snap_ticks, _volume_lots
    from solvent.execution.broker import SimulatedBroker
    from solvent.model.instrument import Instrument

    insts = [Instrument(s) for s in data.symbols]
    broker = SimulatedBroker(Account(100_000, instruments=insts))
    ticks = tuple(
        _snap_ticks(getattr(data, k), data.present, insts, k) for k in ("open", "high", "low", "close")
    )
    runner = Runner(strat, data, broker, insts, (*ticks, _volume_lots(data.volume, insts)))
    runner.run()
    assert runner.stats["model_mismatch"] == 0
    # Busy: the two order bars, the dividend and split bars; everything else is quiet.
    assert runner.stats["busy"] <= 6 and runner.stats["quiet"] >= 290
