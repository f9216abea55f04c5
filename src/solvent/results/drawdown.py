"""The maximum drawdown of an equity curve: its depth, peak, trough and longest span."""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

import numpy as np
import pandas as pd

from solvent.results.conversions import _NAN, _index_of, _ns, _to_float_array


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
    # The running peak, then the drawdown in its place (one run-sized float array).
    dd = np.maximum.accumulate(e)
    at_high = e >= dd
    positive = dd > 0
    np.divide(e, dd, out=dd, where=positive)
    np.subtract(1.0, dd, out=dd, where=positive)
    np.copyto(dd, 0.0, where=np.logical_not(positive, out=positive))  # 0 where the peak is not positive
    del positive

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
