"""SimulatedBroker: orders in, bars in, fills out, through the gatekeeper.

Prices are dollars on the default equity tick (0.01), built with ``tests/_bars.py``;
bars are daily and a bar's timestamp is its open time. An order submitted at ``day(i)``
(after the bar of ``day(i)``) can fill from the bar of ``day(i + 1)`` on.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from _bars import bar, day, flat
from solvent import Account, InsufficientFundsError, InvalidInputError, ReasonCode, Side
from solvent.execution.broker import OrderView, SimulatedBroker
from solvent.execution.costs import FixedBps, PerShare
from solvent.model.bar import Bar
from solvent.model.instrument import Instrument
from solvent.model.orders import OrderStatus


def setup(
    cash: int | str = 10_000,
    *,
    kind: str = "cash",
    seed: dict[str, str] | None = None,
    **broker_kwargs: object,
) -> tuple[Account, SimulatedBroker]:
    """Return an account holding ``cash`` and a broker that has seen one bar per symbol.

    The seed bars (at ``day(0)``, flat at the given prices, default A and B at 100.00)
    give market orders a last price to be estimated at; nothing trades on them.
    """
    acct = Account(cash, kind=kind, instruments=["A", "B"])
    broker = SimulatedBroker(acct, **broker_kwargs)  # type: ignore[arg-type]
    prices = seed if seed is not None else {"A": "100", "B": "100"}
    broker.on_bar(day(0), {s: flat(day(0), p) for s, p in prices.items()})
    return acct, broker


def D(x: str | int) -> Decimal:  # noqa: N802 - reads like a literal
    return Decimal(x)


# -- bankruptcy -----------------------------------------------------------------------

# A martingale doubles its losing long every bar while A falls 5.00 a bar:
# bar i trades flat at 100 - 5i. The order placed after bar i is for 10 * 2**i shares
# and fills at the open of bar i + 1.
MARTINGALE_BARS = 10


def _martingale(broker: SimulatedBroker, acct: Account) -> tuple[list[OrderView], list[Decimal]]:
    views: list[OrderView] = []
    cash_path: list[Decimal] = []
    for i in range(MARTINGALE_BARS):
        if i > 0:
            broker.on_bar(day(i), {"A": flat(day(i), str(100 - 5 * i))})
        cash_path.append(acct.cash.amount)
        assert acct.cash.amount >= 0, f"cash went negative at bar {i}"
        views.append(broker.submit("A", 10 * 2**i, day(i)))
    return views, cash_path


def test_martingale_cash_account_no_partials_refused_once_cash_runs_out() -> None:
    acct, broker = setup(10_000, partial_fills=False)
    views, cash_path = _martingale(broker, acct)
    # bar 1: buy  10 @ 95 =   950 -> cash 9,050
    # bar 2: buy  20 @ 90 = 1,800 -> cash 7,250
    # bar 3: buy  40 @ 85 = 3,400 -> cash 3,850
    # after bar 3: buy 80, estimated at the last close 85: 6,800 > 3,850 -> refused;
    # every later order (160 @ 80, 320 @ 75, ...) is larger still.
    assert cash_path[:4] == [D("10000.00"), D("9050.00"), D("7250.00"), D("3850.00")]
    assert all(c == D("3850.00") for c in cash_path[3:])
    assert [v.status for v in views[:3]] == [OrderStatus.ACCEPTED] * 3
    for v in views[3:]:
        assert v.status is OrderStatus.REJECTED
        assert v.reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    assert acct.quantity("A") == 70
    assert acct.cash.amount >= 0
    assert len(broker.fills) == 3


def test_martingale_cash_account_partials_cut_then_refused() -> None:
    acct, broker = setup(10_000, partial_fills=True)
    views, cash_path = _martingale(broker, acct)
    # Bars 1-3 as without partial fills: cash 3,850, 70 shares.
    # after bar 3: buy 80 @ 85 est. -> cut to floor(3,850 / 85) = 45 (45 x 85 = 3,825);
    #   bar 4 fills 45 @ 80 = 3,600 -> cash 250.
    # after bar 4: buy 160 @ 80 est. -> cut to floor(250 / 80) = 3; bar 5: 3 @ 75 = 225 -> cash 25.
    # after bar 5: buy 320 @ 75 est.: not one share is affordable -> refused, and so on.
    assert cash_path == [D(x) for x in ("10000", "9050", "7250", "3850", "250", "25", "25", "25", "25", "25")]
    cut = [broker.view(v.order_id) for v in views[3:5]]
    assert [v.status for v in cut] == [OrderStatus.FILLED, OrderStatus.FILLED]
    assert [v.quantity for v in cut] == [45, 3]
    assert [w.detail for w in broker.warnings] == [
        "cut to 45 (affordable part)",
        "cut to 3 (affordable part)",
    ]
    for v in views[5:]:
        assert v.status is OrderStatus.REJECTED
        assert v.reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    assert acct.quantity("A") == 70 + 45 + 3
    assert acct.cash.amount == D("25.00")


# -- flipping -------------------------------------------------------------------------


def test_flip_every_bar_flat_prices_nlv_falls_by_commission_plus_slippage() -> None:
    # Commission: 0.005/share, minimum 1.00 per order -> every order (1 or 2 shares) pays 1.00.
    # Slippage: 10 bps on the open 100.00 -> buys at 100.10, sells at 99.90.
    acct, broker = setup(
        10_000,
        kind="margin",
        seed={"A": "100"},
        commission=PerShare("0.005", minimum="1.00"),
        slippage=FixedBps(10),
    )

    def b(i: int) -> dict[str, Bar]:  # flat at 100.00, with room in the range for the slippage
        return {"A": bar(day(i), "100", "101", "99", "100")}

    broker.submit("A", 1, day(0))
    broker.on_bar(day(1), b(1))
    # buy 1 @ 100.10 + 1.00 commission: cash 10,000 - 101.10 = 9,898.90
    assert acct.cash.amount == D("9898.90")
    assert acct.nlv.amount == D("9998.90")  # marked at the close 100.00
    for i in range(1, 11):
        long_ = acct.quantity("A") == 1
        broker.submit("A", -2 if long_ else 2, day(i))
        cash_before, nlv_before = acct.cash.amount, acct.nlv.amount
        legs = broker.on_bar(day(i + 1), b(i + 1))
        if long_:  # sell 2 @ 99.90 = +199.80, less 1.00 commission
            assert acct.cash.amount - cash_before == D("198.80")
            assert acct.quantity("A") == -1
            assert [leg.side for leg in legs] == [Side.SELL, Side.SELL_SHORT]
        else:  # buy 2 @ 100.10 = -200.20, less 1.00 commission
            assert acct.cash.amount - cash_before == D("-201.20")
            assert acct.quantity("A") == 1
            assert [leg.side for leg in legs] == [Side.BUY_TO_COVER, Side.BUY]
        # The position's value swings by 200.00 against the cash; what is lost is
        # exactly the commission (1.00) plus the slippage (2 x 0.10 = 0.20).
        assert nlv_before - acct.nlv.amount == D("1.20")
        assert sum(leg.commission for leg in legs) == D("1.00")  # one order, one minimum
        assert [leg.slippage for leg in legs] == [D("0.10"), D("0.10")]
    snap = acct.snapshot()
    assert snap.commission.amount == D("11.00")  # 1 + 10 flips
    assert snap.slippage.amount == D("2.10")  # 0.10 + 10 x 0.20
    assert acct.nlv.amount == D("10000") - D("11.00") - D("2.10")


# -- reservations ---------------------------------------------------------------------


def test_reservations_no_partials_second_refused_third_accepted() -> None:
    acct, broker = setup(10_000, partial_fills=False)
    # 50 x 100 = 5,000 reserved; 5,000 left.
    a = broker.submit("A", 50, day(0), type="limit", limit="100")
    assert a.status is OrderStatus.ACCEPTED
    assert acct.reserved.amount == D("5000.00")
    # 60 x 100 = 6,000 > 5,000 -> refused.
    b = broker.submit("A", 60, day(0), type="limit", limit="100")
    assert b.status is OrderStatus.REJECTED
    assert b.reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    # 40 x 100 = 4,000 <= 5,000 -> accepted; nothing left.
    c = broker.submit("A", 40, day(0), type="limit", limit="100")
    assert c.status is OrderStatus.ACCEPTED
    assert acct.reserved.amount == D("9000.00")
    assert acct.buying_power.amount == D("1000.00")


def test_reservations_partials_second_cut_to_50_third_refused() -> None:
    acct, broker = setup(10_000, partial_fills=True)
    broker.submit("A", 50, day(0), type="limit", limit="100")
    # 5,000 left: the 60 is cut to 50.
    b = broker.submit("A", 60, day(0), type="limit", limit="100")
    assert b.status is OrderStatus.ACCEPTED
    assert b.quantity == 50
    assert acct.reserved.amount == D("10000.00")
    # Nothing left for the 40.
    c = broker.submit("A", 40, day(0), type="limit", limit="100")
    assert c.status is OrderStatus.REJECTED
    assert c.reason is ReasonCode.INSUFFICIENT_BUYING_POWER


# -- cash changes between placement and fill -------------------------------------------


def test_fee_between_placement_and_fill_order_waits_until_deposit() -> None:
    acct, broker = setup(10_000, partial_fills=False)
    o = broker.submit("A", 100, day(0), type="limit", limit="100")
    assert o.status is OrderStatus.ACCEPTED  # 100 x 100 = 10,000: all of the cash
    acct.charge_fee("100", day(0))  # cash 9,900 < 10,000 the fill needs
    broker.on_bar(day(1), {"A": flat(day(1), "100")})
    v = broker.view(o.order_id)
    assert v.status is OrderStatus.ACCEPTED
    assert v.filled_quantity == 0
    assert acct.cash.amount == D("9900.00")
    assert acct.quantity("A") == 0
    rej = broker.rejections[-1]
    assert (rej.order_id, rej.reason, rej.at_fill) == (o.order_id, ReasonCode.INSUFFICIENT_BUYING_POWER, True)
    broker.on_bar(day(2), {"A": flat(day(2), "100")})  # still short of cash
    assert broker.view(o.order_id).status is OrderStatus.ACCEPTED
    acct.deposit("100", day(2))  # cash 10,000 again
    broker.on_bar(day(3), {"A": flat(day(3), "100")})
    v = broker.view(o.order_id)
    assert v.status is OrderStatus.FILLED
    assert acct.cash.amount == 0
    assert acct.quantity("A") == 100
    assert acct.reserved.amount == 0


# -- volume ---------------------------------------------------------------------------


def test_zero_volume_bar_fills_nothing_then_fills_on_next_bar_with_volume() -> None:
    acct, broker = setup(10_000)
    o = broker.submit("A", 10, day(0))
    assert broker.on_bar(day(1), {"A": flat(day(1), "100", volume=0)}) == []
    assert broker.view(o.order_id).status is OrderStatus.ACCEPTED
    assert broker.rejections[-1].reason is ReasonCode.ZERO_VOLUME
    fills = broker.on_bar(day(2), {"A": flat(day(2), "101", volume=1_000)})
    assert [(f.quantity, f.price) for f in fills] == [(D(10), D("101.00"))]
    assert broker.view(o.order_id).status is OrderStatus.FILLED
    assert acct.cash.amount == D("8990.00")  # 10,000 - 10 x 101


def test_zero_volume_without_volume_cap_still_fills_nothing() -> None:
    _, broker = setup(10_000, volume_limit=None)
    o = broker.submit("A", 10, day(0))
    assert broker.on_bar(day(1), {"A": flat(day(1), "100", volume=0)}) == []
    assert broker.view(o.order_id).status is OrderStatus.ACCEPTED


def test_volume_cap_10pct_fills_300_over_three_bars_of_1000() -> None:
    acct, broker = setup(100_000)
    o = broker.submit("A", 300, day(0))
    statuses = []
    for i in (1, 2, 3):
        fills = broker.on_bar(day(i), {"A": flat(day(i), "100", volume=1_000)})
        assert [f.quantity for f in fills] == [100]  # 10% of 1,000
        statuses.append(broker.view(o.order_id).status)
    assert statuses == [OrderStatus.PARTIALLY_FILLED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]
    assert acct.quantity("A") == 300
    assert acct.reserved.amount == 0  # released pro rata, all gone at the last fill


def test_volume_cap_shared_by_two_orders_on_one_symbol() -> None:
    _, broker = setup(100_000)
    a = broker.submit("A", 80, day(0))
    b = broker.submit("A", 80, day(0))
    c = broker.submit("B", 80, day(0))  # another symbol has its own cap
    fills = broker.on_bar(day(1), {s: flat(day(1), "100", volume=1_000) for s in ("A", "B")})
    # cap 100 on A: the first order takes 80, the second the 20 left.
    assert [(f.order_id, f.quantity) for f in fills] == [
        (a.order_id, D(80)),
        (b.order_id, D(20)),
        (c.order_id, D(80)),
    ]
    assert broker.view(b.order_id).status is OrderStatus.PARTIALLY_FILLED
    broker.on_bar(day(2), {"A": flat(day(2), "100", volume=1_000)})
    assert broker.view(b.order_id).status is OrderStatus.FILLED


def test_volume_limit_none_fills_whole_order_in_one_bar() -> None:
    _, broker = setup(100_000, volume_limit=None)
    o = broker.submit("A", 300, day(0))
    fills = broker.on_bar(day(1), {"A": flat(day(1), "100", volume=1_000)})
    assert [f.quantity for f in fills] == [300]
    assert broker.view(o.order_id).status is OrderStatus.FILLED


# -- gaps and order types --------------------------------------------------------------


def _long_100(broker: SimulatedBroker) -> None:
    broker.submit("A", 100, day(0))
    broker.on_bar(day(1), {"A": flat(day(1), "100")})


def test_buy_limit_gap_below_limit_fills_at_open() -> None:
    _, broker = setup(10_000)
    o = broker.submit("A", 10, day(0), type="limit", limit="99")
    fills = broker.on_bar(day(1), {"A": bar(day(1), "98", "99.50", "97", "99")})
    assert [f.price for f in fills] == [D("98.00")]  # opened below the limit: better than 99
    assert broker.view(o.order_id).status is OrderStatus.FILLED


def test_buy_limit_touched_intrabar_fills_at_limit() -> None:
    _, broker = setup(10_000)
    broker.submit("A", 10, day(0), type="limit", limit="99")
    fills = broker.on_bar(day(1), {"A": bar(day(1), "100", "101", "98.50", "100")})
    assert [f.price for f in fills] == [D("99.00")]


def test_sell_stop_gapped_through_fills_at_open() -> None:
    _, broker = setup(100_000)
    _long_100(broker)
    broker.submit("A", -100, day(1), type="stop", stop="95")
    fills = broker.on_bar(day(2), {"A": bar(day(2), "94", "96", "93", "95")})
    assert [f.price for f in fills] == [D("94.00")]  # worse than the stop: the gap


def test_sell_stop_touched_intrabar_fills_at_stop() -> None:
    _, broker = setup(100_000)
    _long_100(broker)
    broker.submit("A", -100, day(1), type="stop", stop="95")
    assert broker.on_bar(day(2), {"A": bar(day(2), "100", "101", "96", "97")}) == []  # not touched
    fills = broker.on_bar(day(3), {"A": bar(day(3), "97", "98", "94", "95")})
    assert [f.price for f in fills] == [D("95.00")]


def test_buy_stop_limit_triggered_within_limit_fills_at_stop() -> None:
    _, broker = setup(100_000)
    o = broker.submit("A", 10, day(0), type="stop_limit", stop="105", limit="106")
    fills = broker.on_bar(day(1), {"A": bar(day(1), "100", "107", "99", "106")})
    assert [f.price for f in fills] == [D("105.00")]
    assert broker.view(o.order_id).status is OrderStatus.FILLED


def test_sell_stop_limit_triggered_outside_limit_waits_as_limit() -> None:
    _, broker = setup(100_000)
    _long_100(broker)
    # Sell stop 95, limit 96: the stop price itself is below the limit.
    o = broker.submit("A", -100, day(1), type="stop_limit", stop="95", limit="96")
    assert broker.on_bar(day(2), {"A": bar(day(2), "97", "97", "94", "94.50")}) == []  # triggered
    assert broker.view(o.order_id).status is OrderStatus.ACCEPTED
    assert broker.on_bar(day(3), {"A": bar(day(3), "94.50", "95.50", "94", "95")}) == []  # below 96
    fills = broker.on_bar(day(4), {"A": bar(day(4), "95", "96.50", "95", "96")})
    assert [f.price for f in fills] == [D("96.00")]  # now a plain sell limit at 96


def test_sell_stop_limit_gap_below_limit_does_not_fill() -> None:
    _, broker = setup(100_000)
    _long_100(broker)
    o = broker.submit("A", -100, day(1), type="stop_limit", stop="95", limit="94")
    # Opens at 92 (through the stop) and never trades back up to the 94 limit.
    assert broker.on_bar(day(2), {"A": bar(day(2), "92", "93.50", "91", "93")}) == []
    fills = broker.on_bar(day(3), {"A": bar(day(3), "93", "94.20", "93", "94")})
    assert [f.price for f in fills] == [D("94.00")]
    assert broker.view(o.order_id).status is OrderStatus.FILLED


def test_trailing_stop_by_amount_ratchets_and_triggers() -> None:
    _, broker = setup(100_000)
    _long_100(broker)  # last close 100.00
    o = broker.submit("A", -100, day(1), type="trailing_stop", trail_amount="2")
    # Level 100 - 2 = 98. Bar 2 (low 99) does not touch it; its high 103 ratchets it to 101.
    assert broker.on_bar(day(2), {"A": bar(day(2), "100", "103", "99", "102")}) == []
    # Bar 3 falls to 100.50, through 101: fills at the stop level 101.
    fills = broker.on_bar(day(3), {"A": bar(day(3), "102", "102.50", "100.50", "101")})
    assert [f.price for f in fills] == [D("101.00")]
    assert broker.view(o.order_id).status is OrderStatus.FILLED


def test_trailing_stop_by_percent_ratchets_and_gap_fills_at_open() -> None:
    _, broker = setup(100_000)
    _long_100(broker)
    o = broker.submit("A", -100, day(1), type="trailing_stop", trail_percent="0.05")
    # Level 100 - 5% = 95. Bar 2 (low 100) survives, its high 120 ratchets: 120 - 6 = 114.
    assert broker.on_bar(day(2), {"A": bar(day(2), "100", "120", "100", "118")}) == []
    # A falling bar that stays above 114 keeps the level (it never moves down).
    assert broker.on_bar(day(3), {"A": bar(day(3), "117", "117", "115", "115")}) == []
    # Bar 4 opens at 113, below 114: fills at the open.
    fills = broker.on_bar(day(4), {"A": bar(day(4), "113", "113", "110", "111")})
    assert [f.price for f in fills] == [D("113.00")]
    assert broker.view(o.order_id).status is OrderStatus.FILLED


# -- exits first ----------------------------------------------------------------------


def test_cash_account_fully_invested_sell_a_buy_b_both_fill_exits_first() -> None:
    acct, broker = setup(10_000, partial_fills=False, seed={"A": "100", "B": "200"})
    broker.submit("A", 100, day(0))  # 100 x 100 = all the cash
    broker.on_bar(day(1), {"A": flat(day(1), "100"), "B": flat(day(1), "200")})
    assert acct.cash.amount == 0
    assert acct.buying_power.amount == 0
    sell = broker.submit("A", -100, day(1))
    # No cash at all, but the pending sale frees 100 x 100 = 10,000 = 50 x 200.
    buy = broker.submit("B", 50, day(1))
    assert buy.status is OrderStatus.ACCEPTED
    fills = broker.on_bar(day(2), {"A": flat(day(2), "100"), "B": flat(day(2), "200")})
    assert [(f.order_id, f.side) for f in fills] == [(sell.order_id, Side.SELL), (buy.order_id, Side.BUY)]
    assert acct.quantity("A") == 0
    assert acct.quantity("B") == 50
    assert acct.cash.amount == 0


def test_cash_account_exit_credit_is_not_spent_twice() -> None:
    _, broker = setup(10_000, partial_fills=False, seed={"A": "100", "B": "200"})
    broker.submit("A", 100, day(0))
    broker.on_bar(day(1), {"A": flat(day(1), "100"), "B": flat(day(1), "200")})
    broker.submit("A", -100, day(1))
    assert broker.submit("B", 50, day(1)).status is OrderStatus.ACCEPTED
    second = broker.submit("B", 1, day(1))  # the 10,000 of credit is taken
    assert second.status is OrderStatus.REJECTED
    assert second.reason is ReasonCode.INSUFFICIENT_BUYING_POWER


# -- flips in a margin account --------------------------------------------------------


def test_margin_flip_needs_margin_only_for_opening_leg() -> None:
    # Margin account, Reg T 50%: cash 9,000, then long 100 A @ 100 (cash -1,000).
    # NLV 9,000, initial margin 5,000, excess 4,000 -> buying power 8,000.
    acct, broker = setup(9_000, kind="margin", partial_fills=False)
    broker.submit("A", 100, day(0))
    broker.on_bar(day(1), {"A": flat(day(1), "100"), "B": flat(day(1), "100")})
    assert acct.buying_power.amount == D("8000.00")
    # A fresh 200-share short of B is 20,000 of buying power: refused.
    fresh = broker.submit("B", -200, day(1))
    assert fresh.status is OrderStatus.REJECTED
    assert fresh.reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    # Selling 200 A is long 100 -> short 100: closing the long frees its 5,000 of margin
    # (buying power 18,000) and the opening short needs 100 x 100 = 10,000.
    flip = broker.submit("A", -200, day(1))
    assert flip.status is OrderStatus.ACCEPTED
    fills = broker.on_bar(day(2), {"A": flat(day(2), "100")})
    assert [(f.side, f.quantity) for f in fills] == [(Side.SELL, D(-100)), (Side.SELL_SHORT, D(-100))]
    assert acct.quantity("A") == -100
    assert acct.cash.amount == D("19000.00")  # -1,000 + 20,000 of proceeds
    assert acct.nlv.amount == D("9000.00")


# -- time in force --------------------------------------------------------------------


def test_ioc_remainder_cancelled() -> None:
    _, broker = setup(100_000)
    o = broker.submit("A", 300, day(0), tif="IOC")
    fills = broker.on_bar(day(1), {"A": flat(day(1), "100", volume=1_000)})
    assert [f.quantity for f in fills] == [100]
    v = broker.view(o.order_id)
    assert v.status is OrderStatus.CANCELLED
    assert v.filled_quantity == 100


def test_fok_cancelled_when_volume_cap_prevents_whole_fill() -> None:
    acct, broker = setup(100_000)
    o = broker.submit("A", 300, day(0), tif="FOK")
    assert broker.on_bar(day(1), {"A": flat(day(1), "100", volume=1_000)}) == []  # cap 100 < 300
    v = broker.view(o.order_id)
    assert v.status is OrderStatus.CANCELLED
    assert v.reason is ReasonCode.VOLUME_LIMIT
    assert acct.reserved.amount == 0


def test_fok_filled_when_volume_cap_allows() -> None:
    _, broker = setup(100_000)
    o = broker.submit("A", 100, day(0), tif="FOK")
    fills = broker.on_bar(day(1), {"A": flat(day(1), "100", volume=1_000)})
    assert [f.quantity for f in fills] == [100]
    assert broker.view(o.order_id).status is OrderStatus.FILLED


def test_day_order_expires_at_next_session() -> None:
    acct, broker = setup(10_000)
    o = broker.submit("A", 10, day(0), type="limit", limit="95", tif="DAY")
    assert broker.on_bar(day(1), {"A": flat(day(1), "100")}) == []  # its session: no fill
    assert broker.view(o.order_id).status is OrderStatus.ACCEPTED
    # The next session would fill it (low 94), but it has expired first.
    assert broker.on_bar(day(2), {"A": bar(day(2), "96", "96", "94", "95")}) == []
    v = broker.view(o.order_id)
    assert v.status is OrderStatus.EXPIRED
    assert v.history[-1].timestamp == day(2)
    assert acct.reserved.amount == 0


def test_gtd_order_expires_after_expire_at() -> None:
    acct, broker = setup(10_000)
    o = broker.submit("A", 10, day(0), type="limit", limit="95", tif="GTD", expire_at=day(2))
    assert broker.on_bar(day(1), {"A": flat(day(1), "100")}) == []
    assert broker.on_bar(day(2), {"A": flat(day(2), "100")}) == []  # at expire_at: still works
    assert broker.view(o.order_id).status is OrderStatus.ACCEPTED
    assert broker.on_bar(day(3), {"A": bar(day(3), "96", "96", "94", "95")}) == []
    assert broker.view(o.order_id).status is OrderStatus.EXPIRED
    assert acct.reserved.amount == 0


def test_gtd_without_expire_at_raises() -> None:
    _, broker = setup(10_000)
    with pytest.raises(InvalidInputError):
        broker.submit("A", 10, day(0), tif="GTD")


# -- brackets -------------------------------------------------------------------------


def test_bracket_take_profit_fills_and_stop_loss_cancelled() -> None:
    acct, broker = setup(100_000)
    entry, tp, sl = broker.submit_bracket("A", 100, day(0), take_profit="110", stop_loss="95")
    fills = broker.on_bar(day(1), {"A": bar(day(1), "100", "112", "99", "101")})
    # Only the entry fills on bar 1 (at the open); the exits work from bar 2.
    assert [f.order_id for f in fills] == [entry.order_id]
    fills = broker.on_bar(day(2), {"A": bar(day(2), "101", "111", "100", "110")})
    assert [(f.order_id, f.price) for f in fills] == [(tp.order_id, D("110.00"))]
    assert broker.view(tp.order_id).status is OrderStatus.FILLED
    assert broker.view(sl.order_id).status is OrderStatus.CANCELLED
    assert acct.quantity("A") == 0
    assert broker.open_orders() == []


def test_bracket_bar_touching_both_fills_stop_loss_and_cancels_take_profit() -> None:
    acct, broker = setup(100_000)
    entry, tp, sl = broker.submit_bracket("A", 100, day(0), take_profit="110", stop_loss="95")
    broker.on_bar(day(1), {"A": flat(day(1), "100")})
    assert broker.view(entry.order_id).status is OrderStatus.FILLED
    fills = broker.on_bar(day(2), {"A": bar(day(2), "100", "111", "94", "100")})
    assert [(f.order_id, f.price) for f in fills] == [(sl.order_id, D("95.00"))]  # pessimistic
    assert broker.view(sl.order_id).status is OrderStatus.FILLED
    assert broker.view(tp.order_id).status is OrderStatus.CANCELLED
    assert acct.quantity("A") == 0


# -- refusals and validation modes ----------------------------------------------------


def test_intent_mismatch_refused() -> None:
    acct, broker = setup(10_000)
    v = broker.submit("A", -10, day(0), intent="close")  # nothing to close
    assert v.status is OrderStatus.REJECTED
    assert v.reason is ReasonCode.INTENT_MISMATCH
    assert broker.rejections[-1].reason is ReasonCode.INTENT_MISMATCH
    assert acct.reserved.amount == 0


def test_short_in_cash_account_refused() -> None:
    _, broker = setup(10_000)
    v = broker.submit("A", -10, day(0))
    assert v.status is OrderStatus.REJECTED
    assert v.reason is ReasonCode.SHORTING_NOT_ALLOWED
    assert broker.on_bar(day(1), {"A": flat(day(1), "100")}) == []


def _long(lots: int, **broker_kwargs: object) -> tuple[Account, SimulatedBroker]:
    """Return a cash account that bought ``lots`` of A at 100.00 on day 1 (10,000 cash)."""
    acct, broker = setup(10_000, **broker_kwargs)
    broker.submit("A", lots, day(0))
    broker.on_bar(day(1), {"A": flat(day(1), "100")})
    assert acct.quantity("A") == lots
    return acct, broker


def test_cash_account_sale_placed_while_long_refused_at_fill_once_long_closed() -> None:
    acct, broker = _long(5)  # cash 10,000 - 500 = 9,500
    close = broker.submit("A", -5, day(1), intent="close")
    sale = broker.submit("A", -5, day(1))  # a sale of the long when placed: accepted
    assert sale.status is OrderStatus.ACCEPTED
    fills = broker.on_bar(day(2), {"A": flat(day(2), "100")})
    # The close sells the 5 first; the second sale would now open a short.
    assert [(f.order_id, f.quantity, f.side) for f in fills] == [(close.order_id, D(-5), Side.SELL)]
    v = broker.view(sale.order_id)
    assert (v.status, v.reason, v.filled_quantity) == (
        OrderStatus.CANCELLED,
        ReasonCode.SHORTING_NOT_ALLOWED,
        D(0),
    )
    rej = broker.rejections[-1]
    assert (rej.order_id, rej.quantity, rej.reason, rej.at_fill) == (
        sale.order_id,
        D(-5),
        ReasonCode.SHORTING_NOT_ALLOWED,
        True,
    )
    assert acct.quantity("A") == 0
    assert acct.cash.amount == D("10000.00")
    assert not broker.has_open_orders


def test_cash_account_sale_past_a_shrunk_long_fills_the_close_and_refuses_the_short() -> None:
    acct, broker = _long(8)  # cash 9,200
    first = broker.submit("A", -5, day(1))
    second = broker.submit("A", -5, day(1))  # 5 of 8 when placed; 5 of 3 at the fill
    fills = broker.on_bar(day(2), {"A": flat(day(2), "101")})
    assert [(f.order_id, f.quantity) for f in fills] == [(first.order_id, D(-5)), (second.order_id, D(-3))]
    v = broker.view(second.order_id)
    assert (v.status, v.reason, v.filled_quantity) == (
        OrderStatus.CANCELLED,
        ReasonCode.SHORTING_NOT_ALLOWED,
        D(-3),
    )
    assert (broker.rejections[-1].quantity, broker.rejections[-1].at_fill) == (D(-2), True)
    assert acct.quantity("A") == 0
    assert acct.cash.amount == D("10008.00")  # 9,200 + 8 x 101.00


def test_fok_sale_refused_at_fill_when_it_would_open_a_short() -> None:
    acct, broker = _long(5)
    broker.submit("A", -5, day(1), intent="close")
    fok = broker.submit("A", -5, day(1), tif="FOK")
    broker.on_bar(day(2), {"A": flat(day(2), "100")})
    v = broker.view(fok.order_id)
    assert (v.status, v.reason) == (OrderStatus.CANCELLED, ReasonCode.SHORTING_NOT_ALLOWED)
    assert broker.rejections[-1].at_fill
    assert acct.quantity("A") == 0


def test_margin_account_non_shortable_sale_refused_at_fill_once_long_closed() -> None:
    acct = Account(10_000, kind="margin", instruments=[Instrument("N", shortable=False)])
    broker = SimulatedBroker(acct)
    broker.on_bar(day(0), {"N": flat(day(0), "100")})
    broker.submit("N", 5, day(0))
    broker.on_bar(day(1), {"N": flat(day(1), "100")})
    broker.submit("N", -5, day(1), intent="close")
    sale = broker.submit("N", -5, day(1))
    broker.on_bar(day(2), {"N": flat(day(2), "100")})
    v = broker.view(sale.order_id)
    assert (v.status, v.reason) == (OrderStatus.CANCELLED, ReasonCode.NOT_SHORTABLE)
    assert (broker.rejections[-1].reason, broker.rejections[-1].at_fill) == (ReasonCode.NOT_SHORTABLE, True)
    assert acct.quantity("N") == 0


def test_strict_validation_unaffordable_raises() -> None:
    acct, broker = setup(10_000, validation="strict")
    with pytest.raises(InsufficientFundsError):
        broker.submit("A", 200, day(0))  # 20,000 > 10,000
    assert broker.orders() == []
    assert acct.reserved.amount == 0


def test_warn_validation_fills_anyway_and_records_warning() -> None:
    acct, broker = setup(10_000, validation="warn")
    o = broker.submit("A", 200, day(0))
    assert o.status is OrderStatus.ACCEPTED
    assert broker.warnings[0].order_id == o.order_id
    assert broker.warnings[0].reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    broker.on_bar(day(1), {"A": flat(day(1), "100")})
    assert broker.view(o.order_id).status is OrderStatus.FILLED
    assert acct.cash.amount == D("-10000.00")  # allowed, and on the record
    assert len(broker.warnings) == 2  # at placement and at fill
    assert broker.rejections == []


# -- timing and records ---------------------------------------------------------------


def test_order_submitted_at_bar_time_never_fills_on_that_bar() -> None:
    acct, broker = setup(10_000)
    o = broker.submit("A", 10, day(1))
    assert broker.on_bar(day(1), {"A": flat(day(1), "90")}) == []  # the bar it was placed on
    assert acct.quantity("A") == 0
    fills = broker.on_bar(day(2), {"A": flat(day(2), "91")})
    assert [(f.order_id, f.price, f.timestamp) for f in fills] == [(o.order_id, D("91.00"), day(2))]


def test_every_status_change_recorded_with_timestamps() -> None:
    _, broker = setup(100_000)
    o = broker.submit("A", 150, day(0))
    broker.on_bar(day(1), {"A": flat(day(1), "100", volume=1_000)})  # 100 of 150
    broker.on_bar(day(2), {"A": flat(day(2), "100", volume=1_000)})  # the last 50
    c = broker.submit("A", 10, day(2), type="limit", limit="50")
    broker.cancel(c.order_id, day(3))
    h = broker.view(o.order_id).history
    assert [(s.status, s.timestamp, s.filled_quantity) for s in h] == [
        (OrderStatus.ACCEPTED, day(0), D(0)),
        (OrderStatus.PARTIALLY_FILLED, day(1), D(100)),
        (OrderStatus.FILLED, day(2), D(150)),
    ]
    hc = broker.view(c.order_id).history
    assert [(s.status, s.timestamp) for s in hc] == [
        (OrderStatus.ACCEPTED, day(2)),
        (OrderStatus.CANCELLED, day(3)),
    ]
    assert [s for s in broker.status_changes if s.order_id == o.order_id] == list(h)
    rejected = broker.submit("B", -1, day(3))
    assert [(s.status, s.reason) for s in rejected.history] == [
        (OrderStatus.REJECTED, ReasonCode.SHORTING_NOT_ALLOWED)
    ]


def test_modify_to_unaffordable_size_refused_and_original_keeps_working() -> None:
    acct, broker = setup(10_000, partial_fills=False)
    o = broker.submit("A", 50, day(0), type="limit", limit="100")  # reserves 5,000
    bigger = broker.modify(o.order_id, day(0), quantity=150)  # 15,000 > 10,000
    assert bigger.status is OrderStatus.REJECTED
    assert bigger.reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    # A refused replace leaves the original working, still holding its 5,000.
    assert broker.view(o.order_id).status is OrderStatus.ACCEPTED
    assert acct.reserved_for(o.order_id).amount == D("5000.00")
    assert broker.submit("A", 60, day(0), type="limit", limit="100").status is OrderStatus.REJECTED
    assert broker.submit("A", 50, day(0), type="limit", limit="100").status is OrderStatus.ACCEPTED
    assert acct.reserved.amount == D("10000.00")
    fills = broker.on_bar(day(1), {"A": bar(day(1), "100", "100", "99", "100")})
    assert sum(f.quantity for f in fills) == 100


def test_modify_within_buying_power_replaces_order() -> None:
    acct, broker = setup(10_000, partial_fills=False)
    o = broker.submit("A", 50, day(0), type="limit", limit="100")
    new = broker.modify(o.order_id, day(0), quantity=90, limit="99")
    assert new.status is OrderStatus.ACCEPTED
    assert broker.view(o.order_id).status is OrderStatus.CANCELLED
    assert acct.reserved.amount == D("8910.00")  # 90 x 99
    fills = broker.on_bar(day(1), {"A": bar(day(1), "100", "100", "98", "99")})
    assert [(f.order_id, f.quantity, f.price) for f in fills] == [(new.order_id, D(90), D("99.00"))]


def test_margin_flip_own_credit_is_not_lent_to_other_orders() -> None:
    # As above: buying power 8,000; the flip relies on the 10,000 its own closing leg frees.
    acct, broker = setup(9_000, kind="margin", partial_fills=False)
    broker.submit("A", 100, day(0))
    broker.on_bar(day(1), {"A": flat(day(1), "100"), "B": flat(day(1), "100")})
    assert broker.submit("A", -200, day(1)).status is OrderStatus.ACCEPTED
    # After the flip the account has 18,000 - 10,000 = 8,000 left: 81 B (8,100) is too much.
    too_much = broker.submit("B", 81, day(1))
    assert too_much.status is OrderStatus.REJECTED
    assert broker.submit("B", 80, day(1)).status is OrderStatus.ACCEPTED
    broker.on_bar(day(2), {"A": flat(day(2), "100"), "B": flat(day(2), "100")})
    assert (acct.quantity("A"), acct.quantity("B")) == (D(-100), D(80))
    assert acct.buying_power.amount == 0


def test_flip_order_is_one_fill_with_commission_split_pro_rata() -> None:
    # Long 100 A at 100.00; sell 200 with PerShare(0.005, min 1.00): the order owes
    # max(1.00, 200 x 0.005 = 1.00) = 1.00, booked as one zero-crossing fill whose
    # legs share it by quantity: SELL 100 pays 0.50, SELL_SHORT 100 pays 0.50.
    acct, broker = setup(100_000, kind="margin", commission=PerShare("0.005", minimum="1.00"))
    broker.submit("A", 100, day(0))
    broker.on_bar(day(1), {"A": flat(day(1), "100")})
    broker.submit("A", -200, day(1))
    legs = broker.on_bar(day(2), {"A": flat(day(2), "100")})
    assert [(leg.side, leg.quantity, leg.commission) for leg in legs] == [
        (Side.SELL, D(-100), D("0.50")),
        (Side.SELL_SHORT, D(-100), D("0.50")),
    ]
    assert acct.position_lots("A") == -100


def test_flip_opening_leg_cut_by_volume_cap_rest_fills_later() -> None:
    # Long 100, sell 250 with a 10% cap on 2,000 volume = 200 a bar: bar 2 closes 100
    # and opens 100 short (one fill), bar 3 opens the last 50.
    acct, broker = setup(100_000, kind="margin", volume_limit="0.1")
    broker.submit("A", 100, day(0))
    broker.on_bar(day(1), {"A": flat(day(1), "100", volume=2_000)})
    broker.submit("A", -250, day(1))
    legs = broker.on_bar(day(2), {"A": flat(day(2), "100", volume=2_000)})
    assert [(leg.side, leg.quantity) for leg in legs] == [(Side.SELL, D(-100)), (Side.SELL_SHORT, D(-100))]
    legs = broker.on_bar(day(3), {"A": flat(day(3), "100", volume=2_000)})
    assert [(leg.side, leg.quantity) for leg in legs] == [(Side.SELL_SHORT, D(-50))]
    assert acct.position_lots("A") == -150


def test_split_adjusts_working_orders_quantity_and_prices() -> None:
    # A resting buy limit 30 @ 90.00 and a sell stop for a held 10 @ 80.00; a 2-for-1
    # split makes them 60 @ 45.00 and 20 @ 40.00, and the position 20 shares.
    acct, broker = setup(100_000, kind="margin")
    broker.submit("A", 10, day(0))
    broker.on_bar(day(1), {"A": flat(day(1), "100")})
    buy = broker.submit("A", 30, day(1), type="limit", limit="90")
    stop = broker.submit("A", -10, day(1), type="stop", stop="80")
    reserved = acct.reserved
    broker.apply_split("A", 2, day(2))
    assert acct.position_lots("A") == 20
    assert broker.view(buy.order_id).quantity == 60
    assert broker.view(stop.order_id).quantity == -20
    assert acct.reserved == reserved  # a split changes no values
    # The split-adjusted limit fills at 45.00 when the bar trades there.
    legs = broker.on_bar(day(2), {"A": bar(day(2), "50", "50", "45", "46")})
    assert [(leg.quantity, leg.price) for leg in legs] == [(D(60), D("45.00"))]
    assert broker.view(stop.order_id).is_open


def test_order_value_is_sized_at_the_fill_price_with_commission() -> None:
    # All-in 10,000.00 with 0.1% commission; the next open gaps down to 95.37:
    # floor(10,000 / (95.37 x 1.001)) = floor(104.75...) = 104 shares; 104 x 95.37 =
    # 9,918.48 + commission 9.92 = 9,928.40 <= 10,000; 105 would cost 10,023.89.
    acct, broker = setup(10_000, commission="0.001")
    v = broker.submit_value("A", "10000", day(0))
    assert (
        v.status is OrderStatus.ACCEPTED and v.quantity == 99
    )  # estimate at the 100.00 close, with commission
    legs = broker.on_bar(day(1), {"A": flat(day(1), "95.37")})
    assert [(leg.quantity, leg.price, leg.commission) for leg in legs] == [(D(104), D("95.37"), D("9.92"))]
    assert acct.cash.amount == D("71.60")
    assert acct.reserved.amount == 0


def test_order_value_too_small_for_one_share_is_cancelled() -> None:
    acct, broker = setup(10_000)
    v = broker.submit_value("A", "150", day(0))  # one share at the 100.00 close
    broker.on_bar(day(1), {"A": flat(day(1), "151")})  # gaps up: 150 buys nothing
    assert broker.view(v.order_id).status is OrderStatus.CANCELLED
    assert acct.position_lots("A") == 0 and acct.reserved.amount == 0


# -- sessions: market-on-open and market-on-close on intraday bars ------------------------

# Two sessions of one-minute bars (a bar's timestamp is its open time, exchange time):
# 2024-01-03 09:30, 09:31, 09:32 (the last of that date) and 2024-01-04 09:30, 09:31.
# Each bar opens at its open and closes 1.00 higher.
MINUTE_OPENS = [("2024-01-03 09:30", "100"), ("2024-01-03 09:31", "101"), ("2024-01-03 09:32", "102"),
                ("2024-01-04 09:30", "104"), ("2024-01-04 09:31", "105")]  # fmt: skip


def _run_minutes(broker: SimulatedBroker, orders: dict[int, tuple[str, int]]) -> list[tuple[str, Decimal]]:
    """Feed the minute bars, telling the broker which bar closes its session; submit
    ``orders[k] = (type, quantity)`` after bar ``k``; return the fills as (time, price)."""
    out = []
    for k, (stamp, price) in enumerate(MINUTE_OPENS):
        ts = pd.Timestamp(stamp)
        last = k + 1 == len(MINUTE_OPENS) or MINUTE_OPENS[k + 1][0][:10] != stamp[:10]
        b = bar(ts, price, str(int(price) + 1), price, str(int(price) + 1))
        legs = broker.on_bar(ts, {"A": b}, session_close=last)
        out += [(str(leg.timestamp.time())[:5], leg.price) for leg in legs]
        if k in orders:
            otype, qty = orders[k]
            broker.submit("A", qty, ts, type=otype)
    return out


def test_market_on_close_placed_mid_session_fills_at_that_sessions_last_close() -> None:
    _, broker = setup(100_000)
    # Placed after 09:30: 09:31 is not the session's last bar; 09:32 is: its close, 103.00.
    assert _run_minutes(broker, {0: ("market_on_close", 10)}) == [("09:32", D("103.00"))]


def test_market_on_close_placed_after_the_last_bar_fills_at_the_next_sessions_close() -> None:
    _, broker = setup(100_000)
    # Placed after 09:32 of 01-03 (that session is over): the next session closes at
    # 09:31 on 01-04, at 106.00.
    fills = _run_minutes(broker, {2: ("market_on_close", 10)})
    assert fills == [("09:31", D("106.00"))]


def test_market_on_open_placed_mid_session_waits_for_the_next_sessions_first_open() -> None:
    _, broker = setup(100_000)
    # Placed after 09:30 of 01-03: 09:31 and 09:32 do not open a session; 09:30 of
    # 01-04 does, at 104.00. A market order placed alongside fills at 09:31's 101.00.
    fills = _run_minutes(broker, {0: ("market_on_open", 10), 1: ("market", 5)})
    assert fills == [("09:32", D("102.00")), ("09:30", D("104.00"))]


def test_market_on_close_daily_bars_fill_at_the_next_bars_close() -> None:
    _, broker = setup(100_000)
    o = broker.submit("A", 10, day(0), type="market_on_close")
    # No session information: a daily bar is its own session.
    legs = broker.on_bar(day(1), {"A": bar(day(1), "100", "103", "99", "102")})
    assert [leg.price for leg in legs] == [D("102.00")]
    assert broker.view(o.order_id).status is OrderStatus.FILLED


# -- same-bar fills (look-ahead, opt-in) ---------------------------------------------------


def test_same_bar_close_market_order_fills_at_its_own_bars_close() -> None:
    acct, broker = setup(10_000, fill_timing="same_bar_close")
    b1 = bar(day(1), "100", "104", "99", "103")
    broker.on_bar(day(1), {"A": b1})
    o = broker.submit("A", 10, day(1))  # decided after seeing bar 1's close
    legs = broker.fill_at_close(day(1), {"A": b1})
    assert [(leg.timestamp, leg.quantity, leg.price) for leg in legs] == [(day(1), D(10), D("103.00"))]
    assert broker.view(o.order_id).status is OrderStatus.FILLED
    assert acct.cash.amount == D("8970.00")  # 10,000 - 10 x 103.00


def test_same_bar_close_limit_not_met_at_close_works_from_the_next_bar() -> None:
    _, broker = setup(10_000, fill_timing="same_bar_close")
    b1 = bar(day(1), "100", "104", "99", "103")
    broker.on_bar(day(1), {"A": b1})
    o = broker.submit("A", 10, day(1), type="limit", limit="101")
    assert broker.fill_at_close(day(1), {"A": b1}) == []  # 103.00 is above the limit
    legs = broker.on_bar(day(2), {"A": bar(day(2), "102", "102", "100", "100")})
    assert [leg.price for leg in legs] == [D("101.00")]  # touched on bar 2
    assert broker.view(o.order_id).status is OrderStatus.FILLED


def test_same_bar_close_shares_the_bars_volume_cap_with_the_regular_pass() -> None:
    # 10% of 1,000 = 100 shares per bar: an older order takes 70 at the open, the
    # same-bar order gets the 30 left at the close and the rest from the next bar.
    _, broker = setup(100_000, fill_timing="same_bar_close", volume_limit="0.1")
    broker.submit("A", 70, day(0))
    b1 = bar(day(1), "100", "101", "99", "100", volume=1_000)
    broker.on_bar(day(1), {"A": b1})
    o = broker.submit("A", 50, day(1))
    legs = broker.fill_at_close(day(1), {"A": b1})
    assert [leg.quantity for leg in legs] == [D(30)]
    assert broker.view(o.order_id).status is OrderStatus.PARTIALLY_FILLED


def test_fill_at_close_refused_without_same_bar_timing() -> None:
    _, broker = setup(10_000)
    with pytest.raises(InvalidInputError, match="same_bar_close"):
        broker.fill_at_close(day(1), {"A": flat(day(1), "100")})


# -- why an order works less than asked ----------------------------------------------------


def test_order_cut_at_placement_carries_scaled_down_reason_and_accepted_quantity() -> None:
    from solvent.results.result import orders_frame

    acct, broker = setup(10_000)
    o = broker.submit("A", 150, day(0))  # 10,000 at the 100.00 estimate buys 100
    assert o.status is OrderStatus.ACCEPTED and o.quantity == 100
    assert o.reason is ReasonCode.SCALED_DOWN
    assert [(w.reason, w.detail) for w in broker.warnings] == [
        (ReasonCode.SCALED_DOWN, "cut to 100 (affordable part)")
    ]
    broker.on_bar(day(1), {"A": flat(day(1), "100")})
    v = broker.view(o.order_id)
    assert (v.status, v.filled_quantity, v.reason) == (OrderStatus.FILLED, 100, ReasonCode.SCALED_DOWN)
    refused = broker.submit("B", 10, day(1))  # no cash left: refused, nothing accepted
    frame = orders_frame(broker.orders()).set_index("order_id")
    assert frame.loc[o.order_id, ["quantity", "accepted_quantity", "status", "reason"]].tolist() == [
        D(150),
        D(100),
        "filled",
        "SCALED_DOWN",
    ]
    assert frame.loc[refused.order_id, ["accepted_quantity", "reason"]].tolist() == [
        D(0),
        "INSUFFICIENT_BUYING_POWER",
    ]
    assert acct.cash.amount == 0


def test_replay_orders_csv_adds_accepted_quantity_and_scaled_down(tmp_path: Path) -> None:
    from solvent.cli import main

    bars = tmp_path / "bars.csv"
    day_bars = [f"2024-01-0{d},AAA,100,100,100,100,100000" for d in (2, 3)]
    bars.write_text("\n".join(["timestamp,symbol,open,high,low,close,volume", *day_bars]) + "\n")
    orders = tmp_path / "orders.csv"
    orders.write_text("timestamp,symbol,quantity,type,limit,stop,tif,tag\n2024-01-02,AAA,150,market,,,,\n")
    out = tmp_path / "out"
    assert (
        main(["replay", "--bars", str(bars), "--orders", str(orders), "--cash", "10000", "--out", str(out)])
        == 0
    )
    rows = (out / "orders.csv").read_text().splitlines()
    # 10,000 buys 100 of the 150 at 100.00: cut at placement, then filled whole.
    assert rows == [
        "order_id,timestamp,symbol,quantity,type,status,filled_quantity,avg_fill_price,reason,accepted_quantity",
        "1,2024-01-02,AAA,150,market,filled,100,100.00,SCALED_DOWN,100",
    ]


# -- tiered commission by monthly volume ----------------------------------------------


def test_tiered_commission_month_volume_across_symbols_lowers_rate_then_resets() -> None:
    # Tiers: the month's first 100 shares at 0.01/share, the rest at 0.005/share. An
    # order is charged whole at the tier in force when it starts to fill, with the
    # month's volume counted across the account's symbols.
    from solvent.execution.costs import Tiered

    acct, broker = setup(100_000, commission=Tiered([(100, "0.01"), (None, "0.005")]))

    def both(i: int) -> dict[str, Bar]:
        return {"A": flat(day(i), "100"), "B": flat(day(i), "100")}

    broker.submit("A", 80, day(0))
    (f1,) = broker.on_bar(day(1), both(1))
    assert f1.commission == D("0.80")  # month volume 0: 80 x 0.01
    broker.submit("B", 50, day(1))
    (f2,) = broker.on_bar(day(2), both(2))
    assert f2.commission == D("0.50")  # starts at 80 < 100: whole order at 0.01
    broker.submit("A", 10, day(2))
    (f3,) = broker.on_bar(day(3), both(3))
    assert f3.commission == D("0.05")  # starts at 130 >= 100: 10 x 0.005
    broker.on_bar(day(30), both(30))  # 2024-02-01: a new month
    broker.submit("B", 10, day(30))
    (f4,) = broker.on_bar(day(31), both(31))
    assert f4.commission == D("0.10")  # the month's volume restarted at 0
    assert acct.snapshot().commission.amount == D("1.45")
