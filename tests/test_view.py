"""Per-tag views replay splits between the tag's fills."""

from __future__ import annotations

from solvent import Account, Money, make_fill


def test_tag_view_after_split_matches_account() -> None:
    # Buy 100 @ 24.00 (tag t); 2-for-1 split -> 200 @ 12.00 basis 2,400.00;
    # sell 200 @ 13.00 -> realized 200 * 13 - 2,400 = 200.00, flat.
    a = Account(100_000, instruments=["X"])
    a.apply_fill(make_fill("X", 100, 24, "2024-01-02", tag="t"))
    a.split("X", 2, "2024-01-03")
    a.apply_fill(make_fill("X", -200, 13, "2024-01-04", tag="t"))
    v = a.filter("t")
    assert v.quantity("X") == 0
    assert v.realized_pnl == Money.of("200.00") == a.snapshot().realized_pnl
    assert v.cash_flow == Money.of("200.00")


def test_tag_view_split_with_cash_in_lieu_counts_the_cash() -> None:
    # 101 shares @ 10.00 (tag t), marked 11.00, 1-for-2 reverse split: 50 shares kept,
    # half a share paid at 22.00 -> 11.00 cash in lieu; the view's cash flow is
    # -1,010.00 + 11.00 = -999.00, like the account's.
    a = Account(100_000, instruments=["X"])
    a.apply_fill(make_fill("X", 101, 10, "2024-01-02", tag="t"))
    a.mark("X", 11, "2024-01-02 16:00")
    a.split("X", "0.5", "2024-01-03")
    v = a.filter("t")
    assert v.quantity("X") == 50
    assert v.cash_flow == Money.of("-999.00")
    assert a.cash == Money.of("99001.00")
    assert v.realized_pnl == a.snapshot().realized_pnl
