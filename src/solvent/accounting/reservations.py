"""Reservations of buying power for pending orders.

The book only stores; the account owns the lock and decides availability, so that
"check what is available, then reserve it" is one critical section.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from solvent.accounting.rules import prorate
from solvent.errors import InvalidInputError, UnknownReservationError
from solvent.model.money import Money
from solvent.model.records import ReasonCode


@dataclass(frozen=True, slots=True)
class ReservationResult:
    """The answer to ``reserve``: whether it succeeded, why not, and what is left."""

    ok: bool
    order_id: str
    amount: Money
    available: Money
    reason: ReasonCode | None = None

    def __bool__(self) -> bool:
        return self.ok


# Nothing released yet: one shared value (a ``Fraction`` is immutable; building one per
# reservation cost more than the rest of ``add``).
_NONE_RELEASED = Fraction(0)
_ALL = Fraction(1)


class _Reservation:
    __slots__ = ("amount", "order_id", "released_fraction", "remaining", "short", "symbol", "tag")

    def __init__(self, order_id: str, amount: int, symbol: str | None, short: bool, tag: str | None) -> None:
        self.tag = tag
        self.order_id = order_id
        self.amount = amount
        self.released_fraction = _NONE_RELEASED
        self.remaining = amount
        self.symbol = symbol
        self.short = short


class ReservationBook:
    """Pending-order reservations in buying-power units (minor units of money)."""

    def __init__(self) -> None:
        self._by_id: dict[str, _Reservation] = {}
        self.total = 0
        self.total_long = 0
        self.total_short = 0

    def __contains__(self, order_id: str) -> bool:
        return order_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def add(
        self, order_id: str, amount: int, symbol: str | None, short: bool, tag: str | None = None
    ) -> None:
        """Store a reservation (the caller has checked availability and uniqueness)."""
        self._by_id[order_id] = _Reservation(order_id, amount, symbol, short, tag)
        # ``_adjust`` inlined: one reservation per accepted entry.
        self.total += amount
        if short:
            self.total_short += amount
        else:
            self.total_long += amount

    def add_new(self, order_id: str, amount: int, symbol: str | None, short: bool, tag: str | None) -> bool:
        """``add`` unless ``order_id`` already holds a reservation; return whether it was added.

        The caller holds the account's lock and has checked availability: the broker's
        placement, which must not reserve twice under an id a caller reserved for itself.
        """
        by_id = self._by_id
        if order_id in by_id:
            return False
        by_id[order_id] = _Reservation(order_id, amount, symbol, short, tag)
        self.total += amount
        if short:
            self.total_short += amount
        else:
            self.total_long += amount
        return True

    def release_fraction(self, order_id: str, fraction: Fraction) -> int:
        """Release ``fraction`` of the original amount; return what was released.

        Fractions accumulate; once they reach 1 the reservation is gone and exactly the
        original amount has been released in total (no rounding residue).
        """
        r = self._get(order_id)
        if fraction <= 0:
            raise InvalidInputError(f"reservation[{order_id}].fraction", fraction, "must be positive")
        new = min(_ALL, r.released_fraction + fraction)
        if new == 1:
            released = r.remaining
        else:
            target_left = r.amount - _prorate_fraction(r.amount, new)
            released = r.remaining - target_left
        r.released_fraction = new
        r.remaining -= released
        self._adjust(r.short, -released)
        if new == 1:
            del self._by_id[order_id]
        return released

    def release(self, order_id: str) -> int:
        """Release the whole remaining reservation; return what was released."""
        r = self._by_id.pop(order_id, None)
        if r is None:
            raise UnknownReservationError(order_id)
        left = r.remaining
        self.total -= left
        if r.short:
            self.total_short -= left
        else:
            self.total_long -= left
        return left

    def remaining(self, order_id: str) -> int:
        """Return what an order still holds."""
        return self._get(order_id).remaining

    def symbols(self) -> tuple[str, ...]:
        """Return the symbols with a pending reservation, sorted."""
        return tuple(sorted({r.symbol for r in self._by_id.values() if r.symbol}))

    def pending(self, tag: str | None = None) -> tuple[int, int]:
        """Return ``(long, short)`` amounts held, for one tag or (``None``) all."""
        if tag is None:
            return self.total_long, self.total_short
        long_ = sum(r.remaining for r in self._by_id.values() if r.tag == tag and not r.short)
        short = sum(r.remaining for r in self._by_id.values() if r.tag == tag and r.short)
        return long_, short

    def _get(self, order_id: str) -> _Reservation:
        try:
            return self._by_id[order_id]
        except KeyError:
            raise UnknownReservationError(order_id) from None

    def _adjust(self, short: bool, delta: int) -> None:
        self.total += delta
        if short:
            self.total_short += delta
        else:
            self.total_long += delta


def _prorate_fraction(amount: int, fraction: Fraction) -> int:
    return prorate(amount, fraction.numerator, fraction.denominator)
