"""SMA crossover, long-only, all-in on the first symbol of the data.

Run it::

    solvent backtest examples/sma_cross.py --data sample --commission-bps 10
    solvent backtest examples/sma_cross.py --data sample --param fast=20 --param slow=100

On a cross-up (fast SMA above slow SMA) the strategy buys ``floor(cash / (close × (1 +
commission)))`` whole shares at market; on a cross-down it sells everything.

The order fills at the *next* bar's open, which is unknown when the order is placed, so
the quantity is sized on today's close. If the open gaps up, the broker scales the order
down at fill to what the cash affords (a partial fill, reported through ``on_reject``)
instead of spending money the account does not have. ``commission`` is a parameter
(a fraction: 0.001 = 10 bps) so the sizing can match ``--commission-bps``.
"""

from __future__ import annotations

import math

import pandas as pd

import solvent
from solvent.data import BarData


class SmaCross(solvent.Strategy):
    fast = 10
    slow = 50
    commission = 0.001  # fraction of traded value assumed when sizing (10 bps)

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
            close = float(ctx.close[0])
            shares = math.floor(float(ctx.account.cash.amount) / (close * (1 + self.commission)))
            if shares > 0:
                ctx.order(sym, shares)
        elif crossed_down and ctx.position(sym) > 0:
            ctx.close_position(sym)
