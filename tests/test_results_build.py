"""Result building without sorting or per-row work it does not need.

``infer_periods_per_year`` proves the median spacing from a sample with two counts
instead of sorting every step; ``rejections_by_reason`` counts enum members before
naming them; ``Result.orders`` is built from the broker's order states on first read.
Each must give what the plain versions gave.
"""

from __future__ import annotations

import gc
import pickle
import weakref
from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from _bars import minute_sessions
from solvent.data import BarData
from solvent.engine import Context, Strategy, backtest
from solvent.execution.broker import SimulatedBroker
from solvent.model.money import Money
from solvent.model.records import ReasonCode
from solvent.results import periods
from solvent.results.exposure import _total
from solvent.results.periods import _median_step, infer_periods_per_year
from solvent.results.result import EVENT_COLUMNS, orders_frame_of
from solvent.results.returns import return_ratios, sharpe, sortino, volatility
from solvent.results.trades import rejections_by_reason


def stamps(steps: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Return stamps (ns) whose consecutive steps are ``steps``."""
    return np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(steps)])


def test_median_one_common_spacing_is_proved_without_sort() -> None:
    # 1,999 one-minute steps and one overnight gap: the middle ranks are minutes.
    steps = np.full(2_000, 60, dtype=np.int64)
    steps[777] = 17 * 3600
    assert _median_step(stamps(steps)) == 60.0


@pytest.mark.parametrize("block", [97, 1 << 16])
def test_median_middle_ranks_differ_falls_back_to_the_mean_of_both(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(periods, "_COUNT_BLOCK", block)
    # 1,000 steps of 1 and 1,000 of 3: the middle ranks hold 1 and 3, median 2.0,
    # a value the sample cannot propose.
    steps = np.repeat(np.array([3, 1], dtype=np.int64), 1_000)
    assert _median_step(stamps(steps)) == 2.0


@pytest.mark.parametrize(("seed", "block"), [(s, b) for s in range(6) for b in (97, 1 << 16)])
def test_median_random_steps_equal_numpy_median(
    seed: int, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counted in blocks of 97 stamps too: every block boundary's step is counted once.
    monkeypatch.setattr(periods, "_COUNT_BLOCK", block)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1_025, 9_000))
    choices = rng.integers(1, 10**12, int(rng.integers(1, 6)))
    steps = rng.choice(choices, n, p=None).astype(np.int64)
    if seed % 2:  # one spacing most of the time, as bars come
        steps[rng.random(n) < 0.9] = choices[0]
    assert _median_step(stamps(steps)) == float(np.median(steps))


def test_infer_periods_per_year_minute_bars_over_sessions_98280() -> None:
    index = pd.DatetimeIndex(minute_sessions(5_000, 390, "2024-01-02"))
    assert infer_periods_per_year(index) == 252 * 390


def test_rejections_by_reason_counts_by_code_sorted() -> None:
    rej = [SimpleNamespace(reason=r) for r in (ReasonCode.ZERO_VOLUME, ReasonCode.INSUFFICIENT_BUYING_POWER)]
    rej += [SimpleNamespace(reason=ReasonCode.ZERO_VOLUME)] * 2
    counts = rejections_by_reason(rej)
    assert counts == {"INSUFFICIENT_BUYING_POWER": 1, "ZERO_VOLUME": 3}
    assert list(counts) == ["INSUFFICIENT_BUYING_POWER", "ZERO_VOLUME"]
    assert all(type(k) is str for k in counts)  # the codes' text, not the members


class BuyThenTooMuch(Strategy):
    """Buys 10 shares at bar 0, sells them at bar 2, then asks for more than the cash buys."""

    def on_bar(self, ctx: Context) -> None:
        sym = ctx.symbols[0]
        if ctx.i == 0:
            ctx.order(sym, 10)
        elif ctx.i == 2:
            ctx.close_position(sym)
        elif ctx.i == 4:
            ctx.order(sym, 1_000)


class _WatchBroker(BuyThenTooMuch):
    """``BuyThenTooMuch`` that keeps a weak reference to the run's broker."""

    broker: weakref.ref[SimulatedBroker] | None = None

    def on_start(self, ctx: Context) -> None:
        self.broker = weakref.ref(ctx._broker)


def test_orders_frame_built_on_first_read_from_final_order_states_without_the_broker() -> None:
    stamps = pd.bdate_range("2024-01-02", periods=6).to_numpy()
    px = np.array([[10.0], [10.0], [11.0], [12.0], [12.0], [12.0]])
    data = BarData(stamps, ["AAA"], px, px, px, px, np.full(px.shape, 1e6))
    strat = _WatchBroker()
    res = backtest(strat, data, cash=1_000, account="cash", partial_fills=False)
    assert "orders" not in res._built
    gc.collect()  # the result keeps the orders' raw figures, not the broker and its ledger
    assert strat.broker is not None and strat.broker() is None
    orders = res.orders
    assert res.orders is orders  # built once, kept
    assert orders["status"].tolist() == ["filled", "filled", "rejected"]
    assert orders["quantity"].tolist() == [Decimal(10), Decimal(-10), Decimal(1_000)]
    # 10 bought at 10.00, sold at 12.00 (bar 3's open): 1,020.00 cannot buy 1,000 at 12.
    assert orders["avg_fill_price"].tolist()[:2] == [Decimal("10.00"), Decimal("12.00")]
    assert orders["reason"].tolist()[2] == ReasonCode.INSUFFICIENT_BUYING_POWER.value
    pd.testing.assert_frame_equal(orders, orders_frame_of(res._order_states()))


def test_record_frames_built_on_first_read_kept_and_exact_without_the_broker() -> None:
    stamps = pd.bdate_range("2024-01-02", periods=6).to_numpy()
    px = np.array([[10.0], [10.0], [11.0], [12.0], [12.0], [12.0]])
    data = BarData(stamps, ["AAA"], px, px, px, px, np.full(px.shape, 1e6))
    strat = _WatchBroker()
    res = backtest(strat, data, cash=1_000, account="cash", partial_fills=False, commission=0.001)
    names = ("fills", "trades", "rejections", "events")
    assert not set(names) & set(res._built)  # nothing built by the run
    gc.collect()
    assert strat.broker is not None and strat.broker() is None  # the records, not the broker
    frames = {n: getattr(res, n) for n in names}
    assert all(getattr(res, n) is frames[n] for n in names)  # built once, kept
    fills, trades = frames["fills"], frames["trades"]
    assert fills["quantity"].tolist() == [Decimal(10), Decimal(-10)]
    assert fills["commission"].tolist() == [Decimal("0.10"), Decimal("0.12")]
    # 10 bought at 10.00 and sold at 12.00: 20.00 gross, 0.22 of commissions.
    assert trades["pnl"].tolist() == [Decimal("20.00")]
    assert trades["net_pnl"].tolist() == [Decimal("19.78")]
    assert frames["rejections"]["reason"].tolist() == [ReasonCode.INSUFFICIENT_BUYING_POWER.value]
    assert frames["events"].empty and list(frames["events"].columns) == list(EVENT_COLUMNS)


@pytest.mark.parametrize("risk_free", [0.0, 0.04])
@pytest.mark.parametrize("n", [0, 1, 2, 500])
def test_return_ratios_equal_the_three_functions(n: int, risk_free: float) -> None:
    rng = np.random.default_rng(n)
    rets = pd.Series(rng.normal(0.0005, 0.01, n))
    if n > 2:
        rets.iloc[[1, 7 % n]] = np.nan  # skipped by all three
    got = return_ratios(rets, 252.0, risk_free)
    want = (volatility(rets, 252.0), sharpe(rets, 252.0, risk_free), sortino(rets, 252.0))
    np.testing.assert_array_equal(np.array(got), np.array(want))  # NaN equal to NaN, else bit for bit


@pytest.mark.parametrize("values", [[0.0, 2.5, 0.0, 1e9], [1.0, -2.0, 3.0], [-0.0, 0.0], [np.nan, 1.0], []])
def test_traded_total_equals_the_sum_of_absolute_values(values: list[float]) -> None:
    arr = np.array(values, dtype=np.float64)
    np.testing.assert_array_equal(_total(arr), float(np.sum(np.abs(arr))))


def test_result_pickles_with_its_ledger_for_another_process() -> None:
    # A sweep over multiprocessing or joblib sends results back pickled: the ledger's
    # lock stays behind and the copy gets its own; every table and figure comes along.
    stamps = pd.bdate_range("2024-01-02", periods=6).to_numpy()
    px = np.array([[10.0], [10.0], [11.0], [12.0], [12.0], [12.0]])
    data = BarData(stamps, ["AAA"], px, px, px, px, np.full(px.shape, 1e6))
    res = backtest(BuyThenTooMuch, data, cash=1_000, account="cash", partial_fills=False, commission=0.001)
    res.fills  # noqa: B018 - one table built before, the others after the round trip
    copy = pickle.loads(pickle.dumps(res))  # noqa: S301 - our own bytes, just written
    for name in (
        "equity",
        "cash",
        "margin",
        "positions",
        "orders",
        "fills",
        "trades",
        "rejections",
        "events",
    ):
        assert getattr(copy, name).equals(getattr(res, name)), name
    assert copy.metrics == res.metrics and copy.final_equity == res.final_equity
    assert copy.account.lock is not res.account.lock
    assert copy.account.snapshot().cash == res.account.snapshot().cash == Money.of("1019.78")


def test_record_frames_of_a_run_that_never_trades_have_the_dtypes_of_one_that_does() -> None:
    class Nothing(Strategy):
        def on_bar(self, ctx: Context) -> None:
            pass

    class Churn(Strategy):
        def on_bar(self, ctx: Context) -> None:
            if ctx.i == 0:
                ctx.order("AAA", 10)  # no tag, no intent: columns of None only
            elif ctx.i == 2:
                ctx.close_position("AAA")
            elif ctx.i == 3:
                ctx.order("AAA", -10)  # refused: a cash account does not sell short

    stamps_ = pd.bdate_range("2024-01-02", periods=6).as_unit("ns").to_numpy()
    o = np.array([[10.0], [11.0], [12.0], [13.0], [14.0], [15.0]])
    data = BarData(stamps_, ["AAA"], o, o, o, o, np.full(o.shape, 1e6))
    busy = backtest(Churn, data, cash=10_000, account="cash")
    idle = backtest(Nothing, data, cash=10_000, account="cash")
    for name in ("fills", "trades", "orders", "rejections", "events"):
        full, empty = getattr(busy, name), getattr(idle, name)
        assert empty.empty
        assert dict(empty.dtypes) == dict(full.dtypes), name
    assert len(busy.fills) == 2 and len(busy.trades) == 1 and len(busy.rejections) == 1
    assert str(busy.fills["timestamp"].dtype) == "datetime64[ns]"
    assert str(idle.fills["timestamp"].dtype) == "datetime64[ns]"
    assert str(idle.rejections["reason"].dtype) == "str"
    assert busy.fills["tag"].isna().all()  # a missing tag is NA, as in a column with some tags


def test_to_polars_gives_each_table_with_exact_decimals_and_timestamps() -> None:
    import polars as pl

    from solvent.errors import InvalidInputError

    class Churn(Strategy):
        def on_bar(self, ctx: Context) -> None:
            if ctx.i == 0:
                ctx.order("AAA", 7, tag="entry")
            elif ctx.i == 2:
                ctx.close_position("AAA")

    stamps_ = pd.bdate_range("2024-01-02", periods=4).as_unit("ns").to_numpy()
    o = np.array([[10.01], [11.03], [12.05], [13.07]])
    data = BarData(stamps_, ["AAA"], o, o, o, o, np.full(o.shape, 1e6))
    res = backtest(Churn, data, cash=10_000, account="cash", commission=0.001)
    fills = res.to_polars("fills")
    assert isinstance(fills, pl.DataFrame) and fills.columns == list(res.fills.columns)
    assert fills["price"].to_list() == [Decimal("11.03"), Decimal("13.07")]  # the next opens
    assert fills["commission"].to_list() == [Decimal("0.08"), Decimal("0.09")]  # 77.21 and 91.49 at 0.1%
    assert fills["timestamp"].dtype == pl.Datetime("ns")
    assert res.to_polars("trades")["pnl"].to_list() == [Decimal("14.28")]  # 7 × (13.07 − 11.03)
    equity = res.to_polars("equity")
    assert equity.columns == ["timestamp", "equity"] and equity["equity"].to_list() == res.equity.tolist()
    assert res.to_polars("positions")["AAA"].to_list() == [0.0, 7.0, 7.0, 0.0]
    assert res.to_polars("rejections").height == 0
    with pytest.raises(InvalidInputError, match="must be one of"):
        res.to_polars("ledger")


@pytest.mark.parametrize("tz", [None, "America/New_York"])
def test_fills_frame_of_second_resolution_stamps_is_at_nanoseconds(tz: str | None) -> None:
    from solvent.model.records import Fill
    from solvent.results.result import fills_frame, trades_frame

    stamp = pd.Timestamp("2024-01-02 09:30:00", tz=tz).as_unit("s")
    fills = [Fill("AAA", Decimal(3), Decimal("10.01"), stamp, order_id="o1")]
    frame = fills_frame(fills)
    want = "datetime64[ns]" if tz is None else f"datetime64[ns, {tz}]"
    assert str(frame["timestamp"].dtype) == want
    assert frame["timestamp"].iloc[0] == stamp  # the same instant, zone kept
    assert str(trades_frame([])["entry_time"].dtype) == "datetime64[ns]"
