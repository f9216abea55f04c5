"""Statistics over closed trades (wins, losses, profit factor) and rejections counted by reason.

The only metrics that loop in Python: once per trade or rejection record.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal, NamedTuple, Protocol

import pandas as pd

from solvent.model.records import Trade
from solvent.results.conversions import _NAN, _as_decimal

PnlBasis = Literal["net", "gross"]


class _HasReason(Protocol):
    @property
    def reason(self) -> Any: ...


class TradeStats(NamedTuple):
    """Statistics over closed trades (see :func:`trade_stats`); money fields are exact."""

    trades: int
    wins: int
    losses: int
    win_rate: float
    profit_factor: float
    gross_profit: Decimal
    gross_loss: Decimal
    total_pnl: Decimal
    average_win: Decimal | None
    average_loss: Decimal | None
    average_trade: Decimal | None


TradesLike = Iterable[Trade] | pd.DataFrame


def _trade_pnls(trades: TradesLike, basis: PnlBasis) -> list[Decimal]:
    if basis not in ("net", "gross"):
        raise ValueError(f"basis must be 'net' or 'gross', got {basis!r}")
    if isinstance(trades, pd.DataFrame):
        if basis == "gross" or "net_pnl" in trades.columns:
            col = "pnl" if basis == "gross" else "net_pnl"
            if col not in trades.columns:
                raise ValueError(f"the trades DataFrame has no {col!r} column")
            return [_as_decimal(v) for v in trades[col].tolist()]
        if {"pnl", "commission"} <= set(trades.columns):
            return [
                _as_decimal(p) - _as_decimal(c)
                for p, c in zip(trades["pnl"].tolist(), trades["commission"].tolist(), strict=True)
            ]
        raise ValueError("the trades DataFrame needs a 'net_pnl' column (or 'pnl' and 'commission')")
    # ``t.pnl.amount`` and ``t.net_pnl.amount`` from the integers (one ``Decimal`` per
    # trade, no intermediate ``Money``); a trade's amounts share its account's currency.
    if basis == "gross":
        return [Decimal(t.pnl.minor).scaleb(-t.pnl.currency.digits) for t in trades]
    return [
        Decimal(t.pnl.minor - t.commission.minor).scaleb(-t.pnl.currency.digits)
        if t.pnl.currency == t.commission.currency
        else t.net_pnl.amount  # raises: amounts in two currencies do not subtract
        for t in trades
    ]


def trade_stats(trades: TradesLike, basis: PnlBasis = "net") -> TradeStats:
    """Return win/loss statistics over closed trades.

    A trade is a *win* when its P&L is ``> 0`` and a *loss* when ``< 0``; a zero P&L
    (scratch) counts as a trade but neither a win nor a loss. With ``W`` the set of
    wins and ``L`` of losses:

    * ``win_rate = |W| / trades``
    * ``gross_profit = Σ_W pnl``, ``gross_loss = Σ_L pnl`` (negative or zero)
    * ``profit_factor = gross_profit / |gross_loss|``: ``inf`` when there are wins and
      no losses, ``0.0`` when there are losses and no wins, NaN when there are no
      trades or only scratches.
    * ``average_win = gross_profit / |W|``, ``average_loss = gross_loss / |L|``,
      ``average_trade = Σ pnl / trades`` (``None`` when their count is zero).

    Parameters
    ----------
    trades
        ``Trade`` records, or a DataFrame with a ``net_pnl`` column (or ``pnl`` and
        ``commission``) for ``basis="net"`` and a ``pnl`` column for ``"gross"``.
        Cells may be ``Money``, ``Decimal``, ints or floats (read through ``repr``).
    basis
        ``"net"`` (default): P&L after allocated commissions, ``Trade.net_pnl``;
        ``"gross"``: ``Trade.pnl`` before commissions.

    Returns
    -------
    TradeStats
        Counts, float ratios and exact ``Decimal`` money values.
    """
    pnls = _trade_pnls(trades, basis)
    n = len(pnls)
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gp = sum(wins, Decimal(0))
    gl = sum(losses, Decimal(0))
    total = sum(pnls, Decimal(0))
    if losses:
        pf = float(gp / -gl)
    elif wins:
        pf = math.inf
    else:
        pf = _NAN
    return TradeStats(
        trades=n,
        wins=len(wins),
        losses=len(losses),
        win_rate=len(wins) / n if n else _NAN,
        profit_factor=pf,
        gross_profit=gp,
        gross_loss=gl,
        total_pnl=total,
        average_win=gp / len(wins) if wins else None,
        average_loss=gl / len(losses) if losses else None,
        average_trade=total / n if n else None,
    )


def win_rate(trades: TradesLike, basis: PnlBasis = "net") -> float:
    """Return ``wins / trades`` (NaN with no trades); see :func:`trade_stats`."""
    return trade_stats(trades, basis).win_rate


def profit_factor(trades: TradesLike, basis: PnlBasis = "net") -> float:
    """Return ``gross wins / |gross losses|`` (``inf``/NaN rules in :func:`trade_stats`)."""
    return trade_stats(trades, basis).profit_factor


def rejections_by_reason(rejections: Iterable[_HasReason]) -> dict[str, int]:
    """Count rejections by ``rejection.reason.value``.

    Parameters
    ----------
    rejections
        ``Rejection`` records (anything with a ``reason`` enum member).

    Returns
    -------
    dict[str, int]
        Reason code → count, sorted by reason code; empty when there were none.
    """
    # Counted by member, then named: ``.value`` is a property, slow once per record.
    counts: dict[str, int] = {}
    for reason, k in Counter(r.reason for r in rejections).items():
        key = str(reason.value)
        counts[key] = counts.get(key, 0) + k
    return dict(sorted(counts.items()))
