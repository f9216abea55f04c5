"""Periods per year: how many bars make one year, inferred from the index or given.

Used by the annualized metrics (``returns``, ``exposure.turnover``, ``metrics``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.results.conversions import _ns

#: Trading sessions per year used for daily business-day data and intraday data.
BUSINESS_DAYS_PER_YEAR = 252
#: Length of the regular (US equity) session used to annualize intraday bars.
SESSION_LENGTH = pd.Timedelta(hours=6, minutes=30)


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
    median_ns = _median_step(_ns(index))
    if not median_ns > 0:
        raise ValueError("cannot infer periods per year: timestamps are not increasing")
    day_ns = float(pd.Timedelta(days=1).value)
    if median_ns < day_ns:
        return BUSINESS_DAYS_PER_YEAR * (SESSION_LENGTH.value / median_ns)
    if median_ns <= 1.5 * day_ns:
        weekend = bool(np.any(index.day_of_week.to_numpy() >= 5))
        return 365.0 if weekend else float(BUSINESS_DAYS_PER_YEAR)
    return 365.25 * day_ns / median_ns


#: ``_median_step`` guesses from a sample of about this many steps.
_MEDIAN_SAMPLE = 1024


#: ``_median_step`` counts the steps of this many stamps at a time.
_COUNT_BLOCK = 1 << 16


def _median_step(ns: npt.NDArray[np.int64]) -> float:
    """Return ``float(np.median(np.diff(ns)))`` without sorting a long run of steps.

    Bars come at a few spacings, one of them most of the time: the median of a sample of
    steps is the whole median when the middle rank(s) of the sorted steps hold that
    value, which two counts prove (``rank(x < m) <= lo`` and ``rank(x <= m) > hi``),
    taken block by block (no run-sized array of steps). A sort (a partition: 30 ms on a
    million one-minute bars) is left for the other cases.
    """
    n = len(ns) - 1  # steps
    if n <= _MEDIAN_SAMPLE:
        return float(np.median(np.diff(ns)))
    at = np.arange(0, n, n // _MEDIAN_SAMPLE)
    sample = ns[at + 1] - ns[at]
    m = np.partition(sample, len(sample) // 2)[len(sample) // 2]  # any value would be sound
    lo, hi = (n - 1) // 2, n // 2  # the middle ranks (one when n is odd)
    below = at_most = 0
    for r0 in range(0, n, _COUNT_BLOCK):
        steps = np.diff(ns[r0 : r0 + _COUNT_BLOCK + 1])
        below += int(np.count_nonzero(steps < m))
        at_most += int(np.count_nonzero(steps <= m))
    if below <= lo and at_most > hi:
        return float(m)
    return float(np.median(np.diff(ns)))


def _periods_per_year(index: pd.Index, periods_per_year: float | None) -> float:
    if periods_per_year is None:
        return infer_periods_per_year(index)
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year!r}")
    return float(periods_per_year)
