"""solvent's event engine: ``solvent.backtest`` with ``examples/sma_cross.py``.

One symbol (data sets ``a``, ``b``; the grid runs it once per pair): the example's
``SmaCross`` as it is. Many symbols (``c``): ``SmaCrossSleeves`` below, the example's
rule on every symbol in one run of one account, each symbol trading its own sleeve of
``CASH``, so every symbol's fills are those of an independent ``CASH`` account, as in
VectorBT's columns and in one backtesting.py / Backtrader run per symbol.

Settings: cash account, commission ``0.001`` (a plain number: 0.1 % of traded value),
``volume_limit=None``. ``VALIDATION`` is ``"reject"`` (the default: every order is
checked at placement and at the fill); the ``solvent-event-noval`` variant runs with
``"off"`` to measure what the checks cost.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

import solvent
from benchmarks.data import Dataset
from benchmarks.engines.common import CASH, COMMISSION, EXAMPLE, Outcome, cents, labels
from benchmarks.signals import crosses, sma_up
from solvent.data import BarData
from solvent.model.records import Fill

VALIDATION = "reject"


def example_strategy() -> type[solvent.Strategy]:
    """Return ``SmaCross`` from ``examples/sma_cross.py`` (not an importable package)."""
    spec = importlib.util.spec_from_file_location("_bench_sma_cross", EXAMPLE)
    if spec is None or spec.loader is None:
        raise ImportError(EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls: type[solvent.Strategy] = module.SmaCross
    return cls


class SmaCrossSleeves(solvent.Strategy):
    """``examples/sma_cross.py`` on every symbol, each with a sleeve of ``sleeve`` cash.

    All-in on a symbol means its sleeve: ``ctx.order_value(sym, sleeve)`` buys the most
    whole shares whose value plus commission fits in it at the fill. Fills move the
    sleeve by their exact cash effect (``quantity × price + commission``, in Decimal),
    so the sleeves always sum to the account's cash.
    """

    fast = 10
    slow = 50
    sleeve = CASH

    def init(self, data: BarData) -> None:
        up, ready = sma_up(data.close, self.fast, self.slow)
        self.cross_up, self.cross_down = crosses(up, ready)
        self.any_cross = np.asarray(np.logical_or(self.cross_up, self.cross_down).any(axis=1), dtype=np.bool_)
        self.cash = [Decimal(self.sleeve)] * len(data.symbols)
        self.col = {s: j for j, s in enumerate(data.symbols)}

    def on_fill(self, ctx: solvent.Context, fill: Fill) -> None:
        j = self.col[fill.symbol]
        self.cash[j] -= fill.quantity * fill.price + fill.commission

    def on_bar(self, ctx: solvent.Context) -> None:
        i = ctx.i
        if not self.any_cross[i]:
            return
        for j in np.flatnonzero(self.cross_up[i]):
            sym = ctx.symbols[j]
            if ctx.pending(sym) == 0 and ctx.position(sym) == 0:
                ctx.order_value(sym, self.cash[j])
        for j in np.flatnonzero(self.cross_down[i]):
            sym = ctx.symbols[j]
            if ctx.pending(sym) == 0 and ctx.position(sym) > 0:
                ctx.close_position(sym)


@dataclass
class Prepared:
    ds: Dataset
    panel: BarData
    single: type[solvent.Strategy]


def prepare(ds: Dataset) -> Prepared:
    panel = BarData(ds.index.to_numpy(), ds.symbols, ds.open, ds.high, ds.low, ds.close, ds.volume)
    return Prepared(ds, panel, example_strategy())


def _settings() -> dict[str, Any]:
    return {"account": "cash", "commission": COMMISSION, "volume_limit": None, "validation": VALIDATION}


def run(p: Prepared) -> Any:
    if len(p.ds.symbols) == 1:
        return [
            solvent.backtest(p.single, p.panel, cash=CASH, fast=f, slow=s, **_settings())
            for f, s in p.ds.pairs
        ]
    if len(p.ds.pairs) != 1:
        raise ValueError("many symbols and many pairs at once is not a benchmark case")
    fast, slow = p.ds.pairs[0]
    strat = SmaCrossSleeves(fast=fast, slow=slow)
    res = solvent.backtest(strat, p.panel, cash=CASH * len(p.ds.symbols), **_settings())
    return strat, res


def _add_fills(out: Outcome, frame: pd.DataFrame, column_of: dict[str, str]) -> None:
    """Append the fills of ``frame`` (solvent's ``Result.fills``) to ``out``, by symbol's column."""
    rows = zip(
        frame["timestamp"],
        frame["symbol"],
        frame["quantity"],
        frame["price"],
        frame["commission"],
        strict=True,
    )
    for ts, sym, qty, price, commission in rows:
        side = 1 if qty > 0 else -1
        fill = (pd.Timestamp(ts).value, side, abs(int(qty)), cents(float(price)))
        out.add(column_of[str(sym)], fill, float(commission))


def outcome(raw: Any, p: Prepared) -> Outcome:
    names = labels(p.ds)
    out = Outcome(fills={n: [] for n in names}, commission={n: [] for n in names}, refused=0)
    if len(p.ds.symbols) == 1:
        for name, res in zip(names, raw, strict=True):
            out.refused = (out.refused or 0) + len(res.rejections)
            _add_fills(out, res.fills, {p.ds.symbols[0]: name})
            out.equity[name] = float(res.final_equity.amount)
        return out
    strat, res = raw
    out.refused = len(res.rejections)
    _add_fills(out, res.fills, {s: s for s in p.ds.symbols})
    last = p.panel.close[-1]
    total = Decimal(0)
    for j, sym in enumerate(p.ds.symbols):
        held = res.account.quantity(sym)
        equity = strat.cash[j] + held * Decimal(str(last[j]))
        total += equity
        out.equity[sym] = float(equity)
    if total != res.final_equity.amount:  # the sleeves must add up to the account, to the cent
        raise AssertionError(
            f"sleeves sum to {total}, the account's final equity is {res.final_equity.amount}"
        )
    return out
