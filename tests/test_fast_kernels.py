"""The fast path's kernels: per entry point, fill timing and variant, each compiled once.

``solvent.fast._loop`` compiles the loop separately for ``from_signals`` and
``from_targets``, for next-bar and same-bar-close fills, and as a default variant (the
default broker settings, no short signals, no dividends: the code of everything else
pruned at compile time) or a generic one (every setting read at run time), so a run
compiles only the code it uses. These tests check that each run goes through its own
kernel, that every kernel is compiled for one signature only, that all eight agree
with the event engine to the cent (the random differential tests draw these settings
too; here each kernel is run on purpose), and that the default broker really leaves
the permissive settings' code out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from numba import types

import solvent
from solvent.data import BarData
from solvent.execution.costs import Combined, FixedPerOrder, PercentOfValue
from solvent.fast import _broker, _layout, _loop, from_signals, from_targets
from solvent.fast.twin import SignalStrategy, TargetStrategy

TIMINGS = {"next_bar": False, "same_bar_close": True}
#: Settings per variant: the defaults (the default kernel), and runs that each need the
#: generic kernel, one permissive broker setting or several at a time.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "credit": {"short_cash": "credit"},
    "legs_cancel": {
        "fixed_fee_per": "leg",
        "unfunded": "cancel",
        "commission": Combined(PercentOfValue("0.0005"), FixedPerOrder("0.35")),
    },
    "unchecked_zero_fill": {"placement_check": False, "zero_volume": "fill"},
}


def _panel(dividend: bool = False) -> BarData:
    """Return two symbols over twelve cent-grid daily bars, one bar missing, one without volume."""
    rng = np.random.default_rng(11)
    close = np.round(rng.uniform(20, 40, (12, 2)), 2)
    opens = np.round(close * rng.uniform(0.98, 1.02, close.shape), 2)
    high = np.maximum(opens, close) + 0.25
    low = np.minimum(opens, close) - 0.25
    present = np.ones(close.shape, dtype=bool)
    present[5, 1] = False
    nan = np.where(present, 1.0, np.nan)
    volume = np.full(close.shape, 5_000.0)
    volume[7, 0] = 0.0
    div = np.zeros(close.shape)
    if dividend:
        div[4, :] = [0.35, 0.5]
    return BarData(
        pd.date_range("2024-01-01", periods=12, freq="D").values,
        ["A", "B"],
        opens * nan,
        high * nan,
        low * nan,
        close * nan,
        volume * nan,
        dividend=div,
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


def _kernel(targets: bool, timing: str, generic: bool) -> Any:
    return _loop.KERNELS[targets, TIMINGS[timing], generic]


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("timing", list(TIMINGS))
def test_signals_kernel_per_fill_timing_and_variant_matches_event_engine(timing: str, variant: str) -> None:
    panel = _panel()
    entries, exits = _signals(panel)
    idx = pd.DatetimeIndex(panel.timestamps)
    frame = {k: pd.DataFrame(v, index=idx, columns=["A", "B"]) for k, v in (("e", entries), ("x", exits))}
    kw = {"cash": 2_000, "commission": 0.001, "fill_timing": timing, **VARIANTS[variant]}
    res = from_signals(panel, frame["e"], frame["x"], **kw)
    assert len(_kernel(False, timing, variant != "default").signatures) == 1
    for a, sym in enumerate(["A", "B"]):
        strat = SignalStrategy([sym], entries[:, a : a + 1], exits[:, a : a + 1])
        ev = solvent.backtest(strat, panel, **kw)
        assert len(ev.fills) > 0
        assert np.array_equal(res.equity_minor[:, a], ev.equity_minor)
        assert res.cash_minor[a] == ev.cash_minor[-1]


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("timing", list(TIMINGS))
def test_targets_kernel_per_fill_timing_and_variant_matches_event_engine(timing: str, variant: str) -> None:
    panel = _panel()
    weights = _weights(panel)
    frame = pd.DataFrame(weights, index=pd.DatetimeIndex(panel.timestamps), columns=["A", "B"])
    kw = {"cash": 5_000, "commission": 0.001, "fill_timing": timing, **VARIANTS[variant]}
    res = from_targets(panel, frame, group=True, **kw)
    assert len(_kernel(True, timing, variant != "default").signatures) == 1
    ev = solvent.backtest(TargetStrategy(["A", "B"], weights), panel, **kw)
    assert len(ev.fills) > 0
    assert np.array_equal(res.equity_minor[:, 0], ev.equity_minor)
    assert res.cash_minor[0] == ev.cash_minor[-1]


@pytest.mark.parametrize("timing", list(TIMINGS))
def test_short_signals_and_dividends_run_generic_kernel_as_event_engine(timing: str) -> None:
    """Short signals and dividends are left out of the default kernel: the generic one runs them."""
    panel = _panel(dividend=True)
    entries, exits = _signals(panel)
    idx = pd.DatetimeIndex(panel.timestamps)

    def frame(a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(a, index=idx, columns=["A", "B"])

    kw = {"cash": 2_000, "commission": 0.001, "fill_timing": timing}
    res = from_signals(panel, frame(entries), frame(exits), short_entries=frame(exits), **kw)
    assert len(_kernel(False, timing, True).signatures) == 1
    for a, sym in enumerate(["A", "B"]):
        cols = slice(a, a + 1)
        strat = SignalStrategy([sym], entries[:, cols], exits[:, cols], exits[:, cols])
        ev = solvent.backtest(strat, panel, **kw)
        assert (ev.fills["side"].astype(str) == "SELL_SHORT").any()
        assert np.array_equal(res.equity_minor[:, a], ev.equity_minor)
        assert res.cash_minor[a] == ev.cash_minor[-1]


def test_every_kernel_compiled_for_one_signature_only() -> None:
    """Each distinct argument type would compile (and cache) a kernel once more."""
    panel = _panel()
    entries, exits = _signals(panel)
    weights = _weights(panel)
    for timing in TIMINGS:
        for kw in ({}, {"short_cash": "credit"}):
            from_signals(panel, entries, exits, cash=100, fill_timing=timing, **kw)
            from_signals(panel, entries, exits, short_entries=exits, cash=100, group=True, fill_timing=timing)
            from_targets(panel, weights, cash=100, fill_timing=timing, **kw)
    assert [len(k.signatures) for k in _loop.KERNELS.values()] == [1] * 8


def _compiled_callees(fn: Any, argtypes: tuple[Any, ...]) -> set[str]:
    """Compile ``fn`` for ``argtypes``; return the names of the functions its code calls.

    The compiled functions it calls are followed too (their code is linked into it).
    """
    fn.compile(argtypes)
    names: set[str] = set()
    todo = [fn.overloads[argtypes]]
    while todo:
        for ty in todo.pop().fndesc.typemap.values():
            if isinstance(ty, types.Dispatcher):
                name = ty.dispatcher.py_func.__name__
                if name not in names:
                    todo.extend(ty.dispatcher.overloads.values())
                names.add(name)
            elif isinstance(ty, types.Function):
                names.add(getattr(ty.typing_key, "__name__", ""))
    return names


def test_default_broker_compiles_without_permissive_branches_generic_with_them() -> None:
    """The default settings are constants of the default broker: their other branches are gone."""
    i64 = types.int64
    a1, a2, a3 = (types.Array(types.int64, n, "C") for n in (1, 2, 3))
    on_bar = (i64, types.boolean, types.boolean, a1, a1, a2, i64, a2, a1, a1, a1, a3, a2, a2, a1)
    place = (i64, i64, i64, i64, types.boolean, a1, a1, a2, i64, a2, a1, a3, a2, a1)
    # Fresh dispatchers: the kernels' own may never compile when loaded from numba's cache.
    default = _broker.make_broker(_broker.DEFAULT_SPEC)
    generic = _broker.make_broker(_broker.GENERIC_SPEC)
    permissive = {"credit_available", "cancel_unfunded_nb"}
    assert not permissive & _compiled_callees(default.on_bar_nb, on_bar)
    assert permissive <= _compiled_callees(generic.on_bar_nb, on_bar)
    # Placement under credited shorts counts pending exits' cash (``fill_cash_delta``).
    assert not {"credit_available", "fill_cash_delta"} & _compiled_callees(default.place_nb, place)
    assert {"credit_available", "fill_cash_delta"} <= _compiled_callees(generic.place_nb, place)


def test_kernel_chosen_by_settings_shorts_and_dividends() -> None:
    """The default kernel only for the default broker settings, no shorts, no dividends."""
    prm = np.zeros(_layout.NP, dtype=np.int64)
    prm[_layout.P_PLACE_CHECK] = 1
    none = np.zeros((0, 4), dtype=np.int64)
    assert _loop.variant_for(prm, none) == (False, False, False)
    assert _loop.variant_for(prm, np.zeros((1, 4), dtype=np.int64)) == (False, False, True)
    for row in (_layout.P_ZERO_FILL, _layout.P_CREDIT, _layout.P_LEG_FEES, _layout.P_CANCEL):
        changed = prm.copy()
        changed[row] = 1
        assert _loop.variant_for(changed, none) == (False, False, True)
    unchecked = prm.copy()
    unchecked[_layout.P_PLACE_CHECK] = 0
    assert _loop.variant_for(unchecked, none) == (False, False, True)
    shorts = prm.copy()
    shorts[_layout.P_HAS_SHORT] = 1
    assert _loop.variant_for(shorts, none) == (False, False, True)
