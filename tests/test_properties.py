"""Property tests: the ledger's identities hold after every event of random histories.

A random history mixes fills (longs, shorts, partial closes, flips across zero),
marks, deposits, withdrawals, fees, dividends, splits, reservations and timestamps that
cross days (so sessions roll, borrow fees and debit interest accrue, sales settle).
After every event the account's snapshot is checked twice:

* against itself (NLV = cash + market values, gross = long + short capital, the P&L
  identity, the mark-to-market identity ...);
* against an independent model kept in plain ``Decimal``/``Fraction`` by this file
  (cash, quantities, marks, values, margin, buying power, FIFO lots and trade P&L).
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvent import Account, AccountSnapshot, Instrument, Money, make_fill
from solvent.accounting import rules

CENT = Decimal("0.01")
START = pd.Timestamp("2024-01-02 09:30")  # a Tuesday
DEBIT_RATE = Decimal("0.08")
SETTLEMENT_DAYS = 2

STOCK = Instrument("AAA", borrow_fee_rate=Decimal("0.05"))
BTC = Instrument(
    "BTC",
    lot_size=Decimal("0.001"),
    asset_class="crypto",
    initial_margin_long=Decimal("1"),
    initial_margin_short=Decimal("1"),
    maintenance_margin_long=Decimal("0.5"),
    maintenance_margin_short=Decimal("0.5"),
)
ES = Instrument(
    "ES",
    asset_class="future",
    tick_size=Decimal("0.25"),
    multiplier=Decimal("50"),
    initial_margin_fixed=Decimal("12000"),
    maintenance_margin_fixed=Decimal("11000"),
)
INSTRUMENTS = (STOCK, BTC, ES)
BY_SYMBOL = {i.symbol: i for i in INSTRUMENTS}
#: (min ticks, max ticks, max lots) per instrument.
RANGES = {"AAA": (500, 50_000, 300), "BTC": (2_000_000, 8_000_000, 3_000), "ES": (16_000, 24_000, 5)}
START_CASH = {"margin": Decimal("1000000.00"), "cash": Decimal("2000000.00")}
BASE_RATE = {"margin": Decimal("0.5"), "cash": Decimal("1")}


def is_future(inst: Instrument) -> bool:
    return inst.asset_class == "future"


def cents(d: Decimal) -> Decimal:
    """Round half-even to the cent: the one rounding rule of the ledger."""
    return d.quantize(CENT, ROUND_HALF_EVEN)


def value_of(inst: Instrument, qty: Decimal, price: Decimal) -> Decimal:
    return cents(qty * price * inst.multiplier)


def m(d: Decimal) -> Money:
    return Money.of(d)


def frac_cents(f: Fraction) -> Decimal:
    """Return a rational amount of cents rounded half-even, as dollars."""
    return Decimal(round(f)) * CENT


# -- the independent model -----------------------------------------------------------


@dataclass
class Model:
    """What the account should hold, recomputed in plain Decimal from the events."""

    kind: str
    cash: Decimal
    start_cash: Decimal
    session: date
    last_ts: pd.Timestamp
    qty: dict[str, Decimal] = field(default_factory=lambda: {s: Decimal(0) for s in BY_SYMBOL})
    mark: dict[str, Decimal] = field(default_factory=lambda: {s: Decimal(0) for s in BY_SYMBOL})
    # FIFO lots (quantity, entry price, entry order id) per symbol; None once a split
    # has re-based the symbol's lots (the exact-basis checks stop there).
    lots: dict[str, deque[list[object]] | None] = field(
        default_factory=lambda: {s: deque() for s in BY_SYMBOL}
    )
    realized_exact: dict[str, Decimal] = field(default_factory=lambda: {s: Decimal(0) for s in BY_SYMBOL})
    deposits: Decimal = Decimal(0)
    withdrawals: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    commission_by_sym: dict[str, Decimal] = field(default_factory=lambda: {s: Decimal(0) for s in BY_SYMBOL})
    # Symbols a split cashed out entirely: cash in lieu records no trade, so their
    # entry commission never reaches one.
    cashed_out: set[str] = field(default_factory=set)
    fees: Decimal = Decimal(0)
    dividends: Decimal = Decimal(0)
    split_realized: Decimal = Decimal(0)
    unsettled: list[tuple[date, Decimal]] = field(default_factory=list)
    reservations: dict[str, list[object]] = field(default_factory=dict)
    prior_nlv: Decimal = Decimal(0)
    prior_mm: Decimal = Decimal(0)
    dt_used: Decimal = Decimal(0)
    max_gross: Decimal = Decimal(0)

    # figures
    def value(self, sym: str) -> Decimal:
        return value_of(BY_SYMBOL[sym], self.qty[sym], self.mark[sym])

    def futures_basis(self, sym: str) -> Decimal:
        """Return a future's open entry basis (exact: its grid is whole cents)."""
        if not is_future(BY_SYMBOL[sym]):
            return Decimal(0)
        lots = self.lots[sym]
        assert lots is not None  # futures are never split here
        return sum((q * p * BY_SYMBOL[sym].multiplier for q, p, _ in lots), Decimal(0))

    def nlv(self) -> Decimal:
        # A future is worth its unrealized P&L: opening one moved no cash.
        return self.cash + sum((self.value(s) - self.futures_basis(s) for s in BY_SYMBOL), Decimal(0))

    def margins(self, sym: str) -> tuple[Decimal, Decimal]:
        q = self.qty[sym]
        if q == 0:
            return Decimal(0), Decimal(0)
        inst = BY_SYMBOL[sym]
        v = abs(self.value(sym))
        if self.kind == "cash":
            return v, v
        if inst.initial_margin_fixed is not None:
            assert inst.maintenance_margin_fixed is not None
            return (
                (abs(q) * inst.initial_margin_fixed).quantize(CENT, ROUND_CEILING),
                (abs(q) * inst.maintenance_margin_fixed).quantize(CENT, ROUND_CEILING),
            )
        if q > 0:
            im, mm = inst.initial_margin_long, inst.maintenance_margin_long
        else:
            im, mm = inst.initial_margin_short, inst.maintenance_margin_short
        return (v * im).quantize(CENT, ROUND_CEILING), (v * mm).quantize(CENT, ROUND_CEILING)

    def im(self) -> Decimal:
        return sum((self.margins(s)[0] for s in BY_SYMBOL), Decimal(0))

    def mm(self) -> Decimal:
        return sum((self.margins(s)[1] for s in BY_SYMBOL), Decimal(0))

    def reserved(self) -> Decimal:
        return sum((r[2] for r in self.reservations.values()), Decimal(0))

    def unsettled_total(self) -> Decimal:
        return sum((a for _, a in self.unsettled), Decimal(0))

    def buying_power(self) -> Decimal:
        if self.kind == "cash":
            return max(Decimal(0), self.cash - self.unsettled_total() - self.reserved())
        room = self.nlv() - self.im()
        gross = (room / BASE_RATE["margin"]).quantize(CENT, ROUND_FLOOR) if room > 0 else Decimal(0)
        return max(Decimal(0), gross - self.reserved())

    def excess(self) -> Decimal:
        reserved_margin = (self.reserved() * BASE_RATE[self.kind]).quantize(CENT, ROUND_CEILING)
        return self.nlv() - self.im() - reserved_margin

    def withdrawable(self) -> Decimal:
        if self.kind == "cash":
            return max(Decimal(0), self.cash - self.unsettled_total() - self.reserved())
        return max(Decimal(0), min(self.excess(), self.cash))

    # time
    def advance(self, ts: pd.Timestamp) -> None:
        assert ts >= self.last_ts
        self.last_ts = ts
        day = ts.date()
        if day <= self.session:
            return
        days = (day - self.session).days
        self.prior_nlv = self.nlv()
        self.prior_mm = self.mm()
        for sym, inst in BY_SYMBOL.items():
            if self.qty[sym] < 0 and inst.borrow_fee_rate:
                fee = frac_cents(
                    Fraction(-self.value(sym) * 100) * Fraction(inst.borrow_fee_rate) * days / 360
                )
                self.cash -= fee
                self.fees += fee
        if self.cash < 0:
            fee = frac_cents(Fraction(-self.cash * 100) * Fraction(DEBIT_RATE) * days / 360)
            self.cash -= fee
            self.fees += fee
        self.unsettled = [(due, a) for due, a in self.unsettled if due > day]
        self.dt_used = Decimal(0)
        self.session = day

    def track_capital(self) -> None:
        self.max_gross = max(self.max_gross, sum((abs(self.value(s)) for s in BY_SYMBOL), Decimal(0)))

    # fills
    def fill(self, sym: str, qty: Decimal, price: Decimal, commission: Decimal, order_id: str) -> int:
        """Apply a fill; return how many legs it should record."""
        inst = BY_SYMBOL[sym]
        pos = self.qty[sym]
        if pos != 0 and (pos > 0) != (qty > 0):
            closing = qty if abs(qty) <= abs(pos) else -pos
        else:
            closing = Decimal(0)
        opening = qty - closing
        n_close = value_of(inst, closing, price)
        n_open = value_of(inst, opening, price)
        realized = Decimal(0)  # of the closing leg, on the exact FIFO entry basis
        lots = self.lots[sym]
        if lots is not None:
            remaining = -closing  # same sign as the position
            while remaining:
                lot = lots[0]
                lot_qty, entry = lot[0], lot[1]
                assert isinstance(lot_qty, Decimal) and isinstance(entry, Decimal)
                take = remaining if abs(remaining) <= abs(lot_qty) else lot_qty
                realized += (price - entry) * take * inst.multiplier
                if take == lot_qty:
                    lots.popleft()
                else:
                    lot[0] = lot_qty - take
                remaining -= take
            if opening:
                lots.append([opening, price, order_id])
            self.realized_exact[sym] += realized
        c_close = frac_cents(Fraction(commission * 100) * Fraction(abs(closing)) / Fraction(abs(qty)))
        if is_future(inst):
            # Futures: only realized P&L and commission move cash.
            assert lots is not None
            self.cash += realized - commission
            close_delta = realized - c_close
        else:
            self.cash += -n_close - n_open - commission
            close_delta = -n_close - c_close
        self.commission += commission
        self.commission_by_sym[sym] += commission
        if closing and self.kind == "cash":
            delta = close_delta
            if delta > 0:
                due = np.busday_offset(
                    np.datetime64(self.last_ts.date(), "D"), SETTLEMENT_DAYS, roll="forward"
                )
                self.unsettled.append((due.astype(object), delta))
        if opening and self.kind == "margin":
            rate = inst.initial_margin_long if opening > 0 else inst.initial_margin_short
            units = abs(n_open) * rate / BASE_RATE["margin"]
            self.dt_used += units.quantize(CENT, ROUND_CEILING)
        self.qty[sym] = pos + qty
        self.mark[sym] = price
        self.track_capital()
        return (1 if closing else 0) + (1 if opening else 0)


# -- checks --------------------------------------------------------------------------


def check(account: Account, model: Model, trades_seen: int, tainted: set[str]) -> AccountSnapshot:
    """Assert every identity on the account's snapshot and against the model."""
    snap = account.snapshot()
    ccy_zero = Money(0)

    # Against the model: cash, positions, values.
    assert snap.cash == m(model.cash)
    assert snap.timestamp == model.last_ts
    long_cap = short_cap = Decimal(0)
    for sym, inst in BY_SYMBOL.items():
        ps = account.position(sym)
        assert ps.quantity == model.qty[sym], sym
        assert ps.mark == model.mark[sym], sym
        mv = value_of(inst, ps.quantity, ps.mark)  # qty x mark x multiplier, half-even
        assert ps.market_value == m(mv), sym
        assert mv == model.value(sym)
        if mv > 0:
            long_cap += mv
        else:
            short_cap -= mv
        lots = model.lots[sym]
        if lots is not None:
            assert [lv.quantity for lv in ps.lots] == [q for q, _, _ in lots], sym
            assert [lv.order_id for lv in ps.lots] == [o for _, _, o in lots], sym
            if inst.k_den == 1:
                # Whole grid: each lot's basis is exactly quantity x entry price x multiplier.
                assert [lv.entry_price for lv in ps.lots] == [p for _, p, _ in lots], sym
                basis = sum((q * p * inst.multiplier for q, p, _ in lots), Decimal(0))
                assert ps.unrealized_pnl == m(mv - basis), sym
                assert ps.realized_pnl == m(model.realized_exact[sym]), sym
    open_syms = {s for s, q in model.qty.items() if q != 0}
    assert set(snap.open_symbols) == open_syms
    assert {p.symbol for p in snap.positions} == open_syms

    # NLV = cash + sum of market values - futures basis (snapshot alone and model):
    # a future counts by its unrealized P&L, since opening it moved no cash.
    mvs = sum((p.market_value for p in snap.positions), ccy_zero)
    fut_basis = sum(
        (p.market_value - p.unrealized_pnl for p in snap.positions if is_future(BY_SYMBOL[p.symbol])),
        ccy_zero,
    )
    assert fut_basis == sum(
        (lv.basis for p in snap.positions if is_future(BY_SYMBOL[p.symbol]) for lv in p.lots), ccy_zero
    )
    assert snap.nlv == snap.cash + mvs - fut_basis
    assert snap.nlv == m(model.nlv())

    # Gross exposure = long + short capital, each computed from the positions.
    assert snap.long_capital == m(long_cap)
    assert snap.short_capital == m(short_cap)
    assert snap.gross_exposure == snap.long_capital + snap.short_capital
    assert snap.capital_used == snap.gross_exposure
    assert snap.max_capital_used >= snap.capital_used
    assert snap.max_capital_used == m(model.max_gross)

    # Margin: per position, rounded up; fixed per contract for the future; 100% in cash.
    assert snap.initial_margin == m(model.im())
    assert snap.maintenance_margin == m(model.mm())
    if model.kind == "cash":
        assert snap.initial_margin == snap.gross_exposure
        assert snap.maintenance_margin == snap.gross_exposure

    # Reservations, excess, buying power.
    assert snap.reserved == m(model.reserved())
    assert snap.excess == m(model.excess())
    assert snap.buying_power == m(model.buying_power())
    assert snap.settled_cash == m(model.cash - model.unsettled_total())
    if model.kind == "margin":
        assert snap.mode == "margin"
        reserved_margin = (snap.reserved.amount * Decimal("0.5")).quantize(CENT, ROUND_CEILING)
        assert snap.excess == snap.nlv - snap.initial_margin - m(reserved_margin)
        room = (snap.nlv - snap.initial_margin).amount
        gross_bp = (room / Decimal("0.5")).quantize(CENT, ROUND_FLOOR) if room > 0 else Decimal(0)
        assert snap.buying_power == m(max(Decimal(0), gross_bp - snap.reserved.amount))
        dtbp = max(Decimal(0), 4 * (model.prior_nlv - model.prior_mm) - model.dt_used)
        assert snap.day_trade_buying_power == m(dtbp)
    else:
        assert snap.mode == "cash"
        assert snap.buying_power == m(max(Decimal(0), (snap.settled_cash - snap.reserved).amount))
        assert snap.day_trade_buying_power == ccy_zero

    # Costs and flows.
    assert snap.commission == m(model.commission)
    assert snap.fees == m(model.fees)
    assert snap.dividends == m(model.dividends)
    assert snap.deposits == m(model.deposits)
    assert snap.withdrawals == m(model.withdrawals)
    assert snap.starting_cash == m(model.start_cash)

    # P&L identity, exactly: realized (with dividends) + unrealized - costs = NLV change.
    lhs = snap.realized_pnl + snap.unrealized_pnl - snap.commission - snap.fees
    assert lhs == snap.nlv - snap.starting_cash - snap.deposits + snap.withdrawals
    assert snap.realized_pnl_mtm + snap.unrealized_pnl_mtm == snap.realized_pnl + snap.unrealized_pnl
    assert snap.unrealized_pnl == sum((p.unrealized_pnl for p in snap.positions), ccy_zero)

    # Trades: their P&L is the realized P&L less dividends and split cash in lieu.
    trades = account.trades
    trade_pnl = sum((t.pnl for t in trades), ccy_zero)
    assert trade_pnl == snap.realized_pnl - snap.dividends - m(model.split_realized)
    for sym in BY_SYMBOL:
        if model.qty[sym] == 0 and sym not in model.cashed_out:
            # Flat: every cent of entry and exit commission sits in a trade.
            sym_comm = sum((t.commission for t in trades if t.symbol == sym), ccy_zero)
            assert sym_comm == m(model.commission_by_sym[sym]), sym
    for t in trades[trades_seen:]:
        inst = BY_SYMBOL[t.symbol]
        assert t.net_pnl == t.pnl - t.commission
        assert t.commission >= ccy_zero
        if inst.k_den == 1 and t.entry_order_id not in tainted:
            exact = (t.exit_price - t.entry_price) * t.quantity * inst.multiplier
            assert t.pnl == m(exact), t
    return snap


# -- random histories ----------------------------------------------------------------

STEPS = (
    timedelta(0),
    timedelta(minutes=1),
    timedelta(hours=1),
    timedelta(hours=7),
    timedelta(days=1),
    timedelta(days=3),
)
SYMS = tuple(BY_SYMBOL)


@st.composite
def events(draw: st.DrawFn) -> tuple[Any, ...]:
    kind = draw(
        st.sampled_from(
            ("fill",) * 6
            + ("close",) * 3
            + ("mark",) * 3
            + ("deposit", "withdraw", "fee", "dividend", "split", "reserve", "confirm", "release", "advance")
        )
    )
    step = draw(st.sampled_from(STEPS))
    sym = draw(st.sampled_from(SYMS))
    lo, hi, max_lots = RANGES[sym]
    ticks = draw(st.integers(lo, hi))
    if kind == "fill":
        lots = draw(st.integers(1, max_lots)) * draw(st.sampled_from((1, -1)))
        comm = draw(st.integers(0, 2_000))
        fmt = draw(st.sampled_from(("decimal", "str", "float")))
        return (kind, step, sym, ticks, lots, comm, fmt)
    if kind == "close":  # partial close, full close or flip, relative to the position
        factor = draw(
            st.sampled_from((Fraction(1, 3), Fraction(1, 2), Fraction(1), Fraction(3, 2), Fraction(2)))
        )
        comm = draw(st.integers(0, 2_000))
        return (kind, step, sym, ticks, factor, comm)
    if kind == "mark":
        timed = draw(st.booleans())
        off_grid = draw(st.booleans())
        return (kind, step if timed else None, sym, ticks, off_grid)
    if kind in ("deposit", "withdraw", "fee"):
        return (kind, step, draw(st.integers(1, 5_000_000)))
    if kind == "dividend":
        return (kind, step, sym, draw(st.integers(1, 20_000)))  # per share in 1/10,000 dollars
    if kind == "split":
        ratio = draw(st.sampled_from(("2", "3", "0.5", "0.25", "1.5", "0.1")))
        return (kind, step, draw(st.sampled_from(("AAA", "BTC"))), ratio)
    if kind == "reserve":
        return (kind, draw(st.integers(0, 300_000_000)))
    if kind == "confirm":
        frac = draw(st.sampled_from(("0.25", "0.5", "0.3", "1")))
        return (kind, draw(st.integers(0, 10)), frac)
    if kind == "release":
        return (kind, draw(st.integers(0, 10)))
    return ("advance", step)


def price_arg(inst: Instrument, ticks: int, fmt: str) -> object:
    p = inst.price(ticks)
    if fmt == "str":
        return str(p)
    if fmt == "float":
        return float(p)  # exact on the grid: its repr is the decimal price
    return p


def qty_arg(inst: Instrument, lots: int, fmt: str) -> object:
    q = inst.quantity(lots)
    if fmt == "str":
        return str(q)
    if fmt == "float":
        return float(q)
    return q


def run_history(kind: str, history: list[tuple[Any, ...]]) -> None:
    account = Account(
        START_CASH[kind],
        kind=kind,
        instruments=INSTRUMENTS,
        debit_interest_rate=DEBIT_RATE,
        settlement_days=SETTLEMENT_DAYS if kind == "cash" else 0,
        start=START,
    )
    model = Model(kind, START_CASH[kind], START_CASH[kind], START.date(), START)
    model.prior_nlv = START_CASH[kind]
    # Order ids of lots a split re-based: their trades' entry price is pre-split.
    tainted: set[str] = set()
    order_ids: dict[str, list[str]] = {s: [] for s in BY_SYMBOL}
    ts = START
    order_no = 0
    reservation_ids: list[str] = []
    trades_seen = 0
    check(account, model, 0, tainted)
    for ev in history:
        kind_ = ev[0]
        step = ev[1]
        if isinstance(step, timedelta):
            ts = ts + step
        n_fills = len(account.fills)
        if kind_ in ("fill", "close"):
            sym, ticks = str(ev[2]), int(ev[3])
            inst = BY_SYMBOL[sym]
            pos_lots = inst.qty_lots(model.qty[sym])
            if kind_ == "fill":
                lots, comm, fmt = int(ev[4]), int(ev[5]), str(ev[6])
            else:
                factor = ev[4]
                assert isinstance(factor, Fraction)
                lots = -round(pos_lots * factor)
                comm, fmt = int(ev[5]), "decimal"
                if lots == 0:
                    continue
            if kind == "cash":
                lots = max(lots, -pos_lots)  # a cash account never goes short
                if lots == 0:
                    continue
                if lots > 0:
                    cost = value_of(inst, inst.quantity(lots), inst.price(ticks)) + comm * CENT
                    if cost > model.buying_power():
                        continue
            order_no += 1
            oid = f"o{order_no}"
            order_ids[sym].append(oid)
            fill = make_fill(
                sym,
                qty_arg(inst, lots, fmt),
                price_arg(inst, ticks, fmt),
                ts,
                commission=Decimal(comm) * CENT,
                order_id=oid,
            )
            model.advance(ts)
            legs_expected = model.fill(sym, inst.quantity(lots), inst.price(ticks), Decimal(comm) * CENT, oid)
            before = account.snapshot()
            report = account.apply_fill(fill)
            legs = account.fills[n_fills:]
            assert len(legs) == legs_expected == len(report.legs)
            assert sum((leg.quantity for leg in legs), Decimal(0)) == fill.quantity
            assert sum((leg.commission for leg in legs), Decimal(0)) == fill.commission
            pos_qty = inst.quantity(pos_lots)
            if legs_expected == 2:  # a flip: the closing leg ends exactly flat
                assert pos_qty + legs[0].quantity == 0
            assert report.realized_pnl == sum((t.pnl for t in report.trades), Money(0))
            after = account.snapshot()
            realized_change = (after.realized_pnl - after.dividends) - (
                before.realized_pnl - before.dividends
            )
            assert realized_change == report.realized_pnl
            # The fill's own cash change; an overnight roll before it charged fees.
            overnight_fees = after.fees - before.fees
            assert report.cash_change == after.cash - before.cash + overnight_fees
        elif kind_ == "mark":
            sym, ticks, off_grid = str(ev[2]), int(ev[3]), bool(ev[4])
            inst = BY_SYMBOL[sym]
            price = inst.price(ticks)
            if off_grid:  # bar data: snapped half-even to the tick
                raw = price + inst.tick_size / 2
                with localcontext() as ctx:
                    ctx.rounding = ROUND_HALF_EVEN
                    price = (raw / inst.tick_size).to_integral_value() * inst.tick_size
            else:
                raw = price
            if step is None:
                account.mark(sym, raw)
            else:
                model.advance(ts)
                account.mark(sym, raw, ts)
            model.mark[sym] = price
            model.track_capital()
        elif kind_ == "deposit":
            amount = Decimal(int(ev[2])) * CENT
            model.advance(ts)
            account.deposit(amount, ts)
            model.cash += amount
            model.deposits += amount
        elif kind_ == "withdraw":
            amount = Decimal(int(ev[2])) * CENT
            model.advance(ts)
            expected_ok = amount <= model.withdrawable()
            verdict = account.withdraw(amount, ts)
            assert verdict.ok == expected_ok
            if expected_ok:
                model.cash -= amount
                model.withdrawals += amount
        elif kind_ == "fee":
            amount = Decimal(int(ev[2]) % 10_000 + 1) * CENT
            model.advance(ts)
            account.charge_fee(amount, ts, detail="data")
            model.cash -= amount
            model.fees += amount
        elif kind_ == "dividend":
            sym = str(ev[2])
            inst = BY_SYMBOL[sym]
            per_share = Decimal(int(ev[3])) / 10_000
            model.advance(ts)
            event = account.dividend(sym, per_share, ts)
            expected = cents(model.qty[sym] * per_share * inst.multiplier)
            if model.qty[sym] == 0:
                assert event is None
            else:
                assert event is not None
                assert event.amount == m(expected)
                model.cash += expected
                model.dividends += expected
        elif kind_ == "split":
            sym, ratio = str(ev[2]), str(ev[3])
            inst = BY_SYMBOL[sym]
            model.advance(ts)
            before = account.snapshot()
            event = account.split(sym, ratio, ts)
            after = account.snapshot()
            r = Fraction(ratio)
            old_ticks = int(model.mark[sym] / inst.tick_size)
            new_ticks = max(1, round(Fraction(old_ticks) / r)) if old_ticks else 0
            model.mark[sym] = inst.price(new_ticks)
            lots_before = inst.qty_lots(model.qty[sym])
            exact = lots_before * r
            kept = int(exact)  # toward zero, shorts too
            k = Fraction(inst.k_num, inst.k_den)
            in_lieu = frac_cents((exact - kept) * new_ticks * k)
            model.qty[sym] = inst.quantity(kept)
            model.track_capital()
            if lots_before and not kept:
                model.cashed_out.add(sym)
            if in_lieu:
                assert event is not None
                assert event.amount == m(in_lieu)
                model.cash += in_lieu
            else:
                assert event is None
            if lots_before:
                tainted.update(order_ids[sym])
                model.lots[sym] = None
            model.split_realized += (
                (after.realized_pnl - after.dividends) - (before.realized_pnl - before.dividends)
            ).amount
        elif kind_ == "reserve":
            amount = Decimal(int(ev[1])) * CENT
            order_no += 1
            rid = f"r{order_no}"
            expected_ok = amount <= model.buying_power()
            res = account.reserve(rid, amount, symbol="AAA")
            assert res.ok == expected_ok
            if expected_ok:
                model.reservations[rid] = [amount, Fraction(0), amount]
                reservation_ids.append(rid)
        elif kind_ == "confirm":
            live = [r for r in reservation_ids if r in model.reservations]
            if not live:
                continue
            rid = live[int(ev[1]) % len(live)]
            amount_, done, remaining = model.reservations[rid]
            assert isinstance(amount_, Decimal) and isinstance(done, Fraction)
            assert isinstance(remaining, Decimal)
            new = min(Fraction(1), done + Fraction(str(ev[2])))
            left = Decimal(0) if new == 1 else amount_ - frac_cents(Fraction(amount_ * 100) * new)
            released = account.confirm(rid, str(ev[2]))
            assert released == m(remaining - left)
            if new == 1:
                del model.reservations[rid]
            else:
                model.reservations[rid] = [amount_, new, left]
        elif kind_ == "release":
            live = [r for r in reservation_ids if r in model.reservations]
            if not live:
                continue
            rid = live[int(ev[1]) % len(live)]
            released = account.release(rid)
            assert released == m(model.reservations.pop(rid)[2])
        else:
            model.advance(ts)
            account.advance(ts)
        check(account, model, trades_seen, tainted)
        trades_seen = len(account.trades)


HISTORY = st.lists(events(), min_size=10, max_size=80)
PROPERTY_SETTINGS = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PROPERTY_SETTINGS
@given(history=HISTORY)
def test_random_history_margin_account_keeps_every_identity(history: list[tuple[Any, ...]]) -> None:
    run_history("margin", history)


@PROPERTY_SETTINGS
@given(history=HISTORY)
def test_random_history_cash_account_keeps_every_identity(history: list[tuple[Any, ...]]) -> None:
    run_history("cash", history)


def test_flip_sequence_margin_account_keeps_every_identity() -> None:
    """A fixed history that hits every kind of event, so each runs even on a bad draw."""
    d, h = timedelta(days=1), timedelta(hours=1)
    history: list[tuple[Any, ...]] = [
        ("fill", h, "AAA", 10_000, 100, 100, "decimal"),
        ("fill", h, "AAA", 10_100, -250, 150, "float"),  # flip long 100 -> short 150
        ("mark", d, "AAA", 9_900, True),  # overnight: borrow fee, session roll
        ("fill", h, "BTC", 5_000_000, 1_234, 7, "str"),
        ("close", h, "BTC", 5_100_000, Fraction(1, 3), 3),
        ("fill", h, "ES", 20_000, -3, 500, "decimal"),
        ("close", d, "ES", 19_999, Fraction(2), 500),  # flip short 3 -> long 3
        ("dividend", h, "AAA", 12_345),
        ("split", h, "AAA", "1.5"),
        ("split", h, "BTC", "0.25"),
        ("reserve", 1_000_000),
        ("confirm", 0, "0.3"),
        ("withdraw", d, 100_000),
        ("fee", h, 999),
        ("deposit", h, 12_345),
        ("release", 0),
        ("close", timedelta(days=3), "AAA", 9_000, Fraction(1), 0),
        ("advance", d),
    ]
    run_history("margin", history)


@settings(max_examples=200, deadline=None)
@given(
    entries=st.lists(st.integers(1, 50), min_size=1, max_size=12),
    close_share=st.fractions(Fraction(1, 100), Fraction(1)),
    commission=st.integers(0, 1_000),
    short=st.booleans(),
)
def test_close_across_many_lots_allocates_commission_without_negative_shares(
    entries: list[int], close_share: Fraction, commission: int, short: bool
) -> None:
    sign = -1 if short else 1
    account = Account("10000000.00", instruments=[STOCK], start=START)
    for i, q in enumerate(entries):  # no entry commission: a trade's is its exit share
        account.apply_fill(make_fill("AAA", sign * q, "10.00", START, order_id=f"e{i}"))
    close = max(1, math.floor(sum(entries) * close_share))
    comm = Money(commission)
    report = account.apply_fill(make_fill("AAA", -sign * close, "10.50", START, commission=comm.amount))
    assert sum((t.commission for t in report.trades), Money(0)) == comm
    for t in report.trades:
        assert t.commission >= Money(0), t
        exact = Fraction(commission) * Fraction(abs(t.quantity)) / close
        # Each share is the difference of two half-even roundings of cumulative shares:
        # off by at most one cent (exactly one when both are ties rounded apart).
        assert abs(t.commission.minor - exact) <= 1, t
        assert t.pnl == Money.of(Decimal("0.50") * t.quantity), t


def test_reverse_split_newest_lot_rounding_to_zero_keeps_snapshot_basis_and_commission() -> None:
    account = Account("100000.00", instruments=[STOCK], start=START)
    account.apply_fill(make_fill("AAA", 10, "10.00", START, commission="1.00", order_id="old"))
    account.apply_fill(make_fill("AAA", 1, "10.00", START, commission="0.10", order_id="new"))
    # 11 shares 1-for-10: the old lot keeps 1 share, the newest lot rounds to nothing;
    # 0.1 share is paid in lieu at the post-split mark of 100.00.
    event = account.split("AAA", "0.1", START)
    assert event is not None and event.amount == Money.of("10.00")
    snap = account.snapshot()  # used to raise decimal.DivisionByZero
    (lot,) = snap.positions[0].lots
    assert lot.quantity == 1 and lot.order_id == "old"
    assert lot.basis == Money.of("100.00")  # 110.00 of basis less the 10.00 cashed out
    report = account.apply_fill(make_fill("AAA", -1, "100.00", START, commission="0.05"))
    (trade,) = report.trades
    assert trade.commission == Money.of("1.15")  # both entry commissions and the exit's
    assert trade.pnl == Money.of("0.00")


def test_split_that_raises_value_by_tick_snap_raises_capital_high_water_mark() -> None:
    account = Account("100000.00", instruments=[STOCK], start=START)
    account.apply_fill(make_fill("AAA", 300, "100.01", START))
    assert account.snapshot().max_capital_used == Money.of("30003.00")
    account.split("AAA", 3, START)  # 900 shares at 33.34 (100.01 / 3 snapped up)
    snap = account.snapshot()
    assert snap.capital_used == Money.of("30006.00")
    assert snap.max_capital_used == snap.capital_used


# -- exact cash over many fills, and an exact threshold -----------------------------


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_ten_thousand_random_fills_cash_matches_decimal_recomputation_to_the_cent(seed: int) -> None:
    rng = random.Random(seed)
    # No borrow fee here: the only cash movements are the fills themselves.
    no_fee = (dataclasses.replace(STOCK, borrow_fee_rate=Decimal(0)), BTC, ES)
    account = Account("1000000.00", instruments=no_fee, start=START)
    expected = Decimal("1000000.00")
    pos = {s: 0 for s in BY_SYMBOL}
    es_lots: deque[list[Decimal]] = deque()  # FIFO (quantity, entry price) of the future
    ts = START
    for i in range(10_000):
        sym = rng.choice(SYMS)
        inst = BY_SYMBOL[sym]
        lo, hi, max_lots = RANGES[sym]
        ticks = rng.randint(lo, hi)
        lots = rng.randint(1, max_lots) * rng.choice((1, -1))
        comm = Decimal(rng.randint(0, 999)) * CENT
        ts = ts + timedelta(minutes=rng.choice((0, 1, 30)))
        price, qty = inst.price(ticks), inst.quantity(lots)
        account.apply_fill(make_fill(sym, qty, price, ts, commission=comm, order_id=f"x{i}"))
        # Plain Decimal: each leg's -qty x price x multiplier, half-even to the cent;
        # a future pays only its realized P&L (FIFO) when it closes.
        p = pos[sym]
        closing = (lots if abs(lots) <= abs(p) else -p) if p and (p > 0) != (lots > 0) else 0
        opening = lots - closing
        if is_future(inst):
            remaining = -inst.quantity(closing)
            while remaining:
                lot = es_lots[0]
                take = remaining if abs(remaining) <= abs(lot[0]) else lot[0]
                expected += (price - lot[1]) * take * inst.multiplier
                lot[0] -= take
                if lot[0] == 0:
                    es_lots.popleft()
                remaining -= take
            if opening:
                es_lots.append([inst.quantity(opening), price])
        else:
            for leg in (closing, opening):
                if leg:
                    expected -= cents(inst.quantity(leg) * price * inst.multiplier)
        expected -= comm
        pos[sym] = p + lots
    assert account.cash == Money.of(expected)
    assert account.cash.amount == expected
    snap = account.snapshot()
    assert (
        snap.realized_pnl + snap.unrealized_pnl - snap.commission - snap.fees == snap.nlv - snap.starting_cash
    )


def test_ten_thousand_cent_updates_hit_25000_threshold_exactly_where_floats_drift() -> None:
    rng = random.Random(20_240_102)
    updates = [1] * 7_500 + [-1] * 2_500  # net +50.00
    rng.shuffle(updates)
    threshold = Money.of("25000.00")

    # Floats: the same 10,000 updates miss the threshold.
    x = 24_950.0
    for u in updates:
        x += 0.01 * u
    assert x != 25_000.0
    assert not x >= 25_000.0  # a float ledger would deny the $25,000 status

    # The account: deposits and fees of one cent each, exact every time.
    account = Account("24950.00", start=START)
    ts = START
    for i, u in enumerate(updates):
        ts = ts + timedelta(minutes=1) if i % 100 == 0 else ts
        if u > 0:
            account.deposit("0.01", ts)
        else:
            account.charge_fee(0.01, ts)
    assert account.cash == threshold
    assert account.cash >= threshold
    assert not account.cash > threshold
    assert account.nlv == threshold
    snap = account.snapshot()
    assert snap.deposits == Money.of("75.00")
    assert snap.fees == Money.of("25.00")
    assert len(account.cash_events) == 10_000

    # Money arithmetic alone, netting to zero from exactly 25,000.00; a float running
    # total of the same changes does not come back to zero.
    net_zero = [1] * 5_000 + [-1] * 5_000
    rng.shuffle(net_zero)
    total = threshold
    cent = Money.of("0.01")
    change = 0.0
    for u in net_zero:
        total = total + cent if u > 0 else total - cent
        change += 0.01 * u
    assert total == threshold
    assert total - threshold == Money(0)
    assert change != 0.0


def test_withdrawals_and_deposits_net_to_zero_leave_cash_exactly_25000() -> None:
    account = Account("25000.00", start=START)
    rng = random.Random(7)
    signs = [1] * 5_000 + [-1] * 5_000
    rng.shuffle(signs)
    change = 0.0
    for s in signs:
        if s > 0:
            account.deposit(Decimal("0.01"), START)
        else:
            assert account.withdraw("0.01", START).ok
        change += 0.01 * s
    assert account.cash == Money.of("25000.00")
    assert account.cash.amount == Decimal("25000.00")
    assert account.nlv >= Money.of("25000.00")
    snap = account.snapshot()
    assert snap.deposits == snap.withdrawals == Money.of("50.00")
    assert change != 0.0  # a float running total of the same cents drifted


# -- the pure rules ------------------------------------------------------------------

BIG = st.integers(-(10**30), 10**30)


@settings(max_examples=500, deadline=None)
@given(n=BIG, d=st.integers(1, 10**12))
def test_div_round_half_even_random_ints_matches_decimal_and_fraction(n: int, d: int) -> None:
    q = rules.div_round_half_even(n, d)
    assert q == round(Fraction(n, d))  # Python rounds Fractions half to even
    with localcontext() as ctx:
        ctx.prec = 100
        assert q == int((Decimal(n) / Decimal(d)).quantize(Decimal(1), ROUND_HALF_EVEN))


@settings(max_examples=200, deadline=None)
@given(k=st.integers(-(10**20), 10**20), d=st.integers(1, 10**9))
def test_div_round_half_even_exact_ties_go_to_even(k: int, d: int) -> None:
    n = (2 * k + 1) * d  # n / (2d) = k + 1/2 exactly
    q = rules.div_round_half_even(n, 2 * d)
    assert q in (k, k + 1)
    assert q % 2 == 0


def test_div_round_half_even_small_ties_round_to_even() -> None:
    assert [rules.div_round_half_even(n, 2) for n in (-5, -3, -1, 1, 3, 5)] == [-2, -2, 0, 0, 2, 2]
    assert rules.div_round_half_even(7, 1) == 7
    assert rules.div_round_half_even(-7, 3) == -2


@settings(max_examples=500, deadline=None)
@given(position=st.integers(-(10**6), 10**6), fill=st.integers(-(10**6), 10**6).filter(bool))
def test_split_fill_random_legs_sum_to_fill_and_closing_never_crosses_zero(position: int, fill: int) -> None:
    closing, opening = rules.split_fill(position, fill)
    assert closing + opening == fill
    after_close = position + closing
    # The closing leg only reduces: it stops at zero, never beyond.
    assert abs(after_close) <= abs(position)
    assert after_close == 0 or (after_close > 0) == (position > 0)
    if closing:
        assert (closing > 0) != (position > 0)
    if opening:
        assert (opening > 0) == (fill > 0)
    if opening and closing:
        assert after_close == 0  # a flip opens only once the position is flat
    if position == 0 or (position > 0) == (fill > 0):
        assert closing == 0


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(-(10**15), 10**15),
    parts=st.lists(st.integers(1, 10**6), min_size=1, max_size=12),
)
def test_prorate_random_shares_sum_exactly_to_amount(amount: int, parts: list[int]) -> None:
    whole = sum(parts)
    shares = [rules.prorate(amount, p, whole) for p in parts[:-1]]
    shares.append(amount - sum(shares))  # the caller's rule: the remainder goes last
    assert sum(shares) == amount
    for p, s in zip(parts[:-1], shares[:-1], strict=True):
        assert abs(s - Fraction(amount * p, whole)) <= Fraction(1, 2)
    assert abs(shares[-1] - Fraction(amount * parts[-1], whole)) <= Fraction(len(parts) - 1, 2)
    assert rules.prorate(amount, whole, whole) == amount


@settings(max_examples=300, deadline=None)
@given(value=st.integers(0, 10**15), rate=st.integers(0, 10**6))
def test_margin_requirement_random_values_round_up_like_decimal_ceiling(value: int, rate: int) -> None:
    req = rules.margin_requirement(value, rate)
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(value) * Decimal(rate) / Decimal(rules.RATE_SCALE)
        assert req == int(exact.to_integral_value(ROUND_CEILING))
    assert req * rules.RATE_SCALE >= value * rate
    assert (req - 1) * rules.RATE_SCALE < value * rate or req == 0


@settings(max_examples=300, deadline=None)
@given(excess=st.integers(-(10**15), 10**15), rate=st.integers(1, 10**6))
def test_margin_buying_power_random_excess_floors_and_never_negative(excess: int, rate: int) -> None:
    bp = rules.margin_buying_power(excess, rate)
    assert bp >= 0
    if excess > 0:
        assert bp == math.floor(Fraction(excess * rules.RATE_SCALE, rate))
    else:
        assert bp == 0


@settings(max_examples=300, deadline=None)
@given(
    ticks=st.integers(1, 10**9),
    lots=st.integers(-(10**9), 10**9),
    inst=st.sampled_from(INSTRUMENTS),
)
def test_notional_minor_random_fills_matches_decimal_half_even(
    ticks: int, lots: int, inst: Instrument
) -> None:
    n = rules.notional_minor(ticks, lots, inst.k_num, inst.k_den)
    with localcontext() as ctx:
        ctx.prec = 60
        exact = inst.quantity(lots) * inst.price(ticks) * inst.multiplier
        assert Decimal(n) * CENT == exact.quantize(CENT, ROUND_HALF_EVEN)
