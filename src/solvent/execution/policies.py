"""Broker settings that peer engines choose differently, and the small rules they decide.

Each enum's first member is solvent's realistic default; the others exist so that a
profile (``solvent.profiles``) can reproduce another engine's semantics with ordinary
settings. ``docs/parity.md`` says which engine does what.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from solvent.errors import InvalidInputError

_E = TypeVar("_E", bound=StrEnum)


def setting(enum: type[_E], value: object, name: str) -> _E:
    """Return ``value`` as a member of ``enum``; raise naming the valid values.

    One parser for every enum-valued setting (the broker's, the fast path's): a member,
    or its string value; anything else is an ``InvalidInputError`` naming ``name``.
    """
    if isinstance(value, str):  # a member is a str too
        try:
            return enum(value)
        except ValueError:
            pass
    valid = ", ".join(repr(m.value) for m in enum)
    raise InvalidInputError(name, value, f"must be one of {valid}")


class ZeroVolume(StrEnum):
    """What a bar with zero volume does to the orders on its symbol."""

    DEFER = "defer"  # fills nothing; the order stays working (realistic)
    # The bar is taken as one without volume data: it fills as if uncapped (VectorBT,
    # Backtrader without a filler, backtesting.py). Permissive.
    FILL = "fill"


class ShortCash(StrEnum):
    """How short sales and buys are checked against the account."""

    REG_T = "reg_t"  # every opening needs margin (buying power); realistic
    # Short proceeds are cash like any other and opening a short is not checked; buys
    # are checked against cash, proceeds included (VectorBT, Backtrader's shortcash).
    # Permissive: shorts are unlimited.
    CREDIT = "credit"


class FixedFeePer(StrEnum):
    """Which part of a fill a commission's fixed or minimum part is charged on."""

    ORDER = "order"  # once per order, however many fills and legs (realistic, VectorBT)
    # Per leg: a fill that crosses zero pays the closing leg's and the opening leg's
    # commission as two orders (Backtrader, backtesting.py's per-trade fees).
    LEG = "leg"


class Unfunded(StrEnum):
    """What becomes of an entry (or its rest) that the fill-time check cannot fund."""

    DEFER = "defer"  # it stays working and is tried again on later bars (realistic)
    CANCEL = "cancel"  # it is cancelled with INSUFFICIENT_BUYING_POWER (all three peers)


def credit_available(cash: int, reserved_by_others: int, credit: int) -> int:
    """Return the cash an entry may spend under ``ShortCash.CREDIT``, in minor units.

    ``cash`` includes short-sale proceeds; ``reserved_by_others`` is what other working
    orders hold; ``credit`` is the signed cash that exits filling first will bring (a
    sale adds its proceeds, a cover costs its price).
    """
    return cash - reserved_by_others + credit


def leg_commission(
    commission: Callable[[int, int], int],
    done: tuple[int, int, int],
    lots: int,
    notional: int,
) -> int:
    """Return what one leg of a fill owes when each leg is charged as its own order.

    ``commission(cum_lots, cum_notional)`` is the cumulative commission of an order;
    ``done`` is ``(lots, notional, commission)`` already filled and charged on this
    side (closing or opening) of the order. A leg of no lots owes nothing.
    """
    if lots == 0:
        return 0
    d_lots, d_notional, d_paid = done
    return max(0, commission(d_lots + lots, d_notional + notional) - d_paid)
