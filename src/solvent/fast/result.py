"""``FastResult``: what a fast-path run produced, exact integers first, frames on demand.

The compiled loop returns integer arrays (equity in minor units, fill legs and
refusals as integer records). They are kept as they are; the pandas views (float
equity for plots, fills and refusals with exact ``Decimal`` money) are built when
first asked for, so a parameter sweep pays only for what it reads.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.fast import _layout as ly
from solvent.model.instrument import Instrument
from solvent.results import metrics

I64 = npt.NDArray[np.int64]

_FILL_COLUMNS = (
    "column", "symbol", "timestamp", "order_id", "side", "quantity", "price", "commission", "slippage",
)  # fmt: skip
_REJECTION_COLUMNS = ("column", "symbol", "timestamp", "order_id", "quantity", "reason", "at_fill")


def _money(minor: I64) -> list[Decimal]:
    # ``tolist``: Python ints at once, rather than one numpy scalar per element.
    return [Decimal(v).scaleb(-2) for v in minor.tolist()]


def count_trades(acct: I64, symbol: I64, side: I64, lots: I64) -> I64:
    """Return the FIFO round trips per account that the ledger's ``Trade`` records count.

    Each opening leg is a lot; a closing leg makes one trade per lot it touches. With
    cumulative opened units ``O`` of one (account, symbol) and a closing leg covering
    closed units ``(a, b]``, that is the number of lots between the ones holding unit
    ``a + 1`` and unit ``b``.
    """
    n_acct = int(acct.max()) + 1 if acct.size else 0
    out = np.zeros(n_acct, dtype=np.int64)
    if acct.size == 0:
        return out
    opening = (side == ly.SIDE_BUY) | (side == ly.SIDE_SELL_SHORT)
    keys = acct * (int(symbol.max()) + 1) + symbol
    for key in np.unique(keys):
        mask = keys == key
        opens = np.cumsum(lots[mask & opening])
        closes = lots[mask & ~opening]
        if closes.size == 0:
            continue
        b = np.cumsum(closes)
        a = b - closes
        first = np.searchsorted(opens, a + 1, side="left")
        last = np.searchsorted(opens, b, side="left")
        out[int(acct[mask][0])] += int((last - first + 1).sum())
    return out


class FastResult:
    """The outcome of ``from_signals`` / ``from_targets``: one account per column.

    Attributes
    ----------
    equity_minor
        ``(T, A)`` int64: NLV after each bar, exact minor units (cents), one column per
        account (``columns``).
    cash_minor
        ``(A,)`` int64: final cash of each account.
    positions_lots
        ``(M,)`` int64: final position of each input column, in lots.
    first_call
        ``(A,)`` int64: the first bar at which an account was in a margin call (NLV
        below maintenance margin or below 25% of gross exposure), -1 if never. The
        fast path does not liquidate: from that bar on, ``solvent.backtest`` (which
        goes reduce-only and liquidates) would differ. See ``margin_calls``.
    columns
        The accounts' labels (input columns, or combinations when grouped).
    index
        The bars' timestamps.
    settings
        What the run assumed (account kind, costs, limits, size).
    """

    def __init__(
        self,
        *,
        equity_minor: I64,
        cash_minor: I64,
        positions_lots: I64,
        first_call: I64,
        fill_records: I64,
        rejection_records: I64,
        index: pd.DatetimeIndex,
        columns: pd.Index,
        input_columns: pd.Index,
        slot_symbols: tuple[str, ...],
        slot_instruments: tuple[Instrument, ...],
        settings: dict[str, Any],
    ) -> None:
        self.equity_minor = equity_minor
        self.cash_minor = cash_minor
        self.positions_lots = positions_lots
        self.first_call = first_call
        self.fill_records = fill_records
        self.rejection_records = rejection_records
        self.index = index
        self.columns = columns
        self.input_columns = input_columns
        self.settings = settings
        self._slot_symbols = slot_symbols
        self._slot_insts = slot_instruments
        self._cache: dict[str, Any] = {}

    def __repr__(self) -> str:
        return (
            f"FastResult({len(self.index)} bars × {len(self.columns)} accounts, "
            f"{len(self.fill_records)} fills, {len(self.rejection_records)} rejections)"
        )

    # -- frames ------------------------------------------------------------------------

    @property
    def equity(self) -> pd.DataFrame:
        """Return NLV per bar as floats (for plots), one column per account."""
        if "equity" not in self._cache:
            self._cache["equity"] = pd.DataFrame(
                self.equity_minor / 100.0, index=self.index, columns=self.columns
            )
        out: pd.DataFrame = self._cache["equity"]
        return out

    @property
    def final_equity(self) -> pd.Series:
        """Return each account's final NLV as an exact ``Decimal``."""
        return pd.Series(_money(self.equity_minor[-1]), index=self.columns, name="final_equity", dtype=object)

    @property
    def final_cash(self) -> pd.Series:
        """Return each account's final cash as an exact ``Decimal``."""
        return pd.Series(_money(self.cash_minor), index=self.columns, name="final_cash", dtype=object)

    @property
    def positions(self) -> pd.Series:
        """Return each input column's final position (quantity, exact ``Decimal``)."""
        qty = [inst.quantity(int(v)) for inst, v in zip(self._slot_insts, self.positions_lots, strict=True)]
        return pd.Series(qty, index=self.input_columns, name="quantity", dtype=object)

    @property
    def margin_calls(self) -> pd.Series:
        """Return the timestamp of each account's first margin call (``NaT``: none)."""
        stamps = [self.index[int(b)] if b >= 0 else pd.NaT for b in self.first_call]
        return pd.Series(pd.DatetimeIndex(stamps), index=self.columns, name="margin_call")

    @property
    def fills(self) -> pd.DataFrame:
        """Return one row per fill leg, as the event engine's ``fills`` (exact decimals).

        Columns: ``column`` (the account), ``symbol``, ``timestamp``, ``order_id``
        (``o1, o2, ...`` per account), ``side`` (``BUY``, ``SELL``, ``SELL_SHORT``,
        ``BUY_TO_COVER``), ``quantity`` (unsigned), ``price``, ``commission``,
        ``slippage``.
        """
        if "fills" not in self._cache:
            f = self.fill_records
            slots = f[:, ly.F_SLOT]
            insts = [self._slot_insts[int(s)] for s in slots]
            self._cache["fills"] = pd.DataFrame(
                {
                    "column": [self.columns[int(a)] for a in f[:, ly.F_ACCT]],
                    "symbol": [self._slot_symbols[int(s)] for s in slots],
                    "timestamp": self.index[f[:, ly.F_BAR]],
                    "order_id": [f"o{int(o)}" for o in f[:, ly.F_ORDER]],
                    "side": [ly.SIDES[int(s)].value for s in f[:, ly.F_SIDE]],
                    "quantity": [i.quantity(int(q)) for i, q in zip(insts, f[:, ly.F_LOTS], strict=True)],
                    "price": [i.price(int(p)) for i, p in zip(insts, f[:, ly.F_PRICE], strict=True)],
                    "commission": _money(f[:, ly.F_COMM]),
                    "slippage": _money(f[:, ly.F_SLIP]),
                },
                columns=list(_FILL_COLUMNS),
            )
        out: pd.DataFrame = self._cache["fills"]
        return out

    @property
    def rejections(self) -> pd.DataFrame:
        """Return one row per refusal, with the event engine's ``ReasonCode`` names.

        ``at_fill`` is ``False`` for an order refused when placed (``quantity`` is the
        order's) and ``True`` for a note that a working order could not fill on a bar
        (``quantity`` is what was left); as in the event engine an order gets at most
        one such note.
        """
        if "rejections" not in self._cache:
            r = self.rejection_records
            slots = r[:, ly.R_SLOT]
            self._cache["rejections"] = pd.DataFrame(
                {
                    "column": [self.columns[int(a)] for a in r[:, ly.R_ACCT]],
                    "symbol": [self._slot_symbols[int(s)] for s in slots],
                    "timestamp": self.index[r[:, ly.R_BAR]],
                    "order_id": [f"o{int(o)}" for o in r[:, ly.R_ORDER]],
                    "quantity": [
                        self._slot_insts[int(s)].quantity(int(q))
                        for s, q in zip(slots, r[:, ly.R_LOTS], strict=True)
                    ],
                    "reason": [ly.REASONS[int(c)].value for c in r[:, ly.R_REASON]],
                    "at_fill": r[:, ly.R_AT_FILL].astype(bool),
                },
                columns=list(_REJECTION_COLUMNS),
            )
        out: pd.DataFrame = self._cache["rejections"]
        return out

    # -- statistics ----------------------------------------------------------------------

    def stats(self) -> pd.DataFrame:
        """Return one row of statistics per account (``solvent.results.metrics``).

        Columns: ``final_equity``, ``total_return``, ``cagr``, ``sharpe``,
        ``max_drawdown`` (a positive fraction), ``trades`` (FIFO round trips, as the
        ledger counts them), ``fills`` (legs), ``rejections``, ``commission``,
        ``margin_call`` (first margin call, ``NaT`` if none; see ``first_call``).
        """
        n = len(self.columns)
        f = self.fill_records
        r = self.rejection_records
        trades = count_trades(f[:, ly.F_ACCT], f[:, ly.F_SLOT], f[:, ly.F_SIDE], f[:, ly.F_LOTS])
        trades = np.pad(trades, (0, n - trades.size))
        n_fills = np.bincount(f[:, ly.F_ACCT], minlength=n)
        n_rej = np.bincount(r[:, ly.R_ACCT], minlength=n)
        comm = np.bincount(f[:, ly.F_ACCT], weights=f[:, ly.F_COMM], minlength=n) / 100.0
        try:
            ppy = metrics.infer_periods_per_year(self.index)
        except ValueError:
            ppy = float("nan")
        rows = []
        for a in range(n):
            eq = pd.Series(self.equity_minor[:, a] / 100.0, index=self.index)
            annual = not np.isnan(ppy)
            rows.append(
                {
                    "final_equity": float(eq.iloc[-1]),
                    "total_return": metrics.total_return(eq),
                    "cagr": metrics.cagr(eq, ppy) if annual else float("nan"),
                    "sharpe": metrics.sharpe(metrics.simple_returns(eq), ppy) if annual else float("nan"),
                    "max_drawdown": metrics.max_drawdown(eq).fraction,
                    "trades": int(trades[a]),
                    "fills": int(n_fills[a]),
                    "rejections": int(n_rej[a]),
                    "commission": float(comm[a]),
                    "margin_call": self.index[int(self.first_call[a])] if self.first_call[a] >= 0 else pd.NaT,
                }
            )
        return pd.DataFrame(rows, index=self.columns)
