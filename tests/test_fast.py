"""``solvent.fast``: hand-worked runs to the cent, the API, and bad input.

Prices are on the cent grid; every expected figure below is worked out by hand in the
comments (commission 0.1% = 10 bps of the fill's value, rounded half-even to the cent).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest

import solvent
from solvent.data import BarData
from solvent.errors import InvalidInputError, PrecisionError
from solvent.execution.costs import FixedBps, FixedPerOrder, PerShare, Tiered, VolumeShareImpact
from solvent.fast import FastResult, NotLoweredError, _layout, _loop, from_signals, from_targets
from solvent.fast._costs import lower_commission
from solvent.fast.twin import SignalStrategy
from solvent.model.instrument import AssetClass, Instrument

D = Decimal
DAYS = pd.date_range("2024-01-01", periods=100, freq="D")


def bars(
    symbols: list[str],
    opens: list[list[float]],
    closes: list[list[float]] | None = None,
    volume: float | list[list[float]] = 1e6,
    **extra: Any,
) -> BarData:
    """Return a panel: ``opens[t][j]``; closes default to the opens; high/low around them."""
    o = np.array(opens, dtype=float)
    c = o if closes is None else np.array(closes, dtype=float)
    v = np.broadcast_to(np.array(volume, dtype=float), o.shape)
    ts = DAYS[: len(o)].values
    return BarData(ts, symbols, o, np.maximum(o, c) + 1, np.minimum(o, c) - 1, c, v, **extra)


def signal(panel: BarData, **cells: list[int]) -> pd.DataFrame:
    """Return a boolean frame like the panel, True at the listed bars of each symbol."""
    out = pd.DataFrame(False, index=pd.DatetimeIndex(panel.timestamps), columns=list(panel.symbols))
    for sym, rows in cells.items():
        out.iloc[rows, out.columns.get_loc(sym)] = True
    return out


def fills(res: FastResult) -> list[tuple[Any, ...]]:
    return [(r.order_id, r.symbol, r.side, r.quantity, r.price, r.commission) for r in res.fills.itertuples()]


# -- hand-worked runs ------------------------------------------------------------------


def test_all_in_long_cash_account_cent_exact() -> None:
    panel = bars(["X"], [[99], [100], [105], [110]], [[100], [105], [108], [109]])
    res = from_signals(
        panel, signal(panel, X=[0]), signal(panel, X=[2]), cash=10_000, account="cash", commission=0.001
    )
    # Bar 1 opens at 100.00: 99 shares cost 9,900.00 + 9.90 = 9,909.90 <= 10,000; 100 would
    # cost 10,010.00. Bar 3 opens at 110.00: 99 shares sell for 10,890.00 less 10.89.
    assert fills(res) == [
        ("o1", "X", "BUY", D(99), D("100.00"), D("9.90")),
        ("o2", "X", "SELL", D(99), D("110.00"), D("10.89")),
    ]
    # Equity: 10,000.00; 90.10 + 99 x 105 = 10,485.10; 90.10 + 99 x 108 = 10,782.10;
    # 90.10 + 10,890.00 - 10.89 = 10,969.21.
    assert res.equity_minor[:, 0].tolist() == [1_000_000, 1_048_510, 1_078_210, 1_096_921]
    assert res.cash_minor.tolist() == [1_096_921]
    assert res.final_equity.tolist() == [D("10969.21")]
    assert res.positions.tolist() == [D(0)]
    stats = res.stats().loc["X"]
    assert stats["trades"] == 1
    assert stats["fills"] == 2
    assert stats["rejections"] == 0
    assert stats["max_drawdown"] == 0.0
    assert stats["commission"] == pytest.approx(20.79)
    assert stats["total_return"] == pytest.approx(0.096921)


def test_long_to_short_flip_is_a_close_and_a_short_margin_account() -> None:
    panel = bars(["X"], [[50], [50], [52], [49]], [[50], [51], [51], [48]])
    res = from_signals(
        panel,
        signal(panel, X=[0]),
        short_entries=signal(panel, X=[1]),
        short_exits=signal(panel, X=[2]),
        size=10,
        cash=1_000,
        account="margin",
    )
    # Bar 1: buy 10 at 50.00 (cash 500.00). Bar 2: the close (intent CLOSE) sells 10 at
    # 52.00 (cash 1,020.00), then the short sells 10 more (cash 1,540.00). Bar 3: cover at
    # 49.00 (cash 1,050.00).
    assert fills(res) == [
        ("o1", "X", "BUY", D(10), D("50.00"), D("0.00")),
        ("o2", "X", "SELL", D(10), D("52.00"), D("0.00")),
        ("o3", "X", "SELL_SHORT", D(10), D("52.00"), D("0.00")),
        ("o4", "X", "BUY_TO_COVER", D(10), D("49.00"), D("0.00")),
    ]
    # Equity at the closes: 1,000.00; 500 + 510 = 1,010.00; 1,540 - 510 = 1,030.00; 1,050.00.
    assert res.equity_minor[:, 0].tolist() == [100_000, 101_000, 103_000, 105_000]
    assert res.stats().loc["X", "trades"] == 2


def test_grouped_columns_share_cash_independent_columns_do_not() -> None:
    panel = bars(["A", "B"], [[10, 20]] * 3)
    entries = signal(panel, A=[0], B=[0])
    grouped = from_signals(panel, entries, cash=1_000, account="cash", group=True)
    # A's value order reserves the 1,000.00 (100 shares at the last close 10.00); B (50
    # shares at 20.00) then finds no buying power and is refused when placed.
    assert list(grouped.columns) == ["portfolio"]
    assert fills(grouped) == [("o1", "A", "BUY", D(100), D("10.00"), D("0.00"))]
    rej = grouped.rejections.iloc[0]
    assert (rej.order_id, rej.symbol, rej.quantity, rej.reason, rej.at_fill) == (
        "o2", "B", D(50), "INSUFFICIENT_BUYING_POWER", False,
    )  # fmt: skip
    alone = from_signals(panel, entries, cash=1_000, account="cash")
    assert list(alone.columns) == ["A", "B"]
    assert fills(alone) == [
        ("o1", "A", "BUY", D(100), D("10.00"), D("0.00")),
        ("o1", "B", "BUY", D(50), D("20.00"), D("0.00")),
    ]
    assert alone.rejections.empty


def test_zero_volume_bar_defers_the_order_zero_volume() -> None:
    panel = bars(["X"], [[10], [11], [12], [13]], volume=[[100], [0], [100], [100]])
    res = from_signals(panel, signal(panel, X=[0]), size=10, cash=1_000)
    # Bar 1 has no volume: nothing fills, the order waits (noted once) and fills at bar 2.
    assert fills(res) == [("o1", "X", "BUY", D(10), D("12.00"), D("0.00"))]
    rej = res.rejections.iloc[0]
    assert (rej.timestamp, rej.quantity, rej.reason, rej.at_fill) == (DAYS[1], D(10), "ZERO_VOLUME", True)


def test_missing_bar_order_waits_for_the_next_bar() -> None:
    o = [[10.0], [np.nan], [12.0]]
    panel = BarData(DAYS[:3].values, ["X"], o, o, o, o, np.full((3, 1), 1e6))
    res = from_signals(panel, signal(panel, X=[0]), size=5, cash=1_000)
    assert fills(res) == [("o1", "X", "BUY", D(5), D("12.00"), D("0.00"))]
    assert res.rejections.empty
    assert res.equity_minor[:, 0].tolist() == [100_000, 100_000, 100_000]


def test_volume_cap_fills_over_bars_minimum_commission_once() -> None:
    panel = bars(["X"], [[10]] * 6, volume=300)
    res = from_signals(
        panel,
        signal(panel, X=[0]),
        size=100,
        cash=10_000,
        volume_limit=0.1,
        commission=PerShare("0.005", minimum="1.00"),
    )
    # 10% of 300 shares per bar: 30, 30, 30, 10. The order's 1.00 minimum is paid once.
    assert [(q, c) for _, _, _, q, _, c in fills(res)] == [
        (D(30), D("1.00")), (D(30), D("0.00")), (D(30), D("0.00")), (D(10), D("0.00")),
    ]  # fmt: skip
    assert res.rejections.empty
    # Four entry lots closed by nothing yet: no round trips.
    assert res.stats().loc["X", "trades"] == 0


def test_unaffordable_entry_scaled_down_or_refused_without_partial_fills() -> None:
    panel = bars(["X"], [[100]] * 3)
    scaled = from_signals(panel, signal(panel, X=[0]), size=15, cash=1_000, account="cash")
    # 15 x 100.00 = 1,500.00 > 1,000.00: cut at placement to the 10 shares it affords.
    assert fills(scaled) == [("o1", "X", "BUY", D(10), D("100.00"), D("0.00"))]
    refused = from_signals(
        panel, signal(panel, X=[0]), size=15, cash=1_000, account="cash", partial_fills=False
    )
    assert refused.fill_records.shape[0] == 0
    rej = refused.rejections.iloc[0]
    assert (rej.quantity, rej.reason, rej.at_fill) == (D(15), "INSUFFICIENT_BUYING_POWER", False)


def test_short_entry_in_cash_account_refused_shorting_not_allowed() -> None:
    panel = bars(["X"], [[100]] * 3)
    res = from_signals(
        panel, signal(panel, X=[]), short_entries=signal(panel, X=[0]), size=5, cash=1_000, account="cash"
    )
    assert res.fill_records.shape[0] == 0
    rej = res.rejections.iloc[0]
    assert (rej.order_id, rej.quantity, rej.reason) == ("o1", D(-5), "SHORTING_NOT_ALLOWED")


def test_percent_size_spends_that_share_of_cash() -> None:
    panel = bars(["X"], [[10]] * 3)
    res = from_signals(panel, signal(panel, X=[0]), size="25%", cash=1_000)
    # 25% of 1,000.00 is 250.00: 25 shares at 10.00.
    assert fills(res) == [("o1", "X", "BUY", D(25), D("10.00"), D("0.00"))]


def test_targets_rebalance_reductions_first_to_the_share() -> None:
    panel = bars(["A", "B"], [[10, 25]] * 5)
    weights = pd.DataFrame(
        [[0.5, 0.3], [0.5, 0.3], [0.2, 0.6], [0.2, 0.6], [0.2, 0.6]],
        index=pd.DatetimeIndex(panel.timestamps),
        columns=["A", "B"],
    )
    res = from_targets(panel, weights, cash=10_000)
    # Bar 0: A 10,000 x 0.5 / 10.00 = 500, B 10,000 x 0.3 / 25.00 = 120, filled at bar 1.
    # Bar 2 (NLV still 10,000.00): A to 200 (sell 300, placed first), B to 240 (buy 120).
    assert fills(res) == [
        ("o1", "A", "BUY", D(500), D("10.00"), D("0.00")),
        ("o2", "B", "BUY", D(120), D("25.00"), D("0.00")),
        ("o3", "A", "SELL", D(300), D("10.00"), D("0.00")),
        ("o4", "B", "BUY", D(120), D("25.00"), D("0.00")),
    ]
    assert res.fills["timestamp"].tolist() == [DAYS[1], DAYS[1], DAYS[3], DAYS[3]]
    assert res.positions.tolist() == [D(200), D(240)]


def test_dividend_paid_to_a_long_position() -> None:
    div = np.array([[0.0], [0.0], [0.5], [0.0]])
    panel = bars(["X"], [[10]] * 4, dividend=div)
    res = from_signals(panel, signal(panel, X=[0]), size=10, cash=1_000)
    # Long 10 from bar 1; 0.50 a share goes ex at bar 2: cash 900.00 + 5.00.
    assert res.equity_minor[:, 0].tolist() == [100_000, 100_000, 100_500, 100_500]
    ev = solvent.backtest(SignalStrategy(["X"], signal(panel, X=[0]).to_numpy(), size=10), panel, cash=1_000)
    assert ev.equity_minor.tolist() == res.equity_minor[:, 0].tolist()


def test_short_into_rising_price_reports_first_margin_call() -> None:
    panel = bars(["X"], [[10], [10], [12], [15], [17], [18]])
    res = from_signals(panel, signal(panel, X=[]), short_entries=signal(panel, X=[0]), cash=1_000)
    # Short 100 at 10.00 (cash 2,000.00). At 17.00: NLV 300.00 on gross 1,700.00 = 17.6%,
    # below the 25% margin-call band (at 15.00 it is 500 / 1,500 = 33%: at risk only).
    assert fills(res) == [("o1", "X", "SELL_SHORT", D(100), D("10.00"), D("0.00"))]
    assert res.first_call.tolist() == [4]
    assert res.margin_calls.tolist() == [DAYS[4]]
    assert res.stats().loc["X", "margin_call"] == DAYS[4]


def test_grid_outer_level_columns_with_shared_exits() -> None:
    panel = bars(["X"], [[10], [11], [12], [13]])
    idx = pd.DatetimeIndex(panel.timestamps)
    entries = pd.DataFrame(
        {("a", "X"): [True, False, False, False], ("b", "X"): [False, True, False, False]}, index=idx
    )
    exits = pd.DataFrame({"X": [False, False, True, False]}, index=idx)
    res = from_signals(panel, entries, exits, size=1, cash=100)
    assert list(res.columns) == [("a", "X"), ("b", "X")]
    # Both exit at bar 3's open 13.00: a bought at 11.00, b at 12.00.
    assert res.final_equity.tolist() == [D("102.00"), D("101.00")]
    assert res.fills["column"].tolist() == [("a", "X"), ("a", "X"), ("b", "X"), ("b", "X")]
    grouped = from_signals(panel, entries, exits, size=1, cash=100, group=True)
    assert list(grouped.columns) == ["a", "b"]


def test_many_partial_fills_outgrow_the_record_buffer() -> None:
    panel = bars(["X"], [[10]] * 80, volume=10)
    res = from_signals(panel, signal(panel, X=[0]), size=1_000, cash=100_000, volume_limit=1)
    # Each of the 79 bars after the signal fills its whole volume, 10 shares: 79 legs,
    # more than the 64 rows first allotted, so the loop runs again with room for all.
    assert len(res.fills) == 79
    assert res.fills["quantity"].tolist() == [D(10)] * 79
    assert res.positions.tolist() == [D(790)]


def test_exact_equity_and_float_view_agree() -> None:
    panel = bars(["X"], [[10.01]] * 3)
    res = from_signals(panel, signal(panel, X=[0]), size=3, cash="100.03")
    assert res.equity.iloc[:, 0].tolist() == [100.03, 100.03, 100.03]
    assert res.equity_minor.dtype == np.int64
    assert res.settings["account"] == "margin"
    assert "FastResult(3 bars" in repr(res)


# -- profiles and their settings (issue 7 §1) ---------------------------------------------


def test_default_profile_is_realistic_but_for_volume_cap_and_pdt() -> None:
    panel = bars(["X"], [[10]] * 3)
    res = from_signals(panel, signal(panel, X=[0]), size=1, cash=100)
    s = res.settings
    assert (s["profile"], s["fill_timing"], s["derived_prices"], s["short_cash"]) == (
        "realistic", "next_bar", "tick", "reg_t",
    )  # fmt: skip
    assert (s["initial_margin"], s["placement_check"], s["unfunded"], s["zero_volume"]) == (
        D("0.5"), True, "defer", "defer",
    )  # fmt: skip
    # The fast path's own defaults (issue 6): no volume cap, no PDT rule; both are listed.
    assert (s["volume_limit"], s["pdt"], s["look_ahead"]) == (None, None, False)
    assert s["permissive"] == ["volume_limit", "pdt"]
    capped = from_signals(panel, signal(panel, X=[0]), size=1, cash=100, volume_limit=0.1)
    assert capped.settings["volume_limit"] == D("0.1")
    assert capped.settings["permissive"] == ["pdt"]


def test_peer_profile_settings_recorded_and_overridden() -> None:
    panel = bars(["X"], [[10]] * 3)
    bt = from_signals(panel, signal(panel, X=[0]), size=1, cash=100, profile="backtrader")
    s = bt.settings
    assert (s["profile"], s["fixed_fee_per"], s["short_cash"], s["partial_fills"], s["unfunded"]) == (
        "backtrader", "leg", "credit", False, "cancel",
    )  # fmt: skip
    assert s["permissive"] == ["short_cash", "zero_volume", "volume_limit", "pdt"]
    # A keyword given explicitly wins over the profile's value.
    own = from_targets(
        panel,
        pd.DataFrame({"X": [0.1] * 3}, index=DAYS[:3]),
        cash=100,
        profile="vectorbt",
        fill_timing="next_bar",
    )
    assert (own.settings["profile"], own.settings["fill_timing"], own.settings["look_ahead"]) == (
        "vectorbt", "next_bar", False,
    )  # fmt: skip
    assert own.settings["permissive"] == [
        "short_cash",
        "placement_check",
        "zero_volume",
        "volume_limit",
        "pdt",
    ]


def test_same_bar_close_fills_at_the_signal_bars_close() -> None:
    panel = bars(["X"], [[10], [11], [12], [13]], [[10.5], [11.2], [12.9], [13.5]])
    entries, exits = signal(panel, X=[0]), signal(panel, X=[2])
    res = from_signals(panel, entries, exits, size=10, cash=1_000, fill_timing="same_bar_close")
    # Look-ahead: bought at bar 0's close 10.50 (cash 895.00), sold at bar 2's close 12.90.
    assert fills(res) == [
        ("o1", "X", "BUY", D(10), D("10.50"), D("0.00")),
        ("o2", "X", "SELL", D(10), D("12.90"), D("0.00")),
    ]
    assert res.fills["timestamp"].tolist() == [DAYS[0], DAYS[2]]
    # Equity after the close fills: 895 + 105.00; 895 + 112.00; 895 + 129.00 = 1,024.00.
    assert res.equity_minor[:, 0].tolist() == [100_000, 100_700, 102_400, 102_400]
    assert res.settings["look_ahead"] and "fill_timing" in res.settings["permissive"]
    # Next-bar fills: 11.00 in, 13.00 out.
    assert from_signals(panel, entries, exits, size=10, cash=1_000).final_equity.tolist() == [D("1020.00")]


def test_zero_volume_fill_trades_on_the_empty_bar_uncapped() -> None:
    panel = bars(["X"], [[10], [11], [12], [13]], volume=[[100], [0], [100], [100]])
    res = from_signals(panel, signal(panel, X=[0]), size=20, cash=1_000, volume_limit=0.1, zero_volume="fill")
    # Bar 1 has no volume data: it fills all 20 at 11.00, past the 10% cap (10 of 100).
    assert fills(res) == [("o1", "X", "BUY", D(20), D("11.00"), D("0.00"))]
    assert res.rejections.empty
    assert res.settings["permissive"] == ["zero_volume", "pdt"]


def test_credit_shorts_unchecked_and_proceeds_fund_buys() -> None:
    panel = bars(["X", "Y"], [[100, 50]] * 4)
    shorts = signal(panel, X=[0])
    reg_t = from_signals(panel, signal(panel), short_entries=shorts, size=50, cash=1_000)
    # Reg T: 1,000.00 of equity buys 2,000.00 of short at 50%: cut to 20 of the 50.
    assert fills(reg_t) == [("o1", "X", "SELL_SHORT", D(20), D("100.00"), D("0.00"))]
    longs = signal(panel, Y=[1])
    credit = from_signals(
        panel, longs, short_entries=shorts, size=50, cash=1_000, short_cash="credit", group=True
    )
    # Credited: all 50 short at 100.00 (cash 6,000.00); the buy of 50 Y at 50.00 (2,500.00)
    # is checked against that cash, proceeds included.
    assert fills(credit) == [
        ("o1", "X", "SELL_SHORT", D(50), D("100.00"), D("0.00")),
        ("o2", "Y", "BUY", D(50), D("50.00"), D("0.00")),
    ]
    assert credit.cash_minor.tolist() == [350_000]
    assert credit.settings["permissive"] == ["short_cash", "volume_limit", "pdt"]


def test_fixed_fee_per_leg_charges_a_flip_twice() -> None:
    panel = bars(["X"], [[10]] * 5)
    weights = pd.DataFrame({"X": [0.5, 0.5, -0.5, -0.5, -0.5]}, index=DAYS[:5])
    kw: dict[str, Any] = {"cash": 1_000, "commission": FixedPerOrder("1.00")}
    per_order = from_targets(panel, weights, **kw)
    per_leg = from_targets(panel, weights, fixed_fee_per="leg", **kw)
    # Bar 1: buy 50 at 10.00 and 1.00 (cash 499.00). Bar 2: NLV 999.00, target
    # -999 x 0.5 / 10 = -49.95 -> -49: one order of -99 crossing zero at bar 3.
    # Per order its 1.00 is split 50 : 49 (0.51 and 0.49); per leg each leg pays 1.00 and
    # the 2.00 is split the same way (1.01 and 0.99).
    assert fills(per_order)[1:] == [
        ("o2", "X", "SELL", D(50), D("10.00"), D("0.51")),
        ("o2", "X", "SELL_SHORT", D(49), D("10.00"), D("0.49")),
    ]
    assert fills(per_leg)[1:] == [
        ("o2", "X", "SELL", D(50), D("10.00"), D("1.01")),
        ("o2", "X", "SELL_SHORT", D(49), D("10.00"), D("0.99")),
    ]
    # 499.00 + 990.00 - fees, less the short's 490.00.
    assert per_order.final_equity.tolist() == [D("998.00")]
    assert per_leg.final_equity.tolist() == [D("997.00")]


def test_no_placement_check_cuts_at_the_fill_and_cancel_drops_the_rest() -> None:
    panel = bars(["X"], [[10]] * 4)
    kw: dict[str, Any] = {"size": 150, "cash": 1_000, "account": "cash"}
    checked = from_signals(panel, signal(panel, X=[0]), **kw)
    # Placement check: 150 x 10.00 > 1,000.00, cut when placed to 100; nothing refused.
    assert fills(checked) == [("o1", "X", "BUY", D(100), D("10.00"), D("0.00"))]
    assert checked.rejections.empty
    unchecked = from_signals(panel, signal(panel, X=[0]), placement_check=False, **kw)
    # Accepted whole; the fill affords 100 and the other 50 keep working. The note (once
    # per order) is taken when the check falls short, with the 150 then left.
    assert fills(unchecked) == fills(checked)
    rej = unchecked.rejections.iloc[0]
    assert (rej.timestamp, rej.quantity, rej.reason, rej.at_fill) == (
        DAYS[1], D(150), "INSUFFICIENT_BUYING_POWER", True,
    )  # fmt: skip
    cancelled = from_signals(panel, signal(panel, X=[0]), placement_check=False, unfunded="cancel", **kw)
    # Cancelled instead: refused at the fill for the 50 it could not fund, and gone.
    assert fills(cancelled) == fills(checked)
    assert cancelled.rejections[["timestamp", "quantity", "reason"]].values.tolist() == [
        [DAYS[1], D(50), "INSUFFICIENT_BUYING_POWER"]
    ]
    refused = from_signals(
        panel, signal(panel, X=[0]), placement_check=False, unfunded="cancel", partial_fills=False, **kw
    )
    assert refused.fill_records.shape[0] == 0
    assert refused.rejections["quantity"].tolist() == [D(150)]


def test_exact_derived_prices_keep_slippage_unrounded() -> None:
    panel = bars(["X"], [[10.01]] * 3)
    kw: dict[str, Any] = {"size": 100, "cash": 2_000, "slippage": FixedBps(5)}
    tick = from_signals(panel, signal(panel, X=[0]), **kw)
    exact = from_signals(panel, signal(panel, X=[0]), derived_prices="exact", **kw)
    # 10.01 x 1.0005 = 10.015005: rounded adverse to the cent (10.02), or kept exact.
    assert fills(tick) == [("o1", "X", "BUY", D(100), D("10.02"), D("0.00"))]
    assert fills(exact) == [("o1", "X", "BUY", D(100), D("10.015005"), D("0.00"))]
    # 1,001.5005 is booked half-even to the cent: 1,001.50 (slippage 0.50).
    assert exact.cash_minor.tolist() == [200_000 - 100_150]
    assert exact.fills["slippage"].tolist() == [D("0.50")]


def test_initial_margin_and_lot_size_make_the_instruments() -> None:
    panel = bars(["X"], [[10]] * 3)
    reg_t = from_signals(panel, signal(panel, X=[0]), size=150, cash=1_000)
    # Reg T: 1,000.00 of equity buys 2,000.00: all 150 (cash -500.00).
    assert fills(reg_t) == [("o1", "X", "BUY", D(150), D("10.00"), D("0.00"))]
    unlevered = from_signals(panel, signal(panel, X=[0]), size=150, cash=1_000, initial_margin=1)
    # Margin 100% (backtesting.py's margin=1): buying power is the equity, 100 shares.
    assert fills(unlevered) == [("o1", "X", "BUY", D(100), D("10.00"), D("0.00"))]
    with pytest.raises(PrecisionError):
        from_signals(panel, signal(panel, X=[0]), size="2.5", cash=1_000)
    tenths = from_signals(panel, signal(panel, X=[0]), size="2.5", cash=1_000, lot_size="0.1")
    assert fills(tenths) == [("o1", "X", "BUY", D("2.5"), D("10.00"), D("0.00"))]
    assert tenths.settings["lot_size"] == D("0.1")


def test_pdt_policy_accepted_only_where_no_day_trade_can_happen() -> None:
    daily = bars(["X"], [[10]] * 3)
    ok = from_signals(daily, signal(daily, X=[0]), size=1, cash=100, pdt="block")
    assert ok.settings["pdt"] == "block"
    assert "pdt" not in ok.settings["permissive"]
    assert from_signals(daily, signal(daily, X=[0]), size=1, cash=100, pdt="off").settings["pdt"] is None
    with pytest.raises(NotLoweredError, match="same-bar"):
        from_signals(daily, signal(daily, X=[0]), cash=100, pdt="block", fill_timing="same_bar_close")
    stamps = pd.DatetimeIndex(["2024-01-02 09:30", "2024-01-02 09:31", "2024-01-03 09:30"])
    o = np.full((3, 1), 10.0)
    minutes = BarData(stamps.values, ["X"], o, o, o, o, np.full((3, 1), 1e6))
    entries = np.array([True, False, False])
    with pytest.raises(NotLoweredError, match="2024-01-02 09:30"):
        from_signals(minutes, entries, cash=100, pdt="downgrade")
    # A cash account is not subject to the rule.
    assert from_signals(minutes, entries, cash=100, account="cash", pdt="block").settings["pdt"] == "block"


def test_bad_profile_and_settings_refused_by_name() -> None:
    panel = bars(["X"], [[10]] * 3)
    entries = signal(panel, X=[0])
    with pytest.raises(InvalidInputError, match="'realistic', 'vectorbt'"):
        from_signals(panel, entries, cash=100, profile="zipline")
    for name, value in [
        ("fill_timing", "next_open"),
        ("zero_volume", "skip"),
        ("short_cash", True),
        ("fixed_fee_per", "trade"),
        ("unfunded", "drop"),
        ("placement_check", "yes"),
        ("derived_prices", "float"),
        ("initial_margin", 2),
        ("pdt", "sometimes"),
    ]:
        with pytest.raises(InvalidInputError, match=name):
            from_signals(panel, entries, cash=100, **{name: value})


def test_target_too_large_for_int64_refused() -> None:
    panel = bars(["X"], [[10]] * 3)
    weights = pd.DataFrame({"X": [1.0] * 3}, index=DAYS[:3])
    # Exact prices: a lot of 10.00 is 1e7 ticks and k = 1/10,000, so NLV 1e12 cents x
    # 1e6 ppm x 10,000 would overflow 64 bits in the target's numerator.
    with pytest.raises(NotLoweredError, match="64-bit"):
        from_targets(panel, weights, cash=10_000_000_000, derived_prices="exact")
    assert from_targets(panel, weights, cash=10_000_000_000).positions.tolist() == [D(1_000_000_000)]


# -- bad input ---------------------------------------------------------------------------


@pytest.fixture
def panel() -> BarData:
    return bars(["X", "Y"], [[10, 20]] * 4)


def test_misaligned_index_names_the_timestamp(panel: BarData) -> None:
    entries = signal(panel, X=[0])
    shifted = entries.set_axis(entries.index + pd.Timedelta(days=1))
    with pytest.raises(InvalidInputError, match=r"entries\.index.*2024-01-02.*row 0"):
        from_signals(panel, shifted, cash=100)
    with pytest.raises(InvalidInputError, match=r"exits\.index.*3 rows"):
        from_signals(panel, entries, entries.iloc[:3], cash=100)


def test_signals_indexed_in_microseconds_run_like_nanoseconds(panel: BarData) -> None:
    entries = signal(panel, X=[0])
    micro = entries.set_axis(entries.index.as_unit("us"))
    assert micro.index.dtype != entries.index.dtype
    a = from_signals(panel, micro, cash=1_000)
    b = from_signals(panel, entries, cash=1_000)
    assert a.fills.equals(b.fills)
    assert a.equity.to_numpy().tolist() == b.equity.to_numpy().tolist()


def test_signals_one_microsecond_off_name_the_timestamp(panel: BarData) -> None:
    entries = signal(panel, X=[0])
    stamps = list(entries.index.as_unit("us"))
    stamps[-1] += pd.Timedelta(1, "us")
    off = entries.set_axis(pd.DatetimeIndex(stamps).as_unit("us"))
    with pytest.raises(InvalidInputError, match=r"entries\.index.*2024-01-04 00:00:00\.000001.*row 3"):
        from_signals(panel, off, cash=100)


def test_unknown_column_names_it(panel: BarData) -> None:
    entries = signal(panel, X=[0]).rename(columns={"Y": "ZZZ"})
    with pytest.raises(InvalidInputError, match=r"entries\.columns.*ZZZ"):
        from_signals(panel, entries, cash=100)


def test_exits_with_other_columns_refused(panel: BarData) -> None:
    with pytest.raises(InvalidInputError, match=r"exits\.columns"):
        from_signals(panel, signal(panel, X=[0]), signal(panel)[["X"]], cash=100)


def test_non_boolean_signals_name_the_column(panel: BarData) -> None:
    entries = signal(panel, X=[0]).astype(int)
    with pytest.raises(InvalidInputError, match=r"entries\[X\].*int64.*boolean"):
        from_signals(panel, entries, cash=100)


def test_missing_boolean_names_column_and_timestamp(panel: BarData) -> None:
    entries = signal(panel, X=[0]).astype("boolean")
    entries.iloc[2, 1] = pd.NA
    with pytest.raises(InvalidInputError, match=r"entries\[Y\].*2024-01-03"):
        from_signals(panel, entries, cash=100)


def test_numpy_signals_must_match_the_data_shape(panel: BarData) -> None:
    ok = from_signals(panel, np.zeros((4, 2), dtype=bool), cash=100)
    assert list(ok.columns) == ["X", "Y"]
    with pytest.raises(InvalidInputError, match=r"entries.*\(4, 2\)"):
        from_signals(panel, np.zeros((4, 3), dtype=bool), cash=100)


def test_nan_weight_names_column_and_timestamp(panel: BarData) -> None:
    weights = pd.DataFrame(0.5, index=pd.DatetimeIndex(panel.timestamps), columns=["X", "Y"])
    weights.iloc[1, 0] = np.nan
    with pytest.raises(InvalidInputError, match=r"weights\[X\].*2024-01-02"):
        from_targets(panel, weights, cash=100)


def test_bad_size_account_and_cash_refused(panel: BarData) -> None:
    entries = signal(panel, X=[0])
    with pytest.raises(InvalidInputError, match="size"):
        from_signals(panel, entries, size="lots", cash=100)
    with pytest.raises(PrecisionError, match="size"):
        from_signals(panel, entries, size=1.5, cash=100)
    with pytest.raises(InvalidInputError, match="size"):
        from_signals(panel, entries, size=0, cash=100)
    with pytest.raises(InvalidInputError, match="account"):
        from_signals(panel, entries, account="broker", cash=100)
    with pytest.raises(PrecisionError, match="cash"):
        from_signals(panel, entries, cash="100.001")


def test_models_without_a_compiled_form_refused_by_name(panel: BarData) -> None:
    entries = signal(panel, X=[0])
    with pytest.raises(NotLoweredError, match="Tiered"):
        from_signals(panel, entries, cash=100, commission=Tiered([(None, "0.01")]))
    with pytest.raises(NotLoweredError, match="VolumeShareImpact"):
        from_signals(panel, entries, cash=100, slippage=VolumeShareImpact())
    future = Instrument("X", asset_class=AssetClass.FUTURE)
    with pytest.raises(NotLoweredError, match=r"X\.asset_class"):
        from_signals(panel, entries, cash=100, instruments=[future])


def test_split_on_traded_symbol_refused_with_symbol_and_timestamp() -> None:
    split = np.ones((4, 2))
    split[2, 1] = 2.0
    panel = bars(["X", "Y"], [[10, 20]] * 4, split=split)
    with pytest.raises(NotLoweredError, match=r"Y @ 2024-01-03.*split"):
        from_signals(panel, signal(panel, Y=[0]), cash=100)
    # A split on a symbol that is not traded does not matter.
    res = from_signals(panel, signal(panel, X=[0])[["X"]], cash=100)
    assert list(res.columns) == ["X"]


def test_instrument_lot_and_tick_grid_used() -> None:
    panel = bars(["X"], [[10.5]] * 3)
    inst = Instrument("X", tick_size=D("0.5"), lot_size=D("0.1"))
    res = from_signals(panel, signal(panel, X=[0]), size="0.3", cash=100, instruments=[inst])
    assert fills(res) == [("o1", "X", "BUY", D("0.3"), D("10.5"), D("0.00"))]
    # 0.3 x 10.50 = 3.15 spent.
    assert res.cash_minor.tolist() == [9_685]


def test_every_entry_point_shares_one_compiled_loop() -> None:
    """Each distinct argument type would compile (and cache) the loop once more."""
    panel = bars(["X", "Y"], [[10, 20], [10.005, 20], [11, 21], [12, 22]])  # 10.005: exact path
    entries = signal(panel, X=[0])
    from_signals(panel, entries, cash=100)
    from_signals(panel, entries, signal(panel, Y=[1]), short_entries=signal(panel, Y=[0]), cash=100)
    from_signals(panel, np.zeros((4, 2), dtype=bool), np.ones((4, 2), dtype=bool), cash=100, group=True)
    from_targets(panel, pd.DataFrame(0.1, index=entries.index, columns=["X", "Y"]), cash=100)
    assert len(_loop.run_nb.signatures) == 1


def test_prices_snapped_when_read_as_the_engine_snaps_them() -> None:
    from numba import njit

    from solvent.engine.backtest import _snap_ticks, _volume_lots
    from solvent.fast import _snap

    rng = np.random.default_rng(7)
    prices = np.round(rng.uniform(0.01, 500, (400, 3)), rng.integers(2, 6))
    prices[:5, 0] = [100.005, 0.015, 2.675, 1.005, 99.995]  # half ticks of 0.01
    insts = [Instrument("A"), Instrument("B", tick_size=D("0.05")), Instrument("C", tick_size=D("0.25"))]
    present = np.ones(prices.shape, dtype=bool)

    @njit
    def ticks(price: float, tick: float) -> int:
        return int(_snap.ticks_nb(price, tick))

    @njit
    def lots(volume: float, lot: float) -> int:
        return int(_snap.lots_nb(volume, lot))

    engine = _snap_ticks(prices, present, insts, "close")
    settled = 0
    for (r, c), price in np.ndenumerate(prices):
        got = ticks(price, float(insts[c].tick_size))
        if got >= 0:  # -1: the loop hands the panel to the engine's exact conversion
            assert got == engine[r, c]
            settled += 1
    assert ticks(100.005, 0.01) == -1
    assert settled > 1_000
    volume = rng.uniform(0, 1e5, (50, 2)).round(1)
    volume[0] = [300.0, 299.9]
    lot_insts = [Instrument("A", lot_size=D("0.1")), Instrument("B")]
    expect = _volume_lots(volume, lot_insts)
    assert [
        [lots(v, float(lot_insts[c].lot_size)) for c, v in enumerate(row)] for row in volume
    ] == expect.tolist()


def test_flip_into_non_shortable_instrument_refused_at_the_fill() -> None:
    panel = bars(["X"], [[10]] * 4)
    inst = Instrument("X", shortable=False)
    res = from_signals(
        panel,
        signal(panel, X=[0]),
        short_entries=signal(panel, X=[1]),
        size=5,
        cash=1_000,
        instruments=[inst],
    )
    # Placed while long 5, the short entry (o3) is a sale; once the close (o2) sold the
    # long it would open a short, which the fill-time check refuses.
    assert fills(res) == [
        ("o1", "X", "BUY", D(5), D("10.00"), D("0.00")),
        ("o2", "X", "SELL", D(5), D("10.00"), D("0.00")),
    ]
    rej = res.rejections.iloc[0]
    assert (rej.order_id, rej.timestamp, rej.quantity, rej.reason, rej.at_fill) == (
        "o3", DAYS[2], D(-5), "NOT_SHORTABLE", True,
    )  # fmt: skip


def test_nullable_boolean_signals_without_na_fill_like_numpy_booleans(panel: BarData) -> None:
    entries = signal(panel, X=[0], Y=[1])
    exits = signal(panel, X=[2])
    plain = from_signals(panel, entries, exits, cash=1_000, account="cash")
    nullable = from_signals(
        panel, entries.astype("boolean"), exits.astype("boolean"), cash=1_000, account="cash"
    )
    assert fills(nullable) == fills(plain)
    assert len(plain.fills) == 3  # X bought and sold, Y bought


def test_commission_rows_follow_each_instruments_lot_size() -> None:
    # PerShare's fee per lot depends on the lot size: $0.01 a share is 1 cent per lot of 1
    # and 10 cents per lot of 10; the minimum ($1 = 100 cents) is the same for both.
    insts = [Instrument("A"), Instrument("B", lot_size=Decimal(10)), Instrument("C")]
    cm = lower_commission(PerShare(rate="0.01", minimum="1"), insts)
    assert cm.shape == (3, 1, _layout.NC)
    rows = cm[:, 0, :].tolist()
    assert [r[0] for r in rows] == [_layout.C_PER_SHARE] * 3
    assert [Fraction(r[1], r[2]) for r in rows] == [1, 10, 1]  # cents per lot
    assert [r[3] for r in rows] == [100] * 3  # the minimum, in cents
    assert lower_commission(None, []).shape == (0, 1, _layout.NC)


def test_half_tick_closes_rerun_on_exact_ticks_like_the_event_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    # Y's closes sit on half cents, where the float rule cannot decide: the loop stops and
    # runs again on the engine's exact ticks (a second pass over every column, X too).
    from solvent.fast import _inputs

    calls: list[int] = []
    exact = _inputs.exact

    def counted(mkt: Any) -> Any:
        calls.append(1)
        return exact(mkt)

    monkeypatch.setattr(_inputs, "exact", counted)
    opens = [[10.0, 20.0], [10.5, 20.5], [11.0, 21.0], [11.5, 21.5]]
    closes = [[10.2, 20.005], [10.7, 20.515], [11.2, 21.025], [11.7, 21.535]]
    panel = bars(["X", "Y"], opens, closes)
    entries = signal(panel, X=[0], Y=[0])
    exits = signal(panel, Y=[2])
    res = from_signals(panel, entries, exits, size=10, cash=1_000, commission=0.001)
    assert calls == [1]
    for j, col in enumerate(["X", "Y"]):
        ev = solvent.backtest(
            SignalStrategy([col], entries[[col]].to_numpy(), exits[[col]].to_numpy(), size=10),
            panel.select([col]),
            cash=1_000,
            commission=0.001,
            volume_limit=None,
        )
        assert ev.equity_minor.tolist() == res.equity_minor[:, j].tolist()
    assert [(f.symbol, f.side, f.price) for f in res.fills.itertuples()] == [
        ("X", "BUY", D("10.50")),
        ("Y", "BUY", D("20.50")),
        ("Y", "SELL", D("21.50")),
    ]
