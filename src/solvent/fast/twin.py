"""The fast path's rules as event-driven strategies: run them with ``solvent.backtest``.

``SignalStrategy`` and ``TargetStrategy`` place, bar by bar through ``Context``, the very
orders ``from_signals`` and ``from_targets`` place in the compiled loop. They define
what the fast path means: ``solvent.backtest(SignalStrategy(...), data, ...)`` gives the
same fills, refusals and equity as ``from_signals`` on the same inputs (the
differential tests check it), and the same strategy can then be paper traded.

Both decide with the functions of ``solvent.fast.decide``, which the compiled loop
calls too. They convert quantities and prices with the account's own instruments, so
they follow any settings ``solvent.backtest`` builds them with (a profile's exact
price grid, ``lot_size``, ``initial_margin``).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from solvent.accounting import rules
from solvent.data.frame import BarData
from solvent.engine.context import Context
from solvent.engine.strategy import Strategy
from solvent.errors import InvalidInputError
from solvent.fast import decide
from solvent.fast._layout import ACT_NONE
from solvent.model.instrument import Instrument
from solvent.model.money import Money, Number, to_decimal

B = npt.NDArray[np.bool_]


def _matrix(x: Any, shape: tuple[int, int], name: str) -> B:
    if x is None:
        return np.zeros(shape, dtype=np.bool_)
    a = np.asarray(x)
    if a.dtype != np.bool_ or a.shape != shape:
        raise InvalidInputError(name, getattr(a, "shape", x), f"must be booleans shaped {shape}")
    return a


def _instruments(ctx: Context, symbols: Sequence[str]) -> tuple[Instrument, ...]:
    """Return the account's instrument of each symbol (read-only; the ledger's own)."""
    account = ctx._broker.account  # the context exposes figures, not instruments
    return tuple(account.instrument(s) for s in symbols)


class SignalStrategy(Strategy):
    """Trade boolean signals as ``solvent.fast.from_signals`` does.

    Parameters
    ----------
    symbols
        The symbols traded (one account: they share its cash).
    entries, exits, short_entries, short_exits
        Boolean arrays ``(bars, len(symbols))``; ``None``: never.
    size
        ``"all"``, a percentage string (``"50%"``) or a number of units, as in
        ``from_signals``.
    """

    def __init__(
        self,
        symbols: Sequence[str],
        entries: Any,
        exits: Any = None,
        short_entries: Any = None,
        short_exits: Any = None,
        size: str | Number = "all",
    ) -> None:
        super().__init__()
        self._symbols = tuple(symbols)
        le = np.asarray(entries)
        shape = (le.shape[0], len(self._symbols))
        self._signals = tuple(
            _matrix(x, shape, n)
            for x, n in (
                (entries, "entries"),
                (exits, "exits"),
                (short_entries, "short_entries"),
                (short_exits, "short_exits"),
            )
        )
        self._insts: tuple[Instrument, ...] = ()
        self._pct: Fraction | None = None
        self._units: Number = 0
        if isinstance(size, str) and size.strip().lower() == "all":
            self._pct = Fraction(1)
        elif isinstance(size, str) and size.strip().endswith("%"):
            self._pct = Fraction(to_decimal(size.strip()[:-1], "size", positive=True) / 100)
        else:
            self._units = size
        self._cols: list[int] = []

    def init(self, data: BarData) -> None:
        """Find each symbol's column in the data."""
        self._cols = [data.index(s) for s in self._symbols]

    def on_start(self, ctx: Context) -> None:
        """Take each symbol's instrument from the account (its tick, lot and multiplier)."""
        self._insts = _instruments(ctx, self._symbols)

    def on_bar(self, ctx: Context) -> None:
        """Act on this bar's signals, symbol by symbol (docs/fast.md)."""
        i = ctx.i
        le, lx, se, sx = self._signals
        for j, sym in enumerate(self._symbols):
            if not np.isfinite(ctx.close[self._cols[j]]):
                continue  # no bar: nothing known about the symbol now
            what = decide.resolve_action(bool(le[i, j]), bool(lx[i, j]), bool(se[i, j]), bool(sx[i, j]))
            if what == ACT_NONE:
                continue
            inst = self._insts[j]
            pos = inst.qty_lots(ctx.position(sym))
            if decide.already_heading(what, pos + inst.qty_lots(ctx.pending(sym))):
                continue
            for view in ctx.open_orders(sym):
                ctx.cancel(view)
            close, side = decide.orders_for(what, pos)
            if close:
                ctx.close_position(sym)
            if side == 0:
                continue
            if self._pct is None:
                ctx.order(sym, -to_decimal(self._units, "size") if side < 0 else self._units)
                continue
            last = inst.price_ticks(ctx.last_price(sym))
            budget = ctx.account.cash.minor + rules.notional_minor(last, pos, inst.k_num, inst.k_den)
            budget = budget * self._pct.numerator // self._pct.denominator
            if budget > 0:
                ctx.order_value(sym, Money(side * budget).amount)


class TargetStrategy(Strategy):
    """Trade to target weights as ``solvent.fast.from_targets`` does.

    Parameters
    ----------
    symbols
        The symbols traded (one account).
    weights
        Fractions of NLV ``(bars, len(symbols))``; rounded half-even to 1 ppm.
    rebalance
        ``"change"`` (default), ``"always"`` or one boolean per bar.
    """

    def __init__(self, symbols: Sequence[str], weights: Any, rebalance: str | Any = "change") -> None:
        super().__init__()
        self._symbols = tuple(symbols)
        self._w = decide.weights_ppm(weights)
        self._when = decide.rebalance_bars(self._w, rebalance)
        self._insts: tuple[Instrument, ...] = ()
        self._cols: list[int] = []

    def init(self, data: BarData) -> None:
        """Find each symbol's column in the data."""
        self._cols = [data.index(s) for s in self._symbols]

    def on_start(self, ctx: Context) -> None:
        """Take each symbol's instrument from the account (its tick, lot and multiplier)."""
        self._insts = _instruments(ctx, self._symbols)

    def on_bar(self, ctx: Context) -> None:
        """On a rebalance bar, cancel, then place reducing orders, then the others."""
        i = ctx.i
        if not self._when[i]:
            return
        nlv = ctx.account.nlv.minor
        live = [j for j in range(len(self._symbols)) if np.isfinite(ctx.close[self._cols[j]])]
        for j in live:
            for view in ctx.open_orders(self._symbols[j]):
                ctx.cancel(view)
        for reducing_pass in (True, False):
            for j in live:
                sym, inst = self._symbols[j], self._insts[j]
                pos = inst.qty_lots(ctx.position(sym))
                last = inst.price_ticks(ctx.last_price(sym))
                delta = decide.target_lots(nlv, int(self._w[i, j]), last, inst.k_num, inst.k_den) - pos
                if delta == 0:
                    continue
                if (pos != 0 and (delta > 0) != (pos > 0)) == reducing_pass:
                    ctx.order(sym, inst.quantity(delta))
