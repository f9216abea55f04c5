"""Parity with VectorBT (issue 4): ``examples/sma_cross.py`` against ``vbt.Portfolio.from_signals``.

Setting: commission 0.001 (10 bps, given as a plain number), no volume cap, cash
account, 100,000 starting cash, fast=10, slow=50, prices on the cent grid. VectorBT gets
the example's decisions as signals shifted by one bar (a cross at bar ``i``'s close
trades at bar ``i + 1``), ``price=open``, ``size=np.inf`` with ``size_granularity=1``
(all the cash, whole shares: ``floor(cash / 1.001 / open)``), ``fees=0.001`` and
``direction="longonly"``; its final value is cash + shares × last close. See
``docs/parity.md``.

Every fill (timestamp, side, quantity, price) must be identical, and the final equity
must agree within half a cent per fill (solvent rounds each fill's cash to the cent,
VectorBT keeps float fractions).

VectorBT's import and its first ``from_signals`` call load about a hundred cached numba
functions (about 20 s the first time they compile), so this module imports it once and
calls it once per data set.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

import solvent
from solvent.data import BarData, sample

vbt = pytest.importorskip("vectorbt", reason="install the 'peers' extra: pip install -e '.[peers]'")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sma_cross.py"
CASH = 100_000
FAST, SLOW = 10, 50
COMMISSION = 0.001  # 10 bps

BoolArray = npt.NDArray[np.bool_]


def _sma_cross() -> type[solvent.Strategy]:
    spec = importlib.util.spec_from_file_location("_parity_vbt_sma_cross", EXAMPLE)
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
    """One symbol, business days, prices on the cent grid, high/low consistent.

    The same generator and seed as ``tests/test_parity_backtrader.py``, so the two
    parity tests run on the same bars.
    """
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
    panel = sample()
    return panel.symbol_frame(panel.symbols[0])


def run_solvent(frame: pd.DataFrame) -> tuple[list[FillRow], float]:
    data: BarData = solvent.data.from_frame(frame, symbol="X")
    res = solvent.backtest(
        _sma_cross(),
        data,
        cash=CASH,
        account="cash",
        commission=COMMISSION,
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


def fill_bar_signals(close: pd.Series) -> tuple[BoolArray, BoolArray]:
    """Return (entries, exits) on the bars that fill: the example's crosses moved one bar on.

    The example decides at bar ``i`` on closes: ``up = SMA_fast > SMA_slow`` (pandas
    rolling means, as in its ``init``), a cross-up is ``up[i] and not up[i-1]``, a
    cross-down the reverse, both only once the slow SMA exists at ``i - 1``. Its
    orders fill at bar ``i + 1``'s open, so VectorBT gets the signal at ``i + 1``; a
    cross on the last bar never fills in either engine.
    """
    fast = close.rolling(FAST).mean()
    slow = close.rolling(SLOW).mean()
    up = (fast > slow).to_numpy()
    ready = slow.notna().to_numpy()
    prev_up = np.concatenate([[False], up[:-1]])
    prev_ready = np.concatenate([[False], ready[:-1]])
    cross_up = up & ~prev_up & prev_ready
    cross_down = prev_up & ~up & prev_ready
    entries = np.concatenate([[False], cross_up[:-1]])
    exits = np.concatenate([[False], cross_down[:-1]])
    return entries, exits


def run_vectorbt(frame: pd.DataFrame) -> tuple[list[FillRow], float]:
    entries, exits = fill_bar_signals(frame["close"])
    pf = vbt.Portfolio.from_signals(
        frame["close"],  # valuation (final value = cash + shares × last close)
        entries,
        exits,
        price=frame["open"],  # fills at the open of the bar that carries the signal
        size=np.inf,  # all the cash ...
        size_granularity=1,  # ... in whole shares: floor(cash / (1 + fees) / open)
        fees=COMMISSION,
        init_cash=float(CASH),
        direction="longonly",
        freq="1D",
    )
    # ``orders.values`` is the raw record array (id, col, idx, size, price, fees, side);
    # ``records_readable`` is avoided: it calls a pandas API deprecated in pandas 3.1.
    records = pf.orders.values
    fills: list[FillRow] = []
    for rec in records:
        size, price = float(rec["size"]), float(rec["price"])
        assert size == int(size) > 0, size
        assert abs(price - round(price, 2)) < 1e-6, price
        fills.append(
            FillRow(
                pd.Timestamp(frame.index[int(rec["idx"])]),
                "BUY" if int(rec["side"]) == 0 else "SELL",
                int(size),
                round(price, 2),
            )
        )
    assert float(pf.cash().min()) >= 0.0
    return fills, float(pf.final_value())


DATASETS = {"random_walk": random_walk, "sample_first": sample_first}


@pytest.mark.parametrize("name", list(DATASETS))
def test_sma_cross_matches_vectorbt(name: str) -> None:
    frame = DATASETS[name]()
    fills, equity = run_solvent(frame)
    vbt_fills, vbt_equity = run_vectorbt(frame)
    assert fills, "the strategy should trade"
    for k, (ours, theirs) in enumerate(zip(fills, vbt_fills, strict=False)):
        assert ours == theirs, f"first differing fill is #{k}: solvent {ours} vs vectorbt {theirs}"
    assert len(fills) == len(vbt_fills)
    bound = 0.005 * len(fills)
    diff = abs(equity - vbt_equity)
    print(f"{name}: {len(fills)} fills, final equity {equity:.2f} vs {vbt_equity:.6f}, |Δ| = {diff:.6f}")
    assert diff <= bound, f"|Δ equity| = {diff} > {bound}"
