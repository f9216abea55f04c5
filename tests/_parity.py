"""The solvent side of the SMA parity tests (``test_parity_backtrader.py``, ``test_parity_vectorbt.py``).

Both peers run ``examples/sma_cross.py``'s rules (fast=10, slow=50, all-in long-only,
commission 10 bps, no volume cap, cash account, 100,000 cash) on the same bars; this
module holds the data sets, solvent's run and the fill comparison they share.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import solvent
from solvent.data import BarData, sample
from solvent.execution.costs import CommissionModel

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sma_cross.py"
CASH = 100_000
FAST, SLOW = 10, 50
COMMISSION = 0.001  # 10 bps


def sma_cross() -> type[solvent.Strategy]:
    """Return the example's ``SmaCross`` class, loaded from its file."""
    spec = importlib.util.spec_from_file_location("_parity_sma_cross", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls: type[solvent.Strategy] = module.SmaCross
    return cls


@dataclass(frozen=True)
class FillRow:
    timestamp: pd.Timestamp
    side: str
    quantity: int
    price: float


def random_walk(seed: int = 4, days: int = 1_500) -> pd.DataFrame:
    """One symbol, business days, prices on the cent grid, high/low consistent."""
    rng = np.random.default_rng(seed)
    ret = 0.0002 + 0.018 * rng.standard_normal(days)
    ret[0] = 0.0
    close = 50.0 * np.exp(np.cumsum(ret))
    prev = np.concatenate([close[:1], close[:-1]])
    open_ = prev * np.exp(0.005 * rng.standard_normal(days))
    high = np.maximum(open_, close) * np.exp(np.abs(0.008 * rng.standard_normal(days)))
    low = np.minimum(open_, close) * np.exp(-np.abs(0.008 * rng.standard_normal(days)))
    open_, close = np.round(open_, 2), np.round(close, 2)
    high = np.maximum(np.round(high, 2), np.maximum(open_, close))
    low = np.minimum(np.round(low, 2), np.minimum(open_, close))
    volume = np.round(rng.lognormal(np.log(1_000_000), 0.4, days))
    index = pd.bdate_range("2018-01-02", periods=days, name="timestamp")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def sample_first() -> pd.DataFrame:
    """Return the first symbol of ``solvent.data.sample()`` as one frame."""
    panel = sample()
    return panel.symbol_frame(panel.symbols[0])


DATASETS = {"random_walk": random_walk, "sample_first": sample_first}


def run_solvent(frame: pd.DataFrame, commission: CommissionModel | float) -> tuple[list[FillRow], float]:
    """Run the example on ``frame`` in solvent; return its fills and final equity."""
    data: BarData = solvent.data.from_frame(frame, symbol="X")
    res = solvent.backtest(
        sma_cross(),
        data,
        cash=CASH,
        account="cash",
        commission=commission,
        volume_limit=None,
        fast=FAST,
        slow=SLOW,
    )
    assert res.rejections.empty
    fills = [
        FillRow(pd.Timestamp(r.timestamp), str(r.side), abs(int(r.quantity)), float(r.price))
        for r in res.fills.itertuples()
    ]
    return fills, float(res.final_equity.amount)


def assert_same_fills(
    name: str, peer: str, ours: tuple[list[FillRow], float], theirs: tuple[list[FillRow], float]
) -> None:
    """Identical fills, and final equity within half a cent per fill."""
    fills, equity = ours
    peer_fills, peer_equity = theirs
    assert fills, "the strategy should trade"
    for k, (a, b) in enumerate(zip(fills, peer_fills, strict=False)):
        assert a == b, f"first differing fill is #{k}: solvent {a} vs {peer} {b}"
    assert len(fills) == len(peer_fills)
    bound = 0.005 * len(fills)
    diff = abs(equity - peer_equity)
    print(f"{name}: {len(fills)} fills, final equity {equity:.2f} vs {peer_equity:.6f}, |Δ| = {diff:.6f}")
    assert diff <= bound, f"|Δ equity| = {diff} > {bound}"
