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

import math
from typing import Any

import pandas as pd
import pytest

from _parity import CASH, COMMISSION, DATASETS, FAST, SLOW, FillRow, assert_same_fills, run_solvent
from solvent.execution.costs import BasisPoints

bt = pytest.importorskip("backtrader", reason="install the 'peers' extra: pip install -e '.[peers]'")


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


@pytest.mark.parametrize("name", list(DATASETS))
def test_sma_cross_matches_backtrader(name: str) -> None:
    frame = DATASETS[name]()
    assert_same_fills(name, "backtrader", run_solvent(frame, BasisPoints(10)), run_backtrader(frame))
