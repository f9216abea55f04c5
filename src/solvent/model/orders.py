"""Orders: the intent a strategy sends, and the immutable records of what became of it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import pandas as pd

from solvent.model.records import ReasonCode


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
        return self in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


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


# ``Order``'s slots in field order: ``new_order`` sets them directly.
_ORDER_SETTERS = tuple(Order.__dict__[name].__set__ for name in Order.__dataclass_fields__)
# ``new_order`` and ``new_rejection`` set the slots by position: a new field must be set there too.
assert tuple(Order.__dataclass_fields__) == (  # noqa: S101 - a guard for whoever edits Order
    "order_id", "symbol", "quantity", "type", "submitted_at", "limit", "stop", "trail_amount",
    "trail_percent", "tif", "expire_at", "tag", "intent", "client_id", "parent_id", "oco_group",
)  # fmt: skip


def new_order(
    order_id: str,
    symbol: str,
    quantity: Decimal,
    type: OrderType,
    submitted_at: pd.Timestamp,
    limit: Decimal | None,
    stop: Decimal | None,
    trail_amount: Decimal | None,
    trail_percent: Decimal | None,
    tif: TimeInForce,
    expire_at: pd.Timestamp | None,
    tag: str | None,
    intent: Intent | None,
    client_id: str | None,
    parent_id: str | None,
    oco_group: str | None,
) -> Order:
    """Return an ``Order`` of values the broker has already checked and typed.

    The same record as ``Order(...)``, without the frozen ``__init__`` (one
    ``object.__setattr__`` per field, a large part of placing an order).
    """
    order = object.__new__(Order)
    s = _ORDER_SETTERS
    s[0](order, order_id)
    s[1](order, symbol)
    s[2](order, quantity)
    s[3](order, type)
    s[4](order, submitted_at)
    s[5](order, limit)
    s[6](order, stop)
    s[7](order, trail_amount)
    s[8](order, trail_percent)
    s[9](order, tif)
    s[10](order, expire_at)
    s[11](order, tag)
    s[12](order, intent)
    s[13](order, client_id)
    s[14](order, parent_id)
    s[15](order, oco_group)
    return order


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


_REJECTION_SETTERS = tuple(Rejection.__dict__[name].__set__ for name in Rejection.__dataclass_fields__)
assert tuple(Rejection.__dataclass_fields__) == (  # noqa: S101
    "order_id", "symbol", "timestamp", "quantity", "reason", "detail", "at_fill",
)  # fmt: skip


def new_rejection(
    order_id: str, symbol: str, timestamp: pd.Timestamp, quantity: Decimal, reason: ReasonCode, detail: str
) -> Rejection:
    """Return a placement ``Rejection`` (``at_fill=False``) of values already checked.

    The same record as ``Rejection(...)``, without the frozen ``__init__``: a strategy
    that keeps asking for what it cannot afford makes one per bar.
    """
    rejection = object.__new__(Rejection)
    s = _REJECTION_SETTERS
    s[0](rejection, order_id)
    s[1](rejection, symbol)
    s[2](rejection, timestamp)
    s[3](rejection, quantity)
    s[4](rejection, reason)
    s[5](rejection, detail)
    s[6](rejection, False)
    return rejection


_STATUS_SETTERS = tuple(StatusChange.__dict__[name].__set__ for name in StatusChange.__dataclass_fields__)
assert tuple(StatusChange.__dataclass_fields__) == (  # noqa: S101
    "order_id", "timestamp", "status", "filled_quantity", "reason", "detail",
)  # fmt: skip


def new_status_change(
    order_id: str,
    timestamp: pd.Timestamp,
    status: OrderStatus,
    filled_quantity: Decimal,
    reason: ReasonCode | None,
    detail: str,
) -> StatusChange:
    """Return a ``StatusChange`` of values already checked, without the frozen ``__init__``.

    The same record as ``StatusChange(...)``; every order makes two or more (accepted,
    then filled, cancelled or rejected).
    """
    change = object.__new__(StatusChange)
    s = _STATUS_SETTERS
    s[0](change, order_id)
    s[1](change, timestamp)
    s[2](change, status)
    s[3](change, filled_quantity)
    s[4](change, reason)
    s[5](change, detail)
    return change
