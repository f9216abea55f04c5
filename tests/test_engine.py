"""The event-driven engine: Strategy, Context and backtest, on hand-computed panels."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from solvent.data import BarData, sample
from solvent.engine import Context, ParameterError, Strategy, backtest
from solvent.execution.broker import OrderView
from solvent.model.instrument import Instrument
from solvent.model.money import Money
from solvent.model.orders import OrderStatus, Rejection
from solvent.model.records import ReasonCode

STAMPS = pd.bdate_range("2024-01-02", periods=5).as_unit("ns").to_numpy()


def panel(opens: dict[str, list[float]], closes: dict[str, list[float]] | None = None) -> BarData:
    """Return a panel with the given opens (and closes; default: the opens), volume 1e6."""
    syms = list(opens)
    o = np.array([opens[s] for s in syms]).T
    c = o if closes is None else np.array([closes[s] for s in syms]).T
    hi, lo = np.maximum(o, c), np.minimum(o, c)
    stamps = pd.bdate_range("2024-01-02", periods=o.shape[0]).as_unit("ns").to_numpy()
    return BarData(stamps, syms, o, hi, lo, c, np.full(o.shape, 1e6))


class BuyOnce(Strategy):
    quantity = 100

    def on_bar(self, ctx: Context) -> None:
        if ctx.i == 0:
            self.view = ctx.order("AAA", self.quantity)


def test_buy_and_hold_fills_next_open_final_equity_exact() -> None:
    data = panel({"AAA": [10.0, 11.0, 12.0, 13.0, 14.0]}, {"AAA": [10.5, 11.5, 12.5, 13.5, 14.5]})
    res = backtest(BuyOnce, data, cash=10_000)
    # Bought 100 at bar 1's open (11.00): cash 8,900.00; marked at the last close 14.50.
    assert res.fills["price"].tolist() == [Decimal("11.00")]
    assert res.fills["timestamp"].tolist() == [pd.Timestamp(STAMPS[1])]
    assert res.final_equity == Money.of("10350.00")
    assert res.equity_minor.tolist() == [1_000_000, 1_005_000, 1_015_000, 1_025_000, 1_035_000]
    assert res.cash_minor.tolist() == [1_000_000] + [890_000] * 4
    assert res.equity.iloc[-1] == 10350.0
    assert res.metrics["final_equity"] == Decimal("10350.0")
    assert res.settings["validation"] == "reject" and res.settings["validated"] is True
    assert list(res.margin.columns) == ["buying_power", "initial_margin", "maintenance_margin"]
    # Reg T: 50% initial margin on 100 × 14.50.
    assert res.margin["initial_margin"].iloc[-1] == 725.0
    assert res.summary().row_count > 5


def test_order_placed_at_bar_i_fills_at_bar_i_plus_one_never_same_bar() -> None:
    class EveryBar(Strategy):
        def on_bar(self, ctx: Context) -> None:
            ctx.order("AAA", 1)

    data = panel({"AAA": [10.0, 20.0, 30.0, 40.0, 50.0]})
    res = backtest(EveryBar, data, cash=1_000)
    orders = res.orders.set_index("order_id")
    for _, fill in res.fills.iterrows():
        submitted = orders.loc[fill["order_id"], "submitted_at"]
        assert fill["timestamp"] > submitted
    # Four fills (the last order has no next bar), each at the next bar's open.
    assert res.fills["price"].tolist() == [Decimal(p) for p in ("20.00", "30.00", "40.00", "50.00")]
    assert res.orders["status"].tolist()[-1] == OrderStatus.ACCEPTED.value


class SmaCross(Strategy):
    fast = 10
    slow = 40
    weight = 0.15

    def init(self, data: BarData) -> None:
        close = pd.DataFrame(data.close).ffill()
        self.fast_ma = close.rolling(self.fast).mean().to_numpy()
        self.slow_ma = close.rolling(self.slow).mean().to_numpy()

    def on_bar(self, ctx: Context) -> None:
        f, s = self.fast_ma[ctx.i], self.slow_ma[ctx.i]
        for j, sym in enumerate(ctx.symbols):
            if np.isnan(s[j]) or np.isnan(ctx.close[j]):
                continue
            held = ctx.position(sym) != 0 or ctx.pending(sym) != 0
            if f[j] > s[j] and not held:
                ctx.order_target_percent(sym, self.weight)
            elif f[j] < s[j] and ctx.position(sym) > 0 and ctx.pending(sym) == 0:
                ctx.close_position(sym)


def test_sma_cross_on_sample_trades_and_cash_never_negative() -> None:
    t0 = time.perf_counter()
    res = backtest(SmaCross, sample(), cash=100_000, account="cash", commission=0.0005)
    elapsed = time.perf_counter() - t0
    print(f"SMA cross on sample(): {elapsed:.2f}s")
    assert len(res.fills) > 100
    assert res.metrics["trades"] > 50
    assert (res.cash_minor >= 0).all()
    assert len(res.equity) == len(sample())
    assert res.settings["account"] == "cash"
    # The ledger's identity holds at the end: NLV = cash + positions at their marks.
    snap = res.account.snapshot()
    assert snap.nlv == res.final_equity


class Martingale(Strategy):
    def on_start(self, ctx: Context) -> None:
        self.size = 1
        self.views: list[OrderView] = []
        self.refused: list[Rejection] = []

    def on_bar(self, ctx: Context) -> None:
        self.views.append(ctx.order("AAA", self.size))
        self.size *= 2  # double down after every (losing) bar

    def on_reject(self, ctx: Context, rejection: Rejection) -> None:
        self.refused.append(rejection)


def test_martingale_in_cash_account_refused_insufficient_buying_power() -> None:
    falling = [100.0 - i for i in range(10)]
    strat = Martingale()
    res = backtest(strat, panel({"AAA": falling}), cash=5_000, account="cash")
    assert (res.cash_minor >= 0).all()
    refused = res.rejections[res.rejections["reason"] == "INSUFFICIENT_BUYING_POWER"]
    assert len(refused) >= 3
    assert strat.views[-1].status is OrderStatus.REJECTED
    assert strat.views[-1].reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    assert any(r.reason is ReasonCode.INSUFFICIENT_BUYING_POWER for r in strat.refused)
    assert res.metrics["rejections_by_reason"]["INSUFFICIENT_BUYING_POWER"] == len(refused)


class Rebalance(Strategy):
    def on_bar(self, ctx: Context) -> None:
        if ctx.i == 0:
            ctx.order_target_percent("A", 0.5)
            ctx.order_target_percent("B", 0.5)
            # Pending orders count: asking again places nothing.
            self.again = ctx.order_target_percent("A", 0.5)
        elif ctx.i == 1:
            ctx.order_target_percent("A", 0.25)
            ctx.order_target_percent("B", 0.75)


def test_order_target_percent_rebalances_two_symbols_to_exact_quantities() -> None:
    data = panel({"A": [10.0] * 4, "B": [20.0] * 4})
    strat = Rebalance()
    res = backtest(strat, data, cash=10_000)
    assert strat.again is None
    # Bar 1: buy A 500 @ 10, B 250 @ 20. Bar 2: sell A 250, buy B 125.
    assert res.fills[["symbol", "quantity"]].values.tolist() == [
        ["A", Decimal(500)],
        ["B", Decimal(250)],
        ["A", Decimal(-250)],
        ["B", Decimal(125)],
    ]
    assert res.account.quantity("A") == 250
    assert res.account.quantity("B") == 375
    assert res.cash_minor[-1] == 0
    assert res.final_equity == Money.of(10_000)


def test_unknown_parameter_raises_parameter_error_naming_it() -> None:
    with pytest.raises(ParameterError, match="slowest") as exc:
        backtest(SmaCross, panel({"AAA": [10.0] * 5}), cash=1_000, slowest=3)
    assert exc.value.field == "slowest"


def test_parameters_overridden_per_run_class_unchanged() -> None:
    data = panel({"AAA": [10.0, 11.0, 12.0, 13.0, 14.0]})
    res = backtest(BuyOnce, data, cash=10_000, quantity=7)
    assert res.fills["quantity"].tolist() == [Decimal(7)]
    assert res.settings["params"] == {"quantity": 7}
    assert BuyOnce.quantity == 100
    assert BuyOnce.parameters == ("quantity",)
    assert SmaCross.parameters == ("fast", "slow", "weight")


def test_positions_frame_tracks_quantity_per_bar() -> None:
    import solvent
    from solvent.data import sample

    class BuyTwice(solvent.Strategy):
        def on_bar(self, ctx: solvent.Context) -> None:
            if ctx.i in (0, 2):
                ctx.order(ctx.symbols[0], 10)

    r = solvent.backtest(BuyTwice, sample(), cash=100_000, volume_limit=None)
    col = r.positions[r.positions.columns[0]]
    # Orders placed after bars 0 and 2 fill at the opens of bars 1 and 3.
    assert list(col.iloc[:5]) == [0.0, 10.0, 10.0, 20.0, 20.0]
    assert (r.positions.iloc[:, 1:] == 0).all().all()


# -- fill timing, sessions, progress, quiet bars ------------------------------------------


def test_same_bar_close_fills_at_the_decision_bars_close_and_says_look_ahead(tmp_path: Path) -> None:
    data = panel({"AAA": [10.0, 11.0, 12.0, 13.0, 14.0]}, {"AAA": [10.5, 11.5, 12.5, 13.5, 14.5]})
    res = backtest(BuyOnce, data, cash=10_000, fill_timing="same_bar_close")
    # Ordered on bar 0 and filled at bar 0's own close, 10.50: cash 8,950.00 from bar 0.
    assert res.fills[["timestamp", "quantity", "price"]].values.tolist() == [
        [pd.Timestamp(STAMPS[0]), Decimal(100), Decimal("10.50")]
    ]
    assert res.cash_minor.tolist() == [895_000] * 5
    assert res.equity_minor.tolist() == [1_000_000, 1_010_000, 1_020_000, 1_030_000, 1_040_000]
    assert res.settings["fill_timing"] == "same_bar_close" and res.settings["look_ahead"] is True
    assert "LOOK-AHEAD" in str(res.summary().title)
    html = res.report(tmp_path / "r.html").read_text()
    assert 'id="look-ahead"' in html and "LOOK-AHEAD" in html
    default = backtest(BuyOnce, data, cash=10_000)
    assert default.settings["look_ahead"] is False
    assert 'id="look-ahead"' not in default.report(tmp_path / "d.html").read_text()


def test_backtest_cli_fill_timing_flag_writes_look_ahead_setting(tmp_path: Path) -> None:
    import json

    from solvent.cli import main

    out = tmp_path / "out"
    args = ["backtest", "examples/sma_cross.py", "--fill-timing", "same_bar_close", "--out", str(out)]
    assert main(args) == 0
    settings = json.loads((out / "summary.json").read_text())["settings"]
    assert settings["fill_timing"] == "same_bar_close" and settings["look_ahead"] is True
    assert "LOOK-AHEAD" in (out / "report.html").read_text()


class CloseOfDay(Strategy):
    def on_bar(self, ctx: Context) -> None:
        if ctx.i in (1, 3):
            ctx.order("AAA", 10, type="market_on_close")


def test_market_on_close_on_minute_bars_fills_at_each_sessions_last_close() -> None:
    # Two sessions of three one-minute bars; bar k closes at 100 + k.
    stamps = (
        pd.to_datetime([f"2024-01-0{d} 09:3{m}" for d in (3, 4) for m in range(3)]).as_unit("ns").to_numpy()
    )
    o = np.array([[100.0 + k] for k in range(6)])
    c = o + 0.5
    data = BarData(stamps, ["AAA"], o, c, o, c, np.full(o.shape, 1e6))
    res = backtest(CloseOfDay, data, cash=10_000)
    # Placed after 09:31 of day 1: fills at 09:32's close 102.50. Placed after 09:30 of
    # day 2 (bar 3): fills at that session's last close, 09:32's 105.50.
    assert res.fills[["timestamp", "price"]].values.tolist() == [
        [pd.Timestamp(stamps[2]), Decimal("102.50")],
        [pd.Timestamp(stamps[5]), Decimal("105.50")],
    ]


class BuyFirstSymbol(Strategy):
    def on_bar(self, ctx: Context) -> None:
        if ctx.i == 0:
            ctx.order(ctx.symbols[0], 10)


def test_progress_callback_counts_bars_up_to_the_total() -> None:
    calls: list[tuple[int, int]] = []
    data = sample()
    backtest(BuyFirstSymbol, data, cash=10_000, progress=lambda d, t: calls.append((d, t)))
    total = len(data)
    assert calls[-1] == (total, total)
    assert 150 <= len(calls) <= 250  # about 200 updates: the bar costs nothing measurable
    done = [d for d, _ in calls]
    assert done == sorted(done) and all(t == total for _, t in calls)


def test_delayed_progress_draws_a_bar_of_bars_done() -> None:
    import io

    from rich.console import Console

    from solvent.backtest_cli import DelayedProgress

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    with DelayedProgress(console, "backtesting X", delay=0.0) as bar:
        deadline = time.perf_counter() + 5
        while bar._bar is None and time.perf_counter() < deadline:
            time.sleep(0.01)
        bar.update(500, 2000)
        assert bar._bar is not None
        bar._bar.refresh()
    assert "backtesting X" in buf.getvalue() and "500/2000" in buf.getvalue()


def test_delayed_progress_short_run_draws_nothing() -> None:
    import io

    from rich.console import Console

    from solvent.backtest_cli import DelayedProgress

    buf = io.StringIO()
    with DelayedProgress(Console(file=buf, force_terminal=True), "x", delay=60) as bar:
        bar.update(1, 2)
    assert buf.getvalue() == ""


def test_quiet_bars_skip_matching_only_bars_with_working_orders_are_matched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from solvent.execution.broker import SimulatedBroker

    calls: list[pd.Timestamp] = []
    match = SimulatedBroker._match

    def counting(self: SimulatedBroker, ts: pd.Timestamp, *args: object, **kwargs: object) -> object:
        calls.append(ts)
        return match(self, ts, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SimulatedBroker, "_match", counting)
    data = panel({"AAA": [10.0 + i % 7 for i in range(60)]})
    res = backtest(BuyFirstSymbol, data, cash=100_000)
    # One order, placed after bar 0: the broker matches bar 1 and no other.
    assert calls == [pd.Timestamp(data.timestamps[1])]
    assert len(res.equity) == len(data) and len(res.fills) == 1


def test_ctx_close_is_the_close_row_and_calling_it_flattens_the_symbol() -> None:
    # ctx.close is the row of closes (indexable, plain arrays out of arithmetic) and
    # ctx.close(symbol) closes the position like ctx.close_position(symbol).
    seen: list[tuple[float, type, object]] = []

    class Flatten(Strategy):
        def on_bar(self, ctx: Context) -> None:
            sym = ctx.symbols[0]
            seen.append((float(ctx.close[0]), type(ctx.close * 2), ctx.close(sym) if ctx.i == 3 else None))
            if ctx.i == 0:
                ctx.order(sym, 10)

    data = panel({"AAA": [10.0, 11.0, 12.0, 13.0, 14.0]}, {"AAA": [10.5, 11.5, 12.5, 13.5, 14.5]})
    res = backtest(Flatten, data, cash=100_000)
    assert [c for c, _, _ in seen] == [10.5, 11.5, 12.5, 13.5, 14.5]
    assert all(t is np.ndarray for _, t, _ in seen)
    flat = seen[3][2]
    assert isinstance(flat, OrderView) and flat.order.quantity == Decimal(-10)
    assert list(res.fills["side"]) == ["BUY", "SELL"]
    assert list(res.fills["price"]) == [Decimal("11.00"), Decimal("14.00")]
    assert res.positions["AAA"].iloc[-1] == 0


def test_instruments_per_symbol_lot_and_shortability_apply_only_to_that_symbol() -> None:
    # BBB trades in lots of 10 and may not be shorted; AAA keeps the defaults (lot 1).
    from solvent.errors import PrecisionError
    from solvent.model.instrument import Instrument

    errors: list[Exception] = []

    class Trade(Strategy):
        def on_bar(self, ctx: Context) -> None:
            if ctx.i == 0:
                ctx.order("AAA", 7)
                try:
                    ctx.order("BBB", 25)  # not a multiple of BBB's lot of 10
                except PrecisionError as e:
                    errors.append(e)
                ctx.order("BBB", -10)  # a short of a non-shortable symbol

    data = panel({"AAA": [10.0] * 5, "BBB": [20.0] * 5})
    bbb = Instrument("BBB", lot_size=10, shortable=False)
    res = backtest(Trade, data, cash=100_000, instruments=[bbb])
    assert len(errors) == 1 and "BBB" in str(errors[0])
    assert list(res.fills["symbol"]) == ["AAA"] and list(res.fills["quantity"]) == [Decimal(7)]
    assert list(res.rejections["reason"]) == ["NOT_SHORTABLE"]
    assert "lot 10" in res.settings["instruments"] and "lot 1," in res.settings["instruments"]


def test_instruments_unknown_symbol_raises_naming_it() -> None:
    from solvent.errors import InvalidInputError
    from solvent.model.instrument import Instrument

    data = panel({"AAA": [10.0] * 5})
    with pytest.raises(InvalidInputError, match="ZZZ"):
        backtest(BuyOnce, data, cash=100_000, instruments=[Instrument("ZZZ")])


@pytest.mark.parametrize(("day_trading", "bp"), [(False, 60_000.0), (True, 120_000.0)])
def test_day_trading_account_of_30000_has_4x_buying_power_in_results(day_trading: bool, bp: float) -> None:
    # Flat $30,000 margin account: 2 x 30,000 overnight, 4 x (30,000 - 0) as a day trader.
    class Idle(Strategy):
        def on_bar(self, ctx: Context) -> None:
            pass

    res = backtest(Idle, panel({"AAA": [10.0] * 5}), cash=30_000, day_trading=day_trading)
    assert list(res.margin["buying_power"]) == [bp] * 5
    assert res.settings["day_trading"] is day_trading


def test_summary_names_profile_and_permissive_settings_only_when_not_realistic() -> None:
    from rich.console import Console

    def text(profile: str) -> str:
        res = backtest(BuyOnce, panel({"AAA": [10.0] * 5}), cash=100_000, profile=profile)
        console = Console(width=200, record=True)
        console.print(res.summary())
        return console.export_text()

    loose = text("vectorbt")
    assert "vectorbt" in loose and "PERMISSIVE" in loose and "short_cash" in loose
    strict = text("realistic")
    assert "PERMISSIVE" not in strict and "profile" not in strict


def test_turnover_counts_each_fills_exact_value_with_multiplier_and_flip() -> None:
    class Flip(Strategy):
        def on_bar(self, ctx: Context) -> None:
            if ctx.i == 0:
                ctx.order("FUT", 3)  # fills at bar 1's open 11.00
            elif ctx.i == 2:
                ctx.order("FUT", -5)  # flip: sell 3 and short 2 at bar 3's open 13.00

    data = panel({"FUT": [10.0, 11.0, 12.0, 13.0, 14.0]})
    inst = Instrument(
        "FUT", asset_class="future", multiplier=50, initial_margin_fixed=1_000, maintenance_margin_fixed=800
    )
    res = backtest(Flip, data, cash=100_000, instruments=[inst], volume_limit=None)
    # 3 × 11.00 × 50 = 1,650.00, then 5 × 13.00 × 50 = 3,250.00 (both legs of the flip).
    assert res.fills["quantity"].tolist() == [Decimal(3), Decimal(-3), Decimal(-2)]
    mean_equity = res.equity.mean()
    assert res.metrics["turnover"] == pytest.approx((1_650.0 + 3_250.0) / mean_equity, rel=1e-12)
