"""Build bars from decimal prices for broker tests (default equity tick: 0.01)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from solvent.model.bar import Bar

TICK = Decimal("0.01")
START = pd.Timestamp("2024-01-02")


def ticks(price: str | int) -> int:
    """Return ``price`` (e.g. ``"100.00"``) in ticks of 0.01: 100.00 is 10000."""
    t = Decimal(price) / TICK
    assert t == t.to_integral_value(), f"{price} is off the 0.01 grid"
    return int(t)


def day(i: int) -> pd.Timestamp:
    """Return the ``i``-th daily timestamp (consecutive calendar days from 2024-01-02)."""
    return START + pd.Timedelta(days=i)


def bar(
    ts: pd.Timestamp,
    open: str | int,
    high: str | int | None = None,
    low: str | int | None = None,
    close: str | int | None = None,
    volume: int = 1_000_000,
) -> Bar:
    """Return a bar from decimal prices; missing high/low/close default to the open."""
    o = ticks(open)
    h = o if high is None else ticks(high)
    lo = o if low is None else ticks(low)
    c = o if close is None else ticks(close)
    assert lo <= min(o, c) and h >= max(o, c), "inconsistent bar"
    return Bar(ts, o, h, lo, c, volume)


def flat(ts: pd.Timestamp, price: str | int, volume: int = 1_000_000) -> Bar:
    """Return a bar that trades at one price all along."""
    return bar(ts, price, volume=volume)


def minute_sessions(n_bars: int, per_session: int, start: str) -> npt.NDArray[np.datetime64]:
    """Return ``n_bars`` one-minute stamps: sessions of ``per_session`` bars from 09:30 on business days."""
    days = pd.bdate_range(start, periods=n_bars // per_session + 1)
    minutes = pd.timedelta_range("09:30:00", periods=per_session, freq="min")
    return (days.values[:, None] + minutes.values[None, :]).ravel()[:n_bars]
