"""solvent's compiled fast path: ``solvent.fast.from_signals`` with the same decisions.

Signals are the decisions at bar ``i`` (``benchmarks.signals``, not shifted: the fast path
fills a decision at bar ``i + 1``'s open, as the event engine does), ``size="all"``
(what ``ctx.order_value(sym, cash)`` buys), cash account, commission ``0.001``,
``volume_limit=None``: the same accounting rules as the event engine, with cash checks,
scale-down and commission on. One call for every column; the grid adds an outer column
level, one independent ``CASH`` account per (pair, symbol) column.

``CHECKS`` is the ``solvent-fast-checks`` variant: margin account and a 10 % volume cap
(issue 6 §4: "turning on the volume cap and margin checks costs less than 5 % more");
its fills legitimately differ (the cap binds on thin minute bars), so it is timed but
not held to parity.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any

import pandas as pd

from benchmarks.data import Dataset
from benchmarks.engines.common import CASH, COMMISSION, Outcome, cents, labels
from benchmarks.signals import decisions
from solvent.data import BarData

sf: ModuleType | None
try:
    import solvent.fast as sf
except ImportError:  # being written; run.py reports the engine as skipped
    sf = None

CHECKS = False


@dataclass
class Prepared:
    """The bars as a ``BarData`` panel, and what ``outcome`` needs to label the columns.

    Not the ``Dataset``: the panel is the fast path's copy of the bars, so the worker can
    drop the raw arrays instead of holding the data twice (``benchmarks/worker.py``).
    """

    panel: BarData
    index: pd.DatetimeIndex
    pairs: tuple[tuple[int, int], ...]
    symbols: tuple[str, ...]
    names: list[str]
    columns: pd.Index


def available() -> str | None:
    """Return why the fast path cannot run here, or ``None`` when it can."""
    if sf is None or not hasattr(sf, "from_signals"):
        return "solvent.fast is not importable"
    return None


def _columns(ds: Dataset) -> pd.Index:
    if len(ds.pairs) == 1:
        return pd.Index(list(ds.symbols))
    return pd.MultiIndex.from_tuples(
        [(f"{f}/{s}", sym) for f, s in ds.pairs for sym in ds.symbols], names=["pair", "symbol"]
    )


def prepare(ds: Dataset) -> Prepared:
    panel = BarData(ds.index.to_numpy(), ds.symbols, ds.open, ds.high, ds.low, ds.close, ds.volume)
    return Prepared(panel, ds.index, ds.pairs, ds.symbols, labels(ds), _columns(ds))


def run(p: Prepared) -> Any:
    if sf is None:
        raise NotImplementedError("solvent.fast")
    # The panel's closes are the data set's floats (``BarData`` copies them as they are).
    cross_up, cross_down = decisions(p.panel.close, p.pairs)
    entries = pd.DataFrame(cross_up, index=p.index, columns=p.columns)
    exits = pd.DataFrame(cross_down, index=p.index, columns=p.columns)
    extra: dict[str, Any] = {"account": "margin", "volume_limit": Decimal("0.1")} if CHECKS else {}
    kwargs: dict[str, Any] = {"account": "cash", "volume_limit": None, **extra}
    res = sf.from_signals(p.panel, entries, exits, size="all", cash=CASH, commission=COMMISSION, **kwargs)
    # The result builds frames lazily; ask for the final equity inside the timing, as the
    # VectorBT adapter asks for ``final_value()``.
    return res, res.final_equity


def _label(column: Any, p: Prepared) -> str:
    if len(p.pairs) == 1:
        return str(column)
    pair, sym = column
    return str(pair) if len(p.symbols) == 1 else f"{pair}:{sym}"


def outcome(raw: Any, p: Prepared) -> Outcome:
    res, final = raw
    names = p.names
    out = Outcome(
        fills={n: [] for n in names}, commission={n: [] for n in names}, refused=len(res.rejections)
    )
    f = res.fills
    rows = zip(
        f["column"], f["timestamp"], f["side"], f["quantity"], f["price"], f["commission"], strict=True
    )
    for col, ts, side_name, qty, price, commission in rows:
        side = 1 if str(side_name).startswith("BUY") else -1  # BUY, BUY_TO_COVER / SELL, SELL_SHORT
        fill = (pd.Timestamp(ts).value, side, abs(int(qty)), cents(float(price)))
        out.add(_label(col, p), fill, float(commission))
    out.equity = {_label(c, p): float(v) for c, v in final.items()}
    return out
