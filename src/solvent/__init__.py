"""solvent: backtests and paper trading that cannot spend money they do not have."""

from solvent.accounting.account import Account, AccountKind, BuyingPowerMode
from solvent.accounting.reservations import ReservationResult
from solvent.accounting.snapshot import AccountSnapshot, PositionSnapshot
from solvent.accounting.view import AccountView
from solvent.errors import (
    CurrencyMismatchError,
    InsufficientFundsError,
    InvalidInputError,
    PrecisionError,
    SolventError,
    UnknownReservationError,
    UnknownSymbolError,
)
from solvent.execution.broker import OrderView, SimulatedBroker
from solvent.execution.gatekeeper import Validation
from solvent.model.bar import Bar
from solvent.model.calendar import BusinessCalendar
from solvent.model.instrument import AssetClass, Instrument
from solvent.model.money import USD, Currency, Money
from solvent.model.orders import Intent, Order, OrderStatus, OrderType, Rejection, StatusChange, TimeInForce
from solvent.model.records import (
    CashEvent,
    CashEventKind,
    Fill,
    FillReport,
    ReasonCode,
    Side,
    Trade,
    Verdict,
    make_fill,
)

__version__ = "0.1.0"

__all__ = [
    "USD",
    "Account",
    "AccountKind",
    "AccountSnapshot",
    "AccountView",
    "AssetClass",
    "Bar",
    "BusinessCalendar",
    "BuyingPowerMode",
    "CashEvent",
    "CashEventKind",
    "Currency",
    "CurrencyMismatchError",
    "Fill",
    "FillReport",
    "Instrument",
    "InsufficientFundsError",
    "Intent",
    "InvalidInputError",
    "Money",
    "Order",
    "OrderStatus",
    "OrderType",
    "OrderView",
    "PositionSnapshot",
    "PrecisionError",
    "ReasonCode",
    "Rejection",
    "ReservationResult",
    "Side",
    "SimulatedBroker",
    "SolventError",
    "StatusChange",
    "TimeInForce",
    "Trade",
    "UnknownReservationError",
    "UnknownSymbolError",
    "Validation",
    "Verdict",
    "__version__",
    "make_fill",
]
