"""Deterministic benchmark data: synthetic OHLCV bars on the cent grid, with volume.

Three data sets and a grid case (issue 6 §3):

* ``a``: 1 symbol × 10,000 daily bars (business days from 1986-01-02);
* ``b``: 1 symbol × 1,000,000 one-minute bars (09:30-15:59, 390 bars per business day
  from 2014-01-02; the last session is partial);
* ``c``: 100 symbols × 2,520 daily bars (business days from 2015-01-02);
* ``grid``: the bars of ``a`` and 100 (fast, slow) SMA pairs: fast 5, 10, ..., 50
  × slow 60, 80, ..., 240.

Log prices follow a slowly mean-reverting random walk (an Ornstein-Uhlenbeck process
around the starting price), so long series neither explode nor fall to a few cents;
opens gap a little from the previous close, high/low are consistent with the rounded
open/close, and every bar has a positive volume (a zero-volume bar fills nothing in
solvent but fills in the peers, which would break parity by design). Everything comes
from ``numpy.random.default_rng`` with fixed seeds: the same bytes on every machine.

Run ``python benchmarks/data.py`` to print a summary of each data set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

DATASETS = ("a", "b", "c", "grid")
DESCRIPTIONS = {
    "a": "1 symbol × 10,000 daily bars",
    "b": "1 symbol × 1,000,000 one-minute bars",
    "c": "100 symbols × 2,520 daily bars",
    "grid": "100 (fast, slow) pairs on a",
}
GRID_FAST = tuple(range(5, 55, 5))
GRID_SLOW = tuple(range(60, 260, 20))
SESSION_MINUTES = 390  # 09:30 to 15:59 inclusive


@dataclass(frozen=True)
class Dataset:
    """Bars of ``N`` symbols over ``T`` timestamps (arrays ``(T, N)``), plus SMA pairs.

    ``pairs`` holds the (fast, slow) SMA windows to run: one pair, (10, 50), except for
    the grid case. Every symbol has a bar at every timestamp.
    """

    name: str
    index: pd.DatetimeIndex
    symbols: tuple[str, ...]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    pairs: tuple[tuple[int, int], ...] = ((10, 50),)
    freq: str = "1D"
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def bars(self) -> int:
        """Return the number of bars one run processes (timestamps × symbols × pairs)."""
        return len(self.index) * len(self.symbols) * len(self.pairs)

    def frame(self, j: int = 0) -> pd.DataFrame:
        """Return symbol ``j``'s bars: lower-case OHLCV columns, indexed by ``timestamp``."""
        return pd.DataFrame(
            {
                "open": self.open[:, j],
                "high": self.high[:, j],
                "low": self.low[:, j],
                "close": self.close[:, j],
                "volume": self.volume[:, j],
            },
            index=self.index,
        )

    def head(self, rows: int, symbols: int, pairs: int) -> Dataset:
        """Return the first ``rows`` timestamps of the first ``symbols`` symbols and ``pairs`` pairs."""
        s = slice(0, rows), slice(0, symbols)
        return Dataset(
            name=f"{self.name}-head",
            index=self.index[:rows],
            symbols=self.symbols[:symbols],
            open=self.open[s].copy(),
            high=self.high[s].copy(),
            low=self.low[s].copy(),
            close=self.close[s].copy(),
            volume=self.volume[s].copy(),
            pairs=self.pairs[:pairs],
            freq=self.freq,
            meta=dict(self.meta),
        )

    def save(self, path: Path) -> None:
        """Write the data set to one ``.npz`` file (read back with ``load``)."""
        np.savez(
            path,
            name=self.name,
            index=self.index.to_numpy(),
            symbols=np.array(self.symbols),
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            pairs=np.array(self.pairs, dtype=np.int64),
            freq=self.freq,
        )


def load(path: Path) -> Dataset:
    """Read a data set written by ``Dataset.save``."""
    with np.load(path, allow_pickle=False) as z:
        return Dataset(
            name=str(z["name"]),
            index=pd.DatetimeIndex(z["index"], name="timestamp").as_unit("ns"),
            symbols=tuple(str(s) for s in z["symbols"]),
            open=z["open"],
            high=z["high"],
            low=z["low"],
            close=z["close"],
            volume=z["volume"],
            pairs=tuple((int(f), int(s)) for f, s in z["pairs"]),
            freq=str(z["freq"]),
        )


def _ou_log_prices(
    rng: np.random.Generator, start: FloatArray, sigma: FloatArray, kappa: float, t: int
) -> FloatArray:
    """Return ``(t, n)`` closes: log price mean-reverting to ``log(start)`` at rate ``kappa``.

    The recursion ``x[k] = x[k-1] + kappa (mu - x[k-1]) + sigma eps[k]`` runs over time,
    vectorized across symbols (a Python loop over ``t``; about 0.5 s for a million bars).
    """
    n = start.size
    mu = np.log(start)
    eps = rng.standard_normal((t, n)) * sigma
    x = np.empty((t, n))
    prev = mu.copy()
    keep = 1.0 - kappa
    drift = kappa * mu
    for k in range(t):
        prev = keep * prev + drift + eps[k]
        x[k] = prev
    x[0] = mu
    return np.exp(x)


def _ohlcv(
    rng: np.random.Generator, close: FloatArray, gap: float, wick: float, volume: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return cent-grid (open, high, low, close) and whole positive volumes around ``close``."""
    shape = close.shape
    prev = np.vstack([close[:1], close[:-1]])
    open_ = prev * np.exp(gap * rng.standard_normal(shape))
    high = np.maximum(open_, close) * np.exp(np.abs(wick * rng.standard_normal(shape)))
    low = np.minimum(open_, close) * np.exp(-np.abs(wick * rng.standard_normal(shape)))
    open_, close = np.round(open_, 2), np.round(close, 2)
    high = np.maximum(np.round(high, 2), np.maximum(open_, close))
    low = np.minimum(np.round(low, 2), np.minimum(open_, close))
    vol = np.maximum(1.0, np.round(rng.lognormal(np.log(volume), 0.5, shape)))
    if (low < 1.0).any():  # a property of these seeds; checked so a change cannot slip by
        raise ValueError("generated prices fell below 1.00; choose another seed")
    return open_, high, low, close, vol


def daily_one(days: int = 10_000, seed: int = 11) -> Dataset:
    """Return data set ``a``: one symbol of daily bars."""
    rng = np.random.default_rng(seed)
    close = _ou_log_prices(rng, np.array([50.0]), np.array([0.018]), 1 / 500, days)
    o, h, lo, c, v = _ohlcv(rng, close, 0.005, 0.008, 1_000_000)
    index = pd.bdate_range("1986-01-02", periods=days, name="timestamp")
    return Dataset("a", index, ("A",), o, h, lo, c, v, meta={"synthetic": "benchmarks/data.py"})


def minute_one(bars: int = 1_000_000, seed: int = 12) -> Dataset:
    """Return data set ``b``: one symbol of one-minute bars, 390 per business day."""
    rng = np.random.default_rng(seed)
    close = _ou_log_prices(rng, np.array([100.0]), np.array([0.0009]), 1 / (SESSION_MINUTES * 250), bars)
    o, h, lo, c, v = _ohlcv(rng, close, 0.0002, 0.0004, 5_000)
    days = -(-bars // SESSION_MINUTES)
    sessions = pd.bdate_range("2014-01-02", periods=days) + pd.Timedelta(hours=9, minutes=30)
    minutes = pd.to_timedelta(np.arange(SESSION_MINUTES), unit="min")
    stamps = (sessions.to_numpy()[:, None] + minutes.to_numpy()[None, :]).ravel()[:bars]
    index = pd.DatetimeIndex(stamps, name="timestamp")
    return Dataset("b", index, ("B",), o, h, lo, c, v, freq="1min", meta={"synthetic": "benchmarks/data.py"})


def daily_panel(symbols: int = 100, days: int = 2_520, seed: int = 13) -> Dataset:
    """Return data set ``c``: ``symbols`` symbols of daily bars, each with its own level and volatility."""
    rng = np.random.default_rng(seed)
    start = np.round(rng.uniform(10.0, 300.0, symbols), 2)
    sigma = rng.uniform(0.01, 0.03, symbols)
    close = _ou_log_prices(rng, start, sigma, 1 / 500, days)
    o, h, lo, c, v = _ohlcv(rng, close, 0.005, 0.008, 1_000_000)
    index = pd.bdate_range("2015-01-02", periods=days, name="timestamp")
    names = tuple(f"S{k:03d}" for k in range(symbols))
    return Dataset("c", index, names, o, h, lo, c, v, meta={"synthetic": "benchmarks/data.py"})


def grid(days: int = 10_000, fast: tuple[int, ...] = GRID_FAST, slow: tuple[int, ...] = GRID_SLOW) -> Dataset:
    """Return the grid case: data set ``a`` with 100 (fast, slow) pairs."""
    a = daily_one(days)
    pairs = tuple((f, s) for f in fast for s in slow)
    return Dataset(
        "grid", a.index, a.symbols, a.open, a.high, a.low, a.close, a.volume, pairs=pairs, meta=a.meta
    )


def build(name: str, *, quick: bool = False) -> Dataset:
    """Return data set ``name`` (``a``, ``b``, ``c`` or ``grid``); ``quick``: a small version."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    makers: dict[str, Callable[[], Dataset]]
    if quick:
        makers = {
            "a": lambda: daily_one(2_000),
            "b": lambda: minute_one(50_000),
            "c": lambda: daily_panel(10, 600),
            "grid": lambda: grid(2_000, GRID_FAST[:3], GRID_SLOW[:3]),
        }
    else:
        makers = {"a": daily_one, "b": minute_one, "c": daily_panel, "grid": grid}
    return makers[name]()


def main() -> None:
    for name in DATASETS:
        ds = build(name)
        print(
            f"{name}: {DESCRIPTIONS[name]}: {len(ds.index):,} timestamps × {len(ds.symbols)} symbols"
            f" × {len(ds.pairs)} pairs = {ds.bars:,} bars; close {ds.close.min():.2f}..{ds.close.max():.2f};"
            f" {ds.index[0]} .. {ds.index[-1]}"
        )


if __name__ == "__main__":
    main()
