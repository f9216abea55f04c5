"""Backtrader: one ``Cerebro`` per symbol and SMA pair, set up as ``tests/test_parity_backtrader.py``.

``Cerebro(stdstats=False, cheat_on_open=True)``, ``setcommission(commission=0.001)``,
``set_checksubmit(False)``; the cross is seen in ``next()`` at bar ``i`` and the order
placed in ``next_open()`` at bar ``i + 1`` sized ``floor(cash / (open × 1.001))`` from
that bar's open, so it fills at that open (see ``docs/parity.md``).

The decisions come from ``benchmarks.signals`` (pandas rolling means), passed in as
arrays: Backtrader's own ``SMA`` sums with ``math.fsum`` and breaks exact cent-grid ties
(``fast == slow``) differently from pandas, which would move fills by design, not by
error. Passing arrays skips Backtrader's indicator machinery, which flatters its speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import backtrader as bt
import numpy as np
import numpy.typing as npt
import pandas as pd

from benchmarks.data import Dataset
from benchmarks.engines.common import CASH, COMMISSION, Outcome, cents, labels
from benchmarks.signals import decisions


class SmaCrossBt(bt.Strategy):  # type: ignore[misc]
    params = (("cross_up", None), ("cross_down", None))

    def __init__(self) -> None:
        self.up: npt.NDArray[np.bool_] = self.p.cross_up
        self.down: npt.NDArray[np.bool_] = self.p.cross_down
        self.signal = 0
        self.fills: list[tuple[tuple[int, int, int, int], float]] = []
        self.refused = 0

    def next(self) -> None:
        i = len(self) - 1
        self.signal = 0
        if self.up[i] and self.position.size == 0:
            self.signal = 1
        elif self.down[i] and self.position.size > 0:
            self.signal = -1

    def next_open(self) -> None:
        if self.signal > 0:
            size = math.floor(self.broker.getcash() / (self.data.open[0] * (1 + COMMISSION)))
            if size > 0:
                self.buy(size=size)
        elif self.signal < 0:
            self.close()
        self.signal = 0

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            # Backtrader keeps datetimes as float days: round away the microsecond noise.
            ts = pd.Timestamp(bt.num2date(order.executed.dt)).round("s").value
            side = 1 if order.isbuy() else -1
            fill = (ts, side, abs(int(order.executed.size)), cents(float(order.executed.price)))
            self.fills.append((fill, float(order.executed.comm)))
        elif order.status in (order.Margin, order.Rejected, order.Canceled):
            self.refused += 1


@dataclass
class Prepared:
    ds: Dataset
    frames: list[pd.DataFrame]


def prepare(ds: Dataset) -> Prepared:
    return Prepared(ds, [ds.frame(j) for j in range(len(ds.symbols))])


def run(p: Prepared) -> Any:
    cross_up, cross_down = decisions(p.ds.close, p.ds.pairs)
    n = len(p.frames)
    out = []
    for k in range(cross_up.shape[1]):
        cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
        cerebro.broker.setcash(float(CASH))
        cerebro.broker.setcommission(commission=COMMISSION)
        cerebro.broker.set_checksubmit(False)
        cerebro.adddata(bt.feeds.PandasData(dataname=p.frames[k % n], openinterest=None))
        cerebro.addstrategy(SmaCrossBt, cross_up=cross_up[:, k], cross_down=cross_down[:, k])
        (strat,) = cerebro.run()
        out.append((strat.fills, strat.refused, float(cerebro.broker.getvalue())))
    return out


def outcome(raw: Any, p: Prepared) -> Outcome:
    out = Outcome()
    for name, (fills, refused, value) in zip(labels(p.ds), raw, strict=True):
        if refused:
            raise AssertionError(f"{name}: backtrader refused {refused} orders")
        out.fills[name], out.commission[name] = [], []
        for fill, commission in fills:
            out.add(name, fill, commission)
        out.equity[name] = value
    return out
