"""Cash and margin accounts: the ledger.

The ledger changes in exactly one place per kind of event: ``apply_fill`` for trades,
and the cash-event methods (deposit, withdrawal, dividend, split, fees) for everything
else. Each change is validated completely before anything is mutated, and runs under
the account's lock, so a change is atomic and a concurrent reader never sees half of
it. The ledger *records* what happened; deciding whether an order may happen is the
gatekeeper's job, which asks the account for its buying power and reservations.

Accounting identities kept after every event (all in minor units)::

    NLV            = cash + sum(market values)
    realized + unrealized - costs = NLV - starting cash - deposits + withdrawals

where ``realized`` includes dividends and cash in lieu, and ``costs`` are commissions
plus fees (borrow fees, debit interest, other fees).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import NamedTuple

import pandas as pd

from solvent.accounting import rules
from solvent.accounting.position import Position
from solvent.accounting.reservations import ReservationBook, ReservationResult
from solvent.accounting.snapshot import AccountSnapshot, PositionSnapshot
from solvent.accounting.view import AccountView, SplitRecord
from solvent.errors import CurrencyMismatchError, InvalidInputError, UnknownSymbolError
from solvent.model.calendar import DEFAULT_CALENDAR, BusinessCalendar
from solvent.model.instrument import AssetClass, Instrument
from solvent.model.money import Currency, Money, Number, currency, to_decimal, to_minor
from solvent.model.records import (
    ALLOWED,
    CashEvent,
    CashEventKind,
    Fill,
    FillReport,
    ReasonCode,
    Side,
    TimeLike,
    Trade,
    Verdict,
    exact_fill,
    to_timestamp,
)
from solvent.risk.liquidation import Holding
from solvent.risk.pdt import PATTERN_DAY_TRADES, DayTradeCounter, PdtPolicy, resolve_pdt


class AccountKind(StrEnum):
    """Cash accounts cannot borrow or short; margin accounts follow Reg T by default."""

    CASH = "cash"
    MARGIN = "margin"


class BuyingPowerMode(StrEnum):
    """Which buying power is in force."""

    CASH = "cash"
    MARGIN = "margin"  # overnight (Reg T) buying power
    DAY_TRADE = "day_trade"


_FULL = rules.RATE_SCALE  # 100%: a cash account's "margin" on what it holds
# Read once: each ``Enum.MEMBER`` lookup costs about a function call on Python 3.11, and
# the buying-power figures below ask for them on every check.
_CASH_KIND, _MARGIN_KIND = AccountKind.CASH, AccountKind.MARGIN
_BP_CASH, _BP_MARGIN, _BP_DAY_TRADE = BuyingPowerMode.CASH, BuyingPowerMode.MARGIN, BuyingPowerMode.DAY_TRADE


class Account:
    """A brokerage account: cash, positions with FIFO lots, margin, reservations.

    Parameters
    ----------
    cash
        Starting cash, exact to the currency's minor unit.
    kind
        ``"margin"`` (default) or ``"cash"``.
    currency
        Account currency (``"USD"`` by default). Instruments must be quoted in it.
    instruments
        ``Instrument`` objects, or plain symbols that get US-equity defaults.
    initial_margin
        The base initial-margin rate that buying power is quoted at (Reg T: 0.5, so a
        margin account's buying power is twice its excess).
    day_trading
        Use day-trade buying power during the session when prior-close equity is at
        least ``day_trade_min_equity`` (margin accounts only).
    day_trade_multiplier, day_trade_min_equity
        FINRA's 4x and $25,000.
    debit_interest_rate
        Annual rate charged daily (ACT/360) on a negative cash balance.
    settlement_days
        Business days until sale proceeds settle in a cash account; unsettled proceeds
        are not buying power. 0 (default) settles immediately.
    calendar
        Business days for settlement and the Pattern Day Trader window (weekends and
        holidays skipped).
    pdt
        The Pattern Day Trader policy for margin accounts with equity (prior-close NLV)
        under ``day_trade_min_equity``: ``"block"`` (default; the broker refuses the
        order that would complete a 4th day trade in 5 business days),
        ``"downgrade"`` (cash buying power while 4 or more are in the window), or
        ``None`` (not enforced; day trades are still counted). See ``solvent.risk.pdt``.
    start
        Timestamp of the opening balance; sets the first session.
    """

    def __init__(
        self,
        cash: Number,
        *,
        kind: AccountKind | str = AccountKind.MARGIN,
        currency: Currency | str = "USD",
        instruments: Iterable[Instrument | str] = (),
        initial_margin: Number = Decimal("0.5"),
        day_trading: bool = False,
        day_trade_multiplier: int = 4,
        day_trade_min_equity: Number = 25_000,
        debit_interest_rate: Number = 0,
        settlement_days: int = 0,
        calendar: BusinessCalendar | None = None,
        pdt: PdtPolicy | str | None = PdtPolicy.BLOCK,
        start: TimeLike | None = None,
    ) -> None:
        self.kind = AccountKind(kind)
        self.currency = _currency(currency)
        ccy = self.currency
        self._step = ccy.step  # one minor unit as a Decimal, for the records' amounts
        self._no_amount = 0 * self._step  # ``0 * step`` (the same exponent), built once
        self._start_cash = to_minor(cash, ccy, "cash")
        if self._start_cash < 0:
            raise InvalidInputError("cash", cash, "starting cash cannot be negative")
        self._cash = self._start_cash
        self._base_im_ppm = _ppm(initial_margin, "initial_margin")
        if self._base_im_ppm <= 0:
            raise InvalidInputError("initial_margin", initial_margin, "must be greater than zero")
        self.day_trading = bool(day_trading)
        if day_trade_multiplier < 1:
            raise InvalidInputError("day_trade_multiplier", day_trade_multiplier, "must be >= 1")
        self._dt_mult = int(day_trade_multiplier)
        self._dt_min_equity = to_minor(day_trade_min_equity, ccy, "day_trade_min_equity")
        self._debit_ppm = _ppm(debit_interest_rate, "debit_interest_rate")
        if settlement_days < 0:
            raise InvalidInputError("settlement_days", settlement_days, "cannot be negative")
        self.settlement_days = int(settlement_days)
        self.calendar = calendar or DEFAULT_CALENDAR
        self.pdt_policy = resolve_pdt(pdt)
        self._day_trades = DayTradeCounter(self.calendar)
        self._lock = threading.RLock()
        self._instruments: dict[str, Instrument] = {}
        self._positions: dict[str, Position] = {}
        # Session rolls re-base each position lazily: a roll bumps the serial, and a
        # position catches up (``_settle``) before its mark, lots or P&L are touched.
        self._roll_serial = 0
        self._borrowing: set[str] = set()  # shorts that pay a borrow fee at each roll
        # Capital held in positions an engine has not re-marked yet (``_restate``): the
        # high-water mark of capital used counts it (``_track_capital``).
        self._unmarked = 0
        for inst in instruments:
            self.add_instrument(inst)
        self._reservations = ReservationBook()
        # Running totals (minor units), kept incrementally so figures are O(1).
        self._long_value = 0
        self._short_value = 0  # negative or zero
        self._im = 0
        self._mm = 0
        self._commission = 0
        self._fees = 0
        self._dividends = 0
        self._deposits = 0
        self._withdrawals = 0
        self._slippage = 0
        self._unsettled: deque[tuple[date, int]] = deque()
        self._unsettled_total = 0
        self._legs: list[Fill] = []
        self._futures_basis = 0  # sum of the bases of open futures positions
        self._splits: list[SplitRecord] = []
        self._trades: list[Trade] = []
        self._cash_events: list[CashEvent] = []
        self._max_capital = 0
        self._max_capital_at: pd.Timestamp | None = None
        self._last_ts: pd.Timestamp | None = None
        self._session: date | None = None
        self._prior_nlv = self._start_cash
        self._prior_mm = 0
        self._dt_used = 0
        if start is not None:
            self._advance(to_timestamp(start, "start"))

    # -- instruments ----------------------------------------------------------------

    def add_instrument(self, instrument: Instrument | str) -> Instrument:
        """Register an instrument (a plain symbol gets US-equity defaults)."""
        inst = (
            instrument
            if isinstance(instrument, Instrument)
            else Instrument(instrument, currency=self.currency)
        )
        if inst.currency != self.currency:
            raise InvalidInputError(
                f"{inst.symbol}.currency", inst.currency.code, f"account currency is {self.currency.code}"
            )
        with self._lock:
            old = self._instruments.get(inst.symbol)
            if old is not None and old != inst and self._positions[inst.symbol].qty != 0:
                raise InvalidInputError(
                    f"{inst.symbol}.instrument", inst, "cannot redefine an instrument with an open position"
                )
            self._instruments[inst.symbol] = inst
            if old is None:
                pos = self._positions[inst.symbol] = Position(inst)
                pos.roll_serial = self._roll_serial
            else:
                self._positions[inst.symbol].instrument = inst
        return inst

    def instrument(self, symbol: str) -> Instrument:
        """Return the registered instrument for ``symbol``."""
        try:
            return self._instruments[symbol]
        except KeyError:
            raise UnknownSymbolError(symbol) from None

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        """Return the registered instruments by symbol (read-only mapping)."""
        return dict(self._instruments)

    @property
    def lock(self) -> threading.RLock:
        """Return the account's lock (held by every change and by ``snapshot``)."""
        return self._lock

    # -- fills ----------------------------------------------------------------------

    def apply_fill(self, fill: Fill) -> FillReport:
        """Apply an execution to the ledger, atomically.

        A fill that crosses zero is split into a closing leg and an opening leg;
        commission and slippage are split between them pro rata to quantity. The
        position is then marked at the fill price.

        Raises
        ------
        UnknownSymbolError
            The symbol has no registered instrument.
        PrecisionError
            Quantity, price or commission is off its grid.
        InvalidInputError
            The timestamp is earlier than the last event.
        """
        inst = self.instrument(fill.symbol)
        ccy = self.currency
        lots = inst.qty_lots(fill.quantity, "fill.quantity")
        ticks = inst.price_ticks(fill.price, "fill.price")
        commission = to_minor(fill.commission, ccy, f"{fill.symbol}.fill.commission")
        slippage = to_minor(fill.slippage, ccy, f"{fill.symbol}.fill.slippage")
        with self._lock:
            self._check_time(fill.timestamp)
            legs, trades, realized, cash_change = self._apply(
                inst, lots, ticks, fill.price, commission, slippage, fill.timestamp, fill.order_id, fill.tag
            )
            return FillReport(legs, Money(realized, ccy), Money(cash_change, ccy), trades)

    def book(
        self,
        symbol: str,
        lots: int,
        ticks: int,
        commission: int,
        slippage: int,
        timestamp: pd.Timestamp,
        order_id: str = "",
        tag: str | None = None,
    ) -> tuple[Fill, ...]:
        """Apply an execution already on the integer grid (the engines' path); return its legs.

        The same ledger change as ``apply_fill`` of the equivalent ``Fill``, without the
        round trip through decimals: ``lots`` signed lot steps, ``ticks`` the price in
        ticks, ``commission`` and ``slippage`` in minor units.

        Raises
        ------
        UnknownSymbolError
            The symbol has no registered instrument.
        InvalidInputError
            Zero lots, a price under one tick, a negative commission, or a timestamp
            earlier than the last event.
        """
        inst = self._instruments.get(symbol)
        if inst is None:
            raise UnknownSymbolError(symbol)
        if lots == 0:
            raise InvalidInputError(f"{symbol}.fill.quantity", lots, "must not be zero")
        if ticks <= 0:
            raise InvalidInputError(f"{symbol}.fill.price", ticks, "must be at least one tick")
        if commission < 0:
            raise InvalidInputError(f"{symbol}.fill.commission", commission, "must not be negative")
        # The engines pass a ``pd.Timestamp``: no conversion, no label string per fill.
        ts = (
            timestamp
            if type(timestamp) is pd.Timestamp
            else to_timestamp(timestamp, f"{symbol}.fill.timestamp")
        )
        with self._lock:
            return self._book_exact(inst, lots, ticks, commission, slippage, ts, order_id, tag)

    def _book_exact(
        self,
        inst: Instrument,
        lots: int,
        ticks: int,
        commission: int,
        slippage: int,
        ts: pd.Timestamp,
        order_id: str,
        tag: str | None,
    ) -> tuple[Fill, ...]:
        """Book values ``book`` has checked (or the broker made valid): the lock is held.

        The broker calls this directly for its own fills (``inst`` is the account's
        registered instrument, ``lots`` non-zero, ``ticks`` at least one tick, under
        its own hold of the lock), skipping a lookup, four checks and a second lock per
        fill. The clock still may not go back.
        """
        self._check_time(ts)
        legs, _, _, _ = self._apply(
            inst, lots, ticks, inst.price(ticks), commission, slippage, ts, order_id, tag
        )
        return legs

    def _apply(
        self,
        inst: Instrument,
        lots: int,
        ticks: int,
        price: Decimal,
        commission: int,
        slippage: int,
        ts: pd.Timestamp,
        order_id: str,
        tag: str | None,
    ) -> tuple[tuple[Fill, ...], tuple[Trade, ...], int, int]:
        """Book one validated fill (under the lock): ``(legs, trades, realized, cash change)``."""
        if ts is not self._last_ts:  # the engines book a bar's fills at its marks' stamp
            self._advance(ts)
        symbol = inst.symbol
        pos = self._positions[symbol]
        if pos.roll_serial != self._roll_serial:
            self._settle(pos)
        futures = inst.asset_class is AssetClass.FUTURE
        basis_before = pos.basis if futures else 0
        assert self._session is not None  # noqa: S101 - _advance set it
        self._day_trades.record(symbol, self._session, pos.qty, lots)
        closing, opening = rules.split_fill(pos.qty, lots)
        k_num, k_den = inst.k_num, inst.k_den
        legs: list[Fill] = []
        trades: list[Trade] = []
        realized = 0
        cash_change = 0
        c_close = s_close = 0
        step = self._step
        if closing:
            total = abs(lots)
            c_close = rules.prorate(commission, abs(closing), total)
            s_close = rules.prorate(slippage, abs(closing), total)
            notional = rules.notional_minor(ticks, closing, k_num, k_den)
            side = Side.SELL if closing < 0 else Side.BUY_TO_COVER
            # Every value is exact and typed already: the record skips its boundary checks.
            leg = exact_fill(
                symbol,
                inst.quantity(closing),
                price,
                ts,
                c_close * step,
                s_close * step if s_close else self._no_amount,  # no slippage: most fills
                order_id,
                tag,
                side,
            )
            for portion in pos.close(leg, closing, notional, c_close):
                realized += portion.realized
                trades.append(portion.trade)
            if futures:
                delta = rules.futures_cash_delta(realized, c_close)
            else:
                delta = rules.fill_cash_delta(notional, c_close)
            cash_change += delta
            if delta > 0:
                self._add_unsettled(ts, delta)
            legs.append(leg)
        if opening:
            c_open = commission - c_close
            notional = rules.notional_minor(ticks, opening, k_num, k_den)
            side = Side.BUY if opening > 0 else Side.SELL_SHORT
            s_open = slippage - s_close
            leg = exact_fill(
                symbol,
                inst.quantity(opening),
                price,
                ts,
                c_open * step,
                s_open * step if s_open else self._no_amount,
                order_id,
                tag,
                side,
            )
            pos.open(leg, opening, notional, c_open)
            if futures:
                cash_change += rules.futures_cash_delta(0, c_open)
            else:
                cash_change += rules.fill_cash_delta(notional, c_open)
            if self.kind is _MARGIN_KIND:  # day-trade buying power: margin accounts only
                self._dt_used += rules.to_buying_power_units(
                    abs(notional), self._im_ppm(inst, opening), self._base_im_ppm
                )
            legs.append(leg)
        self._cash += cash_change
        if inst.borrow_ppm:
            if pos.qty < 0:
                self._borrowing.add(symbol)
            else:
                self._borrowing.discard(symbol)
        if futures:
            self._futures_basis += pos.basis - basis_before
        self._commission += commission
        self._slippage += slippage
        self._remark(pos, ticks)
        self._legs.extend(legs)
        self._trades.extend(trades)
        used = self._long_value - self._short_value + self._unmarked  # ``_track_capital``, inlined
        if used > self._max_capital:
            self._track_capital(ts)
        return tuple(legs), tuple(trades), realized, cash_change

    # -- marks ----------------------------------------------------------------------

    def mark(self, symbol: str, price: Number, timestamp: TimeLike | None = None) -> None:
        """Mark ``symbol`` at ``price`` (snapped half-even to the tick, as bar data is)."""
        self.mark_ticks({symbol: self.instrument(symbol).snap_price(price, "mark")}, timestamp)

    def mark_prices(self, prices: Mapping[str, Number], timestamp: TimeLike | None = None) -> None:
        """Mark several symbols at once (all validated before any is applied)."""
        self.mark_ticks({s: self.instrument(s).snap_price(p, "mark") for s, p in prices.items()}, timestamp)

    def mark_ticks(self, ticks: Mapping[str, int], timestamp: TimeLike | None = None) -> None:
        """Mark symbols at prices already on the tick grid (the engines' fast path)."""
        if not self._instruments.keys() >= ticks.keys():  # one set test, not a call per symbol
            for s in ticks:
                self.instrument(s)  # raises UnknownSymbolError naming the first unknown
        ts = None if timestamp is None else to_timestamp(timestamp)
        with self._lock:
            if ts is not None:
                self._check_time(ts)
                self._advance(ts)
            positions = self._positions
            for s, t in ticks.items():
                pos = positions[s]
                # A mark that moves no money is a no-op (the engines mark every bar): a
                # flat position only keeps the price, and a position already at ``t``
                # keeps its value and margin (both are recomputed whenever it changes).
                if pos.qty == 0:
                    pos.mark_ticks = t
                elif pos.mark_ticks != t:
                    self._remark(pos, t)
            self._track_capital(ts)

    def _remark(self, pos: Position, ticks: int) -> None:
        """Re-mark one position and move the account totals by its change (O(1), no lots)."""
        if pos.roll_serial != self._roll_serial:
            self._settle(pos)  # a roll re-bases the lots on the mark it happened at
        inst = pos.instrument
        old = pos.market_value
        value = rules.notional_minor(ticks, pos.qty, inst.k_num, inst.k_den)
        pos.mark_ticks = ticks
        pos.market_value = value
        if old >= 0:
            self._long_value -= old
        else:
            self._short_value -= old
        if value >= 0:
            self._long_value += value
        else:
            self._short_value += value
        old_im, old_mm = pos.im, pos.mm
        if self.kind is _CASH_KIND and pos.qty > 0:
            im = mm = value  # a cash account's "margin" is what it holds, in full
        else:
            im, mm = self._position_margin(pos)
        pos.im, pos.mm = im, mm
        self._im += im - old_im
        self._mm += mm - old_mm

    def _restate(self, symbol: str, roll_ticks: int | None, ticks: int) -> None:
        """Re-mark a position an engine left unmarked, as if it had been marked all along.

        For the engines only (``engine/runner.py``): the clock does not move and capital
        used is not tracked (the engine counted the position's value in ``_unmarked`` at
        every moment it tracked). ``roll_ticks``: the mark of the close before the last
        session roll since the position was last marked; the lots are re-based on it
        first (re-basing telescopes: only the last roll's mark counts), then the
        position is marked at ``ticks``.
        """
        with self._lock:
            pos = self._positions[symbol]
            if roll_ticks is not None:
                # The missed rolls would re-base the lots on the stale mark, then this roll
                # re-bases them on ``roll_ticks``: per lot the two moves of ``realized_mtm``
                # telescope into the second, so the first is skipped (not settled).
                pos.roll_serial = self._roll_serial
                self._remark(pos, roll_ticks)
                pos.roll_session()
            self._remark(pos, ticks)

    def _add_value(self, value: int, sign: int) -> None:
        if value >= 0:
            self._long_value += sign * value
        else:
            self._short_value += sign * value

    def _position_margin(self, pos: Position) -> tuple[int, int]:
        if pos.qty == 0:
            return 0, 0
        inst = pos.instrument
        value = abs(pos.market_value)
        if self.kind is _CASH_KIND:
            return value, value
        if inst.initial_margin_fixed is not None:
            num, den = inst.fixed_margin_fraction(False)
            mnum, mden = inst.fixed_margin_fraction(True)
            lots = abs(pos.qty)
            return (
                rules.fixed_margin_requirement(lots, num, den),
                rules.fixed_margin_requirement(lots, mnum, mden),
            )
        if pos.qty > 0:
            return (
                rules.margin_requirement(value, inst.im_long_ppm),
                rules.margin_requirement(value, inst.mm_long_ppm),
            )
        return (
            rules.margin_requirement(value, inst.im_short_ppm),
            rules.margin_requirement(value, inst.mm_short_ppm),
        )

    def _im_ppm(self, inst: Instrument, lots: int) -> int:
        if self._cash_rates():
            return _FULL
        return inst.im_long_ppm if lots > 0 else inst.im_short_ppm

    def im_rate_ppm(self, symbol: str, lots: int) -> int:
        """Return the initial-margin rate (ppm) an opening of ``lots`` in ``symbol`` uses."""
        return self._im_ppm(self.instrument(symbol), lots)

    @property
    def base_im_rate_ppm(self) -> int:
        """Return the rate buying power is quoted at (ppm): 100% for cash accounts."""
        return _FULL if self._cash_rates() else self._base_im_ppm

    def _cash_rates(self) -> bool:
        # A margin account downgraded to cash buying power (PDT) pays for what it buys in
        # full, as a cash account does: its orders cost buying power at 100%.
        return self.kind is _CASH_KIND or self._mode() is _BP_CASH

    # -- sessions, time -------------------------------------------------------------

    def advance(self, timestamp: TimeLike) -> None:
        """Move the account's clock to ``timestamp``, rolling the session on a new date.

        A session roll charges the fees accrued overnight (borrow fees on shorts, debit
        interest) for the calendar days elapsed, settles what is due, records the prior
        close NLV and maintenance margin, and re-bases the mark-to-market lots. Fills,
        marks and cash events call this themselves.
        """
        ts = to_timestamp(timestamp)
        with self._lock:
            self._check_time(ts)
            self._advance(ts)

    def _check_time(self, ts: pd.Timestamp) -> None:
        last = self._last_ts
        if last is not None and ts is not last and ts < last:
            raise InvalidInputError(
                "timestamp", ts, f"is earlier than the account's last event at {self._last_ts}"
            )

    def _advance(self, ts: pd.Timestamp) -> None:
        if ts is self._last_ts:
            return  # the engines pass one stamp per bar: nothing to move
        self._last_ts = ts
        day = ts.date()
        if self._session is None:
            self._session = day
            self._prior_nlv = self._nlv()
            self._prior_mm = self._mm
            return
        if day > self._session:
            self._roll(day, ts)

    def _roll(self, day: date, ts: pd.Timestamp) -> None:
        assert self._session is not None  # noqa: S101 - _advance set it
        days = (day - self._session).days
        # The previous session's close is the state right now, before overnight fees.
        self._prior_nlv = self._nlv()
        self._prior_mm = self._mm
        # Every position re-bases on its mark now; each does it when next touched (its
        # mark cannot change before: ``_remark`` and ``_apply`` settle it first).
        self._roll_serial += 1
        if self._borrowing:
            for pos in self._positions.values():  # in registration order, as the events read
                if pos.qty < 0 and pos.instrument.borrow_ppm:
                    fee = rules.accrued_fee(-pos.market_value, pos.instrument.borrow_ppm, days)
                    if fee:
                        self._charge(
                            CashEventKind.BORROW_FEE, fee, ts, pos.instrument.symbol, f"{days} day(s)"
                        )
        if self._cash < 0 and self._debit_ppm:
            fee = rules.accrued_fee(-self._cash, self._debit_ppm, days)
            if fee:
                self._charge(CashEventKind.INTEREST, fee, ts, None, f"{days} day(s) on debit balance")
        while self._unsettled and self._unsettled[0][0] <= day:
            self._unsettled_total -= self._unsettled.popleft()[1]
        self._dt_used = 0
        self._session = day

    def _settle(self, pos: Position) -> None:
        """Apply the session rolls ``pos`` has missed: one re-base on its current mark.

        Its mark has not changed since the first missed roll, so rolling once is rolling
        at each of them (a roll on an unchanged mark moves nothing).
        """
        pos.roll_serial = self._roll_serial
        if pos.lots:
            pos.roll_session()

    def _settle_all(self) -> None:
        serial = self._roll_serial
        for pos in self._positions.values():
            if pos.roll_serial != serial:
                self._settle(pos)

    def _charge(
        self, kind: CashEventKind, fee: int, ts: pd.Timestamp, symbol: str | None, detail: str
    ) -> None:
        self._cash -= fee
        self._fees += fee
        self._cash_events.append(CashEvent(kind, Money(-fee, self.currency), ts, symbol, detail))

    def _add_unsettled(self, ts: pd.Timestamp, amount: int) -> None:
        if self.kind is _CASH_KIND and self.settlement_days > 0:
            due = self.calendar.add_business_days(ts.date(), self.settlement_days)
            self._unsettled.append((due, amount))
            self._unsettled_total += amount

    def _track_capital(self, ts: pd.Timestamp | None) -> None:
        used = self._long_value - self._short_value + self._unmarked
        if used > self._max_capital:
            self._max_capital = used
            self._max_capital_at = ts if ts is not None else self._last_ts

    # -- cash events ----------------------------------------------------------------

    def deposit(self, amount: Number, timestamp: TimeLike) -> CashEvent:
        """Add cash to the account."""
        minor = self._positive_money(amount, "deposit")
        ts = to_timestamp(timestamp)
        with self._lock:
            self._check_time(ts)
            self._advance(ts)
            self._cash += minor
            self._deposits += minor
            return self._record(CashEventKind.DEPOSIT, minor, ts, None, "")

    def withdraw(self, amount: Number, timestamp: TimeLike) -> Verdict:
        """Take cash out, if the account can spare it.

        A cash account can withdraw its settled cash less reservations; a margin
        account its excess (NLV - initial margin - reservations), and never more than
        the cash it holds. Otherwise the withdrawal is refused (``INSUFFICIENT_CASH``)
        and the balance does not change; the account's clock still moves to
        ``timestamp`` (a new session rolls), as it would for any event at that time.
        """
        minor = self._positive_money(amount, "withdrawal")
        ts = to_timestamp(timestamp)
        with self._lock:
            self._check_time(ts)
            self._advance(ts)
            available = self._withdrawable()
            if minor > available:
                return Verdict(
                    False,
                    ReasonCode.INSUFFICIENT_CASH,
                    f"withdrawal of {Money(minor, self.currency)} exceeds the "
                    f"{Money(available, self.currency)} available",
                )
            self._cash -= minor
            self._withdrawals += minor
            self._record(CashEventKind.WITHDRAWAL, -minor, ts, None, "")
            return Verdict(True)

    def _withdrawable(self) -> int:
        if self.kind is _CASH_KIND:
            return max(0, self._cash - self._unsettled_total - self._reservations.total)
        excess = self._excess()
        return max(0, min(excess, self._cash))

    def charge_fee(
        self, amount: Number, timestamp: TimeLike, *, detail: str = "", symbol: str | None = None
    ) -> CashEvent:
        """Charge a fee (data, platform, regulatory...) to cash; it counts as a cost."""
        minor = self._positive_money(amount, "fee")
        ts = to_timestamp(timestamp)
        with self._lock:
            self._check_time(ts)
            self._advance(ts)
            self._charge(CashEventKind.FEE, minor, ts, symbol, detail)
            return self._cash_events[-1]

    def dividend(self, symbol: str, per_share: Number, timestamp: TimeLike) -> CashEvent | None:
        """Pay a cash dividend of ``per_share``: longs are credited, shorts charged.

        The amount is ``quantity * per_share * multiplier`` rounded half-even once to
        the minor unit, counted in realized P&L. Returns ``None`` when flat.
        """
        inst = self.instrument(symbol)
        d = to_decimal(per_share, f"{symbol}.dividend", positive=True)
        ts = to_timestamp(timestamp)
        per_lot = Fraction(d) * Fraction(inst.lot_size) * Fraction(inst.multiplier) * 10**self.currency.digits
        with self._lock:
            self._check_time(ts)
            self._advance(ts)
            pos = self._positions[symbol]
            if pos.qty == 0:
                return None
            amount = rules.per_unit_cash(pos.qty, per_lot.numerator, per_lot.denominator)
            self._cash += amount
            self._dividends += amount
            return self._record(CashEventKind.DIVIDEND, amount, ts, symbol, f"{d} per share")

    def split(self, symbol: str, ratio: Number | Fraction, timestamp: TimeLike) -> CashEvent | None:
        """Apply a stock split of ``ratio`` new shares per old share.

        ``2`` is a 2-for-1 split, ``0.25`` a 1-for-4 reverse split. Pass a ``Fraction``
        for ratios a decimal cannot hold (a 4-for-3 split is ``Fraction(4, 3)``).
        Quantity is multiplied and the mark divided by the ratio; a remainder off the
        lot grid is paid out in cash at the post-split mark (cash in lieu, realized
        P&L). Returns the cash-in-lieu event, or ``None`` when there was none.
        """
        self.instrument(symbol)  # unknown symbol: typed error before anything changes
        if isinstance(ratio, Fraction):
            if ratio <= 0:
                raise InvalidInputError(f"{symbol}.split", ratio, "must be greater than zero")
            r = ratio
        else:
            r = Fraction(to_decimal(ratio, f"{symbol}.split", positive=True))
        ts = to_timestamp(timestamp)
        with self._lock:
            self._check_time(ts)
            self._advance(ts)
            pos = self._positions[symbol]
            if pos.roll_serial != self._roll_serial:
                self._settle(pos)
            old_value = pos.market_value
            self._splits.append(SplitRecord(len(self._legs), symbol, r, pos.mark_ticks))
            cash, _realized = pos.split(r)
            # Value is unchanged except for what was paid out and the tick snap.
            self._add_value(old_value, -1)
            self._add_value(pos.market_value, 1)
            old_im, old_mm = pos.im, pos.mm
            pos.im, pos.mm = self._position_margin(pos)
            self._im += pos.im - old_im
            self._mm += pos.mm - old_mm
            # Snapping the mark to the tick can raise the value: keep the high-water mark.
            self._track_capital(ts)
            if cash == 0:
                return None
            self._cash += cash
            return self._record(CashEventKind.SPLIT_CASH, cash, ts, symbol, f"cash in lieu, ratio {r}")

    def _record(
        self, kind: CashEventKind, amount: int, ts: pd.Timestamp, symbol: str | None, detail: str
    ) -> CashEvent:
        ev = CashEvent(kind, Money(amount, self.currency), ts, symbol, detail)
        self._cash_events.append(ev)
        return ev

    def _positive_money(self, amount: Number, field: str) -> int:
        minor = to_minor(amount, self.currency, field)
        if minor <= 0:
            raise InvalidInputError(field, amount, "must be greater than zero")
        return minor

    # -- reservations ---------------------------------------------------------------

    def reserve(
        self,
        order_id: str,
        amount: Number | Money,
        *,
        symbol: str | None = None,
        short: bool = False,
        tag: str | None = None,
    ) -> ReservationResult:
        """Reserve ``amount`` of buying power for a pending order, if available.

        Checking what is available and reserving it is one critical section, so
        concurrent callers can never reserve more than the account has. A duplicate
        order id is refused (``DUPLICATE_ORDER_ID``), an amount larger than what is
        available is refused (``INSUFFICIENT_BUYING_POWER``); neither changes anything.
        """
        if isinstance(amount, Money) and amount.currency != self.currency:
            raise CurrencyMismatchError(f"reservation.amount: {amount.currency} vs account {self.currency}")
        minor = (
            amount.minor
            if isinstance(amount, Money)
            else to_minor(amount, self.currency, "reservation.amount")
        )
        if minor < 0:
            raise InvalidInputError("reservation.amount", amount, "cannot be negative")
        if not isinstance(order_id, str) or not order_id:
            raise InvalidInputError("order_id", order_id, "must be a non-empty string")
        ccy = self.currency
        with self._lock:
            available = self._buying_power()
            if order_id in self._reservations:
                return ReservationResult(
                    False, order_id, Money(minor, ccy), Money(available, ccy), ReasonCode.DUPLICATE_ORDER_ID
                )
            if minor > available:
                return ReservationResult(
                    False,
                    order_id,
                    Money(minor, ccy),
                    Money(available, ccy),
                    ReasonCode.INSUFFICIENT_BUYING_POWER,
                )
            self._reservations.add(order_id, minor, symbol, short, tag)
            return ReservationResult(True, order_id, Money(minor, ccy), Money(available - minor, ccy))

    def _reserve(self, order_id: str, minor: int, symbol: str | None, short: bool, tag: str | None) -> bool:
        """``reserve`` for the broker: the same checks, in minor units, answering only yes or no."""
        with self._lock:
            if order_id in self._reservations or minor > self._buying_power():
                return False
            self._reservations.add(order_id, minor, symbol, short, tag)
            return True

    def confirm(self, order_id: str, fraction: Number | Fraction = 1) -> Money:
        """Release the part of a reservation that a fill used (pro rata to quantity).

        ``fraction`` is the filled share of the order's quantity; shares accumulate and
        at 1 the reservation is gone. Returns the amount released. Pass a ``Fraction``
        (``Fraction(filled, ordered)``) for shares a decimal cannot hold exactly, such
        as 1/3: three decimal thirds never add up to 1.
        """
        field = f"reservation[{order_id}].fraction"
        if isinstance(fraction, Fraction):
            if fraction <= 0:
                raise InvalidInputError(field, fraction, "must be greater than zero")
            f = fraction
        else:
            f = Fraction(to_decimal(fraction, field, positive=True))
        with self._lock:
            return Money(self._reservations.release_fraction(order_id, f), self.currency)

    def release(self, order_id: str) -> Money:
        """Release what an order still holds (on cancel, expiry or rejection)."""
        with self._lock:
            return Money(self._reservations.release(order_id), self.currency)

    def reserved_for(self, order_id: str) -> Money:
        """Return what ``order_id`` still holds."""
        with self._lock:
            return Money(self._reservations.remaining(order_id), self.currency)

    # -- figures (minor units, internal) -------------------------------------------

    def _nlv(self) -> int:
        # Futures count by their unrealized P&L only: opening one moved no cash.
        return self._cash + self._long_value + self._short_value - self._futures_basis

    def _reserved_margin(self) -> int:
        return rules.ceil_div(self._reservations.total * self.base_im_rate_ppm, rules.RATE_SCALE)

    def _excess(self) -> int:
        return rules.margin_excess(self._nlv(), self._im, self._reserved_margin())

    def _mode(self) -> BuyingPowerMode:
        if self.kind is _CASH_KIND:
            return _BP_CASH
        if self._prior_nlv >= self._dt_min_equity:
            return _BP_DAY_TRADE if self.day_trading else _BP_MARGIN
        if (
            self.pdt_policy is PdtPolicy.DOWNGRADE
            and self._day_trades.count(self._session) >= PATTERN_DAY_TRADES
        ):
            return _BP_CASH  # a restricted pattern day trader: cash buying power
        return _BP_MARGIN

    def _pdt_restricted(self) -> bool:
        """Return whether the PDT policy restricts the account now (see ``snapshot``)."""
        if self.kind is _CASH_KIND or self.pdt_policy is None or self._prior_nlv >= self._dt_min_equity:
            return False
        limit = PATTERN_DAY_TRADES - 1 if self.pdt_policy is PdtPolicy.BLOCK else PATTERN_DAY_TRADES
        return self._day_trades.count(self._session) >= limit

    def _gross_buying_power(self) -> int:
        """Buying power before reservations, in the mode in force."""
        # A cash account is always in cash mode: no ``_mode`` call (every check asks).
        mode = _BP_CASH if self.kind is _CASH_KIND else self._mode()
        if mode is _BP_CASH:
            return rules.cash_buying_power(self._cash - self._unsettled_total, 0)
        if mode is _BP_DAY_TRADE:
            return rules.day_trade_buying_power(self._prior_nlv, self._prior_mm, self._dt_mult, self._dt_used)
        return rules.margin_buying_power(self._nlv() - self._im, self._base_im_ppm)

    def _buying_power(self) -> int:
        return max(0, self._gross_buying_power() - self._reservations.total)

    # -- figures (public, Money) ----------------------------------------------------

    def _m(self, minor: int) -> Money:
        return Money(minor, self.currency)

    @property
    def cash(self) -> Money:
        """Return the cash balance (negative is a margin loan)."""
        return self._m(self._cash)

    @property
    def settled_cash(self) -> Money:
        """Return cash less unsettled sale proceeds."""
        return self._m(self._cash - self._unsettled_total)

    @property
    def nlv(self) -> Money:
        """Return net liquidating value: cash plus the market value of all positions."""
        return self._m(self._nlv())

    @property
    def buying_power(self) -> Money:
        """Return buying power in force, net of reservations."""
        return self._m(self._buying_power())

    @property
    def gross_buying_power(self) -> Money:
        """Return buying power in force before reservations (may exceed ``buying_power``)."""
        return self._m(self._gross_buying_power())

    @property
    def initial_margin(self) -> Money:
        """Return the initial margin in use."""
        return self._m(self._im)

    @property
    def maintenance_margin(self) -> Money:
        """Return the maintenance margin in use."""
        return self._m(self._mm)

    @property
    def excess(self) -> Money:
        """Return NLV less initial margin less reservations (may be negative)."""
        return self._m(self._excess())

    @property
    def reserved(self) -> Money:
        """Return the buying power held by pending orders."""
        return self._m(self._reservations.total)

    @property
    def mode(self) -> BuyingPowerMode:
        """Return which buying power is in force."""
        return self._mode()

    def quantity(self, symbol: str) -> Decimal:
        """Return the signed quantity held in ``symbol``."""
        pos = self._positions.get(symbol)
        if pos is None:
            raise UnknownSymbolError(symbol)
        return pos.instrument.quantity(pos.qty)

    def position_lots(self, symbol: str) -> int:
        """Return the signed quantity held in ``symbol`` in lot steps."""
        pos = self._positions.get(symbol)
        if pos is None:
            raise UnknownSymbolError(symbol)
        return pos.qty

    def position(self, symbol: str) -> PositionSnapshot:
        """Return a read-only snapshot of one position."""
        pos = self._positions.get(symbol)
        if pos is None:
            raise UnknownSymbolError(symbol)
        with self._lock:
            if pos.roll_serial != self._roll_serial:
                self._settle(pos)
            return PositionSnapshot.of(pos)

    @property
    def fills(self) -> tuple[Fill, ...]:
        """Return every recorded leg, in order (a flip is two legs)."""
        return tuple(self._legs)

    @property
    def trades(self) -> tuple[Trade, ...]:
        """Return the matched FIFO round trips, in the order they closed."""
        return tuple(self._trades)

    @property
    def cash_events(self) -> tuple[CashEvent, ...]:
        """Return every non-trade cash movement, in order."""
        return tuple(self._cash_events)

    # -- Pattern Day Trader -----------------------------------------------------------

    def set_pdt(self, policy: PdtPolicy | str | None, calendar: BusinessCalendar | None = None) -> None:
        """Set the PDT policy (``"block"``, ``"downgrade"`` or ``None``) and its calendar.

        ``calendar`` replaces the business days of the PDT window only (settlement keeps
        the account's calendar); day trades already counted are kept.
        """
        resolved = resolve_pdt(policy)
        with self._lock:
            self.pdt_policy = resolved
            if calendar is not None:
                self._day_trades.set_calendar(calendar)

    @property
    def day_trades(self) -> int:
        """Return the day trades in the rolling 5-business-day window (``solvent.risk.pdt``)."""
        with self._lock:
            return self._day_trades.count(self._session)

    @property
    def pdt_restricted(self) -> bool:
        """Return whether the PDT policy restricts the account now.

        Under ``block``: 3 or more day trades in the window and equity under $25,000 (the
        next day trade would be refused). Under ``downgrade``: 4 or more (cash buying
        power in force).
        """
        with self._lock:
            return self._pdt_restricted()

    def pdt_verdict(self, symbol: str, order_lots: int) -> Verdict:
        """Return whether the ``block`` policy lets an order of ``order_lots`` be placed now.

        Refused (``PDT_RESTRICTED``) when the order would complete a day trade in the
        current session and that day trade would be the 4th in the window, in a margin
        account whose prior-close equity is under ``day_trade_min_equity``.
        """
        with self._lock:
            if (
                self.pdt_policy is not PdtPolicy.BLOCK
                or self.kind is _CASH_KIND
                or self._session is None
                or self._prior_nlv >= self._dt_min_equity
            ):
                return ALLOWED
            pos = self._positions[symbol].qty if symbol in self._positions else 0
            if not self._day_trades.would_count(symbol, self._session, pos, order_lots):
                return ALLOWED
            n = self._day_trades.count(self._session)
            if n + 1 < PATTERN_DAY_TRADES:
                return ALLOWED
            return Verdict(
                False,
                ReasonCode.PDT_RESTRICTED,
                f"{symbol}: closing a position opened this session would be day trade #{n + 1} in 5 "
                f"business days with equity {self._m(self._prior_nlv)} under {self._m(self._dt_min_equity)}",
            )

    # -- margin health ----------------------------------------------------------------

    def _margin_at(self, pos: Position, ticks: int) -> tuple[int, int]:
        """Return ``(market value, maintenance margin)`` of ``pos`` marked at ``ticks``."""
        inst = pos.instrument
        value = rules.notional_minor(ticks, pos.qty, inst.k_num, inst.k_den)
        if self.kind is _CASH_KIND:
            return value, abs(value)
        if inst.maintenance_margin_fixed is not None:
            return value, rules.fixed_margin_requirement(abs(pos.qty), *inst.fixed_margin_fraction(True))
        rate = inst.mm_long_ppm if pos.qty > 0 else inst.mm_short_ppm
        return value, rules.margin_requirement(abs(value), rate)

    def margin_figures(self, ticks: Mapping[str, int] | None = None) -> tuple[int, int, int]:
        """Return ``(NLV, gross exposure, maintenance margin)`` in minor units.

        With ``ticks``, the figures are those the account *would* have if the given
        open positions were marked at those prices (a check against a bar's adverse
        extreme); nothing is changed.
        """
        with self._lock:
            nlv, gross, mm = self._nlv(), self._long_value - self._short_value, self._mm
            if not ticks:
                return nlv, gross, mm
            for symbol, t in ticks.items():
                pos = self._positions.get(symbol)
                if pos is None or pos.qty == 0:
                    continue
                value, maint = self._margin_at(pos, t)
                nlv += value - pos.market_value
                gross += abs(value) - abs(pos.market_value)
                mm += maint - pos.mm
            return nlv, gross, mm

    def holdings(self, ticks: Mapping[str, int] | None = None) -> tuple[Holding, ...]:
        """Return the open positions as liquidation ``Holding`` records.

        Marked at their current prices, or at ``ticks`` where given (as
        ``margin_figures``).
        """
        out = []
        with self._lock:
            for symbol, pos in self._positions.items():
                if pos.qty == 0:
                    continue
                inst = pos.instrument
                price = (ticks or {}).get(symbol, pos.mark_ticks)
                value, _ = self._margin_at(pos, price)
                fixed = None
                if self.kind is _CASH_KIND:
                    rate = _FULL
                elif inst.maintenance_margin_fixed is not None:
                    rate, fixed = 0, inst.fixed_margin_fraction(True)
                else:
                    rate = inst.mm_long_ppm if pos.qty > 0 else inst.mm_short_ppm
                out.append(
                    Holding(symbol, pos.qty, price, inst.k_num, inst.k_den, rate, value - pos.basis, fixed)
                )
        return tuple(out)

    def snapshot(self) -> AccountSnapshot:
        """Return every account figure at this moment, consistently (under the lock)."""
        with self._lock:
            self._settle_all()
            ccy = self.currency
            realized = sum(p.realized for p in self._positions.values()) + self._dividends
            realized_mtm = sum(p.realized_mtm for p in self._positions.values()) + self._dividends
            unrealized = sum(p.unrealized for p in self._positions.values())
            unrealized_mtm = sum(p.unrealized_mtm for p in self._positions.values())
            pend_long, pend_short = self._reservations.pending()
            mode = self._mode()
            dtbp = 0
            if self.kind is _MARGIN_KIND:
                dtbp = rules.day_trade_buying_power(
                    self._prior_nlv, self._prior_mm, self._dt_mult, self._dt_used
                )
            m = self._m
            return AccountSnapshot(
                timestamp=self._last_ts,
                kind=self.kind.value,
                mode=mode.value,
                cash=m(self._cash),
                settled_cash=m(self._cash - self._unsettled_total),
                nlv=m(self._nlv()),
                long_capital=m(self._long_value),
                short_capital=m(-self._short_value),
                gross_exposure=m(self._long_value - self._short_value),
                initial_margin=m(self._im),
                maintenance_margin=m(self._mm),
                excess=m(self._excess()),
                reserved=m(self._reservations.total),
                buying_power=m(self._buying_power()),
                day_trade_buying_power=m(dtbp),
                realized_pnl=m(realized),
                unrealized_pnl=m(unrealized),
                realized_pnl_mtm=m(realized_mtm),
                unrealized_pnl_mtm=m(unrealized_mtm),
                commission=m(self._commission),
                fees=m(self._fees),
                dividends=m(self._dividends),
                slippage=m(self._slippage),
                deposits=m(self._deposits),
                withdrawals=m(self._withdrawals),
                starting_cash=m(self._start_cash),
                capital_used=m(self._long_value - self._short_value),
                max_capital_used=m(self._max_capital),
                max_capital_used_at=self._max_capital_at,
                pending_long=m(pend_long),
                pending_short=m(pend_short),
                open_symbols=tuple(s for s, p in self._positions.items() if p.qty != 0),
                pending_symbols=self._reservations.symbols(),
                positions=tuple(PositionSnapshot.of(p) for p in self._positions.values() if p.qty != 0),
                currency=ccy.code,
                day_trades=self._day_trades.count(self._session),
                pattern_day_trader=self._day_trades.count(self._session) >= PATTERN_DAY_TRADES,
                pdt_restricted=self._pdt_restricted(),
                pdt_policy=None if self.pdt_policy is None else self.pdt_policy.value,
            )

    def filter(self, tag: str) -> AccountView:
        """Return a read-only view of the fills carrying ``tag`` (a per-strategy book)."""
        with self._lock:
            entries: list[Fill | SplitRecord] = []
            splits = iter(self._splits)
            upcoming = next(splits, None)
            for i, leg in enumerate(self._legs):
                while upcoming is not None and upcoming.at <= i:
                    entries.append(upcoming)
                    upcoming = next(splits, None)
                if leg.tag == tag:
                    entries.append(leg)
            while upcoming is not None:
                entries.append(upcoming)
                upcoming = next(splits, None)
            marks = {s: p.mark_ticks for s, p in self._positions.items()}
            pend = self._reservations.pending(tag)
            return AccountView(tag, self.currency, self._instruments, entries, marks, pend)

    def __repr__(self) -> str:
        return (
            f"Account(kind={self.kind.value}, cash={self.cash}, nlv={self.nlv}, "
            f"buying_power={self.buying_power}, open={len([p for p in self._positions.values() if p.qty])})"
        )

    # -- figures for the engines ------------------------------------------------------

    def figures_minor(self) -> AccountFigures:
        """Return the headline figures as plain ints in minor units, in one consistent read.

        The engine records them every bar; ``Money`` properties would build five objects.
        """
        with self._lock:
            return AccountFigures(
                self._cash,
                self._nlv(),
                self._buying_power(),
                self._im,
                self._mm,
                self._long_value - self._short_value,
                self._max_capital,
            )


class AccountFigures(NamedTuple):
    """``Account.figures_minor``: what the engine records per bar, in minor units."""

    cash: int
    nlv: int
    buying_power: int
    initial_margin: int
    maintenance_margin: int
    capital_used: int  # gross exposure: long value plus the absolute short value
    max_capital_used: int  # its high-water mark so far


def _currency(code: Currency | str) -> Currency:
    return currency(code)


def _ppm(value: Number, field: str) -> int:
    d = to_decimal(value, field)
    if d < 0 or d > 1:
        raise InvalidInputError(field, value, "a rate must be between 0 and 1")
    scaled = d * rules.RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise InvalidInputError(field, value, "rates are kept to 6 decimal places (1 ppm)")
    return int(scaled)
