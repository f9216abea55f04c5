"""The SMA(fast/slow) crossover decisions every engine trades, computed once with pandas.

All engines get bit-identical SMA values: pandas' rolling mean over the same float
closes, exactly what ``examples/sma_cross.py`` computes in ``init``. That matters on the
cent grid: ``5 × sum(last 10 closes) == sum(last 50 closes)`` happens in exact arithmetic
(a tie, where ``fast > slow`` is false), and two SMA implementations that round
differently (Backtrader's ``math.fsum``, VectorBT's running sums, pandas' compensated
sums) break such a tie differently; on a million bars that is hundreds of crosses.

A decision at bar ``i`` (on closes): ``up[i] = SMA_fast[i] > SMA_slow[i]``; a cross-up is
``up[i] and not up[i-1]``, a cross-down the reverse, both only once the slow SMA exists at
``i - 1``. Orders fill at bar ``i + 1``'s open.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


def sma_up(close: FloatArray, fast: int, slow: int) -> tuple[BoolArray, BoolArray]:
    """Return ``(up, ready)`` for ``(T, K)`` closes: ``fast`` SMA above ``slow``, slow SMA defined."""
    frame = pd.DataFrame(close)
    f = frame.rolling(fast).mean()
    s = frame.rolling(slow).mean()
    return (f > s).to_numpy(), s.notna().to_numpy()


def crosses(up: BoolArray, ready: BoolArray) -> tuple[BoolArray, BoolArray]:
    """Return ``(cross_up, cross_down)`` on the decision bars, shaped like ``up``."""
    prev_up = np.zeros_like(up)
    prev_up[1:] = up[:-1]
    prev_ready = np.zeros_like(ready)
    prev_ready[1:] = ready[:-1]
    return up & ~prev_up & prev_ready, prev_up & ~up & prev_ready


def shift_to_fill_bar(signal: BoolArray) -> BoolArray:
    """Move decisions one bar on, to the bar whose open fills them (the last one is dropped)."""
    out = np.zeros_like(signal)
    out[1:] = signal[:-1]
    return out


def decisions(close: FloatArray, pairs: tuple[tuple[int, int], ...]) -> tuple[BoolArray, BoolArray]:
    """Return ``(cross_up, cross_down)`` of shape ``(T, P × N)`` for ``N`` symbols and ``P`` pairs.

    Column ``p × N + j`` is pair ``p`` on symbol ``j``. Each distinct window's rolling
    mean is computed once, as a grid would.
    """
    windows = sorted({w for pair in pairs for w in pair})
    frame = pd.DataFrame(close)
    means = {w: frame.rolling(w).mean() for w in windows}
    ups, downs = [], []
    for fast, slow in pairs:
        up = (means[fast] > means[slow]).to_numpy()
        ready = means[slow].notna().to_numpy()
        cu, cd = crosses(up, ready)
        ups.append(cu)
        downs.append(cd)
    return np.hstack(ups), np.hstack(downs)
