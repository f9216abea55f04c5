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

    def at_close(self) -> Bar:
        """Return the bar seen from its close: open, high and low set to the close.

        The same-bar close pass (``fill_timing="same_bar_close"``) matches orders against
        it, so a market order fills at the close and a limit or stop only if the close
        satisfies it.
        """
        c = self.close
        return Bar(self.timestamp, c, c, c, c, self.volume)

    def clamp(self, ticks: int) -> int:
        """Return ``ticks`` clamped into the bar's low–high range."""
        if ticks < self.low:
            return self.low
        if ticks > self.high:
            return self.high
        return ticks
