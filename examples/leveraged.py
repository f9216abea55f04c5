"""Ask for 3× leverage in a margin account and see what Reg T allows.

Run it::

    solvent backtest examples/leveraged.py --data sample --account margin

Every ``rebalance`` bars the strategy targets ``leverage`` × net liquidating value in
the first symbol with ``ctx.order_target_percent``. A Reg T margin account has 50%
initial margin, i.e. about 2× buying power, so the broker cuts each buy to what the
buying power affords or refuses it outright; ``on_reject`` counts what was refused and
the summary lists the reasons. With ``--account cash`` the cap is 1×.
"""

from __future__ import annotations

import solvent
from solvent import Rejection


class Leveraged(solvent.Strategy):
    leverage = 3.0
    rebalance = 21

    def on_start(self, ctx: solvent.Context) -> None:
        self.refused: list[Rejection] = []

    def on_reject(self, ctx: solvent.Context, rejection: Rejection) -> None:
        self.refused.append(rejection)

    def on_bar(self, ctx: solvent.Context) -> None:
        sym = ctx.symbols[0]
        if ctx.i % self.rebalance or ctx.pending(sym) != 0:
            return
        ctx.order_target_percent(sym, self.leverage, tag="3x")
