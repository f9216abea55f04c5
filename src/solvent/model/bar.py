"""One bar of one instrument on the integer grid (prices in ticks, volume in lots)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True, slots=True)
class Bar:
    """An OHLCV bar whose timestamp is its *open* time.

    Prices are in ticks of the instrument and ``volume`` in its lot steps (rounded
    down), so matching and cost models work on the same integers as the ledger.
    """

    timestamp: pd.Timestamp
    open: int
    high: int
    low: int
    close: int
    volume: int

    def clamp(self, ticks: int) -> int:
        """Return ``ticks`` clamped into the bar's low–high range."""
        if ticks < self.low:
            return self.low
        if ticks > self.high:
            return self.high
        return ticks
