"""VectorBT: ``vbt.Portfolio.from_signals`` with the same decisions, moved to the fill bar.

Configured to trade as solvent does: the decision at bar ``i`` (``benchmarks.signals``)
is the signal at bar ``i + 1``; ``price=open`` (fill at that bar's open),
``size=np.inf`` with ``size_granularity=1`` (all the cash in whole shares:
``floor(cash / (1 + fees) / open)``), ``fees=0.001``, ``direction="longonly"``, one
independent account of ``CASH`` per column (no cash sharing); valuation at the close, so
the final value is cash + shares × last close. The grid is one call with 100 columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import vectorbt as vbt

from benchmarks.data import Dataset
from benchmarks.engines.common import CASH, COMMISSION, Outcome, cents, labels
from benchmarks.signals import decisions, shift_to_fill_bar


@dataclass
class Prepared:
    ds: Dataset
    columns: list[str]


def prepare(ds: Dataset) -> Prepared:
    return Prepared(ds, labels(ds))


def run(p: Prepared) -> Any:
    ds = p.ds
    cross_up, cross_down = decisions(ds.close, ds.pairs)
    reps = (1, len(ds.pairs))
    close = pd.DataFrame(np.tile(ds.close, reps), index=ds.index, columns=p.columns)
    pf = vbt.Portfolio.from_signals(
        close,
        shift_to_fill_bar(cross_up),
        shift_to_fill_bar(cross_down),
        price=np.tile(ds.open, reps),
        size=np.inf,
        size_granularity=1,
        fees=COMMISSION,
        init_cash=float(CASH),
        direction="longonly",
        freq=ds.freq,
    )
    return pf, pf.final_value()


def outcome(raw: Any, p: Prepared) -> Outcome:
    pf, final = raw
    out = Outcome(fills={c: [] for c in p.columns}, commission={c: [] for c in p.columns})
    idx = p.ds.index.as_unit("ns").asi8
    # ``orders.values`` is the raw record array, in time order within each column.
    for rec in pf.orders.values:
        size = float(rec["size"])
        if size != int(size):
            raise AssertionError(f"vectorbt traded a fractional size {size}")
        side = 1 if int(rec["side"]) == 0 else -1
        col = p.columns[int(rec["col"])]
        fill = (int(idx[int(rec["idx"])]), side, int(size), cents(float(rec["price"])))
        out.add(col, fill, float(rec["fees"]))
    values = np.atleast_1d(np.asarray(final, dtype=float))
    out.equity = {c: float(v) for c, v in zip(p.columns, values, strict=True)}
    if float(pf.cash().min().min()) < 0:
        raise AssertionError("vectorbt's cash went negative")
    return out
