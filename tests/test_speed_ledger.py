"""The ledger's fast paths: integer bookings and lazily applied session rolls.

``Account.book`` takes a fill already on the integer grid (the engines' path) and must
leave exactly the ledger ``apply_fill`` leaves for the same fill in decimals. A session
roll re-bases each position on its mark when the position is next touched, not at the
roll: the figures must be those of re-basing every position at every roll.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pandas as pd
import pytest

from solvent import Account, AccountKind, Instrument, InvalidInputError, Money, UnknownSymbolError, make_fill
from solvent.accounting import rules


def M(amount: str) -> Money:  # noqa: N802 - reads like a literal in the assertions
    return Money.of(amount)


INSTRUMENTS = [
    Instrument("A"),
    Instrument("F", lot_size=Decimal("0.1"), multiplier=Decimal("3")),
    Instrument("S", borrow_fee_rate=Decimal("0.05")),
]


@pytest.mark.parametrize("seed", range(6))
def test_book_from_integers_leaves_the_ledger_apply_fill_leaves(seed: int) -> None:
    rng = random.Random(seed)
    decimal_path = Account(1_000_000, instruments=INSTRUMENTS)
    integer_path = Account(1_000_000, instruments=INSTRUMENTS)
    ts = pd.Timestamp("2024-03-01 09:30")
    for _ in range(120):
        ts += pd.Timedelta(minutes=rng.choice([1, 7, 60 * 20]))  # some fills a session later
        inst = rng.choice(INSTRUMENTS)
        lots = rng.choice([-1, 1]) * rng.randint(1, 300)  # flips, shorts, partial closes
        ticks = rng.randint(9_000, 11_000)
        commission, slippage = rng.randint(0, 500), rng.randint(0, 90)
        f = make_fill(
            inst.symbol,
            inst.quantity(lots),
            inst.price(ticks),
            ts,
            commission=Decimal(commission) / 100,
            slippage=Decimal(slippage) / 100,
            order_id=f"o{_}",
            tag=rng.choice([None, "x"]),
        )
        report = decimal_path.apply_fill(f)
        legs = integer_path.book(inst.symbol, lots, ticks, commission, slippage, ts, f.order_id, f.tag)
        assert legs == report.legs
        if rng.random() < 0.3:
            mark = {s.symbol: rng.randint(9_000, 11_000) for s in INSTRUMENTS}
            decimal_path.mark_ticks(mark, ts)
            integer_path.mark_ticks(mark, ts)
    assert integer_path.snapshot() == decimal_path.snapshot()
    assert integer_path.trades == decimal_path.trades
    assert integer_path.fills == decimal_path.fills
    assert integer_path.cash_events == decimal_path.cash_events  # borrow fees on S


def test_book_refuses_bad_integers_with_typed_errors() -> None:
    acct = Account(10_000, instruments=["A"])
    ts = pd.Timestamp("2024-03-01 10:00")
    with pytest.raises(UnknownSymbolError):
        acct.book("Z", 1, 100, 0, 0, ts)
    with pytest.raises(InvalidInputError, match=r"A\.fill\.quantity"):
        acct.book("A", 0, 100, 0, 0, ts)
    with pytest.raises(InvalidInputError, match=r"A\.fill\.price"):
        acct.book("A", 1, 0, 0, 0, ts)
    with pytest.raises(InvalidInputError, match=r"A\.fill\.commission"):
        acct.book("A", 1, 100, -1, 0, ts)
    acct.book("A", 1, 100, 0, 0, ts)
    with pytest.raises(InvalidInputError, match="earlier"):
        acct.book("A", 1, 100, 0, 0, ts - pd.Timedelta(minutes=1))
    assert acct.quantity("A") == 1  # the refused bookings changed nothing


def test_position_untouched_over_sessions_rebased_at_the_close_before_the_last_roll() -> None:
    acct = Account(10_000, kind="cash", instruments=["A", "B"])
    acct.apply_fill(make_fill("A", 10, "100.00", "2024-03-04 10:00"))  # basis 1,000.00
    acct.apply_fill(make_fill("B", 5, "50.00", "2024-03-04 10:00"))  # basis 250.00
    acct.mark_prices({"A": "105.00", "B": "52.00"}, "2024-03-04 16:00")
    # Day 2: only B is marked. The roll re-bases A at 105.00 (1,050.00) and B at 52.00
    # (260.00): A's 50.00 and B's 10.00 move into realized mark-to-market P&L.
    acct.mark("B", "51.00", "2024-03-05 16:00")
    # Day 3: the roll re-bases B at 51.00 (255.00, -5.00); A is still at 105.00.
    acct.mark("B", "53.00", "2024-03-06 10:30")
    report = acct.apply_fill(make_fill("A", -10, "110.00", "2024-03-06 11:00"))
    (trade,) = report.trades
    assert trade.pnl == M("100.00")  # 10 x (110.00 - 100.00)
    assert trade.pnl_mtm == M("50.00")  # 10 x (110.00 - 105.00): from day 3's basis
    b = acct.position("B")
    assert b.unrealized_pnl == M("15.00")  # 265.00 - 250.00
    assert b.unrealized_pnl_mtm == M("10.00")  # 265.00 - 255.00
    snap = acct.snapshot()
    assert snap.realized_pnl == M("100.00")
    # A: 50.00 (day-2 roll) + 0.00 (day 3) + 50.00 (the sale); B: 10.00 - 5.00.
    assert snap.realized_pnl_mtm == M("105.00")
    assert snap.realized_pnl_mtm + snap.unrealized_pnl_mtm == snap.realized_pnl + snap.unrealized_pnl


def _remarked_totals(acct: Account) -> tuple[int, int, int, int]:
    """Re-mark every position from scratch: (long value, short value, IM, MM)."""
    long_value = short_value = im = mm = 0
    for pos in acct._positions.values():
        inst = pos.instrument
        value = rules.notional_minor(pos.mark_ticks, pos.qty, inst.k_num, inst.k_den)
        assert pos.market_value == value, pos.instrument.symbol
        if value >= 0:
            long_value += value
        else:
            short_value += value
        if pos.qty > 0 and acct.kind is AccountKind.CASH:
            p_im = p_mm = value
        else:
            p_im, p_mm = acct._position_margin(pos)
        assert (pos.im, pos.mm) == (p_im, p_mm), pos.instrument.symbol
        im += p_im
        mm += p_mm
    return long_value, short_value, im, mm


@pytest.mark.parametrize("kind", ["margin", "cash"])
@pytest.mark.parametrize("seed", range(4))
def test_book_exact_with_the_fill_notional_leaves_the_ledger_book_leaves(kind: str, seed: int) -> None:
    # The broker passes each fill's signed notional (priced once, as its absolute value,
    # then signed like the fill) so the ledger does not price it again, nor the position
    # after a fill that left it flat or made all of it. F's multiplier makes the notional
    # round (k_den 10): ties included, signing the absolute value must give the same.
    rng = random.Random(100 + seed)
    priced = Account(1_000_000, kind=kind, instruments=INSTRUMENTS)
    plain = Account(1_000_000, kind=kind, instruments=INSTRUMENTS)
    ts = pd.Timestamp("2024-03-01 09:30")
    for i in range(150):
        ts += pd.Timedelta(minutes=rng.choice([1, 7, 60 * 20]))
        inst = rng.choice(INSTRUMENTS)
        held = priced.position_lots(inst.symbol)
        # Closes to flat and flips often: the fills whose new value is known.
        lots = rng.choice([-held or 1, -2 * held or -1, rng.choice([-1, 1]) * rng.randint(1, 301)])
        ticks = rng.randint(9_000, 11_000)
        commission, slippage = rng.randint(0, 500), rng.randint(0, 90)
        n = abs(rules.notional_minor(ticks, lots, inst.k_num, inst.k_den))
        with priced.lock:
            legs = priced._book_exact(
                inst, lots, ticks, commission, slippage, ts, f"o{i}", None, n if lots > 0 else -n
            )
        assert legs == plain.book(inst.symbol, lots, ticks, commission, slippage, ts, f"o{i}", None)
        assert _remarked_totals(priced) == (priced._long_value, priced._short_value, priced._im, priced._mm)
        if rng.random() < 0.3:
            mark = {s.symbol: rng.randint(9_000, 11_000) for s in INSTRUMENTS}
            priced.mark_ticks(mark, ts)
            plain.mark_ticks(mark, ts)
    assert priced.snapshot() == plain.snapshot()
    assert priced.trades == plain.trades


def test_exit_across_lots_shares_costs_whole_then_pro_rata() -> None:
    # Lots: 100 @ 10.00 (commission 1.00) and 50 @ 11.00 (commission 0.50). Selling 120
    # @ 12.00 (commission 3.00) takes the first lot whole (its basis and commission
    # entire) and 20 of the second (two fifths of them); the exit's notional and
    # commission are shared 100:20 by the cumulative rounding.
    acct = Account(100_000, instruments=["A"])
    acct.apply_fill(make_fill("A", 100, "10.00", "2024-03-04 10:00", commission="1.00"))
    acct.apply_fill(make_fill("A", 50, "11.00", "2024-03-04 10:05", commission="0.50"))
    first, second = acct.apply_fill(
        make_fill("A", -120, "12.00", "2024-03-04 10:10", commission="3.00")
    ).trades
    assert (first.quantity, first.pnl, first.commission) == (100, M("200.00"), M("3.50"))  # 1.00 + 2.50
    assert (second.quantity, second.pnl, second.commission) == (20, M("20.00"), M("0.70"))  # 0.20 + 0.50
    # The rest of the second lot: 30 of it, closed whole by a leg of exactly 30.
    (last,) = acct.apply_fill(make_fill("A", -30, "10.00", "2024-03-04 10:15", commission="0.30")).trades
    assert (last.quantity, last.pnl, last.commission) == (30, M("-30.00"), M("0.60"))  # 0.30 + 0.30
    assert acct.quantity("A") == 0
    assert acct.snapshot().realized_pnl == M("190.00")
