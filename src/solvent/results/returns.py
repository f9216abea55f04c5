"""Return and risk metrics of an equity curve: returns, total return, CAGR, volatility, Sharpe, Sortino.

Conventions (``solvent.results.metrics``): simple per-bar returns, NaN where undefined,
statistics skip NaN, annualized with the periods per year (``periods``).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.results.conversions import _NAN, FloatArray, _index_of, _to_float_array
from solvent.results.periods import _periods_per_year


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
    return _std(r) * math.sqrt(periods_per_year)


def _std(x: FloatArray) -> float:
    """Return the sample standard deviation (``ddof=1``) of at least two values."""
    return float(np.std(x, ddof=1))


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
    return _sharpe(r, periods_per_year, risk_free, None)


def _sharpe(r: FloatArray, periods_per_year: float, risk_free: float, sd_r: float | None) -> float:
    """``sharpe`` of at least two finite returns; ``sd_r``: their ``_std`` if known."""
    rf = (1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0 if risk_free else 0.0
    x = r - rf if rf else r  # r - 0.0 is r
    sd = sd_r if sd_r is not None and not rf else _std(x)
    if not sd > 0:
        return _NAN
    return float(np.mean(x) / sd * math.sqrt(periods_per_year))


def return_ratios(
    returns: pd.Series | npt.ArrayLike, periods_per_year: float, risk_free: float = 0.0
) -> tuple[float, float, float]:
    """Return ``(volatility, sharpe, sortino)`` of ``returns``, each as its function gives it.

    One pass of each kind over the returns where the three functions would make three: the
    NaN are dropped once and the standard deviation is taken once (``metrics``).
    """
    r = _finite(returns)
    if r.size < 2:
        return _NAN, _NAN, _sortino(r, periods_per_year)
    sd = _std(r)
    return (
        sd * math.sqrt(periods_per_year),
        _sharpe(r, periods_per_year, risk_free, sd),
        _sortino(r, periods_per_year),
    )


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
    return _sortino(_finite(returns), periods_per_year)


def _sortino(r: FloatArray, periods_per_year: float) -> float:
    """``sortino`` of finite returns (no NaN left to drop)."""
    if r.size == 0:
        return _NAN
    down = np.minimum(r, 0.0)
    dd = math.sqrt(float(np.mean(np.square(down, out=down))))
    if not dd > 0:
        return _NAN
    return float(np.mean(r) / dd * math.sqrt(periods_per_year))
