"""The account's state: its settings, instruments, positions, clock and figures.

``Account`` is built in layers, one module each, every layer calling only those below
it: this state (``AccountState``: the internal figures in minor units, re-marking a
position, the session clock and its overnight charges), booking fills and marks
(``booking``), and the public ledger (``account``: cash events, reservations,
figures, the Pattern Day Trader rule, margin health, snapshots).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pandas as pd

from solvent.accounting import rules
from solvent.accounting.position import Position
from solvent.accounting.reservations import ReservationBook
from solvent.accounting.view import SplitRecord
from solvent.errors import InvalidInputError, UnknownSymbolError
from solvent.model.calendar import DEFAULT_CALENDAR, BusinessCalendar
from solvent.model.instrument import Instrument
from solvent.model.money import Currency, Money, Number, currency, to_decimal, to_minor
from solvent.model.records import (
    CashEvent,
    CashEventKind,
    Fill,
    TimeLike,
    Trade,
    to_timestamp,
)
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


class AccountState:
    """Settings, positions, clock and internal figures of an ``Account`` (see its parameters)."""

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

    def __getstate__(self) -> dict[str, Any]:
        """Return the account's state for ``pickle``, without its lock (locks do not pickle).

        A result (and its ledger) can then cross to another process, as a parameter
        sweep over ``multiprocessing`` or joblib returns it; the copy gets a lock of its own.
        """
        with self._lock:
            state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    @property
    def lock(self) -> threading.RLock:
        """Return the account's lock (held by every change and by ``snapshot``)."""
        return self._lock

    # -- re-marking a position, margin rates ----------------------------------------

    def _remark(self, pos: Position, ticks: int, value: int | None = None) -> None:
        """Re-mark one position and move the account totals by its change (O(1), no lots).

        ``value``: the position's value at ``ticks`` when the caller knows it already
        (the ledger, after a fill that left it flat or made all of it).
        """
        if pos.roll_serial != self._roll_serial:
            self._settle(pos)  # a roll re-bases the lots on the mark it happened at
        old = pos.market_value
        if value is None:
            inst = pos.instrument
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
        qty = pos.qty
        if qty == 0:
            im = mm = 0  # flat: no margin (``_position_margin``'s first case, after every exit)
        elif self.kind is _CASH_KIND and qty > 0:
            im = mm = value  # a cash account's "margin" is what it holds, in full
        else:
            im, mm = self._position_margin(pos)
        pos.im, pos.mm = im, mm
        self._im += im - old_im
        self._mm += mm - old_mm

    def _restate(self, symbol: str, roll_ticks: int | None, ticks: int) -> None:
        """Re-mark a position an engine left unmarked, as if it had been marked all along.

        For the engines only (``engine/marking.py``): the clock does not move and capital
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
                # telescope into the second, so the first is skipped (not settled). The
                # re-basing reads the position's mark only: the account's totals move
                # once, by the mark at ``ticks`` (from the value they hold now).
                pos.roll_serial = self._roll_serial
                pos.mark_ticks = roll_ticks
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
        if self.kind is _CASH_KIND:
            # ``cash_buying_power`` with the reservations in its one floor (asked at every
            # checked placement): the same figure, since reservations are never negative.
            return rules.cash_buying_power(self._cash - self._unsettled_total, self._reservations.total)
        return max(0, self._gross_buying_power() - self._reservations.total)


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
