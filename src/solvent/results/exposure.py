"""Exposure and turnover: time in the market, average gross leverage, traded value over equity."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.model.money import Money
from solvent.results.conversions import _NAN, MoneyLike, _as_decimal, _index_of, _to_float_array
from solvent.results.periods import _periods_per_year


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


def _total(values: pd.Series | npt.ArrayLike | MoneyLike) -> float:
    """Return ``turnover``'s traded total: a scalar's absolute value, or an array's sum of them."""
    if isinstance(values, Money | Decimal | int | float):
        return abs(float(_as_decimal(values)))
    v = _to_float_array(values)
    # Values that are all non-negative (traded value per bar) add up as they are: the
    # same floats in the same order, without a run-sized array of absolute values.
    if v.size and float(v.min()) >= 0:
        return float(np.sum(v))
    return float(np.sum(np.abs(v)))


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
    result = _total(traded_value) / mean_e
    if not annualize:
        return result
    if e.size < 2:
        return _NAN
    ppy = _periods_per_year(_index_of(equity), periods_per_year)
    return result / ((e.size - 1) / ppy)
