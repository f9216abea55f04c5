"""The fill-time check's shortcut (``gk.fill_covered``): it never lets through a fill the full check refuses.

At an opening fill the broker first prices the fill as it books it and compares that
with what the order holds plus what the account has free; only when that does not show
the fill funded does the full check (``_affordable_at_fill``) run. These tests pin the
rule by hand, show why "the reservation covers the fill" alone would not be enough, and
drive the broker through random cash and margin scenarios asking the full check about
every fill the shortcut let through, and comparing whole runs with the shortcut off.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _bars import day, flat
from solvent import Account, ReasonCode
from solvent.accounting import rules
from solvent.execution import gatekeeper as gk
from solvent.execution.broker import SimulatedBroker
from solvent.execution.broker_state import _Working
from solvent.execution.costs import BasisPoints, FixedBps, FixedPerOrder, PercentOfValue, PerShare
from solvent.model.bar import Bar
from solvent.model.orders import OrderStatus


class Probe(SimulatedBroker):
    """A broker that asks the full check about every fill the shortcut lets through."""

    covered = 0

    def _covered_costs(self, w: _Working, want: int, price: int) -> tuple[int, int] | None:
        costs = super()._covered_costs(w, want, price)
        if costs is not None:
            self.covered += 1
            # ``quiet``: the full check only measures (no warning, note or error).
            assert self._affordable_at_fill(w, want, price, day(0), quiet=True) == want
            # The costs handed to ``_book`` are those it would price itself.
            inst = w.inst
            notional = abs(rules.notional_minor(price, want, inst.k_num, inst.k_den))
            total = self.commission_model.order_commission(
                inst, abs(w.filled) + want, w.notional + notional, w.month_lots
            )
            assert costs == (notional, max(0, total - w.commission))
        return costs


class Plain(SimulatedBroker):
    """A broker without the shortcut: every opening fill runs the full check."""

    def _covered_costs(self, w: _Working, want: int, price: int) -> tuple[int, int] | None:
        return None


# -- the rule by hand --------------------------------------------------------------


def test_fill_covered_within_own_and_free_true() -> None:
    assert gk.fill_covered(need=990_990, own=990_990, free=0)
    assert gk.fill_covered(need=1_000_000, own=990_990, free=9_010)  # the estimate was low


def test_fill_covered_own_covers_but_free_negative_false() -> None:
    # Cash fell 990 below the reservations: the order's own reservation is not all there.
    assert not gk.fill_covered(need=990_990, own=990_990, free=-990)
    assert gk.fill_covered(need=990_000, own=990_990, free=-990)


def _cash_broker(broker: type[SimulatedBroker] = Probe, **kw: Any) -> SimulatedBroker:
    account = Account(10_000, kind="cash", instruments=["AAA"], start=day(0))
    b = broker(account, commission=PercentOfValue("0.001"), volume_limit=None, **kw)
    b.on_bar(day(0), {"AAA": flat(day(0), "100.00")})
    return b


def test_reserved_buy_at_estimate_takes_shortcut_and_fills_to_the_cent() -> None:
    b = _cash_broker()
    assert isinstance(b, Probe)
    o = b.submit("AAA", 99, day(0))
    # 99 x $100.00 + 0.1 % = $9,909.90 held for the order.
    assert b.account.reserved_for(o.order_id).minor == 990_990
    b.on_bar(day(1), {"AAA": flat(day(1), "100.00")})
    assert b.covered == 1
    assert b.view(o.order_id).status is OrderStatus.FILLED
    assert b.account.cash.minor == 1_000_000 - 990_990  # $90.10 left
    assert b.account.reserved.minor == 0


def test_fee_after_reservation_falls_back_and_fills_what_cash_pays() -> None:
    # The reservation covers the fill (need $9,909.90 = own) but a $100 fee took cash to
    # $9,900.00: the full check cuts the fill to 98 shares ($9,800 + $9.80 = $9,809.80).
    # Trusting the reservation alone would have left the cash account at -$9.90.
    b = _cash_broker()
    assert isinstance(b, Probe)
    o = b.submit("AAA", 99, day(0))
    b.account.charge_fee(100, day(0))
    b.on_bar(day(1), {"AAA": flat(day(1), "100.00")})
    assert b.covered == 0
    v = b.view(o.order_id)
    assert v.status is OrderStatus.PARTIALLY_FILLED
    assert v.filled_quantity == Decimal(98)
    assert b.account.cash.minor == 990_000 - 980_980  # $90.20
    assert b.account.cash.minor >= 0


def test_fill_above_estimate_uses_free_cash_through_shortcut() -> None:
    # Reserved at $100.00 ($9,909.90 for 99); the fill opens at $100.05: $9,904.95 +
    # $9.90 fee = $9,914.85, more than the reservation but within own + free ($10,000).
    b = _cash_broker()
    assert isinstance(b, Probe)
    o = b.submit("AAA", 99, day(0))
    b.on_bar(day(1), {"AAA": flat(day(1), "100.05")})
    assert b.covered == 1
    assert b.view(o.order_id).status is OrderStatus.FILLED
    assert b.account.cash.minor == 1_000_000 - 990_495 - 990


def test_unaffordable_fill_still_refused_at_fill_with_reason() -> None:
    b = _cash_broker(unfunded="cancel")
    o = b.submit("AAA", 99, day(0))
    b.account.charge_fee(9_950, day(0))  # $50.00 left
    b.on_bar(day(1), {"AAA": flat(day(1), "100.00")})
    assert b.view(o.order_id).status is OrderStatus.CANCELLED
    assert b.rejections[-1].reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    assert b.rejections[-1].at_fill
    assert b.account.cash.minor == 5_000


# -- random scenarios ----------------------------------------------------------------

SYMBOLS = ("AAA", "BBB", "CCC")
COMMISSIONS = (
    None,
    PercentOfValue("0.001"),
    BasisPoints(25),
    PerShare("0.005", minimum="1.00"),
    FixedPerOrder("4.95"),
)


@dataclass(frozen=True)
class Scenario:
    kind: str
    cash: int
    commission: int
    slippage: int
    volume_limit: str | None
    partial_fills: bool
    short_cash: str
    fixed_fee_per: str
    validation: str
    unfunded: str
    pdt: str | None
    prices: tuple[tuple[tuple[int, int, int, int, int], ...], ...]  # bar, symbol: o h l c v
    actions: tuple[tuple[tuple[Any, ...], ...], ...]  # per bar, before it


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n_bars = draw(st.integers(2, 8))
    prices = []
    last = [draw(st.integers(500, 20_000)) for _ in SYMBOLS]
    for _ in range(n_bars):
        row = []
        for k in range(len(SYMBOLS)):
            o = max(1, last[k] + draw(st.integers(-800, 800)))
            c = max(1, o + draw(st.integers(-800, 800)))
            h = max(o, c) + draw(st.integers(0, 300))
            lo = max(1, min(o, c) - draw(st.integers(0, 300)))
            v = draw(st.sampled_from([0, 50, 400, 5_000, 1_000_000]))
            row.append((o, h, lo, c, v))
            last[k] = c
        prices.append(tuple(row))
    action = st.one_of(
        st.tuples(st.just("order"), st.integers(0, 2), st.integers(-300, 300).filter(bool)),
        st.tuples(
            st.just("limit"), st.integers(0, 2), st.integers(-300, 300).filter(bool), st.integers(-500, 500)
        ),
        st.tuples(st.just("value"), st.integers(0, 2), st.integers(-30_000, 60_000).filter(bool)),
        st.tuples(st.just("fee"), st.integers(1, 3_000)),
        st.tuples(st.just("cancel"), st.integers(0, 30)),
    )
    actions = tuple(tuple(draw(st.lists(action, max_size=4))) for _ in range(n_bars))
    return Scenario(
        kind=draw(st.sampled_from(["cash", "margin"])),
        cash=draw(st.integers(1_000, 60_000)),
        commission=draw(st.integers(0, len(COMMISSIONS) - 1)),
        slippage=draw(st.sampled_from([0, 5, 40])),
        volume_limit=draw(st.sampled_from([None, "0.1", "0.5"])),
        partial_fills=draw(st.booleans()),
        short_cash=draw(st.sampled_from(["reg_t", "credit"])),
        fixed_fee_per=draw(st.sampled_from(["order", "leg"])),
        validation=draw(st.sampled_from(["reject", "reject", "warn"])),
        unfunded=draw(st.sampled_from(["defer", "cancel"])),
        pdt=draw(st.sampled_from([None, "block", "downgrade"])),
        prices=tuple(prices),
        actions=actions,
    )


def _run(sc: Scenario, broker: type[SimulatedBroker]) -> tuple[SimulatedBroker, tuple[Any, ...]]:
    account = Account(sc.cash, kind=sc.kind, instruments=SYMBOLS, start=day(0), pdt=sc.pdt)
    b = broker(
        account,
        commission=COMMISSIONS[sc.commission],
        slippage=FixedBps(sc.slippage) if sc.slippage else None,
        volume_limit=sc.volume_limit,
        partial_fills=sc.partial_fills,
        short_cash=sc.short_cash,
        fixed_fee_per=sc.fixed_fee_per,
        validation=sc.validation,
        unfunded=sc.unfunded,
    )
    for i, (row, acts) in enumerate(zip(sc.prices, sc.actions, strict=True)):
        ts = day(i)
        if i:  # the first bar only sets the prices orders are estimated at
            for act in acts:
                ids = [o.order_id for o in b.open_orders()]
                if act[0] == "order":
                    b.submit(SYMBOLS[act[1]], act[2], ts)
                elif act[0] == "limit":
                    ref = sc.prices[i - 1][act[1]][3]
                    limit = Decimal(max(1, ref + act[3])) / 100
                    b.submit(SYMBOLS[act[1]], act[2], ts, type="limit", limit=limit)
                elif act[0] == "value":
                    b.submit_value(SYMBOLS[act[1]], act[2], ts)
                elif act[0] == "fee":
                    account.charge_fee(Decimal(act[1]) / 100, ts)
                elif ids:
                    b.cancel(ids[act[1] % len(ids)], ts)
        bars = {s: Bar(ts, *p) for s, p in zip(SYMBOLS, row, strict=True)}
        b.on_bar(ts, bars)
    f = account.figures_minor()
    return b, (
        tuple(b.fills),
        tuple(b.rejections),
        tuple(b.warnings),
        tuple(b.status_changes),
        f,
        account.reserved.minor,
    )


@settings(max_examples=300, deadline=None)
@given(sc=scenarios())
def test_random_scenarios_shortcut_never_accepts_what_full_check_refuses(sc: Scenario) -> None:
    _, with_shortcut = _run(sc, Probe)
    _, without = _run(sc, Plain)
    assert with_shortcut == without


def test_random_scenarios_reach_the_shortcut() -> None:
    # A guard on the harness above: a scenario of its kind does take the shortcut.
    sc = Scenario(
        kind="margin",
        cash=20_000,
        commission=3,
        slippage=5,
        volume_limit="0.1",
        partial_fills=True,
        short_cash="reg_t",
        fixed_fee_per="order",
        validation="reject",
        unfunded="defer",
        pdt=None,
        prices=(((10_000, 10_100, 9_900, 10_000, 1_000),) * 3,) * 4,
        actions=((), (("order", 0, 150), ("order", 1, -20), ("fee", 500)), (), ()),
    )
    probe, _ = _run(sc, Probe)
    assert isinstance(probe, Probe)
    assert probe.covered >= 2  # AAA 100 then 50 lots under the volume cap, BBB's short
    assert len(probe.fills) == 3


@pytest.mark.parametrize("kind", ["cash", "margin"])
def test_pdt_downgrade_prices_cover_at_cash_rates(kind: str) -> None:
    # A margin account at cash rates (or a cash account): the fill costs notional plus
    # commission; within what the account has, the shortcut books it.
    account = Account(5_000, kind=kind, instruments=["AAA"], start=day(0), pdt="downgrade")
    b = Probe(account, commission=PercentOfValue("0.001"), volume_limit=None)
    b.on_bar(day(0), {"AAA": flat(day(0), "50.00")})
    b.submit("AAA", 99, day(0))
    b.on_bar(day(1), {"AAA": flat(day(1), "50.00")})
    assert b.covered == 1
    assert account.cash.minor == 500_000 - 495_000 - 495
