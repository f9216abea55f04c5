"""The fast path against the event engine: identical fills, refusals and ledgers.

Each scenario runs ``solvent.fast.from_signals`` / ``from_targets`` and
``solvent.backtest`` with the twin strategy (``solvent.fast.twin``) on the same bars,
then compares every fill leg (timestamp, order id, symbol, side, quantity, price,
commission, slippage), every refusal (order id, symbol, timestamp, quantity, reason,
at fill), equity after every bar and the final cash, all in exact minor units.

Hypothesis also draws a profile (``solvent.profiles``) and overrides of its settings
(fill timing, derived prices, fixed fee per leg, credited shorts, initial margin,
placement check, partial fills, unfunded entries, zero-volume bars), the lot size and
the PDT policy, and passes the same keywords to both engines.

The fast path has no margin monitor: from the first bar at which an account is in a
margin call (``FastResult.first_call``) the event engine goes reduce-only and
liquidates. Scenarios that reach one are compared up to and including that bar (up to
the bar before it with same-bar fills, where the liquidation fills at the call bar's
close).
"""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import solvent
from solvent.data import BarData, sample
from solvent.execution.costs import (
    BasisPoints,
    Combined,
    FixedBps,
    FixedPerOrder,
    HalfSpread,
    PercentOfValue,
    PerShare,
)
from solvent.fast import FastResult, NotLoweredError, from_signals, from_targets
from solvent.fast.twin import SignalStrategy, TargetStrategy
from solvent.profiles import PROFILES

COMMISSIONS: list[Any] = [
    None,
    0.001,
    BasisPoints("7.5"),
    PerShare("0.005", minimum="1.00", maximum_pct="0.01"),
    FixedPerOrder("1.25"),
    Combined(PercentOfValue("0.0005"), FixedPerOrder("0.35")),
]
SLIPPAGES: list[Any] = [None, FixedBps(5), HalfSpread(20)]
SIZES: list[Any] = ["all", "50%", "150%", 7, 120]
SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


def _panel(seed: int, n_sym: int, n_bars: int) -> BarData:
    """Return random cent-grid bars with missing bars and zero-volume bars."""
    rng = np.random.default_rng(seed)
    shape = (n_bars, n_sym)
    close = np.empty(shape)
    opens = np.empty(shape)
    price = rng.integers(500, 20_000, n_sym).astype(float)  # cents
    for t in range(n_bars):
        opens[t] = np.maximum(1, np.round(price * (1 + rng.normal(0, 0.01, n_sym))))
        price = np.maximum(1, np.round(opens[t] * (1 + rng.normal(0, 0.03, n_sym))))
        close[t] = price
    high = np.maximum(opens, close) + rng.integers(0, 50, shape)
    low = np.maximum(1, np.minimum(opens, close) - rng.integers(0, 50, shape))
    volume = rng.integers(0, 3_000, shape).astype(float)
    volume[rng.random(shape) < 0.08] = 0.0
    present = rng.random(shape) > 0.07
    present[0] = True
    nan = np.where(present, 1.0, np.nan)
    ts = pd.date_range("2024-01-01", periods=n_bars, freq="D").values
    syms = [f"S{j}" for j in range(n_sym)]
    return BarData(
        ts,
        syms,
        opens / 100 * nan,
        high / 100 * nan,
        low / 100 * nan,
        close / 100 * nan,
        volume,
        present=present,
    )


def _fast_fills(res: FastResult, a: int) -> list[tuple[Any, ...]]:
    f = res.fills
    rows = f[[c == res.columns[a] for c in f["column"]]]
    return [
        (r.timestamp, r.order_id, r.symbol, r.side, r.quantity, r.price, r.commission, r.slippage)
        for r in rows.itertuples()
    ]


def _event_fills(ev: solvent.Result) -> list[tuple[Any, ...]]:
    return [
        (r.timestamp, r.order_id, r.symbol, r.side, abs(r.quantity), r.price, r.commission, r.slippage)
        for r in ev.fills.itertuples()
    ]


def _fast_refusals(res: FastResult, a: int) -> list[tuple[Any, ...]]:
    f = res.rejections
    rows = f[[c == res.columns[a] for c in f["column"]]]
    return [
        (r.order_id, r.symbol, r.timestamp, r.quantity, r.reason, bool(r.at_fill)) for r in rows.itertuples()
    ]


def _event_refusals(ev: solvent.Result) -> list[tuple[Any, ...]]:
    return [
        (r.order_id, r.symbol, r.timestamp, r.quantity, r.reason, bool(r.at_fill))
        for r in ev.rejections.itertuples()
    ]


def assert_same(res: FastResult, a: int, ev: solvent.Result, *, same_settings: bool = False) -> None:
    """Assert account ``a`` of ``res`` equals ``ev`` (up to its first margin call).

    ``same_settings``: both ran with the same keywords; their recorded profile,
    settings and ``permissive`` lists must agree too.
    """
    call = int(res.first_call[a])
    end = len(res.index) - 1 if call < 0 else call
    if call >= 0 and res.settings["look_ahead"]:
        end = call - 1  # the event engine's liquidation fills at the call bar's close
    last = res.index[end] if end >= 0 else res.index[0] - pd.Timedelta(1, "ns")
    fast_fills = [f for f in _fast_fills(res, a) if f[0] <= last]
    event_fills = [f for f in _event_fills(ev) if f[0] <= last]
    assert fast_fills == event_fills
    # Refusals of orders placed on the call bar may differ (the event engine is reduce-only).
    fast_refusals = [r for r in _fast_refusals(res, a) if call < 0 or r[2] < res.index[call]]
    event_refusals = [r for r in _event_refusals(ev) if call < 0 or r[2] < res.index[call]]
    assert fast_refusals == event_refusals
    assert np.array_equal(res.equity_minor[: end + 1, a], ev.equity_minor[: end + 1])
    if call < 0:
        assert res.cash_minor[a] == ev.cash_minor[-1]
    # The same profile and settings in force, and the same ones called permissive.
    for key in ("profile", *PROFILES["realistic"].settings, "permissive") if same_settings else ():
        assert res.settings[key] == ev.settings[key], key


#: Values each profile setting may be overridden with (``None`` drawn: the profile's).
OVERRIDES: dict[str, list[Any]] = {
    "fill_timing": ["next_bar", "same_bar_close"],
    "derived_prices": ["tick", "exact"],
    "fixed_fee_per": ["order", "leg"],
    "short_cash": ["reg_t", "credit"],
    "initial_margin": [Decimal("0.5"), Decimal(1), Decimal("0.25")],
    "placement_check": [True, False],
    "partial_fills": [True, False],
    "unfunded": ["defer", "cancel"],
    "zero_volume": ["defer", "fill"],
}

scenario = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "n_sym": st.integers(1, 3),
        "n_bars": st.integers(6, 40),
        "density": st.sampled_from([0.05, 0.15, 0.35]),
        "account": st.sampled_from(["cash", "margin"]),
        "cash": st.sampled_from([500, 5_000, 50_000, Decimal("12345.67")]),
        "commission": st.sampled_from(range(len(COMMISSIONS))),
        "slippage": st.sampled_from(range(len(SLIPPAGES))),
        "volume_limit": st.sampled_from([None, Decimal("0.1"), Decimal("0.5")]),
        "group": st.booleans(),
        "shorts": st.booleans(),
        "profile": st.sampled_from(list(PROFILES)),
        "overrides": st.fixed_dictionaries(
            {k: st.one_of(st.none(), st.sampled_from(v)) for k, v in OVERRIDES.items()}
        ),
        "lot_size": st.sampled_from([1, Decimal("0.1")]),
        "pdt": st.sampled_from([None, "block"]),
    }
)


def _costs(sc: dict[str, Any]) -> dict[str, Any]:
    """Return the keywords both engines get: costs, limits, the profile and its overrides."""
    kw = {
        "cash": sc["cash"],
        "account": sc["account"],
        "commission": COMMISSIONS[sc["commission"]],
        "slippage": SLIPPAGES[sc["slippage"]],
        "volume_limit": sc["volume_limit"],
        "profile": sc["profile"],
        "lot_size": sc["lot_size"],
        "pdt": sc["pdt"],
    }
    kw.update({k: v for k, v in sc["overrides"].items() if v is not None})
    return kw


def _pdt_refused(sc: dict[str, Any], kw: dict[str, Any]) -> bool:
    """Return whether the fast path refuses the scenario's PDT policy (same-bar fills)."""
    timing = kw.get("fill_timing", PROFILES[sc["profile"]].settings["fill_timing"])
    return sc["pdt"] is not None and sc["account"] == "margin" and timing == "same_bar_close"


@SETTINGS
@given(sc=scenario, size=st.sampled_from(SIZES))
def test_random_signals_match_event_engine_to_the_cent(sc: dict[str, Any], size: Any) -> None:
    panel = _panel(sc["seed"], sc["n_sym"], sc["n_bars"])
    rng = np.random.default_rng(sc["seed"] + 1)
    shape = (len(panel), len(panel.symbols))
    le, lx, se, sx = (rng.random(shape) < sc["density"] for _ in range(4))
    if not sc["shorts"]:
        se[:] = sx[:] = False
    idx = pd.DatetimeIndex(panel.timestamps)
    syms = list(panel.symbols)

    def frame(a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(a, index=idx, columns=syms)

    kw = _costs(sc)
    shorts: dict[str, Any] = {}
    if sc["shorts"]:
        shorts = {"short_entries": frame(se), "short_exits": frame(sx)}
    if _pdt_refused(sc, kw):
        with pytest.raises(NotLoweredError, match="pdt"):
            from_signals(panel, frame(le), frame(lx), size=size, group=sc["group"], **shorts, **kw)
        return
    res = from_signals(panel, frame(le), frame(lx), size=size, group=sc["group"], **shorts, **kw)
    if sc["group"]:
        runs = [(0, syms, slice(None))]
    else:
        runs = [(j, [s], slice(j, j + 1)) for j, s in enumerate(syms)]
    for a, symbols, cols in runs:
        strat = SignalStrategy(symbols, le[:, cols], lx[:, cols], se[:, cols], sx[:, cols], size=size)
        ev = solvent.backtest(strat, panel, **kw)
        assert_same(res, a, ev, same_settings=True)


@SETTINGS
@given(sc=scenario, changes=st.sampled_from([0.1, 0.3]), spread=st.sampled_from([0.3, 0.7, 1.4]))
def test_random_targets_match_event_engine_to_the_cent(
    sc: dict[str, Any], changes: float, spread: float
) -> None:
    panel = _panel(sc["seed"], sc["n_sym"], sc["n_bars"])
    rng = np.random.default_rng(sc["seed"] + 2)
    n = len(panel.symbols)
    low = -spread / n if sc["shorts"] else 0.0
    weights = np.zeros((len(panel), n))
    current = np.zeros(n)
    for t in range(len(panel)):
        if rng.random() < changes:
            current = np.round(rng.uniform(low, spread / n, n), 3)
        weights[t] = current
    frame = pd.DataFrame(weights, index=pd.DatetimeIndex(panel.timestamps), columns=list(panel.symbols))
    kw = _costs(sc)
    if _pdt_refused(sc, kw):
        with pytest.raises(NotLoweredError, match="pdt"):
            from_targets(panel, frame, group=sc["group"], **kw)
        return
    res = from_targets(panel, frame, group=sc["group"], **kw)
    syms = list(panel.symbols)
    if sc["group"]:
        runs = [(0, syms, slice(None))]
    else:
        runs = [(j, [s], slice(j, j + 1)) for j, s in enumerate(syms)]
    for a, symbols, cols in runs:
        ev = solvent.backtest(TargetStrategy(symbols, weights[:, cols]), panel, **kw)
        assert_same(res, a, ev, same_settings=True)


def _sma_signals(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the cross-up / cross-down bars of ``examples/sma_cross.py``."""
    c = pd.Series(close)
    up = (c.rolling(fast).mean() > c.rolling(slow).mean()).to_numpy()
    ready = c.rolling(slow).mean().notna().to_numpy()
    prev_up = np.r_[False, up[:-1]]
    prev_ready = np.r_[False, ready[:-1]]
    return up & ~prev_up & prev_ready, ~up & prev_up & prev_ready


def _sma_cross() -> type[solvent.Strategy]:
    """Load ``examples/sma_cross.py`` as users run it."""
    path = Path(__file__).resolve().parents[1] / "examples" / "sma_cross.py"
    spec = importlib.util.spec_from_file_location("_fast_sma_cross", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    strategy: type[solvent.Strategy] = module.SmaCross
    return strategy


def test_sma_cross_example_same_fills_as_event_engine() -> None:
    panel = sample().select(["SYNA"])
    entries, exits = _sma_signals(panel.close[:, 0], 10, 50)
    idx = pd.DatetimeIndex(panel.timestamps)
    kw: dict[str, Any] = {
        "cash": 100_000,
        "account": "cash",
        "commission": BasisPoints(10),
        "volume_limit": None,
    }
    res = from_signals(
        panel, pd.DataFrame({"SYNA": entries}, index=idx), pd.DataFrame({"SYNA": exits}, index=idx), **kw
    )
    ev = solvent.backtest(_sma_cross(), panel, **kw)
    assert len(ev.fills) == 48
    assert _fast_fills(res, 0) == _event_fills(ev)
    assert res.final_equity.iloc[0] == ev.final_equity.amount == Decimal("495280.58")


def test_grid_columns_match_one_event_run_each() -> None:
    panel = sample().select(["SYNA", "SYNC"])  # SYNC pays dividends
    idx = pd.DatetimeIndex(panel.timestamps)
    cols: dict[tuple[int, str], np.ndarray] = {}
    exits: dict[tuple[int, str], np.ndarray] = {}
    for fast in (5, 20):
        for j, sym in enumerate(panel.symbols):
            cols[fast, sym], exits[fast, sym] = _sma_signals(panel.close[:, j], fast, 50)
    entries = pd.DataFrame(cols, index=idx)
    res = from_signals(panel, entries, pd.DataFrame(exits, index=idx), cash=10_000, commission=0.001)
    assert list(res.columns) == list(entries.columns)
    for a, (fast, sym) in enumerate(entries.columns):
        strat = SignalStrategy([sym], cols[fast, sym][:, None], exits[fast, sym][:, None])
        ev = solvent.backtest(strat, panel, cash=10_000, commission=0.001, volume_limit=None)
        assert_same(res, a, ev)


def test_price_near_half_tick_snapped_as_the_event_engine_does() -> None:
    # 100.005 is not on the cent grid and sits on a half tick: the exact rule decides.
    ts = pd.date_range("2024-01-01", periods=4, freq="D").values
    o = np.array([[100.0], [100.005], [101.0], [102.0]])
    panel = BarData(ts, ["X"], o, o + 1, o - 1, o, np.full((4, 1), 1e6))
    entries = np.array([True, False, False, False])
    res = from_signals(panel, entries, cash=1_000)
    ev = solvent.backtest(SignalStrategy(["X"], entries[:, None]), panel, cash=1_000, volume_limit=None)
    assert_same(res, 0, ev)
    assert res.fills["price"].tolist() == [Decimal("100.00")]  # half-even: 10000.5 -> 10000


def test_cash_account_flip_to_short_refused_in_both_engines() -> None:
    ts = pd.date_range("2024-01-01", periods=4, freq="D").values
    o = np.array([[100.0], [100.0], [100.0], [100.0]])
    panel = BarData(ts, ["X"], o, o, o, o, np.full((4, 1), 1e6))
    entries = np.array([[True], [False], [False], [False]])
    shorts = np.array([[False], [True], [False], [False]])
    kw: dict[str, Any] = {"cash": 1_000, "account": "cash", "size": 5}
    res = from_signals(panel, entries, short_entries=shorts, **kw)
    # The fast path closes the long and refuses the short at the fill.
    assert res.fills["side"].tolist() == ["BUY", "SELL"]
    assert res.rejections["reason"].tolist() == ["SHORTING_NOT_ALLOWED"]
    kw.pop("size")
    ev = solvent.backtest(SignalStrategy(["X"], entries, short_entries=shorts, size=5), panel, **kw)
    assert _event_fills(ev) == _fast_fills(res, 0)
