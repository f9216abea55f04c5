"""Backtest metrics checked against hand-computed values on tiny series."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from solvent.model.money import Money
from solvent.model.orders import Rejection
from solvent.model.records import ReasonCode, Trade
from solvent.results import (
    cagr,
    compute_metrics,
    exposure,
    infer_periods_per_year,
    max_drawdown,
    profit_factor,
    rejections_by_reason,
    sharpe,
    simple_returns,
    sortino,
    total_return,
    trade_stats,
    turnover,
    volatility,
    win_rate,
)

TOL = 1e-12

# The reference curve: five business days, Tue 2024-01-02 .. Mon 2024-01-08.
DAYS = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"])
EQUITY = pd.Series([100.0, 110.0, 99.0, 120.0, 120.0], index=DAYS)

# Hand computation for EQUITY
#   returns r = [110/100-1, 99/110-1, 120/99-1, 120/120-1] = [0.1, -0.1, 7/33, 0]
#   mean    m = (0.1 - 0.1 + 7/33 + 0) / 4 = 7/132 = 0.053030...
#   Σr²       = 0.01 + 0.01 + 49/1089 + 0
#   Σ(r-m)²   = Σr² - 4m² = 0.02 + 49/1089 - 49/4356 = 0.02 + 147/4356 = 0.0537465564...
#   s²        = Σ(r-m)² / 3 = 0.0179155188...,  s = 0.1338488...
#   DD        = only -0.1 is negative: sqrt(((-0.1)² + 0 + 0 + 0) / 4) = 0.05
MEAN = 7 / 132
SUM_SQ_DEV = 0.02 + 147 / 4356
STD = math.sqrt(SUM_SQ_DEV / 3)
DOWNSIDE = 0.05


def _trade(pnl: str, commission: str) -> Trade:
    t = pd.Timestamp("2024-01-02")
    return Trade(
        symbol="X",
        quantity=Decimal(1),
        entry_time=t,
        entry_price=Decimal(10),
        exit_time=t,
        exit_price=Decimal(10),
        pnl=Money.of(pnl),
        pnl_mtm=Money.of(pnl),
        commission=Money.of(commission),
    )


# net P&L: +30, -10, +20, 0 (a scratch)
TRADES = [_trade("31", "1"), _trade("-9", "1"), _trade("21", "1"), _trade("1", "1")]


def _rejection(reason: ReasonCode) -> Rejection:
    return Rejection("o", "X", pd.Timestamp("2024-01-02"), Decimal(1), reason)


# --- returns -----------------------------------------------------------------


def test_simple_returns_reference_curve_matches_hand_values() -> None:
    r = simple_returns(EQUITY)
    assert list(r.index) == list(DAYS[1:])
    np.testing.assert_allclose(r.to_numpy(), [0.1, -0.1, 7 / 33, 0.0], rtol=0, atol=TOL)


def test_total_return_reference_curve_is_twenty_percent() -> None:
    # 120 / 100 - 1 = 0.2
    assert total_return(EQUITY) == pytest.approx(0.2, abs=TOL)


def test_cagr_one_year_of_quarters_equals_total_return() -> None:
    # 4 elapsed bars at 4 per year = 1 year -> (120/100)^(1/1) - 1 = 0.2
    assert cagr(EQUITY, periods_per_year=4) == pytest.approx(0.2, abs=TOL)


def test_cagr_business_days_inferred_is_252() -> None:
    # 4 elapsed business days, P = 252 -> years = 4/252 -> 1.2^(252/4) - 1 = 1.2^63 - 1
    assert cagr(EQUITY) == pytest.approx(1.2**63 - 1, rel=TOL)


def test_volatility_reference_curve_is_sample_std_annualized() -> None:
    # s × √252 = 0.1338488... × 15.8745... = 2.12478...
    assert volatility(simple_returns(EQUITY), 252) == pytest.approx(STD * math.sqrt(252), abs=TOL)


def test_sharpe_reference_curve_is_mean_over_std() -> None:
    # (7/132) / 0.1338488 × √252 = 0.39619... × 15.8745 = 6.2894...
    assert sharpe(simple_returns(EQUITY), 252) == pytest.approx(MEAN / STD * math.sqrt(252), abs=TOL)


def test_sharpe_with_risk_free_uses_geometric_per_period_rate() -> None:
    # P = 4, 5 % a year -> r_f = 1.05^(1/4) - 1 = 0.012272234...; std is unchanged
    # Sharpe = (7/132 - r_f) / s × √4
    rf = 1.05**0.25 - 1
    got = sharpe(simple_returns(EQUITY), 4, risk_free=0.05)
    assert got == pytest.approx((MEAN - rf) / STD * 2, abs=TOL)


def test_sortino_reference_curve_uses_all_periods_in_downside() -> None:
    # DD = sqrt(((-0.1)² + 0 + 0 + 0) / 4) = 0.05 -> (7/132) / 0.05 × √252 = 1.0606 × 15.87 = 16.836...
    assert sortino(simple_returns(EQUITY), 252) == pytest.approx(MEAN / DOWNSIDE * math.sqrt(252), abs=TOL)


def test_sortino_no_losing_period_is_nan() -> None:
    assert math.isnan(sortino([0.01, 0.02, 0.0], 252))


def test_flat_equity_volatility_zero_sharpe_nan() -> None:
    flat = pd.Series([100.0] * 5, index=DAYS)
    r = simple_returns(flat)
    assert volatility(r, 252) == 0.0
    assert math.isnan(sharpe(r, 252))
    assert math.isnan(sortino(r, 252))
    assert total_return(flat) == 0.0
    assert cagr(flat) == 0.0
    dd = max_drawdown(flat)
    assert dd.fraction == 0.0
    assert (dd.peak, dd.trough, dd.duration, dd.duration_bars) == (None, None, pd.Timedelta(0), 0)


# --- periods per year --------------------------------------------------------


def test_infer_periods_per_year_one_minute_bars_is_252_times_390() -> None:
    idx = pd.date_range("2024-01-02 09:30", periods=10, freq="min")
    assert infer_periods_per_year(idx) == pytest.approx(252 * 390, abs=TOL)


def test_infer_periods_per_year_five_minute_bars_is_252_times_78() -> None:
    idx = pd.date_range("2024-01-02 09:30", periods=10, freq="5min", tz="America/New_York")
    assert infer_periods_per_year(idx) == pytest.approx(252 * 78, abs=TOL)


def test_infer_periods_per_year_calendar_days_with_weekends_is_365() -> None:
    assert infer_periods_per_year(pd.date_range("2024-01-01", periods=10, freq="D")) == 365.0


def test_infer_periods_per_year_business_days_is_252() -> None:
    assert infer_periods_per_year(pd.bdate_range("2024-01-01", periods=10)) == 252.0


def test_infer_periods_per_year_weekly_is_365_25_over_7() -> None:
    idx = pd.date_range("2024-01-05", periods=6, freq="W-FRI")
    assert infer_periods_per_year(idx) == pytest.approx(365.25 / 7, abs=TOL)


def test_infer_periods_per_year_range_index_raises() -> None:
    with pytest.raises(ValueError, match="DatetimeIndex"):
        infer_periods_per_year(pd.RangeIndex(5))


# --- drawdown ----------------------------------------------------------------


def test_max_drawdown_reference_curve_ten_percent_two_days() -> None:
    # running peak 100,110,110,120,120 -> deepest 1 - 99/110 = 0.1 at 01-04 from 01-03;
    # recovered on 01-05 (120 >= 110): 2 days, 2 bars
    dd = max_drawdown(EQUITY)
    assert dd.fraction == pytest.approx(0.1, abs=TOL)
    assert dd.peak == pd.Timestamp("2024-01-03")
    assert dd.trough == pd.Timestamp("2024-01-04")
    assert dd.duration == pd.Timedelta(days=2)
    assert dd.duration_bars == 2


def test_max_drawdown_longest_span_is_not_the_deepest() -> None:
    # [100, 90, 100, 99, 98, 97, 101]: deepest 10 % (bar 0 -> 1, back at bar 2: 2 bars);
    # longest from bar 2 (100) to bar 6 (101): 4 bars, only 3 % deep.
    eq = pd.Series([100.0, 90, 100, 99, 98, 97, 101])
    dd = max_drawdown(eq)
    assert dd.fraction == pytest.approx(0.1, abs=TOL)
    assert (dd.peak, dd.trough) == (0, 1)
    assert dd.duration == dd.duration_bars == 4


def test_max_drawdown_not_recovered_runs_to_the_end() -> None:
    # [100, 120, 110, 115]: 1 - 110/120 = 1/12, peak bar 1, never back to 120 -> 2 bars
    dd = max_drawdown(pd.Series([100.0, 120, 110, 115]))
    assert dd.fraction == pytest.approx(1 / 12, abs=TOL)
    assert (dd.peak, dd.trough, dd.duration, dd.duration_bars) == (1, 2, 2, 2)


def test_max_drawdown_equity_touching_zero_is_one() -> None:
    dd = max_drawdown(pd.Series([100.0, 50, 0, 0]))
    assert dd.fraction == 1.0
    assert (dd.peak, dd.trough, dd.duration_bars) == (0, 2, 3)


# --- exposure and turnover ---------------------------------------------------


def test_exposure_reference_curve_share_and_leverage() -> None:
    # gross [0, 50, 0, 200, 120] -> 3 of 5 bars in the market = 0.6
    # G/E = [0, 50/110, 0, 200/120, 1] -> mean = (5/11 + 5/3 + 1) / 5 = 0.62424...
    gross = pd.Series([0.0, 50, 0, 200, 120], index=DAYS)
    ex = exposure(gross, EQUITY)
    assert ex.time_in_market == pytest.approx(0.6, abs=TOL)
    assert ex.average_gross_leverage == pytest.approx((5 / 11 + 5 / 3 + 1) / 5, abs=TOL)


def test_exposure_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="values"):
        exposure([0.0, 1.0], EQUITY)


def test_turnover_reference_curve_total_over_mean_equity() -> None:
    # traded 0 + 100 + 50 + 200 + 0 = 350; mean equity 549 / 5 = 109.8 -> 3.18761...
    traded = pd.Series([0.0, 100, 50, 200, 0], index=DAYS)
    assert turnover(traded, EQUITY) == pytest.approx(350 / 109.8, abs=TOL)
    # the scalar total gives the same; annualized over 4/252 years: × 63
    assert turnover(Decimal(350), EQUITY) == pytest.approx(350 / 109.8, abs=TOL)
    assert turnover(traded, EQUITY, annualize=True) == pytest.approx(350 / 109.8 * 63, abs=TOL)
    assert turnover(traded, EQUITY, annualize=True, periods_per_year=4) == pytest.approx(350 / 109.8, abs=TOL)


# --- trades and rejections ---------------------------------------------------


def test_trade_stats_net_basis_counts_scratch_as_neither() -> None:
    # net +30, -10, +20, 0: 2 wins of 4 trades; PF = 50 / 10 = 5; avg win 25, avg loss -10
    ts = trade_stats(TRADES)
    assert (ts.trades, ts.wins, ts.losses) == (4, 2, 1)
    assert ts.win_rate == 0.5
    assert ts.profit_factor == 5.0
    assert ts.gross_profit == Decimal("50.00")
    assert ts.gross_loss == Decimal("-10.00")
    assert ts.total_pnl == Decimal("40.00")
    assert ts.average_win == Decimal(25)
    assert ts.average_loss == Decimal(-10)
    assert ts.average_trade == Decimal(10)
    assert win_rate(TRADES) == 0.5
    assert profit_factor(TRADES) == 5.0


def test_trade_stats_gross_basis_uses_pnl_before_commission() -> None:
    # gross 31, -9, 21, 1: 3 wins; PF = 53 / 9
    ts = trade_stats(TRADES, basis="gross")
    assert (ts.wins, ts.losses) == (3, 1)
    assert ts.win_rate == 0.75
    assert ts.profit_factor == pytest.approx(53 / 9, abs=TOL)


def test_trade_stats_dataframe_matches_records() -> None:
    df = pd.DataFrame({"pnl": [31.0, -9.0, 21.0, 1.0], "net_pnl": [30.0, -10.0, 20.0, 0.0]})
    assert trade_stats(df) == trade_stats(TRADES)
    df2 = pd.DataFrame({"pnl": [Decimal(31), Decimal(-9)], "commission": [Decimal(1), Decimal(1)]})
    ts = trade_stats(df2)
    assert (ts.gross_profit, ts.gross_loss, ts.profit_factor) == (Decimal(30), Decimal(-10), 3.0)


def test_trade_stats_all_winning_profit_factor_inf() -> None:
    ts = trade_stats([_trade("10", "0"), _trade("5", "1")])
    assert ts.profit_factor == math.inf
    assert ts.win_rate == 1.0
    assert ts.average_loss is None


def test_trade_stats_no_trades_nan() -> None:
    ts = trade_stats([])
    assert ts.trades == 0
    assert math.isnan(ts.win_rate)
    assert math.isnan(ts.profit_factor)
    assert ts.average_win is ts.average_loss is ts.average_trade is None


def test_trade_stats_only_losses_profit_factor_zero() -> None:
    assert profit_factor([_trade("-5", "0")]) == 0.0


def test_trade_stats_only_scratches_profit_factor_nan() -> None:
    assert math.isnan(profit_factor([_trade("1", "1")]))


def test_rejections_by_reason_counts_reason_values() -> None:
    rej = [
        _rejection(ReasonCode.ZERO_VOLUME),
        _rejection(ReasonCode.INSUFFICIENT_BUYING_POWER),
        _rejection(ReasonCode.ZERO_VOLUME),
    ]
    assert rejections_by_reason(rej) == {"INSUFFICIENT_BUYING_POWER": 1, "ZERO_VOLUME": 2}
    assert rejections_by_reason([]) == {}


# --- compute_metrics ---------------------------------------------------------


def test_compute_metrics_decimal_equity_keeps_money_exact() -> None:
    eq = pd.Series([Decimal("100.00"), Decimal("110.00"), Decimal("99.00"), Decimal("120.00"),
                    Decimal("120.00")], index=DAYS, dtype=object)  # fmt: skip
    m = compute_metrics(
        eq,
        trades=TRADES,
        rejections=[_rejection(ReasonCode.ZERO_VOLUME)],
        commission=Money.of("4.00"),
        traded_value=pd.Series([0.0, 100, 50, 200, 0], index=DAYS),
        gross_exposure=pd.Series([0.0, 50, 0, 200, 120], index=DAYS),
        max_capital_used=Decimal("200.00"),
    )
    assert m["initial_equity"] == Decimal("100.00")
    assert m["final_equity"] == Decimal("120.00")
    assert isinstance(m["final_equity"], Decimal)
    assert m["commission"] == Decimal("4.00")
    assert m["max_capital_used"] == Decimal("200.00")
    assert m["bars"] == 5
    assert m["periods_per_year"] == 252.0
    assert m["total_return"] == pytest.approx(0.2, abs=TOL)
    assert m["cagr"] == pytest.approx(1.2**63 - 1, rel=TOL)
    assert m["volatility"] == pytest.approx(STD * math.sqrt(252), abs=TOL)
    assert m["sharpe"] == pytest.approx(MEAN / STD * math.sqrt(252), abs=TOL)
    assert m["sortino"] == pytest.approx(MEAN / DOWNSIDE * math.sqrt(252), abs=TOL)
    assert m["max_drawdown"] == pytest.approx(0.1, abs=TOL)
    assert m["max_drawdown_duration"] == pd.Timedelta(days=2)
    assert m["time_in_market"] == pytest.approx(0.6, abs=TOL)
    assert m["turnover"] == pytest.approx(350 / 109.8, abs=TOL)
    assert m["annual_turnover"] == pytest.approx(350 / 109.8 * 63, abs=TOL)
    assert (m["trades"], m["win_rate"], m["profit_factor"]) == (4, 0.5, 5.0)
    assert m["average_win"] == Decimal(25)
    assert m["rejections"] == 1
    assert m["rejections_by_reason"] == {"ZERO_VOLUME": 1}


def test_compute_metrics_keys_are_stable() -> None:
    empty = pd.Series([], index=pd.DatetimeIndex([]), dtype=np.float64)
    assert list(compute_metrics(empty)) == list(compute_metrics(EQUITY))


def test_compute_metrics_empty_series_nan_without_warnings() -> None:
    m = compute_metrics(pd.Series([], index=pd.DatetimeIndex([]), dtype=np.float64))
    assert m["bars"] == 0
    assert m["start"] is None
    assert m["final_equity"] is None
    for key in ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown"):
        assert math.isnan(m[key]), key  # type: ignore[arg-type]


def test_compute_metrics_single_point_zero_return_nan_ratios() -> None:
    m = compute_metrics(pd.Series([100.0], index=DAYS[:1]))
    assert m["total_return"] == 0.0
    assert m["max_drawdown"] == 0.0
    assert m["final_equity"] == Decimal(100)
    for key in ("periods_per_year", "cagr", "volatility", "sharpe", "sortino"):
        assert math.isnan(m[key]), key  # type: ignore[arg-type]


def test_compute_metrics_equity_touching_zero_no_warnings() -> None:
    # [100, 50, 0, 0]: returns -0.5, -1, undefined (0 -> 0); total and CAGR -1, MDD 1
    m = compute_metrics(pd.Series([100.0, 50, 0, 0]), periods_per_year=252)
    assert m["total_return"] == -1.0
    assert m["cagr"] == -1.0
    assert m["max_drawdown"] == 1.0
    # two defined returns: mean -0.75, s = sqrt(0.125) -> Sharpe = -0.75/0.35355 × √252
    assert m["sharpe"] == pytest.approx(-0.75 / math.sqrt(0.125) * math.sqrt(252), abs=TOL)


def test_compute_metrics_range_index_without_periods_nan_annualized() -> None:
    m = compute_metrics(pd.Series([100.0, 110, 99, 120, 120]))
    assert math.isnan(m["sharpe"])  # type: ignore[arg-type]
    assert m["total_return"] == pytest.approx(0.2, abs=TOL)
    assert m["max_drawdown_duration"] == 2
