"""Pure, vectorized performance metrics for backtest results.

Every function here is side-effect free and works on whole arrays (numpy/pandas): no
Python loop runs per bar. Python loops only run per *trade* or per *rejection*, where
the records are Python objects anyway.

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
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.model.money import Money
from solvent.model.records import Trade

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

#: Trading sessions per year used for daily business-day data and intraday data.
BUSINESS_DAYS_PER_YEAR = 252
#: Length of the regular (US equity) session used to annualize intraday bars.
SESSION_LENGTH = pd.Timedelta(hours=6, minutes=30)

FloatArray = npt.NDArray[np.float64]
MoneyLike = Money | Decimal | int | float
PnlBasis = Literal["net", "gross"]

_NAN = float("nan")


class _HasReason(Protocol):
    @property
    def reason(self) -> Any: ...


# ---------------------------------------------------------------------------
# conversions
# ---------------------------------------------------------------------------


def _as_decimal(value: object) -> Decimal:
    """Return a money-like scalar as an exact ``Decimal`` (floats via their ``repr``)."""
    if isinstance(value, Money):
        return value.amount
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool is not an amount")
    if isinstance(value, int | np.integer):
        return Decimal(int(value))
    if isinstance(value, float | np.floating):
        return Decimal(repr(float(value)))
    raise TypeError(f"cannot read {type(value).__name__} as an amount")


def _to_float_array(values: pd.Series | Sequence[object] | npt.ArrayLike) -> FloatArray:
    """Return values as ``float64``; ``Decimal`` and ``Money`` objects are accepted."""
    if isinstance(values, pd.Series):
        raw = values.to_numpy()
    elif isinstance(values, np.ndarray):
        raw = values
    else:
        raw = np.asarray(values, dtype=object)
    if raw.dtype.kind in "biuf":  # numbers already: one vectorized cast, no Python objects
        return raw.astype(np.float64, copy=False)
    try:
        return np.asarray(raw, dtype=np.float64)
    except TypeError:
        # Money has no __float__; read its exact amount first (object path, per value).
        return np.asarray([float(_as_decimal(v)) for v in raw.ravel()], dtype=np.float64)


def _ns(index: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """Return timestamps as int64 nanoseconds whatever the index's unit."""
    if index.unit != "ns":  # ``as_unit`` copies even when the unit is already right
        index = index.as_unit("ns")
    return np.asarray(index.asi8, dtype=np.int64)


def _index_of(series: pd.Series) -> pd.Index:
    return series.index


# ---------------------------------------------------------------------------
# periods per year
# ---------------------------------------------------------------------------


def infer_periods_per_year(index: pd.Index) -> float:
    """Infer how many bars make one year from a ``DatetimeIndex``.

    Let ``Δ`` be the median spacing between consecutive timestamps.

    * ``Δ < 1 day`` (intraday): ``252 × (6.5 h / Δ)``, i.e. 252 sessions of a 6.5-hour
      regular US equity session. One-minute bars give ``252 × 390 = 98 280``, five-minute
      bars ``252 × 78``, hourly bars ``252 × 6.5``. For 24-hour markets pass
      ``periods_per_year`` explicitly.
    * ``1 day ≤ Δ ≤ 1.5 days`` (daily): ``252`` when no timestamp falls on a Saturday or
      Sunday (business-day data; holidays and weekends do not move the median), else
      ``365`` (calendar-daily data such as crypto).
    * Otherwise ``365.25 days / Δ`` (weekly ≈ 52.18, so pass ``52`` explicitly if
      you need the round figure).

    Parameters
    ----------
    index
        The equity or returns index; it must be a ``DatetimeIndex`` of at least two
        distinct, increasing timestamps.

    Returns
    -------
    float
        Bars per year.

    Raises
    ------
    ValueError
        If the index is not a ``DatetimeIndex`` or has no positive spacing.
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError("cannot infer periods per year: the index is not a DatetimeIndex")
    if len(index) < 2:
        raise ValueError("cannot infer periods per year from fewer than two timestamps")
    steps = np.diff(_ns(index))
    median_ns = _median(steps)
    if not median_ns > 0:
        raise ValueError("cannot infer periods per year: timestamps are not increasing")
    day_ns = float(pd.Timedelta(days=1).value)
    if median_ns < day_ns:
        return BUSINESS_DAYS_PER_YEAR * (SESSION_LENGTH.value / median_ns)
    if median_ns <= 1.5 * day_ns:
        weekend = bool(np.any(index.day_of_week.to_numpy() >= 5))
        return 365.0 if weekend else float(BUSINESS_DAYS_PER_YEAR)
    return 365.25 * day_ns / median_ns


#: ``_median`` guesses from a sample of about this many steps.
_MEDIAN_SAMPLE = 1024


def _median(steps: npt.NDArray[np.int64]) -> float:
    """Return ``float(np.median(steps))`` without sorting a long run of steps.

    Bars come at a few spacings, one of them most of the time: the sample's median is
    the whole median when the middle rank(s) of the sorted steps hold that value, which
    two counts prove (``rank(x < m) <= lo`` and ``rank(x <= m) > hi``). A sort (a
    partition: 30 ms on a million one-minute bars) is left for the other cases.
    """
    n = len(steps)
    if n <= _MEDIAN_SAMPLE:
        return float(np.median(steps))
    sample = steps[:: n // _MEDIAN_SAMPLE]
    m = np.partition(sample, len(sample) // 2)[len(sample) // 2]  # any value would be sound
    lo, hi = (n - 1) // 2, n // 2  # the middle ranks (one when n is odd)
    if int(np.count_nonzero(steps < m)) <= lo and int(np.count_nonzero(steps <= m)) > hi:
        return float(m)
    return float(np.median(steps))


def _periods_per_year(index: pd.Index, periods_per_year: float | None) -> float:
    if periods_per_year is None:
        return infer_periods_per_year(index)
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year!r}")
    return float(periods_per_year)


# ---------------------------------------------------------------------------
# return metrics
# ---------------------------------------------------------------------------


def simple_returns(equity: pd.Series) -> pd.Series:
    """Return per-bar simple returns of an equity curve.

    ``r_t = E_t / E_{t-1} - 1`` for ``t = 1 … n-1`` (the first bar has no return and is
    dropped, so the result has ``n - 1`` values on ``equity.index[1:]``). When
    ``E_{t-1} <= 0`` the return is undefined and is NaN (e.g. after equity touched
    zero); statistics over returns skip NaN.

    Parameters
    ----------
    equity
        Equity curve (float, int, ``Decimal`` or ``Money`` values).

    Returns
    -------
    pd.Series
        ``float64`` returns indexed by the later bar of each pair.
    """
    e = _to_float_array(equity)
    if e.size < 2:
        return pd.Series([], index=_index_of(equity)[:0], dtype=np.float64)
    prev, cur = e[:-1], e[1:]
    out = np.full(cur.shape, _NAN)
    np.divide(cur, prev, out=out, where=prev > 0)
    out -= 1.0
    return pd.Series(out, index=_index_of(equity)[1:], dtype=np.float64, copy=False)


def total_return(equity: pd.Series) -> float:
    """Return the total return ``E_last / E_first - 1``.

    Parameters
    ----------
    equity
        Equity curve.

    Returns
    -------
    float
        ``0.0`` for a single point; NaN for an empty series or when ``E_first <= 0``.
        Equity ending at zero gives ``-1.0``.
    """
    e = _to_float_array(equity)
    if e.size == 0 or not e[0] > 0:
        return _NAN
    return float(e[-1] / e[0] - 1.0)


def cagr(equity: pd.Series, periods_per_year: float | None = None) -> float:
    """Return the compound annual growth rate.

    ``CAGR = (E_last / E_first) ** (1 / years) - 1`` with ``years = (n - 1) / P``, where
    ``n`` is the number of equity points (so ``n - 1`` elapsed bars) and ``P`` the
    periods per year (inferred from the index by :func:`infer_periods_per_year` when
    not given).

    Parameters
    ----------
    equity
        Equity curve.
    periods_per_year
        Bars per year; inferred from a ``DatetimeIndex`` when ``None``.

    Returns
    -------
    float
        NaN for fewer than two points or ``E_first <= 0``; ``-1.0`` when the equity ends
        at or below zero (the capital was wiped out).
    """
    e = _to_float_array(equity)
    if e.size < 2 or not e[0] > 0:
        return _NAN
    ppy = _periods_per_year(_index_of(equity), periods_per_year)
    if e[-1] <= 0:
        return -1.0
    years = (e.size - 1) / ppy
    return float((e[-1] / e[0]) ** (1.0 / years) - 1.0)


def _finite(returns: pd.Series | npt.ArrayLike) -> FloatArray:
    r = _to_float_array(returns)
    nan = np.isnan(r)
    # Without NaN the array itself (read only here): no copy of a run-sized array.
    return r[~nan] if nan.any() else r


def volatility(returns: pd.Series | npt.ArrayLike, periods_per_year: float) -> float:
    """Return annualized volatility ``σ = std(r, ddof=1) × √P``.

    Parameters
    ----------
    returns
        Per-bar returns; NaN values are skipped.
    periods_per_year
        ``P``, bars per year.

    Returns
    -------
    float
        Sample standard deviation (``ddof=1``) annualized by ``√P``; NaN with fewer
        than two returns. Flat equity gives ``0.0``.
    """
    r = _finite(returns)
    if r.size < 2:
        return _NAN
    return float(np.std(r, ddof=1) * math.sqrt(periods_per_year))


def sharpe(returns: pd.Series | npt.ArrayLike, periods_per_year: float, risk_free: float = 0.0) -> float:
    """Return the annualized Sharpe ratio.

    ``Sharpe = mean(x) / std(x, ddof=1) × √P`` with excess returns ``x_t = r_t - r_f``,
    where the per-period risk-free rate is ``r_f = (1 + risk_free) ** (1 / P) - 1``
    (``risk_free`` is an *annual* rate, de-annualized geometrically).

    Parameters
    ----------
    returns
        Per-bar returns; NaN values are skipped.
    periods_per_year
        ``P``, bars per year.
    risk_free
        Annual risk-free rate (``0.04`` for 4 %).

    Returns
    -------
    float
        NaN with fewer than two returns or when the standard deviation is zero (flat
        equity): never ``inf``.
    """
    r = _finite(returns)
    if r.size < 2:
        return _NAN
    rf = (1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0 if risk_free else 0.0
    x = r - rf if rf else r  # r - 0.0 is r
    sd = float(np.std(x, ddof=1))
    if not sd > 0:
        return _NAN
    return float(np.mean(x) / sd * math.sqrt(periods_per_year))


def sortino(returns: pd.Series | npt.ArrayLike, periods_per_year: float) -> float:
    """Return the annualized Sortino ratio with a target return of zero.

    ``Sortino = mean(r) / DD × √P`` with the downside deviation
    ``DD = sqrt( Σ_t min(r_t, 0)² / N )`` taken over **all** ``N`` returns (positive
    returns are clipped to 0 and still counted in ``N``; the divisor is ``N``, not
    ``N - 1``).

    Parameters
    ----------
    returns
        Per-bar returns; NaN values are skipped.
    periods_per_year
        ``P``, bars per year.

    Returns
    -------
    float
        NaN with no returns or when ``DD == 0`` (no losing period): the ratio is then
        undefined, and NaN is returned rather than ``inf``.
    """
    r = _finite(returns)
    if r.size == 0:
        return _NAN
    down = np.minimum(r, 0.0)
    dd = math.sqrt(float(np.mean(np.square(down, out=down))))
    if not dd > 0:
        return _NAN
    return float(np.mean(r) / dd * math.sqrt(periods_per_year))


# ---------------------------------------------------------------------------
# drawdown
# ---------------------------------------------------------------------------


class DrawdownStats(NamedTuple):
    """The maximum drawdown of an equity curve (see :func:`max_drawdown`)."""

    #: Deepest drawdown as a positive fraction of the running peak (0.1 = -10 %).
    fraction: float
    #: Index label of the peak that the deepest drawdown fell from (``None`` if none).
    peak: Hashable | None
    #: Index label of the deepest point (``None`` if there was no drawdown).
    trough: Hashable | None
    #: Longest peak-to-recovery span: a ``Timedelta`` on a ``DatetimeIndex``, else bars.
    duration: pd.Timedelta | int
    #: The same span counted in bars.
    duration_bars: int


def max_drawdown(equity: pd.Series) -> DrawdownStats:
    """Return the maximum drawdown, its peak and trough, and the longest drawdown span.

    With the running peak ``M_t = max_{s<=t} E_s``, the drawdown is
    ``D_t = 1 - E_t / M_t`` (0 where ``M_t <= 0``) and the maximum drawdown is
    ``max_t D_t``. The *trough* is the first bar reaching it; the *peak* is the last bar
    before the trough at which ``E == M`` (the high it fell from).

    A drawdown period starts at a bar at its running peak and ends at the first later
    bar whose equity is back at or above that peak (recovery), or at the last bar if it
    never recovers. ``duration`` is the **longest** such period (not necessarily the
    deepest one), measured from peak to recovery.

    Parameters
    ----------
    equity
        Equity curve.

    Returns
    -------
    DrawdownStats
        ``fraction`` is NaN for an empty series and ``0.0`` when equity never falls
        (then ``peak`` and ``trough`` are ``None``). Equity touching zero gives
        ``fraction == 1.0``.
    """
    e = _to_float_array(equity)
    index = _index_of(equity)
    is_time = isinstance(index, pd.DatetimeIndex)
    zero_span: pd.Timedelta | int = pd.Timedelta(0) if is_time else 0
    n = e.size
    if n == 0:
        return DrawdownStats(_NAN, None, None, zero_span, 0)
    peak_val = np.maximum.accumulate(e)
    dd = np.zeros(n)
    positive = peak_val > 0
    np.divide(e, peak_val, out=dd, where=positive)
    np.subtract(1.0, dd, out=dd, where=positive)  # 0 where the peak is not positive
    at_high = e >= peak_val
    del peak_val, positive

    depth = float(dd.max())
    peak_label: Hashable | None = None
    trough_label: Hashable | None = None
    if depth > 0:
        trough = int(np.argmax(dd))
        peak = int(np.flatnonzero(at_high[: trough + 1])[-1])
        peak_label, trough_label = index[peak], index[trough]

    highs = np.flatnonzero(at_high)  # bar 0 is always at its own high
    ends = np.append(highs[1:], n - 1)
    # underwater bars lie between two highs when they are more than one bar apart;
    # after the last high, every remaining bar is underwater.
    min_gap = np.ones(highs.size, dtype=np.int64)
    min_gap[-1] = 0
    has_dd = (ends - highs) > min_gap
    if not has_dd.any():
        return DrawdownStats(depth, peak_label, trough_label, zero_span, 0)
    starts, stops = highs[has_dd], ends[has_dd]
    bars = stops - starts
    if isinstance(index, pd.DatetimeIndex):
        spans = _ns(index)[stops] - _ns(index)[starts]
        k = int(np.argmax(spans))
        return DrawdownStats(depth, peak_label, trough_label, pd.Timedelta(int(spans[k])), int(bars[k]))
    k = int(np.argmax(bars))
    return DrawdownStats(depth, peak_label, trough_label, int(bars[k]), int(bars[k]))


# ---------------------------------------------------------------------------
# exposure and turnover
# ---------------------------------------------------------------------------


class ExposureStats(NamedTuple):
    """Market exposure over a backtest (see :func:`exposure`)."""

    #: Share of bars holding any position (gross exposure ≠ 0).
    time_in_market: float
    #: Mean of gross exposure / NLV over bars with positive NLV.
    average_gross_leverage: float


def exposure(gross_exposure: pd.Series | npt.ArrayLike, equity: pd.Series | npt.ArrayLike) -> ExposureStats:
    """Return the share of bars in the market and the average gross leverage.

    ``time_in_market = #{t : G_t ≠ 0} / n`` and
    ``average_gross_leverage = mean_{t : E_t > 0} (G_t / E_t)``, where ``G_t`` is the gross
    exposure ``Σ |qty × price × mult|`` and ``E_t`` the NLV at bar ``t``. The two inputs
    are matched by position and must have the same length.

    Parameters
    ----------
    gross_exposure
        Gross exposure per bar (money-like values accepted).
    equity
        NLV per bar.

    Returns
    -------
    ExposureStats
        Both fields NaN when there are no bars (leverage NaN when no bar has ``E > 0``).
    """
    g = np.abs(_to_float_array(gross_exposure))
    e = _to_float_array(equity)
    if g.shape != e.shape:
        raise ValueError(f"gross_exposure has {g.size} values but equity has {e.size}")
    if g.size == 0:
        return ExposureStats(_NAN, _NAN)
    in_market = float(np.count_nonzero(g) / g.size)
    ok = e > 0
    if ok.all():  # every bar: no copies of the bars picked out
        np.divide(g, e, out=g)
        lev = float(np.mean(g))
    else:
        lev = float(np.mean(g[ok] / e[ok])) if ok.any() else _NAN
    return ExposureStats(in_market, lev)


def turnover(
    traded_value: pd.Series | npt.ArrayLike | MoneyLike,
    equity: pd.Series,
    *,
    annualize: bool = False,
    periods_per_year: float | None = None,
) -> float:
    """Return turnover: total traded value over average equity.

    ``turnover = Σ_t V_t / mean_t(E_t)`` where ``V_t`` is the absolute value traded
    (``|qty × price × mult|`` summed over fills) and ``E_t`` the NLV. With
    ``annualize=True`` it is divided by the years spanned, ``years = (n - 1) / P`` (the
    same span as :func:`cagr`), giving turnover per year.

    Parameters
    ----------
    traded_value
        Per-bar traded value (series/array) or its total (scalar, ``Decimal`` or
        ``Money`` accepted).
    equity
        Equity curve.
    annualize
        Return turnover per year instead of over the whole backtest.
    periods_per_year
        ``P`` when annualizing; inferred from the equity index when ``None``.

    Returns
    -------
    float
        NaN when equity is empty or its mean is not positive, and (annualized) when
        there are fewer than two equity points.
    """
    e = _to_float_array(equity)
    if e.size == 0:
        return _NAN
    mean_e = float(np.mean(e))
    if not mean_e > 0:
        return _NAN
    if isinstance(traded_value, Money | Decimal | int | float):
        total = abs(float(_as_decimal(traded_value)))
    else:
        total = float(np.sum(np.abs(_to_float_array(traded_value))))
    result = total / mean_e
    if not annualize:
        return result
    if e.size < 2:
        return _NAN
    ppy = _periods_per_year(_index_of(equity), periods_per_year)
    return result / ((e.size - 1) / ppy)


# ---------------------------------------------------------------------------
# trades and rejections
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# everything at once
# ---------------------------------------------------------------------------


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
    dd = max_drawdown(equity)
    expo = exposure(gross_exposure, equity) if gross_exposure is not None else ExposureStats(_NAN, _NAN)
    ts = trade_stats(trades)
    rej = list(rejections)
    if traded_value is None:
        turn, annual_turn = _NAN, _NAN
    else:
        turn = turnover(traded_value, equity)
        annual_turn = turnover(traded_value, equity, annualize=True, periods_per_year=ppy) if annual else _NAN
    return {
        "start": index[0] if n else None,
        "end": index[-1] if n else None,
        "bars": n,
        "periods_per_year": ppy,
        "initial_equity": _as_decimal(raw[0]) if n else None,
        "final_equity": _as_decimal(raw[-1]) if n else None,
        "total_return": total_return(equity),
        "cagr": cagr(equity, ppy) if annual else _NAN,
        "volatility": volatility(rets, ppy) if annual else _NAN,
        "sharpe": sharpe(rets, ppy, risk_free) if annual else _NAN,
        "sortino": sortino(rets, ppy) if annual else _NAN,
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
