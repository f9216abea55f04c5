"""Booking fills and marks into the ledger: the one place a trade changes an account."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pandas as pd

from solvent.accounting import rules
from solvent.accounting.account_state import (
    _MARGIN_KIND,
    AccountState,
)
from solvent.errors import InvalidInputError, UnknownSymbolError
from solvent.model.instrument import AssetClass, Instrument
from solvent.model.money import Money, Number, to_minor
from solvent.model.records import (
    Fill,
    FillReport,
    Side,
    TimeLike,
    Trade,
    exact_fill,
    to_timestamp,
)

# Enum members read once per fill, bound once: on Python 3.11 each ``Enum.MEMBER``
# lookup costs about as much as a small function call.
_FUTURE = AssetClass.FUTURE
_BUY, _SELL, _SELL_SHORT, _BUY_TO_COVER = Side.BUY, Side.SELL, Side.SELL_SHORT, Side.BUY_TO_COVER


class Booking(AccountState):
    """Fills (``apply_fill``, ``book``) and marks of an ``Account``."""

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
        notional: int | None = None,
    ) -> tuple[Fill, ...]:
        """Book values ``book`` has checked (or the broker made valid): the lock is held.

        The broker calls this directly for its own fills (``inst`` is the account's
        registered instrument, ``lots`` non-zero, ``ticks`` at least one tick, under
        its own hold of the lock), skipping a lookup, four checks and a second lock per
        fill. The clock still may not go back. ``notional``: the fill's signed
        ``rules.notional_minor(ticks, lots, ...)`` when the caller has priced it already.
        """
        if ts is not self._last_ts:  # a bar's fills share its marks' stamp: nothing to check
            self._check_time(ts)
        legs, _, _, _ = self._apply(
            inst, lots, ticks, inst.price(ticks), commission, slippage, ts, order_id, tag, notional
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
        fill_notional: int | None = None,
    ) -> tuple[tuple[Fill, ...], tuple[Trade, ...], int, int]:
        """Book one validated fill (under the lock): ``(legs, trades, realized, cash change)``.

        ``fill_notional``: the signed notional of all ``lots`` at ``ticks``, if known. A
        fill that is all closing or all opening is one leg of that very notional, so it
        is not priced again (a zero-crossing fill prices its two legs apart).
        """
        if ts is not self._last_ts:  # the engines book a bar's fills at its marks' stamp
            self._advance(ts)
        symbol = inst.symbol
        pos = self._positions[symbol]
        if pos.roll_serial != self._roll_serial:
            self._settle(pos)
        futures = inst.asset_class is _FUTURE
        basis_before = pos.basis if futures else 0
        assert self._session is not None  # noqa: S101 - _advance set it
        closing, opening = rules.split_fill(pos.qty, lots)
        self._day_trades.record_legs(symbol, self._session, pos.qty, closing, opening)
        k_num, k_den = inst.k_num, inst.k_den
        if closing and opening:
            fill_notional = None  # two legs, each rounded on its own
        legs: list[Fill] = []
        trades: list[Trade] = []
        realized = 0
        cash_change = 0
        c_close = s_close = 0
        opened = 0
        step = self._step
        if closing:
            if opening:  # a flip: the closing leg's share of the costs, by quantity
                total = abs(lots)
                c_close = rules.prorate(commission, abs(closing), total)
                s_close = rules.prorate(slippage, abs(closing), total)
            else:  # all of the fill (``prorate``'s first case)
                c_close, s_close = commission, slippage
            notional = (
                rules.notional_minor(ticks, closing, k_num, k_den) if fill_notional is None else fill_notional
            )
            side = _SELL if closing < 0 else _BUY_TO_COVER
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
            if delta > 0 and self.settlement_days:  # T+0 (the default) holds nothing back
                self._add_unsettled(ts, delta)
            legs.append(leg)
        if opening:
            c_open = commission - c_close
            notional = (
                rules.notional_minor(ticks, opening, k_num, k_den) if fill_notional is None else fill_notional
            )
            opened = notional
            side = _BUY if opening > 0 else _SELL_SHORT
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
        # The position's new value is known when the fill left it flat or made all of it
        # (from flat, or past zero): the opening leg's notional at these very ticks.
        qty = pos.qty
        self._remark(pos, ticks, 0 if qty == 0 else opened if qty == opening else None)
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
