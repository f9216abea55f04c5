"""The peer scenario suite of issue 7: twelve scenarios, each against the real peers.

Every scenario runs one solvent ``Strategy`` with a peer's profile
(``solvent.backtest(..., profile=...)``, ``solvent.profiles``) and the same strategy
written for the peer (VectorBT 1.2, Backtrader 1.9, backtesting.py 0.6), inside the
test, on the same bars. Unless a test says otherwise:

* fills are identical: (date, symbol, side, quantity, price), prices within 1e-6 (the
  peers keep floats such as ``95.75565999999999``); a flip is one fill of 200 in
  VectorBT and Backtrader (solvent's two legs of one order are added up for them) and
  two fills in backtesting.py (solvent's legs as they are);
* the final value agrees within half a cent per rounded amount: solvent rounds each
  fill's commission, and its notional where the price × quantity is off the cent, to
  the cent; the peers keep float fractions.

Where a peer's semantics cannot be matched the test asserts a documented bound and
says why (``docs/parity.md`` has the table). Decisions are made on bar ``t``'s close
and fill at bar ``t + 1``'s open (VectorBT: signals shifted one bar, ``price=open``;
Backtrader: ``cheat_on_open`` where the size or levels depend on the fill price).
Data: a cent-grid random walk generated here (300 business days) and backtesting.py's
bundled GOOG bars (loaded from the installed package at test time).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

import solvent
from solvent.execution.costs import Combined, FixedBps, FixedPerOrder, PercentOfValue

_SKIP = "install the 'peers' extra: pip install -e '.[peers]'"
vbt = pytest.importorskip("vectorbt", reason=_SKIP)
bt = pytest.importorskip("backtrader", reason=_SKIP)
btp = pytest.importorskip("backtesting", reason=_SKIP)

CASH = 100_000
PRICE_TOL = 1e-6  # peers' float prices against solvent's exact decimals

Fill = tuple[str, str, str, float, float]  # (date, symbol, side, quantity, price)


# -- data ----------------------------------------------------------------------------------


def walk(
    n_sym: int = 1, days: int = 300, seed: int = 4, zero_volume_at: int | None = None
) -> dict[str, pd.DataFrame]:
    """Return ``{symbol: OHLCV frame}``: a cent-grid random walk per symbol, business days.

    High and low bracket the rounded open and close; volume is 10,000-100,000 shares
    (0 at ``zero_volume_at``). The same generator as ``/work/briefs/peer_scenarios.py``.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(n_sym):
        c = np.round(100 * np.cumprod(1 + rng.normal(0.0003, 0.02, days)), 2)
        o = np.round(np.r_[100.0, c[:-1]] * (1 + rng.normal(0, 0.005, days)), 2)
        h = np.round(np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.01, days))), 2)
        lo = np.round(np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.01, days))), 2)
        v = rng.integers(10_000, 100_000, days).astype(float)
        if zero_volume_at is not None:
            v[zero_volume_at] = 0.0
        idx = pd.bdate_range("2020-01-01", periods=days, name="timestamp")
        out[f"S{k}"] = pd.DataFrame({"Open": o, "High": h, "Low": lo, "Close": c, "Volume": v}, index=idx)
    return out


@pytest.fixture(scope="module")
def one() -> dict[str, pd.DataFrame]:
    return walk(1)


@pytest.fixture(scope="module")
def ten() -> dict[str, pd.DataFrame]:
    return walk(10, seed=7)


@pytest.fixture(scope="module")
def goog() -> dict[str, pd.DataFrame]:
    from backtesting.test import GOOG

    frame = GOOG.copy()
    frame.index = pd.DatetimeIndex(frame.index, name="timestamp")
    return {"GOOG": frame}


def sma_signals(close: pd.Series, fast: int = 10, slow: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Return (cross-up, cross-down) decided on each bar's close, both SMAs defined at t-1.

    backtesting.py's ``crossover`` is strict on both bars; on these float SMAs no tie
    occurs, so the rules agree (the test would show a differing fill if one did).
    """
    f, s = close.rolling(fast).mean(), close.rolling(slow).mean()
    up = f > s
    valid = s.notna() & s.shift(1).notna()
    was = up.shift(1, fill_value=False)
    return (up & ~was & valid).to_numpy(), (~up & was & valid).to_numpy()


# -- comparison ----------------------------------------------------------------------------


@dataclass
class Run:
    """What one engine did: its fills and final value (plus what a test may look at)."""

    fills: list[Fill]
    final: float
    result: Any = None
    refused: int = 0


def _side(text: str) -> str:
    return "BUY" if text in ("BUY", "BUY_TO_COVER") else "SELL"


def solvent_run(
    strategy: type[solvent.Strategy],
    data: dict[str, pd.DataFrame],
    *,
    profile: str,
    legs: bool = False,
    **kwargs: Any,
) -> Run:
    """Run ``strategy`` under ``profile``; fills per order and bar (``legs``: per leg)."""
    res = solvent.backtest(strategy, data, cash=CASH, profile=profile, **kwargs)
    rows: dict[tuple[Any, ...], list[Any]] = {}
    for k, f in enumerate(res.fills.itertuples()):
        key: tuple[Any, ...] = (k,) if legs else (f.order_id, f.timestamp)
        date = str(pd.Timestamp(f.timestamp).date())
        row = rows.setdefault(key, [date, f.symbol, _side(str(f.side)), Decimal(0), f.price])
        row[3] += abs(f.quantity)
    fills = [(d, s, side, float(q), float(p)) for d, s, side, q, p in rows.values()]
    return Run(sorted(fills), float(res.final_equity.amount), res, len(res.rejections))


def rounding_bound(res: Any) -> float:
    """Return half a cent per amount solvent rounded: each leg's commission and off-cent notional."""
    n = 0
    for f in res.fills.itertuples():
        n += f.commission != 0
        n += (f.price * abs(f.quantity)) % Decimal("0.01") != 0
    return 0.005 * n + 1e-6


def assert_same_fills(ours: list[Fill], theirs: list[Fill], peer: str) -> None:
    """Assert the two lists of fills are identical (prices within ``PRICE_TOL``)."""
    theirs = sorted(theirs)
    for k, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        same = a[:3] == b[:3] and math.isclose(a[3], b[3], abs_tol=1e-9) and abs(a[4] - b[4]) <= PRICE_TOL
        assert same, f"fill #{k} differs: solvent {a} vs {peer} {b}"
    assert len(ours) == len(theirs), f"solvent {len(ours)} fills vs {peer} {len(theirs)}"


def assert_parity(ours: Run, theirs: Run, peer: str) -> None:
    """Identical fills and final value within the rounding bound."""
    assert ours.fills, "the scenario should trade"
    assert_same_fills(ours.fills, theirs.fills, peer)
    bound = rounding_bound(ours.result)
    diff = abs(ours.final - theirs.final)
    print(f"{peer}: {len(ours.fills)} fills, {ours.final:,.2f} vs {theirs.final:,.6f}, |diff| {diff:.6f}")
    assert diff <= bound, f"|final - {peer}| = {diff:.6f} > {bound:.4f}"


# -- peers: VectorBT -----------------------------------------------------------------------


def vbt_fills(pf: Any, index: pd.DatetimeIndex, columns: list[str]) -> list[Fill]:
    """Read VectorBT's order records (``orders.values``: ``records_readable`` warns on pandas 3)."""
    out = []
    for rec in pf.orders.values:
        side = "BUY" if int(rec["side"]) == 0 else "SELL"
        ts = index[int(rec["idx"])]
        out.append((str(ts.date()), columns[int(rec["col"])], side, float(rec["size"]), float(rec["price"])))
    return out


def vbt_signals(
    frame: pd.DataFrame,
    entries: np.ndarray | None,
    exits: np.ndarray | None = None,
    *,
    shift: bool = True,
    price: np.ndarray | None = None,
    **kw: Any,
) -> Run:
    """``from_signals`` with the decisions of bar t filled at bar t+1's open (``shift``).

    Without ``shift`` the signals fill on their own bar at ``price`` (default: the
    close, VectorBT's default). Every call passes the same arguments with the same
    types (defaults spelled out), so numba compiles ``from_signals`` once per process
    (about 13 s) instead of once per combination.
    """
    n = len(frame)
    none = np.zeros(n, dtype=bool)

    def moved(a: np.ndarray | None) -> np.ndarray:
        if a is None:
            return none
        return np.r_[False, a[:-1]] if shift else a

    opens = frame.Open.to_numpy(dtype=float)
    args: dict[str, Any] = {
        "size": np.inf,
        "size_granularity": np.nan,  # fractional
        "fees": 0.0,
        "fixed_fees": 0.0,
        "slippage": 0.0,
        "sl_stop": np.nan,
        "tp_stop": np.nan,
        "stop_entry_price": "fillprice",
    }
    args.update({k: float(v) if isinstance(v, int) else v for k, v in kw.items() if "short" not in k})
    fill_at = price if price is not None else opens if shift else frame.Close.to_numpy(dtype=float)
    pf = vbt.Portfolio.from_signals(
        frame.Close.to_numpy(dtype=float),
        moved(entries),
        moved(exits),
        short_entries=moved(kw.get("short_entries")),
        short_exits=moved(kw.get("short_exits")),
        price=np.asarray(fill_at, dtype=float),
        open=opens,
        high=frame.High.to_numpy(dtype=float),
        low=frame.Low.to_numpy(dtype=float),
        init_cash=float(CASH),
        **args,
    )
    symbol = str(frame.attrs.get("symbol", "S0"))
    return Run(vbt_fills(pf, frame.index, [symbol]), float(pf.final_value()))


# -- peers: Backtrader ---------------------------------------------------------------------


def bt_run(
    data: dict[str, pd.DataFrame],
    strategy: type,
    *,
    cheat_on_open: bool = False,
    setup: Callable[[Any], None] | None = None,
    **params: Any,
) -> Run:
    """Run a Backtrader strategy; fills from ``notify_order`` (``executed.iterpending()``)."""
    fills: list[Fill] = []
    refused = [0]

    class Recorded(strategy):  # type: ignore[misc, valid-type]
        def notify_order(self, order: Any) -> None:
            if order.status in (order.Completed, order.Partial):
                for bit in order.executed.iterpending():
                    side = "BUY" if bit.size > 0 else "SELL"
                    date = str(bt.num2date(bit.dt).date())
                    fills.append((date, order.data._name, side, abs(float(bit.size)), float(bit.price)))
            elif order.status in (order.Margin, order.Rejected):
                refused[0] += 1
            super().notify_order(order)

    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=cheat_on_open)
    for name, frame in data.items():
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None), name=name)
    cerebro.addstrategy(Recorded, **params)
    cerebro.broker.setcash(float(CASH))
    if setup is not None:
        setup(cerebro.broker)
    cerebro.run()
    return Run(fills, float(cerebro.broker.getvalue()), refused=refused[0])


# -- peers: backtesting.py -----------------------------------------------------------------

# What backtesting.py 0.6.6 warns about here: its refusals, open trades at the end, and
# a pandas API it still uses.
_BTP_WARNINGS = ("insufficient margin", "trades remain open", "DatetimeIndex.dayofweek is deprecated")


def btp_run(frame: pd.DataFrame, strategy: type, symbol: str = "S0", **kw: Any) -> Run:
    """Run backtesting.py; fills from its trades (entry and exit of each), as the peer books them."""
    from backtesting import Backtest

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = Backtest(frame, strategy, cash=CASH, **kw).run()
    unexpected = [str(w.message) for w in caught if not any(s in str(w.message) for s in _BTP_WARNINGS)]
    assert not unexpected, unexpected
    cancelled = sum("insufficient margin" in str(w.message) for w in caught)
    return Run(_btp_fills(stats, symbol), float(stats["Equity Final [$]"]), refused=cancelled)


def _btp_fills(stats: Any, symbol: str) -> list[Fill]:
    """Return the entry and exit of every closed trade and the entry of every open one."""
    strategy = stats._strategy
    out: list[Fill] = []
    for t in [*strategy.closed_trades, *strategy.trades]:
        side, back = ("BUY", "SELL") if t.size > 0 else ("SELL", "BUY")
        out.append((str(t.entry_time.date()), symbol, side, abs(float(t.size)), float(t.entry_price)))
        if t.exit_time is not None:
            out.append((str(t.exit_time.date()), symbol, back, abs(float(t.size)), float(t.exit_price)))
    return out


def btp_sma(on_up: Callable[[Any], None], on_down: Callable[[Any], None]) -> type:
    """A backtesting.py strategy on SMA(10) / SMA(30) crosses (``backtesting.lib.crossover``)."""
    from backtesting import Strategy
    from backtesting.lib import crossover

    class Sma(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            close = pd.Series(self.data.Close)
            self.f = self.I(lambda: close.rolling(10).mean().to_numpy())
            self.s = self.I(lambda: close.rolling(30).mean().to_numpy())

        def next(self) -> None:
            if crossover(self.f, self.s):
                on_up(self)
            elif crossover(self.s, self.f):
                on_down(self)

    return Sma


def btp_at(bars: dict[int, Callable[[Any], None]]) -> type:
    """A backtesting.py strategy that acts on given bar numbers (decided on that bar's close)."""
    from backtesting import Strategy

    class At(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            pass

        def next(self) -> None:
            act = bars.get(len(self.data) - 1)
            if act is not None:
                act(self)

    return At


def bt_sma(next_: Callable[[Any, int], None], **extra: Any) -> type:
    """A Backtrader strategy that calls ``next_(self, cross)`` with CrossOver(SMA10, SMA30)."""

    class Sma(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.x = bt.ind.CrossOver(bt.ind.SMA(period=10), bt.ind.SMA(period=30))
            self.sig = 0
            self.o = None

        def next(self) -> None:
            next_(self, int(self.x[0]))

    for k, v in extra.items():
        setattr(Sma, k, v)
    return Sma


def bt_at(bars: dict[int, Callable[[Any], None]]) -> type:
    """A Backtrader strategy that acts on given bar numbers (decided on that bar's close)."""

    class At(bt.Strategy):  # type: ignore[misc]
        def next(self) -> None:
            act = bars.get(len(self) - 1)
            if act is not None:
                act(self)

    return At


# -- solvent strategies --------------------------------------------------------------------


class Sma(solvent.Strategy):
    """Base: SMA(10) / SMA(30) crosses of the first symbol, decided on each bar's close."""

    def init(self, data: solvent.data.BarData) -> None:
        self.up, self.down = sma_signals(pd.Series(data.close[:, 0]))

    def sym(self, ctx: solvent.Context) -> str:
        return ctx.symbols[0]


class AllInSma(Sma):
    """1: all-in long on a cross-up (sized at the fill), flat on a cross-down."""

    def on_bar(self, ctx: solvent.Context) -> None:
        s = self.sym(ctx)
        if ctx.pending(s) != 0:
            return
        if self.up[ctx.i] and ctx.position(s) == 0:
            ctx.order_value(s, ctx.account.cash.amount)
        elif self.down[ctx.i] and ctx.position(s) > 0:
            ctx.close_position(s)


class FlipSma(Sma):
    """2, 4: +100 shares on a cross-up, -100 on a cross-down (a flip is one order of 200)."""

    def on_bar(self, ctx: solvent.Context) -> None:
        s = self.sym(ctx)
        target = 100 if self.up[ctx.i] else -100 if self.down[ctx.i] else None
        if target is not None and target != ctx.position(s):
            ctx.order(s, target - ctx.position(s))


class HundredSma(Sma):
    """5: 100 shares on a cross-up, flat on a cross-down."""

    def on_bar(self, ctx: solvent.Context) -> None:
        s = self.sym(ctx)
        if self.up[ctx.i] and ctx.position(s) == 0:
            ctx.order(s, 100)
        elif self.down[ctx.i] and ctx.position(s) > 0:
            ctx.close_position(s)


class LimitSma(Sma):
    """6: on a cross-up, a GTC limit buy of 100 at 1% below the close; cross-down: cancel, flatten."""

    def on_bar(self, ctx: solvent.Context) -> None:
        s = self.sym(ctx)
        if self.up[ctx.i] and ctx.position(s) == 0 and not ctx.open_orders(s):
            ctx.order(s, 100, limit=round(float(ctx.close[0]) * 0.99, 2))
        elif self.down[ctx.i]:
            for o in ctx.open_orders(s):
                ctx.cancel(o)
            ctx.close_position(s)


class StopTargetSma(Sma):
    """7: buy 100 on a cross-up; once filled, a stop 5% below and a target 10% above the fill.

    The exits are placed in ``on_fill`` (they work from the next bar), the stop first so
    it is matched first when a bar touches both; each is ``reduce``-only and the one
    left is cancelled when the other fills.
    """

    def on_bar(self, ctx: solvent.Context) -> None:
        s = self.sym(ctx)
        if self.up[ctx.i] and ctx.position(s) == 0 and not ctx.open_orders(s) and ctx.pending(s) == 0:
            ctx.order(s, 100)

    def on_fill(self, ctx: solvent.Context, fill: solvent.Fill) -> None:
        s = fill.symbol
        if fill.quantity > 0:
            price = fill.price
            ctx.order(s, -fill.quantity, stop=price * Decimal("0.95"), intent="reduce")
            ctx.order(s, -fill.quantity, limit=price * Decimal("1.10"), intent="reduce")
        else:
            for o in ctx.open_orders(s):
                ctx.cancel(o)


class ShortSma(Sma):
    """11: short 100 on a cross-down when flat, cover on a cross-up."""

    def on_bar(self, ctx: solvent.Context) -> None:
        s = self.sym(ctx)
        if self.down[ctx.i] and ctx.position(s) == 0:
            ctx.order(s, -100)
        elif self.up[ctx.i] and ctx.position(s) < 0:
            ctx.close_position(s)


class AtBars(solvent.Strategy):
    """3, 9, 12: buy ``qty`` on bar ``buy_at`` (decided on its close), close on bar ``sell_at``."""

    qty = 100.0
    buy_at = 50
    sell_at = -1

    def on_bar(self, ctx: solvent.Context) -> None:
        s = ctx.symbols[0]
        if ctx.i == self.buy_at:
            ctx.order(s, Decimal(str(self.qty)))
        elif ctx.i == self.sell_at:
            ctx.close_position(s)


class Rotation(solvent.Strategy):
    """8: every 20 bars, hold only the symbol with the best 20-bar return (sells first)."""

    weight = 1.0

    def init(self, data: solvent.data.BarData) -> None:
        close = pd.DataFrame(data.close, columns=list(data.symbols))
        self.best = best_by_momentum(close)

    def on_bar(self, ctx: solvent.Context) -> None:
        best = self.best.get(ctx.i)
        if best is None:
            return
        for s in ctx.symbols:
            if s != best and ctx.position(s) != 0:
                ctx.close_position(s)
        if ctx.position(best) == 0:
            ctx.order_target_percent(best, Decimal(str(self.weight)))


def best_by_momentum(close: pd.DataFrame) -> dict[int, str]:
    """Return {bar: symbol with the best 20-bar return} on every 20th bar from bar 20."""
    mom = close / close.shift(20) - 1
    return {i: str(mom.iloc[i].idxmax()) for i in range(20, len(close) - 1, 20)}


def weights10(close: pd.DataFrame) -> pd.DataFrame:
    """Random target weights (summing to 0.98) decided every 21 bars, NaN elsewhere."""
    rng = np.random.default_rng(1)
    w = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    for i in range(0, len(close) - 1, 21):
        x = rng.random(len(close.columns))
        w.iloc[i] = 0.98 * x / x.sum()
    return w


class Rebalance(solvent.Strategy):
    """10: trade each symbol toward its weight of NLV, sized at the decision close.

    The trade is ``|w × NLV − position value| // close`` shares, toward the target (the
    rounding both peers use: the *trade* is truncated, so a reduction keeps the odd
    share; ``ctx.order_target_percent`` truncates the *target* instead). Submitted from
    the largest sale to the largest purchase, as the Backtrader strategy does.
    """

    def init(self, data: solvent.data.BarData) -> None:
        close = pd.DataFrame(data.close, columns=list(data.symbols))
        self.w = weights10(close)

    def on_bar(self, ctx: solvent.Context) -> None:
        row = self.w.iloc[ctx.i]
        if row.isna().all():
            return
        nlv = ctx.account.nlv.amount
        trades = []
        for s in ctx.symbols:
            price = ctx.last_price(s)
            gap = Decimal(str(row[s])) * nlv - ctx.position(s) * price
            trades.append((gap, s, int(abs(gap) // price) * (1 if gap > 0 else -1)))
        for _, s, qty in sorted(trades):
            if qty:
                ctx.order(s, qty)


def frames(data: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    close = pd.DataFrame({k: d.Close for k, d in data.items()})
    opens = pd.DataFrame({k: d.Open for k, d in data.items()})
    return close, opens


# == 1. all-in long-only SMA crossover, 0.1% commission ===================================


def _s1_peers(frame: pd.DataFrame, symbol: str) -> dict[str, Run]:
    en, ex = sma_signals(frame.Close)
    frame.attrs["symbol"] = symbol
    v = vbt_signals(frame, en, ex, size=np.inf, size_granularity=1, fees=0.001)

    def next_(self: Any, x: int) -> None:
        self.sig = x

    def next_open(self: Any) -> None:  # cheat-on-open: size from the fill bar's open
        if self.sig > 0 and not self.position:
            self.buy(size=math.floor(self.broker.getcash() / (self.data.open[0] * 1.001)))
        elif self.sig < 0 and self.position:
            self.close()

    def setup(b: Any) -> None:
        b.setcommission(commission=0.001)
        b.set_checksubmit(False)

    b = bt_run({symbol: frame}, bt_sma(next_, next_open=next_open), cheat_on_open=True, setup=setup)

    def up(s: Any) -> None:
        if not s.position:
            s.buy()

    def down(s: Any) -> None:
        if s.position:
            s.position.close()

    p = btp_run(frame, btp_sma(up, down), symbol, commission=0.001)
    return {"vectorbt": v, "backtrader": b, "backtesting": p}


@pytest.mark.parametrize("data_name", ["one", "goog"])
def test_all_in_sma_matches_each_peer(data_name: str, request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue(data_name)
    ((symbol, frame),) = data.items()
    peers = _s1_peers(frame, symbol)
    for peer, theirs in peers.items():
        timing = {"fill_timing": "next_bar"} if peer == "vectorbt" else {}
        ours = solvent_run(AllInSma, data, profile=peer, commission=0.001, **timing)
        assert_parity(ours, theirs, peer)
    # All three peers agree with each other here (65 fills on GOOG).
    assert len({len(r.fills) for r in peers.values()}) == 1


def test_all_in_sma_vectorbt_default_fills_at_the_signal_close(one: dict[str, pd.DataFrame]) -> None:
    # VectorBT's own default (price = the signal bar's close, signals unshifted) is the
    # vectorbt profile's default too: fill_timing="same_bar_close", flagged look-ahead.
    frame = one["S0"]
    en, ex = sma_signals(frame.Close)
    theirs = vbt_signals(frame, en, ex, shift=False, size=np.inf, size_granularity=1, fees=0.001)
    ours = solvent_run(AllInSma, one, profile="vectorbt", commission=0.001)
    assert_parity(ours, theirs, "vectorbt")
    assert ours.result.settings["look_ahead"] is True
    assert "fill_timing" in ours.result.settings["permissive"]


# == 2. fixed-size long/short with flips ====================================================


def _flip_peers(frame: pd.DataFrame, **costs: Any) -> dict[str, Run]:
    en, ex = sma_signals(frame.Close)
    v = vbt_signals(frame, en, None, size=100, short_entries=ex, **costs.get("vbt", {}))

    def next_(self: Any, x: int) -> None:
        if x > 0:
            self.order_target_size(target=100)
        elif x < 0:
            self.order_target_size(target=-100)

    b = bt_run({"S0": frame}, bt_sma(next_), setup=costs.get("bt"))
    p = btp_run(
        frame,
        btp_sma(lambda s: s.buy(size=100), lambda s: s.sell(size=100)),
        exclusive_orders=True,
        **costs.get("btp", {}),
    )
    return {"vectorbt": v, "backtrader": b, "backtesting": p}


def test_flips_match_each_peer(one: dict[str, pd.DataFrame]) -> None:
    peers = _flip_peers(one["S0"])
    for peer, theirs in peers.items():
        legs = peer == "backtesting"  # it closes the trade and opens a new one: two fills
        timing = {"fill_timing": "next_bar"} if peer == "vectorbt" else {}
        ours = solvent_run(FlipSma, one, profile=peer, legs=legs, **timing)
        assert_parity(ours, theirs, peer)
    assert any(f[3] == 200 for f in peers["vectorbt"].fills), "the scenario should flip"


# == 3. fractional sizes ====================================================================


def test_fractional_quantities_match_each_peer(one: dict[str, pd.DataFrame]) -> None:
    from backtesting.lib import FractionalBacktest

    frame = one["S0"]
    at = np.zeros(len(frame), dtype=bool)
    en, ex = at.copy(), at.copy()
    en[50], ex[70] = True, True
    v = vbt_signals(frame, en, ex, size=2.5)  # fractional: no size_granularity
    b = bt_run(one, bt_at({50: lambda s: s.buy(size=2.5), 70: lambda s: s.close()}))
    # backtesting.py: whole units of fractional_unit (1e-4): 25,000 units are 2.5 shares.
    strat = btp_at({50: lambda s: s.buy(size=25_000), 70: lambda s: s.position.close()})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="DatetimeIndex.dayofweek is deprecated")
        stats = FractionalBacktest(frame, strat, cash=CASH, fractional_unit=1e-4).run()
    p_fills: list[Fill] = []
    for t in stats._trades.itertuples():  # converted back to shares and dollars
        p_fills += [
            (str(t.EntryTime.date()), "S0", "BUY", float(t.Size), float(t.EntryPrice)),
            (str(t.ExitTime.date()), "S0", "SELL", float(t.Size), float(t.ExitPrice)),
        ]
    p = Run(p_fills, float(stats["Equity Final [$]"]))
    for peer, theirs in {"vectorbt": v, "backtrader": b, "backtesting": p}.items():
        timing = {"fill_timing": "next_bar"} if peer == "vectorbt" else {}
        ours = solvent_run(AtBars, one, profile=peer, lot_size=Decimal("0.1"), qty=2.5, sell_at=70, **timing)
        assert [f[3] for f in ours.fills] == [2.5, 2.5]
        assert_parity(ours, theirs, peer)


# == 4. percent commission plus a fixed fee =================================================


class PercPlusFee(bt.CommInfoBase):  # type: ignore[misc]
    """Backtrader: 0.1% of value plus 1.00, charged per leg of each execution."""

    params = (
        ("commission", 0.001),
        ("fee", 1.0),
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_PERC),
        ("percabs", True),
    )

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        return abs(size) * price * self.p.commission + self.p.fee


def test_percent_plus_fixed_fee_matches_each_peer(one: dict[str, pd.DataFrame]) -> None:
    costs = {
        "vbt": {"fees": 0.001, "fixed_fees": 1.0},
        "bt": lambda b: b.addcommissioninfo(PercPlusFee()),
        "btp": {"commission": (1.0, 0.001)},
    }
    peers = _flip_peers(one["S0"], **costs)
    model = Combined(PercentOfValue(Decimal("0.001")), FixedPerOrder(1))
    finals = {}
    for peer, theirs in peers.items():
        legs = peer == "backtesting"
        timing = {"fill_timing": "next_bar"} if peer == "vectorbt" else {}
        ours = solvent_run(FlipSma, one, profile=peer, legs=legs, commission=model, **timing)
        assert_parity(ours, theirs, peer)
        finals[peer] = ours.final
    # VectorBT charges the fixed fee once per order, Backtrader and backtesting.py per
    # leg: exactly one more fee per flip (fixed_fee_per="order" vs "leg").
    flips = sum(f[3] == 200 for f in peers["vectorbt"].fills)
    assert flips > 0
    assert peers["vectorbt"].final - peers["backtrader"].final == pytest.approx(flips * 1.00, abs=1e-6)
    assert peers["backtesting"].final == pytest.approx(peers["backtrader"].final, abs=1e-6)
    # solvent's two runs differ by the same fees, up to its per-leg cent rounding.
    assert abs(finals["vectorbt"] - finals["backtrader"] - flips * 1.00) <= 0.005 * 2 * flips


# == 5. slippage ============================================================================


def test_slippage_matches_vectorbt_and_backtrader(one: dict[str, pd.DataFrame]) -> None:
    frame = one["S0"]
    en, ex = sma_signals(frame.Close)
    v = vbt_signals(frame, en, ex, size=100, slippage=0.001)  # open × (1 ± 0.001), unclamped

    def next_(self: Any, x: int) -> None:
        if x > 0 and not self.position:
            self.buy(size=100)
        elif x < 0 and self.position:
            self.close()

    # slip_open=True is needed for market orders (they fill at the open); clamped to the bar.
    b = bt_run(one, bt_sma(next_), setup=lambda b: b.set_slippage_perc(0.001, slip_open=True))
    for peer, theirs in {"vectorbt": v, "backtrader": b}.items():
        timing = {"fill_timing": "next_bar"} if peer == "vectorbt" else {}
        ours = solvent_run(HundredSma, one, profile=peer, slippage=FixedBps(10), **timing)
        assert_parity(ours, theirs, peer)
    # solvent clamps slipped prices into the bar, VectorBT does not: equal here because
    # no slipped price left its bar (else VectorBT would fill outside the bar's range).
    for date, _, _, _, price in v.fills:
        bar = frame.loc[date]
        assert bar.Low <= price <= bar.High


def test_slippage_against_backtesting_spread_differs_by_the_exit_slippage(
    one: dict[str, pd.DataFrame],
) -> None:
    # backtesting.py has no slippage; its ``spread`` moves entry prices only (exits at the
    # raw price). solvent's FixedBps slips both: the entries are identical, each exit is
    # slipped 10 bps in solvent only, and the final values differ by exactly that.
    frame = one["S0"]
    p = btp_run(
        frame,
        btp_sma(lambda s: s.buy(size=100) if not s.position else None, lambda s: s.position.close()),
        spread=0.001,
    )
    ours = solvent_run(HundredSma, one, profile="backtesting", slippage=FixedBps(10))
    entries = [f for f in ours.fills if f[2] == "BUY"]
    assert_same_fills(entries, [f for f in p.fills if f[2] == "BUY"], "backtesting")
    exits, raw = [f for f in ours.fills if f[2] == "SELL"], sorted(f for f in p.fills if f[2] == "SELL")
    assert [f[:4] for f in exits] == [f[:4] for f in raw]
    gap = 0.0
    for a, b in zip(exits, raw, strict=True):
        assert a[4] == pytest.approx(round(b[4] * 0.999, 6), abs=PRICE_TOL)  # open × (1 − 10 bps)
        gap += (b[4] - a[4]) * a[3]
    assert gap > 0
    assert abs((p.final - ours.final) - gap) <= rounding_bound(ours.result)


# == 6. limit entries =======================================================================


def test_limit_entries_match_each_peer(one: dict[str, pd.DataFrame]) -> None:
    frame = one["S0"]
    en, ex = sma_signals(frame.Close)
    # VectorBT has no limit orders: emulate one working from t+1 until filled or cancelled.
    limit = np.round(frame.Close * 0.99, 2).to_numpy()
    entries, price = np.zeros(len(frame), dtype=bool), frame.Open.to_numpy().copy()
    working, level = False, math.nan
    for i in range(1, len(frame)):
        if en[i - 1]:
            working, level = True, limit[i - 1]
        if ex[i - 1]:
            working = False
        if working and frame.Low.iloc[i] <= level:
            entries[i], price[i], working = True, min(frame.Open.iloc[i], level), False
    v = vbt_signals(frame, entries, np.r_[False, ex[:-1]], shift=False, price=price, size=100)

    def next_(self: Any, x: int) -> None:
        if x > 0 and not self.position and self.o is None:
            self.o = self.buy(size=100, exectype=bt.Order.Limit, price=round(self.data.close[0] * 0.99, 2))
        elif x < 0:
            if self.o is not None and self.o.alive():
                self.cancel(self.o)
            self.o = None
            if self.position:
                self.close()

    def notify(self: Any, order: Any) -> None:
        if order is self.o and order.status == order.Completed:
            self.o = None

    b = bt_run(one, bt_sma(next_, notify_order=notify))

    def up(s: Any) -> None:
        if not s.position and not s.orders:
            s.buy(size=100, limit=round(s.data.Close[-1] * 0.99, 2))

    def down(s: Any) -> None:
        for o in s.orders:
            o.cancel()
        s.position.close()

    p = btp_run(frame, btp_sma(up, down))
    for peer, theirs in {"vectorbt": v, "backtrader": b, "backtesting": p}.items():
        timing = {"fill_timing": "next_bar"} if peer == "vectorbt" else {}
        ours = solvent_run(LimitSma, one, profile=peer, **timing)
        assert_parity(ours, theirs, peer)
    # The realistic defaults give the same fills: limits, cents and 100 shares are real.
    assert solvent_run(LimitSma, one, profile="realistic").fills == ours.fills


# == 7. stop-loss and take-profit ===========================================================


def test_stop_loss_and_take_profit_match_each_peer(one: dict[str, pd.DataFrame]) -> None:
    frame = one["S0"]
    en, _ = sma_signals(frame.Close)
    # Levels from the entry's fill price; checked from the bar after the entry; SL first.
    v = vbt_signals(frame, en, None, size=100, sl_stop=0.05, tp_stop=0.10, stop_entry_price="fillprice")

    def next_(self: Any, x: int) -> None:
        self.sig = x

    def next_open(self: Any) -> None:  # the bracket's levels from this bar's open, the fill price
        if self.sig > 0 and not self.position:
            p = self.data.open[0]
            self.buy_bracket(size=100, exectype=bt.Order.Market, stopprice=p * 0.95, limitprice=p * 1.10)

    b = bt_run(one, bt_sma(next_, next_open=next_open), cheat_on_open=True)

    from backtesting import Strategy
    from backtesting.lib import crossover

    class Btp(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            close = pd.Series(self.data.Close)
            self.f = self.I(lambda: close.rolling(10).mean().to_numpy())
            self.s = self.I(lambda: close.rolling(30).mean().to_numpy())

        def next(self) -> None:
            if crossover(self.f, self.s) and not self.position:
                self.buy(size=100)
            for t in self.trades:  # levels once the fill price is known: from the next bar
                if t.sl is None:
                    t.sl, t.tp = t.entry_price * 0.95, t.entry_price * 1.10

    p = btp_run(frame, Btp)
    for peer, theirs in {"vectorbt": v, "backtrader": b, "backtesting": p}.items():
        timing = {"fill_timing": "next_bar"} if peer == "vectorbt" else {}
        ours = solvent_run(StopTargetSma, one, profile=peer, **timing)
        assert_parity(ours, theirs, peer)
    # Some exits are at levels off the cent grid (derived_prices="exact"), e.g. 90.877.
    assert any(round(f[4], 2) != f[4] for f in ours.fills)


# == 8. several symbols share one account (sells before buys) ==============================


def vbt_targets(data: dict[str, pd.DataFrame], weights: pd.DataFrame, **kw: Any) -> Run:
    """``from_orders`` with target weights of bar t traded at bar t+1's open, one account.

    ``val_price=-np.inf`` values the account and sizes each target at the previous
    close, the decision bar's (VectorBT's default is the fill price; solvent's
    ``order_target_percent`` sizes at the decision close, as Backtrader does).
    ``call_seq="auto"`` executes sales before purchases.
    """
    close, opens = frames(data)
    pf = vbt.Portfolio.from_orders(
        close,
        weights.shift(1),
        size_type="targetpercent",
        price=opens,
        val_price=-np.inf,
        init_cash=float(CASH),
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
        size_granularity=1.0,
        **kw,
    )
    return Run(vbt_fills(pf, close.index, list(close.columns)), float(pf.final_value()))


def test_shared_cash_rotation_matches_vectorbt_and_backtrader(ten: dict[str, pd.DataFrame]) -> None:
    three = {k: ten[k] for k in ("S0", "S1", "S2")}
    close, _ = frames(three)
    best = best_by_momentum(close)
    # VectorBT: weight 1 for the new best, 0 for the one held (NaN: no order).
    w = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    held = None
    for i, sym in best.items():
        if sym != held:
            if held is not None:
                w.loc[w.index[i], held] = 0.0
            w.loc[w.index[i], sym] = 1.0
            held = sym
    v = vbt_targets(three, w, fees=0.001)

    class Bt(bt.Strategy):  # type: ignore[misc]
        def next(self) -> None:
            sym = best.get(len(self) - 1)
            if sym is None:
                return
            for d in self.datas:  # sales are submitted first: Backtrader runs them in order
                if d._name != sym and self.getposition(d).size:
                    self.close(data=d)
            d = self.getdatabyname(sym)
            if not self.getposition(d).size:
                self.order_target_percent(data=d, target=0.95)

    b = bt_run(three, Bt, setup=lambda b: b.setcommission(commission=0.001))
    # Weight 1 at VectorBT: the purchase costs more than the cash (the commission) and is
    # scaled down at the fill; 0.95 at Backtrader, which would refuse it instead.
    for peer, theirs, weight in (("vectorbt", v, 1.0), ("backtrader", b, 0.95)):
        timing = {"fill_timing": "next_bar"} if peer == "vectorbt" else {}
        ours = solvent_run(Rotation, three, profile=peer, commission=0.001, weight=weight, **timing)
        assert_parity(ours, theirs, peer)
        assert len({f[1] for f in ours.fills}) == 3
    assert b.refused == 0


# == 9. a strategy that wants more than its cash ===========================================


def test_order_beyond_cash_is_scaled_or_refused_like_each_peer(one: dict[str, pd.DataFrame]) -> None:
    frame = one["S0"]
    at = np.zeros(len(frame), dtype=bool)
    at[50] = True
    # VectorBT scales it down at the fill: floor(cash / 1.001 / open) = 1,094 shares.
    v = vbt_signals(frame, at, None, size=2_000, size_granularity=1, fees=0.001)
    # Backtrader refuses it whole (Margin); backtesting.py cancels it whole.
    b = bt_run(
        one, bt_at({50: lambda s: s.buy(size=2_000)}), setup=lambda b: b.setcommission(commission=0.001)
    )
    p = btp_run(frame, btp_at({50: lambda s: s.buy(size=2_000)}), commission=0.001)
    assert [f[3] for f in v.fills] == [1_094.0]
    assert (b.fills, b.refused, p.fills, p.refused) == ([], 1, [], 1)
    ours = solvent_run(AtBars, one, profile="vectorbt", fill_timing="next_bar", commission=0.001, qty=2_000)
    assert_parity(ours, v, "vectorbt")
    for peer, theirs in (("backtrader", b), ("backtesting", p)):
        ours = solvent_run(AtBars, one, profile=peer, commission=0.001, qty=2_000)
        assert ours.fills == [] and ours.final == theirs.final == CASH
        (reason,) = ours.result.rejections["reason"]
        assert reason == "INSUFFICIENT_BUYING_POWER"
        # Backtrader's submit check refuses it when placed; backtesting.py at the fill.
        assert bool(ours.result.rejections["at_fill"].iloc[0]) is (peer == "backtesting")


# == 10. target-weight rebalancing across 10 symbols =======================================


def test_rebalancing_ten_symbols_matches_vectorbt_and_backtrader(ten: dict[str, pd.DataFrame]) -> None:
    close, _ = frames(ten)
    w = weights10(close)
    v = vbt_targets(ten, w, fees=0.001)

    class Bt(bt.Strategy):  # type: ignore[misc]
        def next(self) -> None:
            row = w.iloc[len(self) - 1]
            if row.isna().all():
                return
            value = self.broker.getvalue()

            def gap(d: Any) -> float:
                return float(row[d._name] * value - self.getposition(d).size * d.close[0])

            for d in sorted(self.datas, key=gap):  # largest sale first, as solvent's Rebalance
                self.order_target_percent(data=d, target=float(row[d._name]))

    b = bt_run(ten, Bt, setup=lambda b: b.setcommission(commission=0.001))
    assert b.refused == 0
    for peer, theirs in (("vectorbt", v), ("backtrader", b)):
        timing = {"fill_timing": "next_bar"} if peer == "vectorbt" else {}
        ours = solvent_run(Rebalance, ten, profile=peer, commission=0.001, **timing)
        assert_parity(ours, theirs, peer)
    assert len(ours.fills) > 100


# == 11. shorts in a cash account ===========================================================


def test_shorts_fill_like_each_peer_and_a_cash_account_refuses_them(one: dict[str, pd.DataFrame]) -> None:
    frame = one["S0"]
    en, ex = sma_signals(frame.Close)
    v = vbt_signals(frame, None, None, size=100, short_entries=ex, short_exits=en)

    def next_(self: Any, x: int) -> None:
        if x < 0 and not self.position:
            self.sell(size=100)
        elif x > 0 and self.position:
            self.close()

    b = bt_run(one, bt_sma(next_))  # shortcash=True: proceeds are cash, nothing checked
    p = btp_run(
        frame, btp_sma(lambda s: s.position.close(), lambda s: s.sell(size=100) if not s.position else None)
    )
    for peer, theirs in {"vectorbt": v, "backtrader": b, "backtesting": p}.items():
        timing = {"fill_timing": "next_bar"} if peer == "vectorbt" else {}
        ours = solvent_run(ShortSma, one, profile=peer, **timing)
        assert_parity(ours, theirs, peer)
    # No peer has a cash account; solvent's refuses every short sale when it is placed.
    real = solvent_run(ShortSma, one, profile="realistic", account="cash")
    assert real.fills == [] and real.final == CASH
    assert set(real.result.rejections["reason"]) == {"SHORTING_NOT_ALLOWED"}
    assert len(real.result.rejections) == sum(f[2] == "SELL" for f in v.fills)


# == 12. a bar with zero volume =============================================================


def test_zero_volume_bar_fills_in_the_peers_and_defers_in_solvent() -> None:
    data = walk(1, zero_volume_at=51)
    frame = data["S0"]
    at = np.zeros(len(frame), dtype=bool)
    at[50] = True
    v = vbt_signals(frame, at, None, size=100)
    b = bt_run(data, bt_at({50: lambda s: s.buy(size=100)}))
    p = btp_run(frame, btp_at({50: lambda s: s.buy(size=100)}))
    day51 = str(frame.index[51].date())
    for peer, theirs in {"vectorbt": v, "backtrader": b, "backtesting": p}.items():
        timing = {"fill_timing": "next_bar"} if peer == "vectorbt" else {}
        ours = solvent_run(AtBars, data, profile=peer, **timing)
        assert [f[0] for f in ours.fills] == [day51]
        assert_parity(ours, theirs, peer)
        assert "zero_volume" in ours.result.settings["permissive"]
    # Realistic: nothing fills on the zero-volume bar; the order fills on the next one,
    # as Backtrader does with its volume filler (FixedBarPerc, 10% of the bar's volume).
    filler = bt_run(
        data,
        bt_at({50: lambda s: s.buy(size=100)}),
        setup=lambda b: b.set_filler(bt.broker.fillers.FixedBarPerc(perc=10)),
    )
    real = solvent_run(AtBars, data, profile="realistic")
    assert [f[0] for f in real.fills] == [str(frame.index[52].date())]
    assert_parity(real, filler, "backtrader with FixedBarPerc(10)")
    assert list(real.result.rejections["reason"]) == ["ZERO_VOLUME"]
