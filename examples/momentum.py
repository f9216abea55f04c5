"""Cross-sectional momentum, long/short, rebalanced monthly in a margin account.

Run it::

    solvent backtest examples/momentum.py --data sample --account margin

Every ``rebalance`` bars it ranks the symbols that have a bar by their return over the
last ``lookback`` bars, goes long the top ``n`` and short the bottom ``n`` with
``gross / 2`` of net liquidating value on each side (equal weights), and flattens the
rest, all with ``ctx.order_target_percent``. Orders that shrink a position go first so
they free buying power before the ones that grow one are checked. Shorts need a margin
account: in a cash account the broker refuses them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import solvent
from solvent.data import BarData


class Momentum(solvent.Strategy):
    lookback = 126
    rebalance = 21
    n = 2
    gross = 1.0  # total long + short exposure as a fraction of NLV

    def init(self, data: BarData) -> None:
        close = pd.DataFrame(data.close, columns=list(data.symbols)).ffill()
        self.score = (close / close.shift(self.lookback) - 1).to_numpy()

    def on_bar(self, ctx: solvent.Context) -> None:
        i = ctx.i
        if i < self.lookback or i % self.rebalance:
            return
        score = self.score[i]
        live = [j for j in range(len(ctx.symbols)) if np.isfinite(score[j]) and np.isfinite(ctx.close[j])]
        if len(live) < 2 * self.n:
            return
        ranked = sorted(live, key=lambda j: score[j])
        leg = self.gross / 2 / self.n
        target = dict.fromkeys(live, 0.0)
        for j in ranked[-self.n :]:
            target[j] = leg
        for j in ranked[: self.n]:
            target[j] = -leg
        nlv = float(ctx.account.nlv.amount)

        def weight(j: int) -> float:
            return float(ctx.position(ctx.symbols[j])) * float(ctx.close[j]) / nlv

        # Shrinking positions first: they release buying power for the growing ones.
        order = sorted(live, key=lambda j: abs(target[j]) >= abs(weight(j)))
        for j in order:
            ctx.order_target_percent(ctx.symbols[j], round(target[j], 6), tag="rebalance")
