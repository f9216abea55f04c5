"""Martingale: double a losing long on the first symbol, and watch the account refuse.

Run it::

    solvent backtest examples/martingale.py --data sample --account cash

It buys ``base_pct`` of net liquidating value; each time the close falls ``step`` below
the last entry it buys as many shares again (doubling the position); when the close is
``take_profit`` above the average price it sells everything and starts over. Doubling
grows exponentially, the cash does not: sooner or later the broker cuts a doubling to
what the account affords or refuses it (``insufficient buying power``). The refusals
are counted in ``self.refusals`` and show up in the summary's rejection lines.
"""

from __future__ import annotations

import math
from decimal import Decimal

import solvent
from solvent import Rejection


class Martingale(solvent.Strategy):
    base_pct = 0.05
    step = 0.05  # a further 5% drop below the last entry doubles the position
    take_profit = 0.03  # 3% above the average price closes it

    def on_start(self, ctx: solvent.Context) -> None:
        self.last_entry: float | None = None
        self.refusals: list[Rejection] = []

    def on_reject(self, ctx: solvent.Context, rejection: Rejection) -> None:
        self.refusals.append(rejection)

    def on_bar(self, ctx: solvent.Context) -> None:
        sym = ctx.symbols[0]
        close = float(ctx.close[0])
        if math.isnan(close) or ctx.pending(sym) != 0:  # no bar, or an order still working
            return
        held = ctx.position(sym)
        if held == 0:
            view = ctx.order_target_percent(sym, self.base_pct, tag="entry")
            if view is not None:
                self.last_entry = close
            return
        avg = float(ctx.account.position(sym).avg_price)
        if close >= avg * (1 + self.take_profit):
            ctx.close_position(sym, tag="take-profit")
            self.last_entry = None
        elif self.last_entry is not None and close <= self.last_entry * (1 - self.step):
            ctx.order(sym, held, tag="double")  # buy as many again: may be cut or refused
            self.last_entry = close

    def on_end(self, ctx: solvent.Context) -> None:
        self.refused_shares = sum((abs(r.quantity) for r in self.refusals), Decimal(0))
