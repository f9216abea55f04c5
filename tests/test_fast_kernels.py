"""The fast path's kernels: per entry point, fill timing and variant, each compiled once.

``solvent.fast._loop`` compiles the loop separately for ``from_signals`` and
``from_targets``, for next-bar and same-bar-close fills, and per broker spec: lean ones
(the default broker settings, no slippage, fees on value only, no short signals, no
dividends: the code of everything else pruned at compile time; signals long only, and
with next-bar fills one per account kind) and a generic one (every setting read at run
time), so a run compiles only the code it uses. These tests check that each run goes
through its own kernel, that every kernel is compiled for one signature only and named
apart, that all nine agree with the event engine to the cent (the random differential
tests draw these settings too; here each kernel is run on purpose), that the lean
brokers really leave the other settings' code out, and that a long-only kernel that
meets a short hands the run to the generic one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from numba import njit, types

import solvent
from solvent.data import BarData
from solvent.execution.costs import Combined, FixedPerOrder, PercentOfValue, PerShare
from solvent.fast import _broker, _layout, _loop, from_signals, from_targets
from solvent.fast import signals as fast_signals
from solvent.fast._spec import (
    GENERIC_SPEC,
    LEAN_SPEC,
    LONG_CASH_SPEC,
    LONG_MARGIN_SPEC,
    LONG_SPEC,
    BrokerSpec,
)
from solvent.fast.twin import SignalStrategy, TargetStrategy

TIMINGS = {"next_bar": False, "same_bar_close": True}
#: Settings per variant: the defaults (the default kernel), a cash account (the cash
#: kernel), and runs that each need the generic kernel, one permissive broker setting
#: or several at a time, slippage, a per-share fee.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "cash": {"account": "cash"},
    "credit": {"short_cash": "credit"},
    "legs_cancel": {
        "fixed_fee_per": "leg",
        "unfunded": "cancel",
        "commission": Combined(PercentOfValue("0.0005"), FixedPerOrder("0.35")),
    },
    "unchecked_zero_fill": {"placement_check": False, "zero_volume": "fill"},
    "cash_refuse_costs": {
        "account": "cash",
        "partial_fills": False,
        "slippage": 0.002,
        "commission": PerShare("0.01", minimum="1"),
    },
}
#: The broker spec of the default and cash variants' runs, per (targets, timing).
SPEC = {
    (False, "next_bar"): {"default": LONG_MARGIN_SPEC, "cash": LONG_CASH_SPEC},
    (False, "same_bar_close"): {"default": LONG_SPEC, "cash": LONG_SPEC},
    (True, "next_bar"): {"default": LEAN_SPEC, "cash": LEAN_SPEC},
    (True, "same_bar_close"): {"default": LEAN_SPEC, "cash": LEAN_SPEC},
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


def _kernel(targets: bool, timing: str, spec: BrokerSpec) -> Any:
    return _loop.KERNELS[targets, TIMINGS[timing], spec]


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("timing", list(TIMINGS))
def test_signals_kernel_per_fill_timing_and_variant_matches_event_engine(timing: str, variant: str) -> None:
    panel = _panel()
    entries, exits = _signals(panel)
    idx = pd.DatetimeIndex(panel.timestamps)
    frame = {k: pd.DataFrame(v, index=idx, columns=["A", "B"]) for k, v in (("e", entries), ("x", exits))}
    kw = {"cash": 2_000, "commission": 0.001, "fill_timing": timing, **VARIANTS[variant]}
    res = from_signals(panel, frame["e"], frame["x"], **kw)
    assert len(_kernel(False, timing, SPEC[False, timing].get(variant, GENERIC_SPEC)).signatures) == 1
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
    assert len(_kernel(True, timing, SPEC[True, timing].get(variant, GENERIC_SPEC)).signatures) == 1
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
    assert len(_kernel(False, timing, GENERIC_SPEC).signatures) == 1
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
        for kw in ({}, {"account": "cash"}, {"short_cash": "credit"}):
            from_signals(panel, entries, exits, cash=100, fill_timing=timing, **kw)
            from_signals(panel, entries, exits, short_entries=exits, cash=100, group=True, fill_timing=timing)
            from_targets(panel, weights, cash=100, fill_timing=timing, **kw)
    assert [len(k.signatures) for k in _loop.KERNELS.values()] == [1] * 9


def test_kernels_distinct_in_numba_cache() -> None:
    """numba keys a cached kernel on its code and closure: each kernel's closure differs."""
    closures = {tuple(c.cell_contents for c in k.py_func.__closure__ or ()) for k in _loop.KERNELS.values()}
    assert len(closures) == len(_loop.KERNELS) == 9


def test_each_kernel_and_spec_function_named_apart() -> None:
    """numba links compiled functions by name: no two kernels or specs' functions share one."""
    kernels = {k.py_func.__qualname__ for k in _loop.KERNELS.values()}
    assert len(kernels) == len(_loop.KERNELS)
    names = [f.py_func.__qualname__ for b in _loop.BROKERS.values() for f in b]
    assert len(set(names)) == len(names) == len(_loop.BROKERS) * len(_broker.Broker._fields)


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


def test_lean_brokers_compile_without_other_settings_branches_generic_with_them() -> None:
    """The lean specs' settings are constants of their brokers: the other branches are gone."""
    i64 = types.int64
    a1, a2, a3 = (types.Array(types.int64, n, "C") for n in (1, 2, 3))
    on_bar = (i64, types.boolean, types.boolean, a1, a1, a2, i64, a2, a1, a1, a1, a3, a2, a2, a1)
    place = (i64, i64, i64, i64, types.boolean, a1, a1, a2, i64, a2, a1, a3, a2, a1)
    # The kernels' own brokers: compiled here unless a kernel of this process compiled them.
    specs = {"lean": LEAN_SPEC, "long_cash": LONG_CASH_SPEC, "generic": GENERIC_SPEC}
    brokers = {name: _loop.BROKERS[spec] for name, spec in specs.items()}
    on_bars = {name: _compiled_callees(b.on_bar_nb, on_bar) for name, b in brokers.items()}
    places = {name: _compiled_callees(b.place_nb, place) for name, b in brokers.items() if name != "lean"}
    permissive = {"credit_available", "cancel_unfunded_nb"}
    other_costs = {"slip_ticks", "per_share_fee", "fixed_fee"}
    margin = {"margin_buying_power", "margin_requirement"}
    credited = {"credit_available", "fill_cash_delta"}  # placement under credited shorts
    for lean in ("lean", "long_cash"):
        assert not (permissive | other_costs) & on_bars[lean]
    assert not (credited | other_costs) & places["long_cash"]
    assert permissive | other_costs | margin | {"cash_buying_power"} <= on_bars["generic"]
    assert credited | other_costs <= places["generic"]
    # The account kind: a cash account's buying power is its cash.
    assert margin | {"cash_buying_power"} <= on_bars["lean"]
    assert not margin & on_bars["long_cash"]
    # Long only: no flip, whose closing part frees buying power for its opening part.
    assert "closing_bp_credit" in on_bars["lean"]
    assert "closing_bp_credit" not in on_bars["long_cash"]


def test_long_only_run_met_short_made_again_with_generic_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-only kernel that flags a short sale or a flip is replaced by the generic one."""
    panel = _panel()
    entries, exits = _signals(panel)
    kw: dict[str, Any] = {"cash": 2_000, "commission": 0.001}
    expected = from_signals(panel, entries, exits, **kw)
    calls: list[str] = []

    at = _loop.run_nb.py_func.__code__.co_varnames.index("cnt")

    def flagging(*args: Any) -> None:  # a long-only kernel that met a short: flags, stops
        calls.append("long")
        args[at][_layout.N_GENERIC] = 1

    def generic(prm: np.ndarray) -> Any:
        calls.append("generic")
        return _loop.generic_kernel(prm)

    monkeypatch.setattr(fast_signals, "kernel_for", lambda *a: flagging)
    monkeypatch.setattr(fast_signals, "generic_kernel", generic)
    res = from_signals(panel, entries, exits, **kw)
    assert calls == ["long", "generic"]
    assert np.array_equal(res.equity_minor, expected.equity_minor)
    assert res.fills.equals(expected.fills)


def test_long_only_cash_account_below_zero_made_again_with_generic_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long-only cash kernel leaves the margin monitor out; cash below zero reruns generic.

    Two fees on value of 60% each charge a sale more than it brings: selling A while B
    is held leaves the account's cash at -132.69 and files it into a margin call.
    """
    panel = _panel()
    entries = np.zeros((len(panel), 2), dtype=bool)
    exits = np.zeros_like(entries)
    entries[0, 0] = entries[1, 1] = True
    exits[3, 0] = True
    comm = Combined(PercentOfValue("0.6"), PercentOfValue("0.6"))
    kw: dict[str, Any] = {"size": 20, "cash": 2_000, "account": "cash", "commission": comm, "group": True}
    calls: list[Any] = []

    def chosen(prm: np.ndarray, cm: np.ndarray, dividends: np.ndarray) -> Any:
        calls.append(_loop.variant_for(prm, cm, dividends)[2])
        return _loop.kernel_for(prm, cm, dividends)

    def generic(prm: np.ndarray) -> Any:
        calls.append(GENERIC_SPEC)
        return _loop.generic_kernel(prm)

    monkeypatch.setattr(fast_signals, "kernel_for", chosen)
    monkeypatch.setattr(fast_signals, "generic_kernel", generic)
    res = from_signals(panel, entries, exits, **kw)
    assert calls == [LONG_CASH_SPEC, GENERIC_SPEC]
    assert res.cash_minor[0] == -13_269
    assert res.first_call[0] == 4
    monkeypatch.setattr(fast_signals, "kernel_for", lambda prm, cm, div: _loop.generic_kernel(prm))
    direct = from_signals(panel, entries, exits, **kw)
    assert np.array_equal(res.equity_minor, direct.equity_minor)
    assert res.fills.equals(direct.fills)


def test_long_only_broker_short_sale_flags_rerun() -> None:
    """A long-only placement flags an order that would open a short instead of placing it."""
    place_nb = _loop.BROKERS[LONG_CASH_SPEC].place_nb

    @njit
    def place(lots: int, *tables: np.ndarray) -> None:  # internal functions need a compiled caller
        prm, acc, ys, od, olist, cm, rb, cnt = tables
        place_nb(0, 0, lots, 0, False, prm, acc, ys, 1, od, olist, cm, rb, cnt)

    prm = np.zeros(_layout.NP, dtype=np.int64)
    prm[_layout.P_SLIP_DEN] = 1
    prm[_layout.P_BASE] = _layout.FULL_PPM  # a cash account quotes buying power at 100%
    acc = np.zeros(_layout.NA, dtype=np.int64)
    acc[_layout.A_NEXT_ID] = 1
    acc[_layout.A_CASH] = 10_000
    ys = np.zeros((1, _layout.NY), dtype=np.int64)
    ys[0, _layout.Y_LAST] = ys[0, _layout.Y_MARK] = 100
    ys[0, _layout.Y_KNUM] = ys[0, _layout.Y_KDEN] = 1
    od = np.zeros((2, _layout.NO), dtype=np.int64)
    olist = np.zeros(2, dtype=np.int64)
    cm = np.zeros((1, 1, _layout.NC), dtype=np.int64)
    rb = np.zeros((4, _layout.NR), dtype=np.int64)
    cnt = np.zeros(_layout.NCNT, dtype=np.int64)
    tables = (prm, acc, ys, od, olist, cm, rb, cnt)
    place(5, *tables)  # a buy: placed
    assert acc[_layout.A_NOPEN] == 1
    assert cnt[_layout.N_GENERIC] == 0
    ys[0, _layout.Y_QTY] = 0
    place(-5, *tables)  # flat: a short sale
    assert cnt[_layout.N_GENERIC] == 1
    assert acc[_layout.A_NOPEN] == 1
    assert cnt[_layout.N_REJ] == 0


def _cm(*kinds: int) -> np.ndarray:
    """Return a commission table of one symbol with components of ``kinds``."""
    cm = np.zeros((1, max(1, len(kinds)), _layout.NC), dtype=np.int64)
    for c, kind in enumerate(kinds):
        cm[0, c, _layout.C_TYPE] = kind
    return cm


def test_kernel_chosen_by_settings_account_costs_shorts_and_dividends() -> None:
    """The lean kernels only for the default broker settings, no slippage, fees on value,
    no shorts, no dividends; signals with next-bar fills by account kind."""
    prm = np.zeros(_layout.NP, dtype=np.int64)
    prm[_layout.P_PLACE_CHECK] = 1
    prm[_layout.P_PARTIAL] = 1
    none = np.zeros((0, 4), dtype=np.int64)
    value = _cm(_layout.C_VALUE)
    assert _loop.variant_for(prm, value, none) == (False, False, LONG_MARGIN_SPEC)
    assert _loop.variant_for(prm, _cm(), none) == (False, False, LONG_MARGIN_SPEC)
    cash = prm.copy()
    cash[_layout.P_KIND_CASH] = 1
    assert _loop.variant_for(cash, value, none) == (False, False, LONG_CASH_SPEC)
    same_bar = cash.copy()
    same_bar[_layout.P_SAME_BAR] = 1
    assert _loop.variant_for(same_bar, value, none) == (False, True, LONG_SPEC)
    targets = cash.copy()
    targets[_layout.P_MODE] = _layout.MODE_TARGETS
    assert _loop.variant_for(targets, value, none) == (True, False, LEAN_SPEC)
    targets[_layout.P_SAME_BAR] = 1
    assert _loop.variant_for(targets, value, none) == (True, True, LEAN_SPEC)
    assert _loop.variant_for(prm, value, np.zeros((1, 4), dtype=np.int64)) == (False, False, GENERIC_SPEC)
    for kinds in ((_layout.C_PER_SHARE,), (_layout.C_VALUE, _layout.C_FIXED)):
        assert _loop.variant_for(cash, _cm(*kinds), none) == (False, False, GENERIC_SPEC)
    for row, v in (
        (_layout.P_ZERO_FILL, 1),
        (_layout.P_CREDIT, 1),
        (_layout.P_LEG_FEES, 1),
        (_layout.P_CANCEL, 1),
        (_layout.P_PLACE_CHECK, 0),
        (_layout.P_PARTIAL, 0),
        (_layout.P_SLIP_NUM, 1),
        (_layout.P_HAS_SHORT, 1),
    ):
        changed = cash.copy()
        changed[row] = v
        assert _loop.variant_for(changed, value, none) == (False, False, GENERIC_SPEC), row
