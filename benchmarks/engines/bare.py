"""A bare Python loop over the shared decisions: the floor of an event loop, not a peer.

What the SMA strategy costs with no engine at all: the shared decisions
(``benchmarks.signals``, the same function inside every engine's timed region), then one
pass over the bars in plain Python. A decision at bar ``i`` fills at bar ``i + 1``'s
open; an all-in buy is ``floor(cash / (open × 1.001))`` whole shares, a sell closes the
position; commission is 0.1 % of the fill's value. Money is kept in integer
milli-cents, so the commission is exact and unrounded, as the peers' float commission.

No accounting rules beyond that: no orders, no gatekeeper, no ledger, no lots, no
records, no equity curve. Only the bars with a decision or a pending fill are visited
(``np.flatnonzero`` of the rows, computed once), as an event engine that skips quiet
bars would. The gap between an engine and this loop is what its own work costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.data import Dataset
from benchmarks.engines.common import CASH, Outcome, labels
from benchmarks.signals import decisions

MILLI = 1_000  # milli-cents per cent: 0.1 % of a value in cents is that many milli-cents


@dataclass
class Prepared:
    ds: Dataset
    opens: npt.NDArray[np.int64]  # cents, (T, symbols)
    closes: npt.NDArray[np.int64]


def prepare(ds: Dataset) -> Prepared:
    # The data sets are generated on the cent grid: the conversion is exact.
    return Prepared(ds, np.rint(ds.open * 100).astype(np.int64), np.rint(ds.close * 100).astype(np.int64))


def run(p: Prepared) -> Any:
    ds = p.ds
    up, down = decisions(ds.close, ds.pairs)
    n_sym = len(ds.symbols)
    n = up.shape[1]  # pair-major, symbol-minor columns
    sym_of = [k % n_sym for k in range(n)]
    cash = [CASH * 100 * MILLI] * n
    qty = [0] * n
    fills: list[tuple[int, int, int, int]] = []  # (bar, column, signed quantity, price in cents)
    rows = np.flatnonzero((up | down).any(axis=1)).tolist()
    opens = p.opens
    pending: dict[int, bool] = {}  # column -> buy (True) or sell (False), at the next open
    last = len(ds.index) - 1
    for i in rows:
        for k in np.flatnonzero(up[i]).tolist():
            if qty[k] == 0:
                pending[k] = True
        for k in np.flatnonzero(down[i]).tolist():
            if qty[k] > 0:
                pending[k] = False
        if i == last or not pending:
            pending.clear()
            continue
        row = opens[i + 1]
        for k, buy in pending.items():
            px = int(row[sym_of[k]])
            if buy:
                q = cash[k] // (px * (MILLI + 1))
                if q:
                    cash[k] -= q * px * (MILLI + 1)
                    qty[k] = q
                    fills.append((i + 1, k, q, px))
            else:
                q = qty[k]
                cash[k] += q * px * (MILLI - 1)
                qty[k] = 0
                fills.append((i + 1, k, -q, px))
        pending.clear()
    return fills, cash, qty


def outcome(raw: Any, p: Prepared) -> Outcome:
    fills, cash, qty = raw
    ds = p.ds
    names = labels(ds)
    n_sym = len(ds.symbols)
    stamps = ds.index.as_unit("ns").asi8
    out = Outcome(fills={n: [] for n in names}, commission={n: [] for n in names}, refused=None)
    for i, k, q, px in fills:
        out.add(names[k], (int(stamps[i]), 1 if q > 0 else -1, abs(q), px), abs(q) * px / 100 * 0.001)
    last = p.closes[-1]
    for k, name in enumerate(names):
        out.equity[name] = (cash[k] + qty[k] * int(last[k % n_sym]) * MILLI) / (100 * MILLI)
    return out
