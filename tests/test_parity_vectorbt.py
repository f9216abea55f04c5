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

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from _parity import CASH, COMMISSION, DATASETS, FAST, SLOW, FillRow, assert_same_fills, run_solvent

vbt = pytest.importorskip("vectorbt", reason="install the 'peers' extra: pip install -e '.[peers]'")

BoolArray = npt.NDArray[np.bool_]


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


@pytest.mark.parametrize("name", list(DATASETS))
def test_sma_cross_matches_vectorbt(name: str) -> None:
    frame = DATASETS[name]()
    assert_same_fills(name, "vectorbt", run_solvent(frame, COMMISSION), run_vectorbt(frame))
