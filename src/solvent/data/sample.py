"""A bundled, deterministic, SYNTHETIC sample panel (generated, not stored)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from solvent.data.frame import BarData

SEED = 20240101
SYMBOLS = ("SYNA", "SYNB", "SYNC", "SYND", "SYNE", "SYNF")
START = "2014-01-02"
DAYS = 2520  # 10 years of business days
SPLIT_SYMBOL, SPLIT_ROW = "SYNB", 1260  # 2-for-1, effective on this bar
DIVIDEND_SYMBOLS = ("SYNC", "SYND")
DIVIDEND_EVERY = 63  # about quarterly
LATE_SYMBOL, LATE_ROW = "SYNF", 504  # lists two years in: no bars before
ZERO_VOLUME_BARS = 6


@functools.lru_cache(maxsize=1)
def sample() -> BarData:
    """Return a SYNTHETIC daily panel for examples, tests and benchmarks.

    The data are made up: random walks from a fixed seed (``SEED``), generated with
    numpy on each first call (then cached; the arrays are read-only). They are not
    market data and say nothing about any real security. ``meta["synthetic"]`` is
    ``True`` and ``meta["description"]`` says so.

    Contents: six symbols ``SYNA``..``SYNF``, 2,520 business days from 2014-01-02
    (timestamps at midnight, a bar's open time). Prices are raw (unadjusted) on the
    cent grid with high/low consistent after rounding; volumes are whole shares.

    * ``SYNB`` splits 2-for-1 on row 1260: earlier prices are about twice the later
      ones and ``split`` is 2 on that bar.
    * ``SYNC`` and ``SYND`` pay a dividend every 63 bars (``dividend`` column, cents).
    * ``SYNF`` lists on row 504: ``present`` is False before (NaN prices).
    * A few bars (``ZERO_VOLUME_BARS``) have zero volume: open = high = low = close
      = the previous close (no trade).
    """
    rng = np.random.default_rng(SEED)
    t, n = DAYS, len(SYMBOLS)
    stamps = pd.bdate_range(START, periods=t).as_unit("ns").to_numpy()
    start_px = np.array([48.0, 61.5, 95.0, 32.0, 140.0, 24.0])
    drift = np.array([0.06, 0.10, 0.04, 0.05, 0.08, 0.12]) / 252
    vol = np.array([0.20, 0.30, 0.15, 0.18, 0.25, 0.40]) / np.sqrt(252)
    ret = drift - 0.5 * vol**2 + vol * rng.standard_normal((t, n))
    ret[0] = 0.0
    close = start_px * np.exp(np.cumsum(ret, axis=0))
    gap = 0.3 * vol * rng.standard_normal((t, n))
    prev = np.vstack([close[:1], close[:-1]])
    open_ = prev * np.exp(gap)
    up = np.abs(rng.standard_normal((t, n))) * vol * 0.6
    down = np.abs(rng.standard_normal((t, n))) * vol * 0.6
    high = np.maximum(open_, close) * np.exp(up)
    low = np.minimum(open_, close) * np.exp(-down)
    volume = np.round(rng.lognormal(np.log(1_500_000), 0.45, (t, n)))

    # Raw prices before the split are twice the (split-adjusted) path; shares half.
    j = SYMBOLS.index(SPLIT_SYMBOL)
    for a in (open_, high, low, close):
        a[:SPLIT_ROW, j] *= 2.0
    volume[:SPLIT_ROW, j] = np.round(volume[:SPLIT_ROW, j] / 2.0)
    split = np.ones((t, n))
    split[SPLIT_ROW, j] = 2.0

    # On the cent grid; then high/low made consistent with the rounded open/close.
    open_, close = np.round(open_, 2), np.round(close, 2)
    high = np.maximum(np.round(high, 2), np.maximum(open_, close))
    low = np.minimum(np.round(low, 2), np.minimum(open_, close))

    # Zero-volume bars: nothing traded, the price stays at the previous close.
    rows = rng.choice(np.arange(LATE_ROW + 1, t), size=ZERO_VOLUME_BARS, replace=False)
    cols = np.arange(ZERO_VOLUME_BARS) % n
    flat = close[rows - 1, cols]
    for a in (open_, high, low, close):
        a[rows, cols] = flat
    volume[rows, cols] = 0.0

    dividend = np.zeros((t, n))
    ex = np.arange(DIVIDEND_EVERY - 1, t, DIVIDEND_EVERY)
    for sym, yld in zip(DIVIDEND_SYMBOLS, (0.03, 0.02), strict=True):
        k = SYMBOLS.index(sym)
        dividend[ex, k] = np.maximum(np.round(close[ex - 1, k] * yld / 4, 2), 0.01)

    present = np.ones((t, n), dtype=bool)
    present[:LATE_ROW, SYMBOLS.index(LATE_SYMBOL)] = False
    return BarData(
        stamps,
        SYMBOLS,
        open_,
        high,
        low,
        close,
        volume,
        dividend=dividend,
        split=split,
        present=present,
        meta={
            "synthetic": True,
            "source": "solvent.data.sample",
            "seed": SEED,
            "description": (
                "SYNTHETIC random-walk bars generated from a fixed seed; not market data. "
                f"{SPLIT_SYMBOL} splits 2-for-1 at {pd.Timestamp(stamps[SPLIT_ROW]).date()}; "
                f"{', '.join(DIVIDEND_SYMBOLS)} pay quarterly dividends; "
                f"{LATE_SYMBOL} lists at {pd.Timestamp(stamps[LATE_ROW]).date()}; "
                f"{ZERO_VOLUME_BARS} zero-volume bars."
            ),
        },
    )
