"""A position in one instrument: signed quantity, FIFO lots, matched trades, P&L.

All amounts are integers in the account currency's minor unit. Each lot keeps two
bases, both signed like the quantity (a long's basis is what it cost, a short's is
minus what it raised):

* ``basis``: the entry basis, the rounded notional of the entry fill;
* ``mark_basis``: the mark-to-market basis, equal to ``basis`` until the lot is held
  over a session close, then the lot's value at that close.

``market_value - sum(basis)`` is the unrealized P&L on the entry basis; closing part of
a lot allocates its bases pro rata (half-even, remainder kept by the lot) so the
realized and unrealized figures always add up exactly to the cash that moved.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

import pandas as pd

from solvent.accounting.rules import notional_minor, prorate, realized_pnl
from solvent.model.instrument import Instrument
from solvent.model.money import Money, new_money
from solvent.model.records import Fill, Trade, exact_trade


class _Lot:
    """Open inventory from one entry leg (internal, mutable)."""

    __slots__ = ("basis", "commission", "entry", "mark_basis", "price", "qty")

    def __init__(self, entry: Fill, qty: int, basis: int, commission: int) -> None:
        self.entry = entry
        self.qty = qty
        self.basis = basis
        self.mark_basis = basis
        self.commission = commission
        # Entry price per unit, adjusted by splits (the fill itself is never edited).
        self.price = entry.price


@dataclass(frozen=True, slots=True)
class LotView:
    """A read-only view of one open lot."""

    quantity: Decimal
    entry_time: pd.Timestamp
    entry_price: Decimal
    basis: Money
    mark_basis: Money
    order_id: str
    tag: str | None


class ClosedPortion(NamedTuple):
    """One lot's share of a closing leg (internal result of ``Position.close``)."""

    lots: int
    realized: int
    realized_mtm: int
    trade: Trade


class Position:
    """Signed quantity with FIFO lots in one instrument.

    Parameters
    ----------
    instrument
        The instrument traded; its grid and multiplier turn ticks and lots into money.
    """

    __slots__ = (
        "_basis",
        "_mark_basis",
        "im",
        "instrument",
        "lots",
        "mark_ticks",
        "market_value",
        "mm",
        "qty",
        "realized",
        "realized_mtm",
        "roll_serial",
    )

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.qty = 0
        self.lots: deque[_Lot] = deque()
        self.mark_ticks = 0
        self.market_value = 0
        self.realized = 0
        self.realized_mtm = 0
        self._basis = 0
        self._mark_basis = 0
        # Margin on this position, kept by the account (it knows the account type).
        self.im = 0
        self.mm = 0
        # The account's session-roll serial this position is re-based to (``Account._settle``).
        self.roll_serial = 0

    # -- figures --------------------------------------------------------------------

    @property
    def basis(self) -> int:
        """Return the signed entry basis of the open inventory (minor units)."""
        return self._basis

    @property
    def unrealized(self) -> int:
        """Return unrealized P&L on the entry basis (minor units)."""
        return self.market_value - self._basis

    @property
    def unrealized_mtm(self) -> int:
        """Return unrealized P&L against the previous session's close (minor units)."""
        return self.market_value - self._mark_basis

    def avg_price(self) -> Decimal:
        """Return the average entry price (VWAP of the open inventory); 0 when flat."""
        if self.qty == 0:
            return Decimal(0)
        inst = self.instrument
        denom = self.qty * inst.lot_size * inst.multiplier * (Decimal(10) ** inst.currency.digits)
        return Decimal(self._basis) / denom

    def lot_views(self) -> tuple[LotView, ...]:
        """Return the open lots, oldest first."""
        inst = self.instrument
        ccy = inst.currency
        out = []
        for lot in self.lots:
            # The entry price is the fill's (split-adjusted), as on trades; the basis is
            # the rounded money it cost, so basis / quantity may differ by a rounding.
            out.append(
                LotView(
                    inst.quantity(lot.qty),
                    lot.entry.timestamp,
                    lot.price,
                    Money(lot.basis, ccy),
                    Money(lot.mark_basis, ccy),
                    lot.entry.order_id,
                    lot.entry.tag,
                )
            )
        return tuple(out)

    # -- changes --------------------------------------------------------------------

    def mark(self, price_ticks: int) -> None:
        """Mark the position at ``price_ticks`` and refresh its market value."""
        self.mark_ticks = price_ticks
        inst = self.instrument
        self.market_value = notional_minor(price_ticks, self.qty, inst.k_num, inst.k_den)

    def open(self, leg: Fill, lots: int, notional: int, commission: int) -> None:
        """Add an opening leg of ``lots`` (same sign as the position, or from flat)."""
        self.lots.append(_Lot(leg, lots, notional, commission))
        self.qty += lots
        self._basis += notional
        self._mark_basis += notional

    def close(self, leg: Fill, lots: int, notional: int, commission: int) -> list[ClosedPortion]:
        """Close ``lots`` (opposite sign to the position) FIFO against the open lots.

        ``notional`` and ``commission`` of the leg are shared among the lots it closes
        pro rata on the cumulative quantity (each portion is the difference of two
        rounded cumulative shares), so the portions add up exactly and none takes the
        opposite sign of the whole (a per-portion remainder could go negative).
        """
        inst = self.instrument
        ccy = inst.currency
        remaining = -lots  # same sign as the position
        total = remaining
        taken = 0  # lots of this leg already allocated, as a positive count
        out: list[ClosedPortion] = []
        while remaining != 0:
            lot = self.lots[0]
            take = remaining if abs(remaining) <= abs(lot.qty) else lot.qty
            # prorate needs a positive whole: a short's take and qty are negative.
            done = taken + abs(take)
            whole = abs(total)
            if taken:  # the first portion's earlier share is nothing
                n = prorate(notional, done, whole) - prorate(notional, taken, whole)
                c_exit = prorate(commission, done, whole) - prorate(commission, taken, whole)
            elif done == whole:  # the leg's only portion takes all of it (``prorate``'s first case)
                n, c_exit = notional, commission
            else:
                n = prorate(notional, done, whole)
                c_exit = prorate(commission, done, whole)
            taken = done
            if take == lot.qty:  # the whole lot (most exits): its bases entire, as ``prorate`` gives
                b, mb, c_entry = lot.basis, lot.mark_basis, lot.commission
            else:
                b = prorate(lot.basis, abs(take), abs(lot.qty))
                mb = prorate(lot.mark_basis, abs(take), abs(lot.qty))
                c_entry = prorate(lot.commission, abs(take), abs(lot.qty))
            pnl = realized_pnl(n, b)
            pnl_mtm = realized_pnl(n, mb)
            trade = exact_trade(
                inst.symbol,
                inst.quantity(take),
                lot.entry.timestamp,
                lot.price,
                leg.timestamp,
                leg.price,
                new_money(pnl, ccy),
                new_money(pnl_mtm, ccy),
                new_money(c_entry + c_exit, ccy),
                lot.entry.order_id,
                leg.order_id,
                lot.entry.tag,
            )
            # ``ClosedPortion(...)`` without the named tuple's Python-level ``__new__``.
            out.append(tuple.__new__(ClosedPortion, (take, pnl, pnl_mtm, trade)))
            if take == lot.qty:
                self.lots.popleft()
            else:
                lot.qty -= take
                lot.basis -= b
                lot.mark_basis -= mb
                lot.commission -= c_entry
            self.qty -= take
            self._basis -= b
            self._mark_basis -= mb
            self.realized += pnl
            self.realized_mtm += pnl_mtm
            remaining -= take
        return out

    def roll_session(self) -> None:
        """Re-base every lot on the current mark (the session's close).

        The mark-to-market P&L accrued so far moves into ``realized_mtm`` (as a daily
        settlement would), so ``realized_mtm + unrealized_mtm`` keeps equal to
        ``realized + unrealized``.
        """
        if not self.lots:
            return
        inst = self.instrument
        total = 0
        for lot in self.lots:
            value = notional_minor(self.mark_ticks, lot.qty, inst.k_num, inst.k_den)
            self.realized_mtm += value - lot.mark_basis
            lot.mark_basis = value
            total += value
        self._mark_basis = total

    def split(self, ratio: Fraction) -> tuple[int, int]:
        """Apply a split of ``ratio`` new units per old unit (2 = 2-for-1, 1/4 reverse).

        Quantities are multiplied by the ratio and the mark divided by it (snapped
        half-even to the tick); bases are unchanged, since a split moves no value. What
        the ratio leaves off the lot grid is closed at the post-split mark as cash in
        lieu, taken from the newest lot.

        Returns
        -------
        tuple[int, int]
            ``(cash_in_lieu, realized)`` in minor units: the cash credited (debited for
            a short) for the fractional remainder, and its realized P&L.
        """
        inst = self.instrument
        self.mark_ticks = max(1, round(Fraction(self.mark_ticks) / ratio)) if self.mark_ticks else 0
        if self.qty == 0:
            self.mark(self.mark_ticks)
            return 0, 0
        exact_total = self.qty * ratio
        kept_total = int(exact_total)  # truncates toward zero for shorts too
        fraction = exact_total - kept_total
        new_qtys = [int(lot.qty * ratio) for lot in self.lots]
        new_qtys[-1] += kept_total - sum(new_qtys)  # the newest lot absorbs the rounding
        for lot, q in zip(self.lots, new_qtys, strict=False):
            lot.qty = q
            lot.price = lot.price * ratio.denominator / ratio.numerator
        self.qty = kept_total
        cash = 0
        realized = 0
        if fraction:
            # Close the fraction at the new mark: basis leaves pro rata from the newest lot.
            newest = self.lots[-1]
            basis_out = round(Fraction(self._basis) * fraction / exact_total)
            mark_out = round(Fraction(self._mark_basis) * fraction / exact_total)
            value = round(fraction * self.mark_ticks * Fraction(inst.k_num, inst.k_den))
            cash = value  # a long receives its fraction's value, a short pays it
            realized = realized_pnl(-value, basis_out)
            self.realized += realized
            self.realized_mtm += realized_pnl(-value, mark_out)
            newest.basis -= basis_out
            newest.mark_basis -= mark_out
            self._basis -= basis_out
            self._mark_basis -= mark_out
        # A lot whose quantity rounded to nothing hands its basis (and entry commission,
        # which trades report on exit) to the newest lot that still holds quantity; the
        # newest lot itself can round to nothing (lots 10 and 1, ratio 1/10).
        held = [lot for lot in self.lots if lot.qty != 0]
        if held and len(held) < len(self.lots):
            target = held[-1]
            for lot in self.lots:
                if lot.qty == 0:
                    target.basis += lot.basis
                    target.mark_basis += lot.mark_basis
                    target.commission += lot.commission
            self.lots = deque(held)
        if self.qty == 0:
            self.lots.clear()
        self.mark(self.mark_ticks)
        return cash, realized
