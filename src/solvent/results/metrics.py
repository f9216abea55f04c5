"""Pure, vectorized performance metrics for backtest results.

Every metric function (here and in the modules it gathers) is side-effect free and
works on whole arrays (numpy/pandas): no Python loop runs per bar. Python loops only
run per *trade* or per *rejection*, where the records are Python objects anyway.

Conventions shared by all functions
-----------------------------------
* **Equity** is a ``pd.Series`` of net liquidating value indexed by bar timestamp. Its
  values may be floats, ints, ``Decimal`` (object dtype) or ``Money``; they are
  converted to ``float64`` only to compute ratios. Money-like outputs (initial and
  final equity, commissions, trade P&L) stay exact ``Decimal``.
* **Returns** are simple per-bar returns ``r_t = E_t / E_{t-1} - 1`` (see
  :func:`simple_returns`). A return whose previous equity is ``<= 0`` is undefined and
  is NaN; every statistic over returns ignores NaN.
* **Undefined ratios are NaN, never an exception or a warning.** A ratio whose
  denominator is zero (flat equity: volatility 0, so Sharpe is NaN) or that has too
  few observations is ``nan``. The one documented exception is the profit factor,
  which is ``inf`` when there are winning trades and no losing ones.
* **Annualization** multiplies per-period figures by ``periods_per_year`` (or its
  square root); see :func:`infer_periods_per_year` for how it is inferred from the
  index.

Where they live
---------------
``periods`` (periods per year), ``returns`` (returns, CAGR, volatility, Sharpe,
Sortino), ``drawdown``, ``exposure`` (time in market, leverage, turnover) and
``trades`` (trade statistics, rejections by reason), on the conversions of
``conversions``; this module gathers them (its names are the public API) and
computes them all at once (:func:`compute_metrics`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

import numpy.typing as npt
import pandas as pd

from solvent.results.conversions import _NAN, MoneyLike, _as_decimal, _index_of
from solvent.results.drawdown import DrawdownStats, max_drawdown
from solvent.results.exposure import ExposureStats, _total, exposure, turnover
from solvent.results.periods import (
    BUSINESS_DAYS_PER_YEAR,
    SESSION_LENGTH,
    _periods_per_year,
    infer_periods_per_year,
)
from solvent.results.returns import (
    cagr,
    return_ratios,
    sharpe,
    simple_returns,
    sortino,
    total_return,
    volatility,
)
from solvent.results.trades import (
    TradesLike,
    TradeStats,
    _HasReason,
    profit_factor,
    rejections_by_reason,
    trade_stats,
    win_rate,
)

__all__ = [
    "BUSINESS_DAYS_PER_YEAR",
    "SESSION_LENGTH",
    "DrawdownStats",
    "ExposureStats",
    "TradeStats",
    "cagr",
    "compute_metrics",
    "exposure",
    "infer_periods_per_year",
    "max_drawdown",
    "profit_factor",
    "rejections_by_reason",
    "sharpe",
    "simple_returns",
    "sortino",
    "total_return",
    "trade_stats",
    "turnover",
    "volatility",
    "win_rate",
]


def compute_metrics(
    equity: pd.Series,
    *,
    trades: TradesLike = (),
    rejections: Iterable[_HasReason] = (),
    commission: MoneyLike = Decimal(0),
    traded_value: pd.Series | npt.ArrayLike | MoneyLike | None = None,
    gross_exposure: pd.Series | npt.ArrayLike | None = None,
    max_capital_used: MoneyLike | None = None,
    periods_per_year: float | None = None,
    risk_free: float = 0.0,
) -> dict[str, object]:
    """Return every metric of a backtest under stable snake_case keys.

    Ratios are ``float`` (NaN when undefined); money-like values are exact ``Decimal``
    (or ``None`` when absent). Annualized figures use ``periods_per_year`` or, when it
    is ``None``, :func:`infer_periods_per_year` on the equity index; if that is not
    possible (no ``DatetimeIndex``, fewer than two points) they are NaN.

    Keys
    ----
    ``start``, ``end`` (index labels or ``None``), ``bars``, ``periods_per_year``,
    ``initial_equity``, ``final_equity`` (``Decimal``), ``total_return``, ``cagr``,
    ``volatility``, ``sharpe``, ``sortino``, ``max_drawdown``, ``max_drawdown_peak``,
    ``max_drawdown_trough``, ``max_drawdown_duration``, ``max_drawdown_duration_bars``,
    ``time_in_market``, ``average_gross_leverage`` (NaN without ``gross_exposure``),
    ``turnover``, ``annual_turnover`` (NaN without ``traded_value``), ``commission``,
    ``max_capital_used`` (``Decimal`` or ``None``), ``trades``, ``wins``, ``losses``,
    ``win_rate``, ``profit_factor``, ``gross_profit``, ``gross_loss``, ``total_trade_pnl``,
    ``average_win``, ``average_loss``, ``average_trade`` (net of commissions),
    ``rejections`` (total count), ``rejections_by_reason``.

    Parameters
    ----------
    equity
        NLV per bar.
    trades
        Closed trades (``Trade`` records or a DataFrame, see :func:`trade_stats`).
    rejections
        ``Rejection`` records.
    commission
        Total commissions paid.
    traded_value
        Traded value per bar, or its total, for :func:`turnover`.
    gross_exposure
        Gross exposure per bar, for :func:`exposure`.
    max_capital_used
        High-water mark of capital used, reported as is.
    periods_per_year
        Bars per year; inferred when ``None``.
    risk_free
        Annual risk-free rate for :func:`sharpe`.

    Returns
    -------
    dict[str, object]
        The metrics, always with the same keys in the same order.
    """
    index = _index_of(equity)
    n = len(equity)
    raw = equity.to_numpy()
    ppy: float = _NAN
    try:
        ppy = _periods_per_year(index, periods_per_year)
    except ValueError:
        if periods_per_year is not None:
            raise
    annual = not math.isnan(ppy)
    rets = simple_returns(equity)
    vol, sharpe_ratio, sortino_ratio = return_ratios(rets, ppy, risk_free) if annual else (_NAN, _NAN, _NAN)
    dd = max_drawdown(equity)
    expo = exposure(gross_exposure, equity) if gross_exposure is not None else ExposureStats(_NAN, _NAN)
    ts = trade_stats(trades)
    rej = list(rejections)
    if traded_value is None:
        turn, annual_turn = _NAN, _NAN
    else:
        # The traded total once (a per-bar array is summed here, not once per call).
        traded_total = _total(traded_value)
        turn = turnover(traded_total, equity)
        annual_turn = turnover(traded_total, equity, annualize=True, periods_per_year=ppy) if annual else _NAN
    return {
        "start": index[0] if n else None,
        "end": index[-1] if n else None,
        "bars": n,
        "periods_per_year": ppy,
        "initial_equity": _as_decimal(raw[0]) if n else None,
        "final_equity": _as_decimal(raw[-1]) if n else None,
        "total_return": total_return(equity),
        "cagr": cagr(equity, ppy) if annual else _NAN,
        "volatility": vol,
        "sharpe": sharpe_ratio,
        "sortino": sortino_ratio,
        "max_drawdown": dd.fraction,
        "max_drawdown_peak": dd.peak,
        "max_drawdown_trough": dd.trough,
        "max_drawdown_duration": dd.duration,
        "max_drawdown_duration_bars": dd.duration_bars,
        "time_in_market": expo.time_in_market,
        "average_gross_leverage": expo.average_gross_leverage,
        "turnover": turn,
        "annual_turnover": annual_turn,
        "commission": _as_decimal(commission),
        "max_capital_used": None if max_capital_used is None else _as_decimal(max_capital_used),
        "trades": ts.trades,
        "wins": ts.wins,
        "losses": ts.losses,
        "win_rate": ts.win_rate,
        "profit_factor": ts.profit_factor,
        "gross_profit": ts.gross_profit,
        "gross_loss": ts.gross_loss,
        "total_trade_pnl": ts.total_pnl,
        "average_win": ts.average_win,
        "average_loss": ts.average_loss,
        "average_trade": ts.average_trade,
        "rejections": len(rej),
        "rejections_by_reason": rejections_by_reason(rej),
    }
