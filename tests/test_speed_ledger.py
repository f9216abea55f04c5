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

from solvent import Account, Instrument, InvalidInputError, Money, UnknownSymbolError, make_fill


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
