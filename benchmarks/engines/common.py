"""What every engine adapter returns, and the settings all engines share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.data import Dataset

CASH = 100_000  # starting cash of each independent account (each symbol and pair)
COMMISSION = 0.001  # 0.1 % of traded value (10 bps), charged on buys and sells
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sma_cross.py"

Fill = tuple[int, int, int, int]  # (timestamp ns, side +1 buy / -1 sell, quantity, price in cents)


@dataclass
class Outcome:
    """Fills and final equity per column (one independent account per symbol and SMA pair)."""

    fills: dict[str, list[Fill]] = field(default_factory=dict)
    equity: dict[str, float] = field(default_factory=dict)
    # The commission of each fill (currency units), parallel to ``fills``: solvent's is
    # exact to the cent, the peers' is the float ``quantity × price × 0.001`` they charge.
    commission: dict[str, list[float]] = field(default_factory=dict)
    # Orders solvent refused (with a reason code) where a peer skips silently, e.g. an
    # all-in buy once the cash no longer pays for one share; None for the peers.
    refused: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "fills": self.fills,
            "equity": self.equity,
            "commission": self.commission,
            "refused": self.refused,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Outcome:
        fills = {
            k: [(int(f[0]), int(f[1]), int(f[2]), int(f[3])) for f in v] for k, v in obj["fills"].items()
        }
        equity = {k: float(v) for k, v in obj["equity"].items()}
        commission = {k: [float(c) for c in v] for k, v in obj["commission"].items()}
        return cls(fills=fills, equity=equity, commission=commission, refused=obj.get("refused"))

    def add(self, column: str, fill: Fill, commission: float) -> None:
        """Append one fill (and its commission) to ``column``."""
        self.fills.setdefault(column, []).append(fill)
        self.commission.setdefault(column, []).append(commission)

    @property
    def n_fills(self) -> int:
        return sum(len(v) for v in self.fills.values())

    @property
    def n_trades(self) -> int:
        """Round trips closed (sell fills), counted the same way for every engine."""
        return sum(1 for v in self.fills.values() for f in v if f[1] < 0)

    @property
    def total_equity(self) -> float:
        return sum(self.equity.values())


def labels(ds: Dataset) -> list[str]:
    """Return the column labels in the order pair-major, symbol-minor (as ``signals.decisions``)."""
    out = []
    for fast, slow in ds.pairs:
        for sym in ds.symbols:
            if len(ds.pairs) == 1:
                out.append(sym)
            elif len(ds.symbols) == 1:
                out.append(f"{fast}/{slow}")
            else:
                out.append(f"{fast}/{slow}:{sym}")
    return out


def cents(price: float) -> int:
    """Return a fill price in cents, after checking it is on the cent grid (to float noise)."""
    c = round(price * 100)
    if abs(price * 100 - c) > 1e-4:
        raise ValueError(f"fill price {price!r} is off the cent grid")
    return int(c)
