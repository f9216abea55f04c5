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

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from solvent.accounting import rules
from solvent.accounting.account_state import (
    _CASH_KIND,
    _FULL,
    _MARGIN_KIND,
    AccountKind,
    BuyingPowerMode,
)
from solvent.accounting.booking import Booking
from solvent.accounting.position import Position
from solvent.accounting.reservations import ReservationResult
from solvent.accounting.snapshot import AccountSnapshot, PositionSnapshot
from solvent.accounting.view import AccountView, SplitRecord
from solvent.errors import CurrencyMismatchError, InvalidInputError, UnknownSymbolError
from solvent.model.calendar import BusinessCalendar
from solvent.model.money import Money, Number, to_decimal, to_minor
from solvent.model.records import (
    ALLOWED,
    CashEvent,
    CashEventKind,
    Fill,
    ReasonCode,
    TimeLike,
    Trade,
    Verdict,
    to_timestamp,
)
from solvent.risk.liquidation import Holding
from solvent.risk.pdt import PATTERN_DAY_TRADES, PdtPolicy, resolve_pdt

__all__ = ["Account", "AccountFigures", "AccountKind", "BuyingPowerMode"]


class Account(Booking):
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
