"""Parity with Backtrader (issue 4): ``examples/sma_cross.py`` against the same strategy in Backtrader.

Setting: commission 10 bps, no volume cap, cash account, 100,000 starting cash, fast=10,
slow=50, prices on the cent grid. Backtrader runs with ``cheat_on_open=True`` (the size
is computed in ``next_open`` from the fill bar's open and the broker's cash),
``setcommission(commission=0.001)`` and ``checksubmit=False``; see ``docs/parity.md``.

Every fill (timestamp, side, quantity, price) must be identical, and the final equity
must agree within half a cent per fill (solvent rounds each fill's cash to the cent,
Backtrader keeps float fractions).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import solvent
from solvent.data import BarData, sample
from solvent.execution.costs import BasisPoints

bt = pytest.importorskip("backtrader", reason="install the 'peers' extra: pip install -e '.[peers]'")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sma_cross.py"
CASH = 100_000
FAST, SLOW = 10, 50
COMMISSION = 0.001  # 10 bps


def _sma_cross() -> type[solvent.Strategy]:
    spec = importlib.util.spec_from_file_location("_parity_sma_cross", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls: type[solvent.Strategy] = module.SmaCross
    return cls


@dataclass(frozen=True)
class FillRow:
    timestamp: pd.Timestamp
    side: str
    quantity: int
    price: float


def random_walk(seed: int = 4, days: int = 1_500) -> pd.DataFrame:
    """One symbol, business days, prices on the cent grid, high/low consistent."""
    rng = np.random.default_rng(seed)
    ret = 0.0002 + 0.018 * rng.standard_normal(days)
    ret[0] = 0.0
    close = 50.0 * np.exp(np.cumsum(ret))
    prev = np.concatenate([close[:1], close[:-1]])
    open_ = prev * np.exp(0.005 * rng.standard_normal(days))
    high = np.maximum(open_, close) * np.exp(np.abs(0.008 * rng.standard_normal(days)))
    low = np.minimum(open_, close) * np.exp(-np.abs(0.008 * rng.standard_normal(days)))
    open_, close = np.round(open_, 2), np.round(close, 2)
    high = np.maximum(np.round(high, 2), np.maximum(open_, close))
    low = np.minimum(np.round(low, 2), np.minimum(open_, close))
    volume = np.round(rng.lognormal(np.log(1_000_000), 0.4, days))
    index = pd.bdate_range("2018-01-02", periods=days, name="timestamp")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def sample_first() -> pd.DataFrame:
    panel = sample()
    return panel.symbol_frame(panel.symbols[0])


def run_solvent(frame: pd.DataFrame) -> tuple[list[FillRow], float]:
    data: BarData = solvent.data.from_frame(frame, symbol="X")
    res = solvent.backtest(
        _sma_cross(),
        data,
        cash=CASH,
        account="cash",
        commission=BasisPoints(10),
        volume_limit=None,
        fast=FAST,
        slow=SLOW,
    )
    assert res.rejections.empty
    fills = [
        FillRow(pd.Timestamp(r.timestamp), str(r.side), abs(int(r.quantity)), float(r.price))
        for r in res.fills.itertuples()
    ]
    return fills, float(res.final_equity.amount)


class BtSmaCross(bt.Strategy):  # type: ignore[misc]
    """The same rules in Backtrader: the cross on closes at bar i, the order at bar i+1's open."""

    params = (("fast", FAST), ("slow", SLOW))

    def __init__(self) -> None:
        self.sma_fast = bt.indicators.SMA(self.data.close, period=self.p.fast)
        self.sma_slow = bt.indicators.SMA(self.data.close, period=self.p.slow)
        self.signal: str | None = None
        self.fills: list[FillRow] = []
        self.refused: list[Any] = []
        self.min_cash = math.inf

    def next(self) -> None:
        self.signal = None
        # Both SMAs must be defined at i-1: the slow one first is at len == slow.
        if len(self) <= self.p.slow:
            return
        up = self.sma_fast[0] > self.sma_slow[0]
        was_up = self.sma_fast[-1] > self.sma_slow[-1]
        if up and not was_up and self.position.size == 0:
            self.signal = "buy"
        elif was_up and not up and self.position.size > 0:
            self.signal = "sell"

    def next_open(self) -> None:
        # Called before the broker matches this bar: open[0] is the fill bar's open.
        if self.signal == "buy":
            size = math.floor(self.broker.getcash() / (self.data.open[0] * (1 + COMMISSION)))
            if size > 0:
                self.buy(size=size)
        elif self.signal == "sell":
            self.close()
        self.signal = None

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            # Backtrader's fill price can be a few ulps off the cent (183.78000000000003):
            # snap it, after checking it is within 1e-6 of the cent grid.
            price = float(order.executed.price)
            assert abs(price - round(price, 2)) < 1e-6, price
            self.fills.append(
                FillRow(
                    pd.Timestamp(bt.num2date(order.executed.dt)),
                    "BUY" if order.isbuy() else "SELL",
                    abs(int(order.executed.size)),
                    round(price, 2),
                )
            )
            self.min_cash = min(self.min_cash, self.broker.getcash())
        elif order.status in (order.Margin, order.Rejected, order.Canceled):
            self.refused.append(order)


def run_backtrader(frame: pd.DataFrame) -> tuple[list[FillRow], float]:
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)  # broker_coo=True by default
    cerebro.broker.setcash(float(CASH))
    cerebro.broker.setcommission(commission=COMMISSION)  # percabs=True: 0.001 is 0.1 %
    cerebro.broker.set_checksubmit(False)
    feed = bt.feeds.PandasData(dataname=frame[["open", "high", "low", "close", "volume"]], openinterest=None)
    cerebro.adddata(feed)
    cerebro.addstrategy(BtSmaCross)
    (strat,) = cerebro.run()
    assert not strat.refused
    assert strat.min_cash >= 0.0
    return strat.fills, float(cerebro.broker.getvalue())


DATASETS = {"random_walk": random_walk, "sample_first": sample_first}


@pytest.mark.parametrize("name", list(DATASETS))
def test_sma_cross_matches_backtrader(name: str) -> None:
    frame = DATASETS[name]()
    fills, equity = run_solvent(frame)
    bt_fills, bt_equity = run_backtrader(frame)
    assert fills, "the strategy should trade"
    for k, (ours, theirs) in enumerate(zip(fills, bt_fills, strict=False)):
        assert ours == theirs, f"first differing fill is #{k}: solvent {ours} vs backtrader {theirs}"
    assert len(fills) == len(bt_fills)
    bound = 0.005 * len(fills)
    diff = abs(equity - bt_equity)
    print(f"{name}: {len(fills)} fills, final equity {equity:.2f} vs {bt_equity:.6f}, |Δ| = {diff:.6f}")
    assert diff <= bound, f"|Δ equity| = {diff} > {bound}"
