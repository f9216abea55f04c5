"""The fast path's kernels: one per entry point and fill timing, each compiled once.

``solvent.fast._loop`` compiles the loop separately for ``from_signals`` and
``from_targets`` and for next-bar and same-bar-close fills, so a run compiles only the
code it uses. These tests check that each run goes through its own kernel, that every
entry point compiles each kernel for one signature only, and that all four kernels
agree with the event engine to the cent (the random differential tests draw these
settings too; here each kernel is run on purpose).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import solvent
from solvent.data import BarData
from solvent.fast import _loop, from_signals, from_targets
from solvent.fast.twin import SignalStrategy, TargetStrategy

TIMINGS = {"next_bar": False, "same_bar_close": True}


def _panel() -> BarData:
    """Return two symbols over twelve cent-grid daily bars, one bar missing."""
    rng = np.random.default_rng(11)
    close = np.round(rng.uniform(20, 40, (12, 2)), 2)
    opens = np.round(close * rng.uniform(0.98, 1.02, close.shape), 2)
    high = np.maximum(opens, close) + 0.25
    low = np.minimum(opens, close) - 0.25
    present = np.ones(close.shape, dtype=bool)
    present[5, 1] = False
    nan = np.where(present, 1.0, np.nan)
    return BarData(
        pd.date_range("2024-01-01", periods=12, freq="D").values,
        ["A", "B"],
        opens * nan,
        high * nan,
        low * nan,
        close * nan,
        np.full(close.shape, 5_000.0) * nan,
    )


def _signals(panel: BarData) -> tuple[np.ndarray, np.ndarray]:
    entries = np.zeros((len(panel), 2), dtype=bool)
    exits = np.zeros_like(entries)
    entries[[0, 6], 0] = True
    entries[[2, 8], 1] = True
    exits[[4, 9], 0] = True
    exits[[5, 10], 1] = True
    return entries, exits


def _weights(panel: BarData) -> np.ndarray:
    weights = np.zeros((len(panel), 2))
    weights[1:] = [0.3, 0.5]
    weights[6:] = [0.6, 0.1]
    weights[9:] = [0.0, 0.4]
    return weights


@pytest.mark.parametrize("timing", list(TIMINGS))
def test_signals_kernel_per_fill_timing_matches_event_engine(timing: str) -> None:
    panel = _panel()
    entries, exits = _signals(panel)
    idx = pd.DatetimeIndex(panel.timestamps)
    frame = {k: pd.DataFrame(v, index=idx, columns=["A", "B"]) for k, v in (("e", entries), ("x", exits))}
    res = from_signals(panel, frame["e"], frame["x"], cash=2_000, commission=0.001, fill_timing=timing)
    assert len(_loop.KERNELS[False, TIMINGS[timing]].signatures) == 1
    for a, sym in enumerate(["A", "B"]):
        strat = SignalStrategy([sym], entries[:, a : a + 1], exits[:, a : a + 1])
        ev = solvent.backtest(strat, panel, cash=2_000, commission=0.001, fill_timing=timing)
        assert len(ev.fills) > 0
        assert np.array_equal(res.equity_minor[:, a], ev.equity_minor)
        assert res.cash_minor[a] == ev.cash_minor[-1]


@pytest.mark.parametrize("timing", list(TIMINGS))
def test_targets_kernel_per_fill_timing_matches_event_engine(timing: str) -> None:
    panel = _panel()
    weights = _weights(panel)
    frame = pd.DataFrame(weights, index=pd.DatetimeIndex(panel.timestamps), columns=["A", "B"])
    res = from_targets(panel, frame, cash=5_000, commission=0.001, group=True, fill_timing=timing)
    assert len(_loop.KERNELS[True, TIMINGS[timing]].signatures) == 1
    ev = solvent.backtest(
        TargetStrategy(["A", "B"], weights), panel, cash=5_000, commission=0.001, fill_timing=timing
    )
    assert len(ev.fills) > 0
    assert np.array_equal(res.equity_minor[:, 0], ev.equity_minor)
    assert res.cash_minor[0] == ev.cash_minor[-1]


def test_every_kernel_compiled_for_one_signature_only() -> None:
    """Each distinct argument type would compile (and cache) a kernel once more."""
    panel = _panel()
    entries, exits = _signals(panel)
    weights = _weights(panel)
    for timing in TIMINGS:
        from_signals(panel, entries, exits, cash=100, fill_timing=timing)
        from_signals(panel, entries, exits, short_entries=exits, cash=100, group=True, fill_timing=timing)
        from_targets(panel, weights, cash=100, fill_timing=timing)
    assert [len(k.signatures) for k in _loop.KERNELS.values()] == [1, 1, 1, 1]
