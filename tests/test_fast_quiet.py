"""Quiet stretches of one-symbol signal accounts, recorded in one pass.

A long-only signal account of one symbol with no working order records the bars up
to its next signal in one pass (``solvent.fast._quiet``) instead of the loop's full
step. These scenarios put the edges of such stretches where they can go wrong (a
close on a half tick while held, missing bars at a stretch's last bar, signals on each
side of the eight-bar scan and in its bar-by-bar tail, a repeated entry, an order still
working at the end, negative cash that must keep the margin monitor) and hold every
bar's equity, every fill and refusal to the event engine's, for each kernel that takes
the stretches (cash and margin accounts, next-bar and same-bar fills).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

import solvent
from solvent.data import BarData
from solvent.fast import from_signals
from solvent.fast.twin import SignalStrategy
from test_fast_differential import assert_same


def _bars(
    close: np.ndarray, present: np.ndarray | None = None, dividend: np.ndarray | None = None
) -> BarData:
    """Return daily bars around cent-grid ``close`` (T, N); opens a cent below the close."""
    t, n = close.shape
    present = np.ones(close.shape, dtype=bool) if present is None else present
    nan = np.where(present, 1.0, np.nan)
    opens = close - 0.01
    return BarData(
        pd.date_range("2024-01-01", periods=t, freq="D").values,
        [f"S{j}" for j in range(n)],
        opens * nan,
        (close + 0.5) * nan,
        (opens - 0.5) * nan,
        close * nan,
        np.full(close.shape, 1e6) * nan,
        dividend=np.zeros(close.shape) if dividend is None else dividend,
    )


def _event(
    panel: BarData, symbols: list[str], entries: np.ndarray, exits: np.ndarray, size: str = "all", **kw: Any
) -> solvent.Result:
    strat = SignalStrategy(symbols, entries, exits, size=size)
    return solvent.backtest(strat, panel, volume_limit=None, **kw)


def test_half_tick_close_while_held_in_a_quiet_stretch_reruns_exact_like_event_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from solvent.fast import _inputs

    calls: list[int] = []
    exact = _inputs.exact

    def counted(mkt: Any) -> Any:
        calls.append(1)
        return exact(mkt)

    monkeypatch.setattr(_inputs, "exact", counted)
    close = np.round(np.linspace(20, 26, 30), 2)[:, None]
    close[17, 0] = 23.125  # on a half cent: only the bar's mark reads it, in a quiet stretch
    panel = _bars(close)
    entries = np.zeros((30, 1), dtype=bool)
    exits = np.zeros((30, 1), dtype=bool)
    entries[1, 0] = True
    exits[25, 0] = True
    kw: dict[str, Any] = {"cash": 10_000, "account": "cash", "commission": 0.001}
    res = from_signals(panel, entries, exits, **kw)
    assert calls == [1]
    assert_same(res, 0, _event(panel, ["S0"], entries, exits, **kw))
    # Bought at bar 2's open 20.40: 489 shares (489 x 20.40 + 9.98 = 9,985.58 <= 10,000;
    # 490 would cost 10,006.00). Bar 17 marks them at 23.12 (23.125, half-even) after 23.31.
    assert res.fills["quantity"].tolist() == [Decimal(489), Decimal(489)]
    assert res.equity_minor[17, 0] - res.equity_minor[16, 0] == 489 * (2312 - 2331)


@pytest.mark.parametrize(
    ("account", "size", "timing", "s0_fills"),
    [
        ("cash", "30%", "next_bar", 4),
        ("margin", "30%", "next_bar", 4),
        ("cash", "30%", "same_bar_close", 4),
        # Negative cash: no stretch, the monitor runs. S0's second entry (348) fills 347
        # at its bar (buying power at the fill) and the last share four bars later.
        ("margin", "200%", "next_bar", 5),
    ],
)
def test_quiet_stretches_missing_bars_and_scan_edges_match_event_engine(
    account: str, size: str, timing: str, s0_fills: int
) -> None:
    rng = np.random.default_rng(5)
    t = 43  # not a multiple of eight: the scan ends bar by bar
    close = np.round(rng.uniform(30, 50, (t, 3)), 2)
    present = np.ones((t, 3), dtype=bool)
    present[[14, 15], 0] = False  # held S0 has no bar at its stretch's last bars (2..15)
    present[30, 1] = False  # flat S1 has none at the last bar before its entry's signal
    present[[5, 27], 2] = False
    entries = np.zeros((t, 3), dtype=bool)
    exits = np.zeros((t, 3), dtype=bool)
    entries[[0, 31], 0] = True
    exits[[16, 40], 0] = True
    entries[[7, 31], 1] = True  # signals on both sides of the scan's word boundary at bar 8
    exits[[8, 42], 1] = True  # the last exit's order is still working at the end
    entries[[23, 24], 2] = True  # repeated while its order waits: nothing more
    exits[39, 2] = True
    panel = _bars(close, present)
    kw: dict[str, Any] = {"cash": 5_000, "account": account, "commission": 0.001, "fill_timing": timing}
    res = from_signals(panel, entries, exits, size=size, **kw)
    for j, sym in enumerate(panel.symbols):
        assert_same(res, j, _event(panel, [sym], entries[:, [j]], exits[:, [j]], size=size, **kw))
    # S0 bought and sold twice, S1 bought twice and sold once (its last exit fills at
    # bar 42's close with same-bar fills), S2 bought and sold once.
    s1 = 4 if timing == "same_bar_close" else 3
    assert res.fills.groupby("symbol").size().to_dict() == {"S0": s0_fills, "S1": s1, "S2": 2}
