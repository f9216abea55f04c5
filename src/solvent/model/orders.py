"""Orders: the intent a strategy sends, and the immutable records of what became of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import pandas as pd

from solvent.model.records import ReasonCode
from solvent.model.slots import maker


class OrderType(StrEnum):
    """How an order turns into a fill against a bar (docs/execution.md)."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"
    MARKET_ON_OPEN = "market_on_open"
    MARKET_ON_CLOSE = "market_on_close"


class TimeInForce(StrEnum):
    """How long an order works."""

    GTC = "GTC"  # until filled or cancelled (the default, as in Backtrader)
    DAY = "DAY"  # until the end of the first session in which it could fill
    GTD = "GTD"  # until ``expire_at``
    IOC = "IOC"  # fill what the first eligible bar allows, cancel the rest
    FOK = "FOK"  # fill all on the first eligible bar, or cancel


class OrderStatus(StrEnum):
    """Where an order stands; every change is a ``StatusChange`` record."""

    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        """Return whether the order still works."""
        return self in _OPEN_STATUSES


# A set: one hash probe (the members' hashes are their strings', cached) instead of
# comparing with each in turn (asked for every working order at every bar it trades).
_OPEN_STATUSES = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})


class Intent(StrEnum):
    """What the order means to do to the position; a mismatch is refused."""

    OPEN = "open"  # from flat
    INCREASE = "increase"  # add in the position's direction
    REDUCE = "reduce"  # part of the position, never past zero
    CLOSE = "close"  # exactly the whole position
    REVERSE = "reverse"  # past zero into the other direction


@dataclass(frozen=True, slots=True)
class Order:
    """An order as submitted. Never edited: what happens to it is in ``StatusChange``.

    ``quantity`` is signed (buy > 0, sell < 0). Prices are exact decimals on the
    instrument's tick grid. ``parent_id`` links a bracket's exits to their entry and
    ``oco_group`` links exits that cancel each other.
    """

    order_id: str
    symbol: str
    quantity: Decimal
    type: OrderType
    submitted_at: pd.Timestamp
    limit: Decimal | None = None
    stop: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    expire_at: pd.Timestamp | None = None
    tag: str | None = None
    intent: Intent | None = None
    client_id: str | None = None
    parent_id: str | None = None
    oco_group: str | None = None

    @property
    def side(self) -> int:
        """Return +1 for a buy, -1 for a sell."""
        return 1 if self.quantity > 0 else -1


#: ``Order(...)`` for the broker's own orders (values already checked and typed), built
#: without the frozen ``__init__``: placing an order makes one. Fields in order:
#: order_id, symbol, quantity, type, submitted_at, limit, stop, trail_amount,
#: trail_percent, tif, expire_at, tag, intent, client_id, parent_id, oco_group.
new_order: Callable[..., Order] = maker(Order)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One change of an order's status, with the time and the reason."""

    order_id: str
    timestamp: pd.Timestamp
    status: OrderStatus
    filled_quantity: Decimal
    reason: ReasonCode | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Rejection:
    """An order (or part of one) the gatekeeper refused, kept in the results."""

    order_id: str
    symbol: str
    timestamp: pd.Timestamp
    quantity: Decimal
    reason: ReasonCode
    detail: str = ""
    at_fill: bool = False


@dataclass(frozen=True, slots=True)
class GateWarning:
    """Something the gatekeeper let through in ``warn`` mode (or a cut it made)."""

    order_id: str
    symbol: str
    timestamp: pd.Timestamp
    reason: ReasonCode
    detail: str = ""


_make_rejection = maker(Rejection)


def new_rejection(
    order_id: str, symbol: str, timestamp: pd.Timestamp, quantity: Decimal, reason: ReasonCode, detail: str
) -> Rejection:
    """Return a placement ``Rejection`` (``at_fill=False``) of values already checked.

    The same record as ``Rejection(...)``, without the frozen ``__init__``: a strategy
    that keeps asking for what it cannot afford makes one per bar.
    """
    return _make_rejection(order_id, symbol, timestamp, quantity, reason, detail, False)


#: ``StatusChange(...)`` without the frozen ``__init__`` (values already checked); every
#: order makes two or more. Fields in order: order_id, timestamp, status,
#: filled_quantity, reason, detail.
new_status_change: Callable[..., StatusChange] = maker(StatusChange)
