"""Hand-computed scenarios of FIFO positions, driven through the public ``Account`` API.

Every expected figure is worked out in the comments next to it (prices per share,
amounts in dollars; "he" is half-even rounding to the cent, "⌈⌉" rounding up).
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from solvent import (
    Account,
    CashEventKind,
    FillReport,
    Instrument,
    Money,
    PrecisionError,
    Side,
    make_fill,
)


def M(amount: str) -> Money:  # noqa: N802 - reads like a literal in the assertions
    return Money.of(amount)


def D(value: str) -> Decimal:  # noqa: N802
    return Decimal(value)


def fill(
    account: Account,
    symbol: str,
    qty: str | int,
    price: str,
    ts: str,
    fee: str = "0",
    tag: str | None = None,
) -> FillReport:
    return account.apply_fill(make_fill(symbol, qty, price, ts, commission=fee, tag=tag))


# -- FIFO lots ---------------------------------------------------------------------------


def _three_lots() -> Account:
    account = Account(100_000, instruments=["AAPL"])
    fill(account, "AAPL", 10, "100.00", "2024-01-02 10:00", "1.00")  # lot 1: basis 1,000.00
    fill(account, "AAPL", 20, "101.50", "2024-01-02 10:01", "1.00")  # lot 2: basis 2,030.00
    fill(account, "AAPL", 30, "103.25", "2024-01-02 10:02", "1.00")  # lot 3: basis 3,097.50
    return account


def test_three_buys_average_entry_price_is_basis_over_quantity() -> None:
    account = _three_lots()
    pos = account.position("AAPL")
    # (1,000.00 + 2,030.00 + 3,097.50) / 60 = 6,127.50 / 60 = 102.125
    assert pos.quantity == 60
    assert pos.avg_price == D("102.125")
    assert [lot.quantity for lot in pos.lots] == [10, 20, 30]
    assert [lot.entry_price for lot in pos.lots] == [D("100.00"), D("101.50"), D("103.25")]


def test_partial_sell_across_three_lots_consumes_oldest_first() -> None:
    account = _three_lots()
    report = fill(account, "AAPL", -25, "105.10", "2024-01-02 10:03", "1.99")
    # FIFO: all 10 of lot 1, then 15 of lot 2's 20; lot 3 untouched.
    t1, t2 = report.trades
    assert (t1.quantity, t1.entry_price, t1.exit_price) == (10, D("100.00"), D("105.10"))
    assert (t2.quantity, t2.entry_price, t2.exit_price) == (15, D("101.50"), D("105.10"))
    # pnl: 10 × (105.10 − 100.00) = 51.00; 15 × (105.10 − 101.50) = 54.00
    assert t1.pnl == M("51.00")
    assert t2.pnl == M("54.00")
    assert report.realized_pnl == M("105.00")
    # Exit commission 1.99 shared by quantity: 1.99 × 10/25 = 0.796 → 0.80, the rest 1.19.
    # Entry commission: lot 1 all of its 1.00; lot 2 1.00 × 15/20 = 0.75.
    assert t1.commission == M("1.80")  # 1.00 + 0.80
    assert t2.commission == M("1.94")  # 0.75 + 1.19
    assert t1.net_pnl == M("49.20")
    assert t2.net_pnl == M("52.06")
    pos = account.position("AAPL")
    assert [lot.quantity for lot in pos.lots] == [5, 30]
    assert [lot.basis for lot in pos.lots] == [M("507.50"), M("3097.50")]
    # (507.50 + 3,097.50) / 35 = 3,605.00 / 35 = 103
    assert pos.avg_price == D("103")
    assert pos.realized_pnl == M("105.00")


def test_second_sell_uses_lot_remainders_of_entry_commission() -> None:
    account = _three_lots()
    fill(account, "AAPL", -25, "105.10", "2024-01-02 10:03", "1.99")
    report = fill(account, "AAPL", -20, "104.00", "2024-01-02 10:04", "1.00")
    t3, t4 = report.trades
    # 5 left of lot 2 (entry commission left 1.00 − 0.75 = 0.25), then 15 of lot 3.
    assert (t3.quantity, t3.entry_price) == (5, D("101.50"))
    assert (t4.quantity, t4.entry_price) == (15, D("103.25"))
    assert t3.pnl == M("12.50")  # 5 × 2.50
    assert t4.pnl == M("11.25")  # 15 × 0.75
    assert t3.commission == M("0.50")  # 0.25 + 1.00 × 5/20
    assert t4.commission == M("1.25")  # 1.00 × 15/30 + 0.75 (the exit remainder)
    # Commissions allocated to trades so far: 1.80 + 1.94 + 0.50 + 1.25 = 5.49; the
    # 15 shares still open keep lot 3's remaining 0.50; 5.49 + 0.50 = 5.99 paid.
    assert sum((t.commission for t in account.trades), M("0")) == M("5.49")
    assert account.snapshot().commission == M("5.99")
    assert account.quantity("AAPL") == 15


def test_partial_lot_closes_allocate_commission_pro_rata_with_remainder() -> None:
    account = Account(10_000, instruments=["KO"])
    fill(account, "KO", 37, "50.13", "2024-01-02 10:00", "1.00")
    first = fill(account, "KO", -12, "51.07", "2024-01-02 11:00", "0.35").trades[0]
    second = fill(account, "KO", -25, "49.88", "2024-01-02 12:00", "0.70").trades[0]
    # 12 × (51.07 − 50.13) = 11.28; entry 1.00 × 12/37 = 0.324 → 0.32, + exit 0.35
    assert (first.quantity, first.pnl, first.commission, first.net_pnl) == (
        12,
        M("11.28"),
        M("0.67"),
        M("10.61"),
    )
    # 25 × (49.88 − 50.13) = −6.25; entry the lot's remaining 0.68, + exit 0.70
    assert (second.quantity, second.pnl, second.commission, second.net_pnl) == (
        25,
        M("-6.25"),
        M("1.38"),
        M("-7.63"),
    )
    # The allocations add up to every commission paid: 1.00 + 0.35 + 0.70 = 2.05.
    assert first.commission + second.commission == account.snapshot().commission == M("2.05")
    assert account.position_lots("KO") == 0


# -- shorts and flips --------------------------------------------------------------------


def test_short_covered_in_two_parts_realizes_proceeds_minus_cost() -> None:
    account = Account(50_000, instruments=["F"])
    r0 = fill(account, "F", -45, "20.17", "2024-01-02 10:00", "0.45")
    # Proceeds 45 × 20.17 = 907.65 raise cash: 50,000 + 907.65 − 0.45 = 50,907.20
    assert r0.legs[0].side is Side.SELL_SHORT
    assert account.cash == M("50907.20")
    account.mark("F", "19.50", "2024-01-02 11:00")
    # −45 × 19.50 = −877.50 against basis −907.65: unrealized +30.15
    assert account.position("F").unrealized_pnl == M("30.15")
    assert account.nlv == M("50029.70")  # 50,907.20 − 877.50
    t1 = fill(account, "F", 15, "19.03", "2024-01-02 12:00", "0.15").trades[0]
    t2 = fill(account, "F", 30, "21.11", "2024-01-02 13:00", "0.30").trades[0]
    assert t1.quantity == -15
    assert t1.pnl == M("17.10")  # 15 × (20.17 − 19.03)
    assert t1.commission == M("0.30")  # 0.45 × 15/45 + 0.15
    assert t2.quantity == -30
    assert t2.pnl == M("-28.20")  # 30 × (20.17 − 21.11)
    assert t2.commission == M("0.60")  # 0.30 left on the lot + 0.30
    assert [leg.side for leg in account.fills] == [Side.SELL_SHORT, Side.BUY_TO_COVER, Side.BUY_TO_COVER]
    snap = account.snapshot()
    assert snap.realized_pnl == M("-11.10")
    # 50,907.20 − 285.45 − 0.15 − 633.30 − 0.30 = 49,988.00 = 50,000 − 11.10 − 0.90
    assert snap.cash == snap.nlv == M("49988.00")


def test_short_partial_cover_allocates_basis_and_commission_exactly() -> None:
    # Regression: prorate() was called with the short's negative quantities and rounded
    # an exact share up by a cent (112.79 and 1.55 instead of 112.80 and 1.54).
    account = Account(100_000, instruments=["MSFT"])
    fill(account, "MSFT", -37, "402.19", "2024-03-04 09:45", "1.00")
    trade = fill(account, "MSFT", 20, "396.55", "2024-03-04 10:05", "1.00").trades[0]
    # basis −14,881.03 × 20/37 = −8,043.80 exactly; 8,043.80 − 20 × 396.55 = 112.80
    assert trade.pnl == M("112.80")
    assert trade.pnl_mtm == M("112.80")
    assert trade.commission == M("1.54")  # 1.00 × 20/37 = 0.5405 → 0.54, + 1.00
    (lot,) = account.position("MSFT").lots
    assert lot.quantity == -17
    assert lot.basis == lot.mark_basis == M("-6837.23")  # −14,881.03 + 8,043.80
    assert lot.entry_price == D("402.19")  # −6,837.23 / −17


def test_flip_long_to_short_and_back_records_split_legs() -> None:
    account = Account(10_000, instruments=["T"])
    fill(account, "T", 30, "10.00", "2024-01-02 10:00", "0.30")  # cash 9,699.70
    down = fill(account, "T", -80, "11.00", "2024-01-02 11:00", "0.60")
    # Closing leg −30, opening leg −50; commission 0.60 × 30/80 = 0.225 → 0.22
    # (a tie, half-even; half-up would give 0.23), the opening leg the rest 0.38.
    assert [(leg.side, leg.quantity, leg.commission) for leg in down.legs] == [
        (Side.SELL, D("-30"), D("0.22")),
        (Side.SELL_SHORT, D("-50"), D("0.38")),
    ]
    (t_long,) = down.trades
    assert (t_long.quantity, t_long.pnl, t_long.commission) == (30, M("30.00"), M("0.52"))  # 0.30+0.22
    # Cash 9,699.70 + 330.00 − 0.22 + 550.00 − 0.38 = 10,579.10; margin only on the short 550.00
    assert account.cash == M("10579.10")
    assert account.quantity("T") == -50
    assert account.initial_margin == M("275.00")  # 550.00 × 50%
    assert account.maintenance_margin == M("165.00")  # 550.00 × 30%
    up = fill(account, "T", 70, "10.50", "2024-01-02 12:00", "0.70")
    # Covering leg +50 (0.70 × 50/70 = 0.50), opening leg +20 (0.20).
    assert [(leg.side, leg.quantity, leg.commission) for leg in up.legs] == [
        (Side.BUY_TO_COVER, D("50"), D("0.50")),
        (Side.BUY, D("20"), D("0.20")),
    ]
    (t_short,) = up.trades
    # 50 × (11.00 − 10.50) = 25.00; commission 0.38 (entry) + 0.50 (exit)
    assert (t_short.quantity, t_short.pnl, t_short.commission) == (-50, M("25.00"), M("0.88"))
    assert [leg.side for leg in account.fills] == [
        Side.BUY,
        Side.SELL,
        Side.SELL_SHORT,
        Side.BUY_TO_COVER,
        Side.BUY,
    ]
    snap = account.snapshot()
    # Cash 10,579.10 − 525.00 − 0.50 − 210.00 − 0.20 = 9,843.40; NLV + 20 × 10.50
    assert snap.cash == M("9843.40")
    assert snap.nlv == M("10053.40")
    assert snap.realized_pnl == M("55.00")
    assert snap.commission == M("1.60")
    assert account.position("T").avg_price == D("10.50")


# -- mark-to-market basis ----------------------------------------------------------------


def test_lot_held_overnight_uses_previous_close_as_mtm_basis() -> None:
    account = Account(100_000, instruments=["AAPL"])
    fill(account, "AAPL", 100, "50.00", "2024-01-02 10:00", "1.00")
    account.mark("AAPL", "52.30", "2024-01-02 16:00")  # the session's close
    sell = fill(account, "AAPL", -40, "53.10", "2024-01-03 10:00", "0.40")
    (trade,) = sell.trades
    assert trade.pnl == M("124.00")  # 40 × (53.10 − 50.00)
    assert trade.pnl_mtm == M("32.00")  # 40 × (53.10 − 52.30)
    snap = account.snapshot()
    # The roll settles 100 × (52.30 − 50.00) = 230.00 into realized_mtm, then + 32.00.
    assert snap.realized_pnl == M("124.00")
    assert snap.realized_pnl_mtm == M("262.00")
    assert snap.unrealized_pnl == M("186.00")  # 60 × (53.10 − 50.00)
    assert snap.unrealized_pnl_mtm == M("48.00")  # 60 × (53.10 − 52.30)
    (lot,) = account.position("AAPL").lots
    assert lot.basis == M("3000.00")  # 60 × 50.00
    assert lot.mark_basis == M("3138.00")  # 60 × 52.30


def test_intraday_lot_keeps_entry_as_mtm_basis_next_to_overnight_lot() -> None:
    account = Account(100_000, instruments=["AAPL"])
    fill(account, "AAPL", 100, "50.00", "2024-01-02 10:00")
    account.mark("AAPL", "52.30", "2024-01-02 16:00")
    fill(account, "AAPL", -40, "53.10", "2024-01-03 10:00")
    fill(account, "AAPL", 10, "53.00", "2024-01-03 11:00")  # bought today: MTM basis = entry
    snap = account.snapshot()
    # Marked at 53.00: entry 60 × 3.00 + 0 = 180.00; MTM 60 × 0.70 + 0 = 42.00
    assert snap.unrealized_pnl == M("180.00")
    assert snap.unrealized_pnl_mtm == M("42.00")
    assert [lot.mark_basis for lot in account.position("AAPL").lots] == [M("3138.00"), M("530.00")]
    report = fill(account, "AAPL", -70, "52.90", "2024-01-03 15:00")
    old, new = report.trades
    assert (old.quantity, old.pnl, old.pnl_mtm) == (60, M("174.00"), M("36.00"))  # 60×2.90, 60×0.60
    assert (new.quantity, new.pnl, new.pnl_mtm) == (10, M("-1.00"), M("-1.00"))  # 10 × −0.10 both
    snap = account.snapshot()
    # Flat: both bases agree. 124 + 174 − 1 = 297 = 230 + 32 + 36 − 1.
    assert snap.realized_pnl == snap.realized_pnl_mtm == M("297.00")
    assert snap.unrealized_pnl == snap.unrealized_pnl_mtm == M("0.00")


def test_short_held_overnight_mtm_basis_is_previous_close() -> None:
    account = Account(100_000, instruments=["XOM"])
    fill(account, "XOM", -30, "110.10", "2024-01-02 10:00")
    account.mark("XOM", "108.35", "2024-01-02 16:00")
    (trade,) = fill(account, "XOM", 30, "109.00", "2024-01-03 10:00").trades
    assert trade.pnl == M("33.00")  # 30 × (110.10 − 109.00) = 30 × 1.10
    assert trade.pnl_mtm == M("-19.50")  # 30 × (108.35 − 109.00)
    snap = account.snapshot()
    # realized_mtm = settled at the roll 30 × (110.10 − 108.35) = 52.50, then −19.50 = 33.00
    assert snap.realized_pnl == snap.realized_pnl_mtm == M("33.00")


# -- fractional lots ---------------------------------------------------------------------


def test_fractional_lots_round_each_notional_half_even() -> None:
    xyz = Instrument("XYZ", lot_size=D("0.001"))
    account = Account(100, instruments=[xyz])
    fill(account, "XYZ", "0.5", "1.01", "2024-01-02 10:00")
    # 0.5 × 1.01 = 0.505: a tie, half-even → 0.50 (half-up would take 0.51)
    assert account.cash == M("99.50")
    fill(account, "XYZ", "1.5", "1.03", "2024-01-02 10:01")
    # 1.5 × 1.03 = 1.545 → 1.54 (even); cash 99.50 − 1.54
    assert account.cash == M("97.96")
    (trade,) = fill(account, "XYZ", "-0.3", "1.05", "2024-01-02 10:02").trades
    # proceeds 0.3 × 1.05 = 0.315 → 0.32 (even); basis 0.50 × 0.3/0.5 = 0.30
    assert trade.quantity == D("0.3")
    assert trade.pnl == M("0.02")
    snap = account.snapshot()
    assert snap.cash == M("98.28")
    # 1.7 held at 1.05 = 1.785 → 1.78 (even); NLV 98.28 + 1.78
    assert snap.long_capital == M("1.78")
    assert snap.nlv == M("100.06")
    assert snap.initial_margin == M("0.89")  # ⌈1.78 × 50%⌉
    # basis left 0.20 + 1.54 = 1.74; unrealized 1.78 − 1.74 = 0.04; 0.02 + 0.04 = 100.06 − 100
    assert snap.unrealized_pnl == M("0.04")
    assert [lot.quantity for lot in snap.positions[0].lots] == [D("0.2"), D("1.5")]


def test_fractional_quantity_off_lot_grid_raises_precision_error() -> None:
    account = Account(100, instruments=[Instrument("XYZ", lot_size=D("0.001"))])
    with pytest.raises(PrecisionError, match=r"XYZ\.fill\.quantity"):
        fill(account, "XYZ", "0.0005", "1.01", "2024-01-02 10:00")
    assert account.cash == M("100.00")


# -- futures -----------------------------------------------------------------------------


def _es() -> Instrument:
    return Instrument(
        "ES",
        asset_class="future",  # type: ignore[arg-type]
        tick_size=D("0.25"),
        multiplier=D("50"),
        initial_margin_fixed=D("12000"),
        maintenance_margin_fixed=D("11000"),
    )


def test_future_fixed_margins_are_per_contract_long_and_short() -> None:
    account = Account(100_000, instruments=[_es()])
    fill(account, "ES", 2, "4500.25", "2024-01-02 10:00", "4.20")
    snap = account.snapshot()
    # Notional 2 × 4,500.25 × 50 = 450,025.00, but a future costs nothing to open:
    # cash moves by the commission only, 100,000 − 4.20
    assert snap.cash == M("99995.80")
    assert snap.nlv == M("99995.80")
    assert snap.initial_margin == M("24000.00")  # 2 × 12,000
    assert snap.maintenance_margin == M("22000.00")  # 2 × 11,000
    assert snap.buying_power == M("151991.60")  # (99,995.80 − 24,000) × 2
    # A mark from bar data snaps half-even to the 0.25 tick: 4498.875 = 17,995.5 ticks → 17,996
    account.mark("ES", "4498.875", "2024-01-02 11:00")
    snap = account.snapshot()
    assert snap.positions[0].mark == D("4499.00")
    assert snap.nlv == M("99870.80")  # 99,995.80 + 2 × (4,499 − 4,500.25) × 50 = −125
    assert snap.initial_margin == M("24000.00")  # fixed: does not move with price
    assert snap.buying_power == M("151741.60")  # (99,870.80 − 24,000) × 2
    (trade,) = fill(account, "ES", -1, "4503.50", "2024-01-02 12:00", "2.10").trades
    assert trade.pnl == M("162.50")  # (4,503.50 − 4,500.25) × 50
    snap = account.snapshot()
    assert snap.cash == M("100156.20")  # 99,995.80 + realized 162.50 − 2.10
    assert snap.nlv == M("100318.70")  # + unrealized 1 × (4,503.50 − 4,500.25) × 50
    assert snap.initial_margin == M("12000.00")
    assert snap.buying_power == M("176637.40")  # (100,318.70 − 12,000) × 2
    flip = fill(account, "ES", -2, "4502.75", "2024-01-02 13:00", "4.20")
    assert [(leg.side, leg.commission) for leg in flip.legs] == [
        (Side.SELL, D("2.10")),
        (Side.SELL_SHORT, D("2.10")),
    ]
    assert flip.realized_pnl == M("125.00")  # (4,502.75 − 4,500.25) × 50
    snap = account.snapshot()
    assert snap.cash == M("100277.00")  # 100,156.20 + realized 125.00 − 4.20
    assert snap.nlv == M("100277.00")  # the new short is at its entry: = 100,000 + 287.50 − 10.50
    assert snap.initial_margin == M("12000.00")  # one short contract
    assert snap.maintenance_margin == M("11000.00")
    assert snap.buying_power == M("176554.00")


def test_future_price_off_tick_raises_precision_error() -> None:
    account = Account(100_000, instruments=[_es()])
    with pytest.raises(PrecisionError, match=r"ES\.fill\.price"):
        fill(account, "ES", 1, "4500.10", "2024-01-02 10:00")
    assert account.position_lots("ES") == 0


# -- per-tag views -----------------------------------------------------------------------


def test_two_tags_in_one_account_have_separate_books_and_cash_flows_add_up() -> None:
    account = Account(100_000, instruments=["AAPL", "MSFT"])
    reports = [
        fill(account, "AAPL", 100, "10.00", "2024-01-02 10:00", "1.00", tag="mom"),
        fill(account, "AAPL", 50, "10.20", "2024-01-02 10:01", "0.50", tag="rev"),
        fill(account, "MSFT", -10, "300.00", "2024-01-02 10:02", "1.00", tag="rev"),
        fill(account, "AAPL", -60, "10.50", "2024-01-02 10:03", "0.60", tag="mom"),
        fill(account, "AAPL", -50, "10.40", "2024-01-02 10:04", "0.50", tag="rev"),
    ]
    mom, rev = account.filter("mom"), account.filter("rev")
    assert (mom.quantity("AAPL"), mom.quantity("MSFT")) == (40, 0)
    assert (rev.quantity("AAPL"), rev.quantity("MSFT")) == (0, -10)
    assert mom.realized_pnl == M("30.00")  # 60 × (10.50 − 10.00), its own lot
    assert rev.realized_pnl == M("10.00")  # 50 × (10.40 − 10.20), its own lot
    assert mom.unrealized_pnl == M("16.00")  # 40 × (10.40 − 10.00) at the account's mark
    assert rev.unrealized_pnl == M("0.00")  # MSFT still at 300.00
    assert mom.commission == M("1.60")
    assert rev.commission == M("2.00")
    assert rev.short_capital == M("3000.00")
    assert mom.long_capital == M("416.00")  # 40 × 10.40
    # mom: −1,000.00 − 1.00 + 630.00 − 0.60 = −371.60
    # rev: −510.00 − 0.50 + 3,000.00 − 1.00 + 520.00 − 0.50 = 3,008.00
    assert mom.cash_flow == M("-371.60")
    assert rev.cash_flow == M("3008.00")
    fills_cash = sum((r.cash_change for r in reports), M("0"))
    assert mom.cash_flow + rev.cash_flow == fills_cash == account.cash - M("100000") == M("2636.40")
    # The account matches FIFO across tags: rev's sell of 50 closes mom's 40 remaining
    # (at 10.00) and 10 of rev's lot, so its realized split differs from the views'
    # (30.00 + 40 × 0.40 + 10 × 0.20 = 48.00), but the totals agree: 48 + 8 = 30 + 16 + 10.
    snap = account.snapshot()
    assert snap.realized_pnl == M("48.00")
    assert snap.unrealized_pnl == M("8.00")  # 40 × (10.40 − 10.20)
    views_total = mom.realized_pnl + mom.unrealized_pnl + rev.realized_pnl + rev.unrealized_pnl
    assert snap.realized_pnl + snap.unrealized_pnl == views_total == M("56.00")


# -- splits ------------------------------------------------------------------------------


def _pre_split_account() -> Account:
    account = Account(10_000, instruments=["SPLT"])
    fill(account, "SPLT", 60, "30.00", "2024-01-02 10:00")  # basis 1,800.00
    fill(account, "SPLT", 41, "31.50", "2024-01-02 10:01")  # basis 1,291.50
    account.mark("SPLT", "33.01", "2024-01-02 16:00")
    return account  # cash 10,000 − 3,091.50 = 6,908.50; NLV 6,908.50 + 101 × 33.01 = 10,242.51


def test_three_for_two_split_pays_cash_in_lieu_of_half_share() -> None:
    account = _pre_split_account()
    event = account.split("SPLT", "1.5", "2024-01-03 09:00")
    # 101 × 1.5 = 151.5 shares: 151 kept, 0.5 paid in cash at the new mark.
    # New mark 33.01 / 1.5 = 22.00667 → 22.01; 0.5 × 22.01 = 11.005 → 11.00 (half-even).
    assert event is not None
    assert event.kind is CashEventKind.SPLIT_CASH
    assert event.amount == M("11.00")
    snap = account.snapshot()
    assert account.quantity("SPLT") == 151
    assert snap.positions[0].mark == D("22.01")
    assert snap.cash == M("6919.50")  # 6,908.50 + 11.00
    assert snap.long_capital == M("3323.51")  # 151 × 22.01
    # NLV 10,243.01: 0.50 above 10,242.51 only because the mark snapped to the tick.
    assert snap.nlv == M("10243.01")
    assert snap.initial_margin == M("1661.76")  # ⌈3,323.51 × 50% = 1,661.755⌉
    # Basis leaving with the half share: 3,091.50 × 0.5/151.5 = 10.2030 → 10.20;
    # realized 11.00 − 10.20 = 0.80, taken from the newest lot.
    assert snap.realized_pnl == M("0.80")
    lots = snap.positions[0].lots
    assert [lot.quantity for lot in lots] == [90, 61]  # 60 × 1.5; 41 × 1.5 = 61.5 → 61
    assert [lot.basis for lot in lots] == [M("1800.00"), M("1281.30")]
    assert lots[0].entry_price == D("20.00")  # 1,800.00 / 90 = 30.00 / 1.5
    # Identity: realized 0.80 + unrealized (3,323.51 − 3,081.30 = 242.21) = NLV − 10,000
    assert snap.unrealized_pnl == M("242.21")


def test_trade_after_split_reports_split_adjusted_entry_price() -> None:
    account = _pre_split_account()
    account.split("SPLT", "1.5", "2024-01-03 09:00")
    first = fill(account, "SPLT", -90, "22.50", "2024-01-03 10:00").trades[0]
    assert first.pnl == M("225.00")  # 90 × 22.50 − 1,800.00
    # 90 shares bought (as 60) at 30.00 each are 90 at 20.00: (22.50 − 20.00) × 90 = 225.00
    assert first.entry_price == D("20.00")


def test_reverse_split_one_for_four_pays_cash_for_half_share() -> None:
    account = Account(1_000, instruments=["PENNY"])
    fill(account, "PENNY", 150, "2.03", "2024-01-02 10:00")  # basis 304.50, cash 695.50
    account.mark("PENNY", "2.05", "2024-01-02 16:00")  # NLV 695.50 + 307.50 = 1,003.00
    event = account.split("PENNY", "0.25", "2024-01-03 09:00")
    # 150 / 4 = 37.5: 37 kept; mark 2.05 × 4 = 8.20; cash in lieu 0.5 × 8.20 = 4.10
    assert event is not None
    assert event.amount == M("4.10")
    pos = account.position("PENNY")
    assert pos.quantity == 37
    assert pos.mark == D("8.20")
    # basis out 304.50 × 0.5/37.5 = 4.06; realized 4.10 − 4.06 = 0.04; basis left 300.44
    assert pos.realized_pnl == M("0.04")
    assert pos.lots[0].basis == M("300.44")
    assert pos.avg_price == D("8.12")  # 300.44 / 37 = 2.03 × 4
    snap = account.snapshot()
    assert snap.cash == M("699.60")  # 695.50 + 4.10
    assert snap.nlv == M("1003.00")  # 699.60 + 37 × 8.20 = 303.40: no value moved
    assert snap.initial_margin == M("151.70")  # 303.40 × 50%


# -- capital used ------------------------------------------------------------------------


def test_capital_used_high_water_mark_keeps_its_timestamp() -> None:
    account = Account(100_000, instruments=["AAPL", "MSFT"])
    fill(account, "AAPL", 100, "50.00", "2024-01-02 10:00")
    assert account.snapshot().capital_used == M("5000.00")
    fill(account, "MSFT", -20, "100.00", "2024-01-02 10:30")
    # Capital used is gross: 5,000 long + 2,000 short.
    snap = account.snapshot()
    assert (snap.long_capital, snap.short_capital, snap.capital_used) == (
        M("5000.00"),
        M("2000.00"),
        M("7000.00"),
    )
    assert snap.max_capital_used_at == pd.Timestamp("2024-01-02 10:30")
    account.mark("AAPL", "52.00", "2024-01-02 11:00")  # 5,200 + 2,000 = 7,200: new high
    account.mark("AAPL", "49.00", "2024-01-02 12:00")  # 4,900 + 2,000 = 6,900
    fill(account, "AAPL", -100, "49.00", "2024-01-02 13:00")  # 0 + 2,000
    snap = account.snapshot()
    assert snap.capital_used == M("2000.00")
    assert snap.max_capital_used == M("7200.00")
    assert snap.max_capital_used_at == pd.Timestamp("2024-01-02 11:00")
