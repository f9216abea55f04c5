"""backtesting.py: one ``Backtest`` per symbol and SMA pair (it trades one instrument per run).

``Backtest(frame, SmaCrossBtpy, cash=CASH, commission=0.001, trade_on_close=False,
exclusive_orders=False, hedging=False, finalize_trades=False)``: market orders fill at the
next bar's open; the strategy closes explicitly and buys only when flat, so
``exclusive_orders`` (auto-close on a new order) is not needed; open trades at the end
are valued at the last close, as in the other engines.

Sizing: ``self.buy()`` with the default ``size`` (``1 − 2.2e-16``, shown as ``.9999``) is a
fraction of available margin; at the fill ``_Broker._process_orders`` resolves it to
``int(margin_available × (1 − ε) // (open + commission(open)))``, and with no position
``margin_available`` is the cash, so the buy is ``floor(cash × (1 − ε) / (open × 1.001))``
whole shares: solvent's all-in size unless the quotient is within about 1e-15 of an
integer. The benchmark holds it to the same exact-fills rule as the other peers.

Indicators: ``self.I`` over pandas rolling means of ``Close`` (its idiom), the same
values as ``benchmarks.signals``; ``next`` starts once the slow SMA exists.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from backtesting import Backtest, Strategy

from benchmarks.data import Dataset
from benchmarks.engines.common import CASH, COMMISSION, Outcome, cents, labels


def _sma(values: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = pd.Series(values).rolling(n).mean().to_numpy()
    return out


class SmaCrossBtpy(Strategy):  # type: ignore[misc]
    fast = 10
    slow = 50

    def init(self) -> None:
        self.sma_fast = self.I(_sma, self.data.Close, self.fast)
        self.sma_slow = self.I(_sma, self.data.Close, self.slow)

    def next(self) -> None:
        f, s = self.sma_fast, self.sma_slow
        up, was_up = f[-1] > s[-1], f[-2] > s[-2]
        if up and not was_up and not self.position:
            self.buy()
        elif was_up and not up and self.position.size > 0:
            self.position.close()


@dataclass
class Prepared:
    ds: Dataset
    frames: list[pd.DataFrame]


def prepare(ds: Dataset) -> Prepared:
    frames = []
    for j in range(len(ds.symbols)):
        f = ds.frame(j)
        f.columns = ["Open", "High", "Low", "Close", "Volume"]
        frames.append(f)
    return Prepared(ds, frames)


def run(p: Prepared) -> Any:
    out = []
    with warnings.catch_warnings():
        # "Some trades remain open at the end of backtest": expected, valued at the last close.
        warnings.filterwarnings("ignore", message="Some trades remain open", category=UserWarning)
        for fast, slow in p.ds.pairs:
            for frame in p.frames:
                bt = Backtest(
                    frame,
                    SmaCrossBtpy,
                    cash=CASH,
                    commission=COMMISSION,
                    trade_on_close=False,
                    exclusive_orders=False,
                    hedging=False,
                    finalize_trades=False,
                )
                out.append(bt.run(fast=fast, slow=slow))
    return out


def outcome(raw: Any, p: Prepared) -> Outcome:
    out = Outcome()
    for name, stats in zip(labels(p.ds), raw, strict=True):
        rows: list[tuple[int, int, int, float]] = []
        for t in stats["_trades"].itertuples():  # closed round trips
            rows.append((pd.Timestamp(t.EntryTime).value, 1, int(t.Size), float(t.EntryPrice)))
            rows.append((pd.Timestamp(t.ExitTime).value, -1, int(t.Size), float(t.ExitPrice)))
        for t in stats["_strategy"].trades:  # still open at the end
            rows.append((pd.Timestamp(t.entry_time).value, 1, int(t.size), float(t.entry_price)))
        rows.sort()
        out.fills[name], out.commission[name] = [], []
        for ts, side, size, price in rows:
            # backtesting.py charges ``|size| × price × commission`` on entry and on exit.
            out.add(name, (ts, side, size, cents(price)), size * price * COMMISSION)
        out.equity[name] = float(stats["Equity Final [$]"])
    return out
