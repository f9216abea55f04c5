"""SMA crossover, long-only, all-in on the first symbol of the data.

Run it::

    solvent backtest examples/sma_cross.py --data sample --commission-bps 10
    solvent backtest examples/sma_cross.py --data sample --param fast=20 --param slow=100

On a cross-up (fast SMA above slow SMA) the strategy buys all-in at the next bar's
open: ``ctx.order_value(sym, cash)`` is sized at the fill, the most whole shares whose
value plus commission fits in the cash (``floor(cash / (open × 1.001))`` with 10 bps,
as VectorBT and Backtrader size an all-in entry). On a cross-down it sells everything
at the next open.
"""

from __future__ import annotations

import pandas as pd

import solvent
from solvent.data import BarData


class SmaCross(solvent.Strategy):
    fast = 10
    slow = 50

    def init(self, data: BarData) -> None:
        close = pd.Series(data.close[:, 0])
        fast = close.rolling(self.fast).mean()
        slow = close.rolling(self.slow).mean()
        self.up = (fast > slow).to_numpy()
        self.ready = slow.notna().to_numpy()

    def on_bar(self, ctx: solvent.Context) -> None:
        sym = ctx.symbols[0]
        i = ctx.i
        if i == 0 or not self.ready[i - 1] or ctx.pending(sym) != 0:
            return
        crossed_up = self.up[i] and not self.up[i - 1]
        crossed_down = self.up[i - 1] and not self.up[i]
        if crossed_up and ctx.position(sym) == 0:
            ctx.order_value(sym, ctx.account.cash.amount)
        elif crossed_down and ctx.position(sym) > 0:
            ctx.close_position(sym)
