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

How the rolling means are computed (``rolling_means``): ``DataFrame.rolling(w).mean()``
runs pandas' compiled ``roll_mean`` once per column, with a few tens of microseconds of
Python around each call (window bounds, checks), which on 100 symbols is more than the
arithmetic. Here all columns are stacked end to end in one ``Series`` and rolled once per
window, with a ``BaseIndexer`` whose windows never reach back into the previous column:
the same pandas function over the same floats in the same order, and ``roll_mean``
restarts its sums (and its compensation) whenever a window shares nothing with the one
before, which is exactly where a column starts. So every value is the float
``DataFrame.rolling(w).mean()`` gives; ``python benchmarks/signals.py`` checks that with
``np.array_equal`` on every data set. The same function runs inside every engine's timed
region, so it changes no comparison.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.indexers import BaseIndexer

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class ColumnWindows(BaseIndexer):
    """Trailing windows of ``window_size`` over columns of ``rows`` values stacked end to end.

    Position ``k`` (row ``k % rows`` of column ``k // rows``) sees ``[max(k + 1 - w,
    column start), k + 1)``: ``DataFrame.rolling(w)``'s window, cut at its column's first row.

    ``end`` (``1, 2, ..., n``) and ``start`` (written over) are buffers the caller
    allocates once per ``rolling_means`` call and shares between its windows: the bounds
    are two arrays as long as the data, and on 100 × 2,520 bars most of their cost is the
    first touch of fresh memory (page faults), not the arithmetic.
    """

    rows: int
    window_size: int
    end: IntArray
    start: IntArray

    def get_window_bounds(
        self,
        num_values: int = 0,
        min_periods: int | None = None,
        center: bool | None = None,
        closed: str | None = None,
        step: int | None = None,
    ) -> tuple[IntArray, IntArray]:
        end, start = self.end[:num_values], self.start[:num_values]
        np.subtract(end, self.window_size, out=start)
        # The first ``w - 1`` rows of each column start at the column's first row.
        head = start.reshape(-1, self.rows)[:, : self.window_size - 1]
        head[...] = end[:: self.rows, None] - 1
        return start, end


def rolling_means(close: FloatArray, windows: list[int]) -> dict[int, FloatArray]:
    """Return ``{w: (T, K) rolling mean}``: bit for bit ``pd.DataFrame(close).rolling(w).mean()``."""
    t, k = close.shape
    # Column-major: column ``j`` is ``flat[j * t : (j + 1) * t]``.
    flat = pd.Series(np.ascontiguousarray(close.T).reshape(-1), copy=False)
    out: dict[int, FloatArray] = {}
    end = np.arange(1, t * k + 1, dtype=np.int64)
    start = np.empty_like(end)
    for w in windows:
        if w > t:  # the window never fills: all NaN, as pandas gives
            out[w] = np.full((t, k), np.nan)
            continue
        mean = flat.rolling(ColumnWindows(window_size=w, rows=t, end=end, start=start), min_periods=w).mean()
        out[w] = mean.to_numpy().reshape(k, t).T
    return out


def sma_up(close: FloatArray, fast: int, slow: int) -> tuple[BoolArray, BoolArray]:
    """Return ``(up, ready)`` for ``(T, K)`` closes: ``fast`` SMA above ``slow``, slow SMA defined."""
    means = rolling_means(close, sorted({fast, slow}))
    return means[fast] > means[slow], ~np.isnan(means[slow])


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
    means = rolling_means(close, sorted({w for pair in pairs for w in pair}))
    ups, downs = [], []
    for fast, slow in pairs:
        up = means[fast] > means[slow]
        ready = ~np.isnan(means[slow])
        cu, cd = crosses(up, ready)
        ups.append(cu)
        downs.append(cd)
    return np.hstack(ups), np.hstack(downs)


def _reference_means(close: FloatArray, windows: list[int]) -> dict[int, FloatArray]:
    frame = pd.DataFrame(close)
    return {w: frame.rolling(w).mean().to_numpy() for w in windows}


def check(names: Sequence[str] | None = None) -> bool:
    """Check ``rolling_means`` against ``DataFrame.rolling(w).mean()`` bit for bit; print and return."""
    from benchmarks.data import DATASETS, build  # noqa: PLC0415 (only for the check)

    ok = True
    for name in names or DATASETS:
        ds = build(name)
        windows = sorted({w for pair in ds.pairs for w in pair})
        got, ref = rolling_means(ds.close, windows), _reference_means(ds.close, windows)
        same = all(np.array_equal(got[w], ref[w], equal_nan=True) for w in windows)
        print(f"{name}: {len(windows)} windows on {ds.close.shape}: {'identical' if same else 'DIFFERENT'}")
        ok &= same
    return ok


if __name__ == "__main__":
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(0 if check(sys.argv[1:]) else 1)
