"""Margin health: bands, reduce-only, liquidation policies, halts (solvent.risk + broker).

Every expected figure is worked out by hand in the comments. Reg T defaults: initial
margin 50%, maintenance 25% on longs; bands healthy > 35%, at risk 25-35%, margin call
< 25% (or NLV < MM), liquidating < 10%. The margin check runs after each bar's close.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import solvent
from _bars import bar, day, flat, ticks
from solvent import Account, SimulatedBroker
from solvent.accounting import rules
from solvent.backtest_cli import load_module
from solvent.data import BarData
from solvent.errors import InvalidInputError
from solvent.execution.costs import PerShare
from solvent.model.orders import OrderStatus
from solvent.model.records import ReasonCode, make_fill
from solvent.risk import (
    Holding,
    LiquidationPolicy,
    LiquidationStep,
    MarginBands,
    MarginEvent,
    TradingState,
    plan_liquidation,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _levered(cash: str = "10000", **kwargs: object) -> tuple[Account, SimulatedBroker]:
    """A margin account that bought 200 X at 100.00 on day 1 (2x: 20,000 on 10,000)."""
    acct = Account(cash, kind="margin", instruments=["X", "Y"])
    broker = SimulatedBroker(acct, **kwargs)  # type: ignore[arg-type]
    broker.observe_close("X", ticks("100"))
    broker.submit("X", 200, day(0))
    broker.on_bar(day(1), {"X": flat(day(1), "100")})
    assert acct.quantity("X") == 200
    return acct, broker


def _events(broker: SimulatedBroker) -> list[tuple[pd.Timestamp, str, str, str]]:
    return [(e.timestamp, e.kind.value, e.from_, e.to) for e in broker.margin_events]


# -- the pure rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nlv", "gross", "mm", "band"),
    [
        (3_500_01, 10_000_00, 0, rules.BAND_HEALTHY),  # 35.0001%: above 35%
        (3_500_00, 10_000_00, 0, rules.BAND_AT_RISK),  # exactly 35%: at risk
        (2_500_00, 10_000_00, 2_500_00, rules.BAND_AT_RISK),  # exactly 25%: not yet a call
        (2_499_99, 10_000_00, 0, rules.BAND_MARGIN_CALL),  # 24.9999%
        (2_900_00, 10_000_00, 3_000_00, rules.BAND_MARGIN_CALL),  # 29% but NLV < MM (a short)
        (1_000_00, 10_000_00, 0, rules.BAND_MARGIN_CALL),  # exactly 10%: a call, not liquidating
        (99_999, 10_000_00, 0, rules.BAND_LIQUIDATING),  # 9.99999%
        (0, 10_000_00, 0, rules.BAND_LIQUIDATING),  # NLV 0 with positions: halted
        (5_00, 0, 0, rules.BAND_HEALTHY),  # flat: ratio 1
        (0, 0, 0, rules.BAND_HEALTHY),  # flat and unfunded: nothing owed
        (-1, 0, 0, rules.BAND_LIQUIDATING),  # flat with a debit
    ],
)
def test_margin_band_thresholds_are_exact(nlv: int, gross: int, mm: int, band: int) -> None:
    assert rules.margin_band(nlv, gross, mm, 350_000, 250_000, 100_000) == band


def test_margin_ratio_flat_account_is_one_not_a_division_by_zero() -> None:
    assert rules.margin_ratio_ppm(5_000_00, 0) == 1_000_000
    assert rules.margin_cured(5_000_00, 0, 0, 250_000)
    assert not rules.margin_cured(-1, 0, 0, 250_000)


def test_bands_validation_names_the_threshold() -> None:
    with pytest.raises(InvalidInputError, match="decrease strictly"):
        MarginBands(at_risk=Decimal("0.2"), margin_call=Decimal("0.25"))
    with pytest.raises(InvalidInputError, match=r"margin_bands\.liquidating"):
        MarginBands(liquidating=Decimal("0"))
    with pytest.raises(InvalidInputError, match="unknown threshold"):
        SimulatedBroker(Account(1000), margin_bands={"call": "0.3"})
    custom = SimulatedBroker(Account(1000), margin_bands={"at_risk": "0.5", "margin_call": "0.3"})
    assert custom.margin_bands == MarginBands(Decimal("0.5"), Decimal("0.3"), Decimal("0.10"))


def test_broker_settings_validation_raises_typed_errors() -> None:
    with pytest.raises(InvalidInputError, match="liquidation"):
        SimulatedBroker(Account(1000), liquidation="biggest_first")
    with pytest.raises(InvalidInputError, match="check_extremes"):
        SimulatedBroker(Account(1000), check_extremes="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="pdt"):
        SimulatedBroker(Account(1000), pdt="sometimes")
    with pytest.raises(InvalidInputError, match="holiday"):
        SimulatedBroker(Account(1000), holidays=["not a date"])


# -- the leveraged crash --------------------------------------------------------------------


def test_2x_long_falls_60pct_halts_that_bar_and_liquidates_next_bar_to_hand_nlv() -> None:
    acct = Account(10_000, kind="margin", instruments=["X"])
    broker = SimulatedBroker(acct, commission=PerShare("0.01", minimum="1.00"))
    broker.observe_close("X", ticks("100"))
    # 199 x 100.00 = 19,900.00 + 1.99 commission: buying power 2 x 10,000 = 20,000 covers
    # it (19,900 + 2 x 1.99 = 19,903.98).
    assert broker.submit("X", 199, day(0)).status is OrderStatus.ACCEPTED
    broker.on_bar(day(1), {"X": flat(day(1), "100")})
    # cash 10,000 - 19,900 - 1.99 = -9,901.99; NLV 9,998.01 on 19,900 gross: 50.2%, healthy.
    assert acct.cash == solvent.Money.of("-9901.99")
    assert broker.margin_events == []
    # Day 2: -60%, the bar trades 40.00 (low 39.00, high 41.00).
    broker.on_bar(day(2), {"X": bar(day(2), "40", "41", "39", "40")})
    # At the close: value 199 x 40 = 7,960.00; NLV -9,901.99 + 7,960 = -1,941.99 <= 0,
    # maintenance 25% x 7,960 = 1,990.00; ratio -1,941.99 / 7,960 = -0.2439686 -> -243969 ppm.
    margin, state = broker.margin_events
    assert (margin.timestamp, margin.kind.value, margin.from_, margin.to) == (
        day(2),
        "margin",
        "healthy",
        "liquidating",
    )
    assert margin.ratio_ppm == -243_969
    assert margin.margin_ratio == Decimal("-0.243969")
    assert margin.nlv == solvent.Money.of("-1941.99")
    assert margin.maintenance_margin == solvent.Money.of("1990.00")
    assert (state.kind.value, state.from_, state.to) == ("trading_state", "active", "halted")
    assert "debit of 1941.99" in state.detail
    assert broker.trading_state is TradingState.HALTED
    # The liquidation order waits for the next bar: nothing sold on the crash bar itself.
    (liq,) = broker.open_orders()
    assert (liq.order.quantity, liq.order.tag, liq.order.submitted_at) == (
        Decimal(-199),
        "liquidation",
        day(2),
    )
    assert acct.quantity("X") == 199
    # Day 3 opens at 42.50: sell 199 = 8,457.50, commission 1.99.
    fills = broker.on_bar(day(3), {"X": flat(day(3), "42.50")})
    assert [(f.quantity, f.price, f.tag, f.timestamp) for f in fills] == [
        (Decimal(-199), Decimal("42.50"), "liquidation", day(3))
    ]
    # cash -9,901.99 + 8,457.50 - 1.99 = -1,446.48: flat, a debit of 1,446.48 owed.
    assert acct.quantity("X") == 0
    assert acct.cash == acct.nlv == solvent.Money.of("-1446.48")
    assert broker.trading_state is TradingState.HALTED
    assert broker.halt_reason is not None and "-1941.99" in broker.halt_reason


def test_halted_account_refuses_every_order_with_halted() -> None:
    _, broker = _levered()
    broker.on_bar(day(2), {"X": flat(day(2), "40")})  # NLV -10,000 + 8,000 = -2,000
    assert broker.trading_state is TradingState.HALTED
    broker.observe_close("Y", ticks("10"))
    buy = broker.submit("Y", 1, day(2))
    sell = broker.submit("X", -10, day(2))  # even a reducing order: only the liquidation trades
    assert (buy.status, buy.reason) == (OrderStatus.REJECTED, ReasonCode.HALTED)
    assert (sell.status, sell.reason) == (OrderStatus.REJECTED, ReasonCode.HALTED)
    assert [r.reason for r in broker.rejections] == [ReasonCode.HALTED, ReasonCode.HALTED]


# -- margin call, reduce-only, cure -------------------------------------------------------


def test_margin_call_refuses_increasing_orders_with_reduce_only_and_accepts_reducing() -> None:
    _, broker = _levered()
    # Close 65.00: value 13,000, NLV -10,000 + 13,000 = 3,000, MM 3,250: 23.08% -> call.
    broker.on_bar(day(2), {"X": flat(day(2), "65")})
    assert _events(broker) == [
        (day(2), "margin", "healthy", "margin_call"),
        (day(2), "trading_state", "active", "reduce_only"),
    ]
    broker.observe_close("Y", ticks("10"))
    more = broker.submit("X", 1, day(2))
    other = broker.submit("Y", 1, day(2))
    flip = broker.submit("X", -300, day(2))  # closes 200 but opens a 100 short
    reduce = broker.submit("X", -20, day(2))
    assert [v.reason for v in (more, other, flip)] == [ReasonCode.REDUCE_ONLY] * 3
    assert reduce.status is OrderStatus.ACCEPTED
    assert broker.open_orders() == [broker.view(reduce.order_id)]  # no liquidation yet: one check of grace


def test_margin_call_cured_by_the_strategy_before_the_next_check_is_not_liquidated() -> None:
    acct, broker = _levered()
    broker.on_bar(day(2), {"X": flat(day(2), "65")})
    broker.submit("X", -20, day(2))
    broker.on_bar(day(3), {"X": flat(day(3), "65")})
    # Sold 20 at 65: cash -10,000 + 1,300 = -8,700; 180 x 65 = 11,700; NLV 3,000; 25.6%.
    assert acct.quantity("X") == 180
    assert _events(broker)[2:] == [
        (day(3), "margin", "margin_call", "at_risk"),
        (day(3), "trading_state", "reduce_only", "active"),
    ]
    assert all(f.tag != "liquidation" for f in broker.fills)


def test_margin_call_not_cured_by_next_check_liquidates_just_back_above_maintenance() -> None:
    acct, broker = _levered()
    broker.on_bar(day(2), {"X": flat(day(2), "65")})  # call: NLV 3,000, gross 13,000
    broker.on_bar(day(3), {"X": flat(day(3), "65")})  # still a call: liquidate now
    # Out of the call needs gross <= 3,000 / 25% = 12,000: 200 - n <= 184.6 -> n = 16.
    # (15 would leave 185 x 65 = 12,025 > 12,000.) MM after: 25% x 11,960 = 2,990 <= 3,000.
    (liq,) = broker.open_orders()
    assert (liq.order.symbol, liq.order.quantity, liq.order.tag) == ("X", Decimal(-16), "liquidation")
    assert acct.quantity("X") == 200
    broker.on_bar(day(4), {"X": flat(day(4), "65")})
    # cash -10,000 + 16 x 65 = -8,960; 184 x 65 = 11,960; NLV 3,000; 3,000 / 11,960 = 25.08%.
    assert acct.quantity("X") == 184
    assert acct.nlv == solvent.Money.of(3000)
    assert _events(broker)[2:] == [
        (day(4), "margin", "margin_call", "at_risk"),
        (day(4), "trading_state", "reduce_only", "active"),
    ]


def test_liquidating_band_liquidates_at_once_sized_to_the_margin_call_threshold() -> None:
    acct, broker = _levered()
    # Close 55.00: 11,000 value, NLV 1,000: 9.09% < 10% -> liquidating, no grace.
    broker.on_bar(day(2), {"X": flat(day(2), "55")})
    assert _events(broker) == [
        (day(2), "margin", "healthy", "liquidating"),
        (day(2), "trading_state", "active", "reduce_only"),
    ]
    # gross <= 1,000 / 25% = 4,000: 200 - n <= 72.7 -> n = 128; MM 25% x 3,960 = 990 <= 1,000.
    (liq,) = broker.open_orders()
    assert liq.order.quantity == Decimal(-128)
    broker.on_bar(day(3), {"X": flat(day(3), "55")})
    assert acct.quantity("X") == 72
    assert acct.nlv == solvent.Money.of(1000)
    assert broker.margin_band == "at_risk"
    assert broker.trading_state is TradingState.ACTIVE


def test_liquidation_cancels_opening_orders_and_exits_on_the_symbols_sold() -> None:
    _, broker = _levered("10010")  # 20.00 of buying power left for the Y entry
    broker.observe_close("Y", ticks("10"))
    buy_y = broker.submit("Y", 5, day(1), type="limit", limit="9.00")  # an entry, not yet filled
    stop_x = broker.submit("X", -200, day(1), type="stop", stop="30.00")  # a protective exit
    broker.on_bar(day(2), {"X": flat(day(2), "55"), "Y": flat(day(2), "10")})
    assert broker.view(buy_y.order_id).status is OrderStatus.CANCELLED
    assert broker.view(buy_y.order_id).reason is ReasonCode.LIQUIDATION
    # The stop would sell past zero together with the liquidation: cancelled too.
    assert broker.view(stop_x.order_id).reason is ReasonCode.LIQUIDATION
    assert [v.order.tag for v in broker.open_orders()] == ["liquidation"]


def test_volume_capped_liquidation_keeps_working_until_the_account_is_cured() -> None:
    acct, broker = _levered()
    broker.on_bar(day(2), {"X": flat(day(2), "55")})  # liquidate 128
    # Next bar trades 1,000 shares: 10% cap = 100 of the 128.
    broker.on_bar(day(3), {"X": flat(day(3), "55", volume=1_000)})
    assert acct.quantity("X") == 100
    # cash -10,000 + 5,500 = -4,500; 100 x 55 = 5,500; NLV 1,000: 18.2%, still a call:
    # the plan is made again (gross <= 4,000: 100 - n <= 72.7 -> n = 28), which is what
    # the working order still has to sell: it keeps working.
    (liq,) = broker.open_orders()
    assert (liq.order_id, liq.quantity - liq.filled_quantity) == ("liq1", Decimal(-28))
    broker.on_bar(day(4), {"X": flat(day(4), "55")})
    assert acct.quantity("X") == 72
    assert broker.trading_state is TradingState.ACTIVE


def test_check_extremes_sees_the_intrabar_low_the_close_hides() -> None:
    # Low 55.00 (liquidating at the extreme), close back at 100.00.
    crash = bar(day(2), "100", "100", "55", "100")
    _, at_close = _levered()
    at_close.on_bar(day(2), {"X": crash})
    assert at_close.margin_events == []
    acct, at_low = _levered(check_extremes=True)
    at_low.on_bar(day(2), {"X": crash})
    ev = at_low.margin_events[0]
    # At the low: 200 x 55 = 11,000, NLV 1,000, MM 2,750: ratio 1,000 / 11,000 = 0.090909.
    assert (ev.to, ev.margin_ratio, ev.nlv, ev.maintenance_margin) == (
        "liquidating",
        Decimal("0.090909"),
        solvent.Money.of(1000),
        solvent.Money.of(2750),
    )
    # Sized at the prices the check used: 128 shares, as at a 55.00 close.
    assert [v.order.quantity for v in at_low.open_orders()] == [Decimal(-128)]
    assert acct.nlv == solvent.Money.of(10_000)  # the ledger itself is marked at the close


def test_short_squeeze_checks_the_high_and_buys_back() -> None:
    acct = Account(10_000, kind="margin", instruments=["S"])
    broker = SimulatedBroker(acct, check_extremes=True)
    broker.observe_close("S", ticks("50"))
    broker.submit("S", -300, day(0))  # 15,000 short on 10,000: 75% of buying power
    broker.on_bar(day(1), {"S": flat(day(1), "50")})
    # cash 25,000; high 75.00: short value -22,500, NLV 2,500, MM 30% x 22,500 = 6,750.
    broker.on_bar(day(2), {"S": bar(day(2), "60", "75", "60", "60")})
    ev = broker.margin_events[0]
    assert (ev.to, ev.nlv, ev.maintenance_margin) == (
        "margin_call",
        solvent.Money.of(2500),
        solvent.Money.of(6750),
    )
    assert broker.trading_state is TradingState.REDUCE_ONLY
    broker.on_bar(day(3), {"S": bar(day(3), "60", "75", "60", "60")})
    # Out of the call at 75.00 needs NLV >= MM: 2,500 >= 30% x 75 x q -> q <= 111.1, and
    # 2,500 / (75 q) >= 25% -> q <= 133.3: keep 111, buy back 189.
    (liq,) = broker.open_orders()
    assert liq.order.quantity == Decimal(189)


# -- the liquidation policies ---------------------------------------------------------------


def _holding(symbol: str, lots: int, unrealized: int) -> Holding:
    """``lots`` shares at 50.00 (5,000 ticks; 1 tick = 1 cent per share), 25% maintenance."""
    return Holding(symbol, lots, 5000, 1, 1, 250_000, unrealized)


# Values at 50.00: A 500 (+50), B 2,000 (+300), C 5,000 (-800), D 2,500 (+100): 10,000.
BOOK = [
    _holding("A", 10, 50_00),
    _holding("B", 40, 300_00),
    _holding("C", 100, -800_00),
    _holding("D", 50, 100_00),
]


def test_smallest_first_then_losers_closes_small_positions_then_the_largest_loser() -> None:
    # NLV 900: out of the call needs gross <= 3,600 (cut 6,400). Smallest first, whole:
    # A 500 (9,500 left), B 2,000 (7,500), D 2,500 (5,000); closing C whole would
    # overshoot, so the losers phase takes 1,400 / 50 = 28 shares of C, the loser.
    steps = plan_liquidation(
        BOOK,
        900_00,
        10_000_00,
        2_500_00,
        policy=LiquidationPolicy.SMALLEST_FIRST_THEN_LOSERS,
        call_ppm=250_000,
    )
    assert steps == (
        LiquidationStep("A", -10),
        LiquidationStep("B", -40),
        LiquidationStep("D", -50),
        LiquidationStep("C", -28),
    )


def test_smallest_first_switches_to_losers_when_the_next_small_position_would_overshoot() -> None:
    # NLV 2,250: gross must fall to 9,000 (cut 1,000). A (500) whole leaves 500 to cut;
    # B (the next smallest, 2,000) would overshoot, so the rest comes from C, the largest
    # loser: 10 shares. Exactly 25% afterwards: 2,250 / 9,000, MM 2,250 = NLV: cured.
    steps = plan_liquidation(
        BOOK,
        2_250_00,
        10_000_00,
        2_500_00,
        policy=LiquidationPolicy.SMALLEST_FIRST_THEN_LOSERS,
        call_ppm=250_000,
    )
    assert steps == (LiquidationStep("A", -10), LiquidationStep("C", -10))


def test_largest_losers_first_sells_losers_then_the_smallest_winners_last() -> None:
    # Unrealized ascending: C -800, A +50, D +100, B +300. C whole (5,000 left), A whole
    # (4,500), then D: (4,500 - 3,600) / 50 = 18 shares.
    steps = plan_liquidation(
        BOOK, 900_00, 10_000_00, 2_500_00, policy=LiquidationPolicy.LARGEST_LOSERS_FIRST, call_ppm=250_000
    )
    assert steps == (LiquidationStep("C", -100), LiquidationStep("A", -10), LiquidationStep("D", -18))


def test_plan_for_a_halted_account_sells_everything_in_policy_order() -> None:
    steps = plan_liquidation(
        BOOK,
        -1_00,
        10_000_00,
        2_500_00,
        policy=LiquidationPolicy.LARGEST_LOSERS_FIRST,
        call_ppm=250_000,
        close_all=True,
    )
    assert [s.symbol for s in steps] == ["C", "A", "D", "B"]
    assert [s.lots for s in steps] == [-100, -10, -50, -40]


def test_plan_counts_the_commission_of_each_sale() -> None:
    # NLV 2,250 less a 5.00 commission per sale: A whole, then C: gross <= 4 x 2,240 = 8,960
    # -> cut 1,040 -> 10,000 - 500 - 50 n <= 8,960 -> n = 11 (10 without commissions).
    steps = plan_liquidation(
        BOOK,
        2_250_00,
        10_000_00,
        2_500_00,
        policy=LiquidationPolicy.SMALLEST_FIRST_THEN_LOSERS,
        call_ppm=250_000,
        commission=lambda h, n: 5_00,
    )
    assert steps == (LiquidationStep("A", -10), LiquidationStep("C", -11))


def test_plan_is_empty_when_the_account_is_not_in_a_call() -> None:
    assert (
        plan_liquidation(
            BOOK,
            5_000_00,
            10_000_00,
            2_500_00,
            policy=LiquidationPolicy.LARGEST_LOSERS_FIRST,
            call_ppm=250_000,
        )
        == ()
    )


def _book_account(policy: str) -> tuple[Account, SimulatedBroker]:
    """The BOOK positions in a real account: entries chosen for the same unrealized P&L."""
    # Cost: A 10 x 45 = 450, B 40 x 42.50 = 1,700, C 100 x 58 = 5,800, D 50 x 48 = 2,400
    # = 10,350. Starting cash 1,250 -> cash -9,100; at 50.00: NLV -9,100 + 10,000 = 900.
    acct = Account(1_250, kind="margin", instruments=["A", "B", "C", "D"])
    for sym, qty, price in (("A", 10, "45"), ("B", 40, "42.50"), ("C", 100, "58"), ("D", 50, "48")):
        acct.apply_fill(make_fill(sym, qty, price, day(0)))
    broker = SimulatedBroker(acct, liquidation=policy)
    return acct, broker


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("smallest_first_then_losers", [("A", -10), ("B", -40), ("D", -50), ("C", -28)]),
        ("largest_losers_first", [("C", -100), ("A", -10), ("D", -18)]),
    ],
)
def test_each_policy_liquidates_a_real_account_in_its_documented_order(
    policy: str, expected: list[tuple[str, int]]
) -> None:
    acct, broker = _book_account(policy)
    at_50 = {s: flat(day(1), "50") for s in "ABCD"}
    broker.on_bar(day(1), at_50)  # 900 / 10,000 = 9%: liquidating
    assert broker.margin_band == "liquidating"
    orders = broker.open_orders()
    assert [(v.order.symbol, int(v.order.quantity)) for v in orders] == expected
    assert [v.order_id for v in orders] == [f"liq{i}" for i in range(1, len(expected) + 1)]
    fills = broker.on_bar(day(2), {s: flat(day(2), "50") for s in "ABCD"})
    assert [(f.symbol, int(f.quantity)) for f in fills] == expected  # filled in that order
    assert acct.nlv == solvent.Money.of(900)
    assert broker.margin_band == "at_risk"  # 900 / 3,600 = exactly 25%


# -- the engine: on_margin_call, Result.events, the martingale ---------------------------


def _panel(closes: list[float], symbol: str = "X") -> BarData:
    c = np.array(closes, dtype=float)[:, None]
    stamps = pd.bdate_range("2024-01-02", periods=len(closes)).as_unit("ns").to_numpy()
    return BarData(stamps, [symbol], c, c, c, c, np.full(c.shape, 1e6))


class BuyTwice(solvent.Strategy):
    quantity = 200

    def on_start(self, ctx: solvent.Context) -> None:
        self.events: list[tuple[int, MarginEvent]] = []
        self.refused: list[ReasonCode] = []

    def on_margin_call(self, ctx: solvent.Context, event: MarginEvent) -> None:
        self.events.append((ctx.i, event))

    def on_reject(self, ctx: solvent.Context, rejection: solvent.Rejection) -> None:
        self.refused.append(rejection.reason)

    def on_bar(self, ctx: solvent.Context) -> None:
        if ctx.i == 0:
            ctx.order("X", self.quantity)
        elif self.events and self.events[0][0] == ctx.i:
            ctx.order("X", 1)  # doubling down in a call: refused


def test_backtest_dispatches_on_margin_call_and_reports_events() -> None:
    strat = BuyTwice()
    result = solvent.backtest(strat, _panel([100, 100, 65, 65, 65, 65]), cash=10_000)
    # Bar 2 (65): call; the strategy's buy is refused; bar 3: uncured -> sell 16 at bar 4.
    assert [(i, e.kind.value, e.to) for i, e in strat.events] == [
        (2, "margin", "margin_call"),
        (2, "trading_state", "reduce_only"),
        (4, "margin", "at_risk"),
        (4, "trading_state", "active"),
    ]
    assert strat.refused == [ReasonCode.REDUCE_ONLY]
    ev = result.events
    assert list(ev.columns) == [
        "timestamp",
        "kind",
        "from",
        "to",
        "margin_ratio",
        "nlv",
        "maintenance_margin",
    ]
    assert ev.iloc[0].tolist() == [
        pd.Timestamp("2024-01-04"),
        "margin",
        "healthy",
        "margin_call",
        Decimal("0.230769"),  # 3,000 / 13,000
        Decimal("3000.00"),
        Decimal("3250.00"),
    ]
    liq = result.fills[result.fills["tag"] == "liquidation"]
    assert liq[["timestamp", "quantity", "price"]].values.tolist() == [
        [pd.Timestamp("2024-01-08"), Decimal(-16), Decimal("65.00")]
    ]
    assert result.settings["liquidation"] == "smallest_first_then_losers"
    assert result.settings["trading_state"] == "active"
    assert result.settings["halted"] is None


def test_backtest_gap_below_zero_reports_the_debit_and_halts() -> None:
    strat = BuyTwice()
    result = solvent.backtest(
        strat, _panel([100, 100, 40, 41, 80, 90]), cash=10_000, liquidation="largest_losers_first"
    )
    # Sold 200 at 41.00 on bar 3: cash -10,000 + 8,200 = -1,800, flat; the recovery to
    # 80-90 no longer helps: the account stays halted with its debit.
    assert result.final_equity == solvent.Money.of(-1800)
    assert result.positions["X"].tolist() == [0, 200, 200, 0, 0, 0]
    assert result.settings["trading_state"] == "halted"
    assert "debit of 2000.00" in result.settings["halted"]
    assert result.settings["liquidation"] == "largest_losers_first"


def _martingale_panel() -> BarData:
    # A slow bleed (-4% a bar) that makes the martingale double down, then a -70% gap.
    closes = [100.0 * 0.96**i for i in range(30)]
    closes[20:] = [round(closes[19] * 0.3, 2)] * 10
    c = np.round(np.array(closes), 2)[:, None]
    stamps = pd.bdate_range("2024-01-02", periods=len(c)).as_unit("ns").to_numpy()
    return BarData(stamps, ["X"], c, c, c, c, np.full(c.shape, 1e9))


def test_martingale_in_a_margin_account_ends_in_liquidation_and_a_halt() -> None:
    module = load_module(EXAMPLES / "martingale.py")
    result = solvent.backtest(
        module.Martingale, _martingale_panel(), cash=100_000, account="margin", step=0.04
    )
    kinds = result.events[["kind", "to"]].values.tolist()
    assert ["trading_state", "halted"] in kinds
    liquidation = result.fills[result.fills["tag"] == "liquidation"]
    assert len(liquidation) >= 1
    assert result.positions["X"].iloc[-1] == 0  # everything sold
    assert result.settings["trading_state"] == "halted"
    # The loss is the gap on at most 2x leverage, never an unbounded negative balance:
    # a debit no larger than the starting cash.
    final = result.final_equity.amount
    assert -100_000 < final < 0
    assert math.isclose(result.equity.iloc[-1], float(final))
    # Nothing but liquidation traded after the halt.
    halted_at = result.events[result.events["to"] == "halted"]["timestamp"].iloc[0]
    after = result.fills[result.fills["timestamp"] > halted_at]
    assert set(after["tag"]) == {"liquidation"}
